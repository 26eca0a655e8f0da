"""The model reviewer's bench: compare explanation methods on a data set, with intervals.

``evaluate(detector, data, methods, n=...)`` samples N images (stratified by class, in-domain
by default: :mod:`.sampling`), explains each towards the analysis's verdict with every method,
measures deletion/insertion (probability and log-odds), ROAD, beats-random, cascading sanity,
stability, agreement and time (:mod:`.per_image`, :mod:`.runner`), compares methods pairwise
with Wilcoxon + Holm into tie groups (:mod:`.stats`) and returns the JSON of ``synthcheck
explain-eval``; :mod:`.report` writes JSON, CSV and HTML. Work is cached on disk
(:mod:`.cache`), so a re-run or an interrupted run computes only what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import Cache
from .per_image import MetricSettings
from .runner import METRICS, BenchConfig, BenchRun, aggregate, run_bench
from .sampling import Sample, Sampling, read_exclusions, sample_images

if TYPE_CHECKING:
    from ...inference import Detector


def evaluate(detector: Detector, data: str | os.PathLike | Iterable[str | os.PathLike], config: BenchConfig, *,
             n: int, cache_dir: str | os.PathLike, threshold: float | None = None, include_ood: bool = False,
             exclude: Iterable[str] = (), progress: Callable[[int], None] | None = None,
             sample_progress: Callable[[int, int], None] | None = None) -> tuple[dict[str, Any], BenchRun]:
    """Sample, run and aggregate; returns (the JSON dict, the run with per-image rows and maps)."""
    from ...bands import DEFAULT_THRESHOLD

    thr = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    sources = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    sampling = sample_images(detector, sources, n, seed=config.seed, include_ood=include_ood, threshold=thr,
                             exclude=exclude, progress=sample_progress)
    if not sampling.samples:
        raise ValueError(f"no usable images in {', '.join(map(str, sources))} "
                         f"({sampling.n_out_of_domain_skipped} out of domain, {sampling.n_unreadable} unreadable)")
    cache = Cache(Path(cache_dir), detector.checkpoint_sha256 or "no-checkpoint-file")
    run = run_bench(detector, sampling.samples, config, cache, progress)
    result = aggregate(run, config, detector, threshold=thr, sampling=sampling,
                       data=", ".join(map(str, sources)))
    return result, run


__all__ = ["METRICS", "BenchConfig", "BenchRun", "Cache", "MetricSettings", "Sample", "Sampling", "aggregate",
           "evaluate", "read_exclusions", "run_bench", "sample_images"]
