"""Scan many images into one results file: streaming, resumable, on every core or on Ray.

``scan(sources, out)`` walks folders, ZIP archives and manifests (:mod:`.sources`), skips the
inputs already in ``out`` or its parts (:mod:`.writer`), scores the rest in chunks on worker
processes (:mod:`.engine_local`) or a Ray cluster (:mod:`.engine_ray`), each worker running the
one analysis (:func:`synthcheck.analysis.iter_analyze`), and writes ``out`` plus
``out + ".summary.json"``. Light to import (the heavy parts load on first use): the command
line starts the workers' fork server before it loads numpy and the rest.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .spec import DetectorSpec

if TYPE_CHECKING:
    from .sources import ScanItem
    from .writer import ResultStore

ENGINES = ("local", "ray")
DEFAULT_CHUNK = 512  # inputs per worker task and per part file
SKIP_REPORT = 512  # a resumed scan reports its skipped inputs this many at a time
__all__ = ["ENGINES", "DetectorSpec", "ResultsError", "ScanSummary", "SourceError", "read_rows",
           "scan", "summary_path"]


_LAZY = {"SourceError": "sources", "ResultsError": "writer", "read_rows": "writer"}


def __getattr__(name: str) -> Any:
    """The names re-exported from the heavier submodules, imported when first asked for."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def summary_path(out: str | os.PathLike) -> Path:
    """Where the summary JSON of ``out`` goes: beside it, ``out + ".summary.json"``."""
    return Path(str(out) + ".summary.json")


@dataclass
class ScanSummary:
    """What a scan did: counts over the whole results file, and this run's share of it."""

    results: str
    counts: dict[str, int]
    phrase: str
    n_new: int  # rows written by this run
    n_skipped: int  # inputs already in the results (resume)
    seconds: float
    engine: str
    workers: int
    model: dict[str, Any] = field(default_factory=dict)

    @property
    def images_per_s(self) -> float:
        return self.n_new / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {**asdict(self), "images_per_s": round(self.images_per_s, 1)}


class _Progress:
    """tqdm bar (on a terminal only, with rate and ETA) plus running counts; ``callback`` sees
    ``(done, total)`` after each chunk (the dashboard polls it). Beside
    :class:`synthcheck.progress.Progress` on purpose: a scan counts skipped (already done) and
    newly scored inputs apart and reports both, which the plain counter does not."""

    def __init__(self, total: int | None, show: bool | None,
                 callback: Callable[[int, int | None], None] | None) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="img", disable=None if show is None else not show,
                        dynamic_ncols=True, smoothing=0.1)
        self.total, self.done, self.new, self.skipped = total, 0, 0, 0
        self.callback = callback
        if callback:  # the total at once, before any image is read
            callback(0, total)

    def skip(self) -> None:
        self.skipped += 1
        self.done += 1
        self.bar.update(1)
        if self.callback and self.skipped % SKIP_REPORT == 0:
            self.callback(self.done, self.total)

    def scored(self, n: int, counts: dict[str, int]) -> None:
        self.new += n
        self.done += n
        self.bar.update(n)
        if self.callback:
            self.callback(self.done, self.total)

    def close(self) -> None:
        self.bar.close()


def _pending(items: Iterator[ScanItem], done: Any, progress: _Progress) -> Iterator[ScanItem]:
    """Items whose key is not among the sorted key hashes ``done``."""
    import numpy as np

    from .writer import key_hash

    for it in items:
        if len(done):
            h = np.uint64(key_hash(it.key))
            pos = int(np.searchsorted(done, h))
            if pos < len(done) and done[pos] == h:
                progress.skip()
                continue
        yield it


def _chunks(items: Iterator[ScanItem], size: int, left: Callable[[], int] | None = None,
            workers: int = 1) -> Iterator[list[ScanItem]]:
    """Lists of ``size`` items; once ``left()`` (the inputs not yet handed out) is under
    ``workers`` chunks, quarter chunks, so that the workers finish together rather than one
    idling while the other ends a whole chunk."""
    while True:
        n = size if left is None or left() >= workers * size else max(1, size // 4)
        chunk = list(islice(items, n))
        if not chunk:
            return
        yield chunk


def scan(sources: Sequence[str | os.PathLike], out: str | os.PathLike, *,
         spec: DetectorSpec | None = None, engine: str = "local", workers: int | None = None,
         chunk_size: int = DEFAULT_CHUNK, address: str | None = None,
         show_progress: bool | None = None,
         progress: Callable[[int, int | None], None] | None = None) -> ScanSummary:
    """Scan ``sources`` into ``out`` (``.parquet`` or ``.jsonl``), resuming what ``out`` holds.

    One row per input (the ``predict --json`` record, or the reason it could not be read);
    ``show_progress`` None shows the bar only on a terminal. Raises :class:`SourceError` or
    :class:`ResultsError` (one sentence) when a source or the results path is unusable.
    """
    from ..inference.base import default_checkpoint
    from .engine_local import default_workers
    from .sources import count_items, iter_items
    from .writer import ResultsError, ResultStore

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}.")
    if chunk_size < 1:
        raise ValueError("the chunk size must be at least 1.")
    spec = spec or DetectorSpec(str(default_checkpoint()))
    if not Path(spec.checkpoint).is_file():
        raise ResultsError(f"{spec.checkpoint}: no such checkpoint file.")
    workers = workers or default_workers()
    store = ResultStore(out)
    if store.fmt == "parquet":  # the part writes need pyarrow: load it while the workers start
        import threading

        from .writer import warm_up

        threading.Thread(target=warm_up, daemon=True, name="synthcheck-pyarrow").start()
    t0 = time.perf_counter()
    total = count_items(sources)
    done = store.open()
    bar = _Progress(total, show_progress, progress)

    def commit(rows: list[dict[str, Any]], part: Path) -> None:
        """One chunk's rows into its part file (atomically), then counted: the workers score,
        this process writes (so no worker loads pyarrow)."""
        from ..analysis import summarize  # loaded by then; not on the start-up path

        store.commit(rows, part)
        bar.scored(len(rows), summarize(rows))

    pending = _pending(iter_items(sources), done, bar)
    try:
        if engine == "local":
            from .engine_local import run_local

            handed = 0

            def left() -> int:  # inputs not yet handed to a worker nor skipped (an estimate)
                return (total or 0) - handed - bar.skipped

            def numbered() -> Iterator[tuple[list[ScanItem], Path]]:
                nonlocal handed
                for c in _chunks(pending, chunk_size, left, workers):
                    handed += len(c)
                    yield c, store.next_part()

            run_local(numbered(), spec, workers, commit)
        else:
            from .engine_ray import run_ray

            run_ray(pending, spec, workers, chunk_size, store.next_part, commit, address=address)
    finally:
        bar.close()
    return _finish(store, spec, bar, engine, workers, time.perf_counter() - t0)


def _finish(store: ResultStore, spec: DetectorSpec, bar: _Progress, engine: str, workers: int,
            seconds: float) -> ScanSummary:
    import json

    from ..analysis import counts_phrase
    from ..fsio import atomic_write_text
    from .writer import summary_counts

    out = store.finish()
    counts = summary_counts(out)
    summary = ScanSummary(str(out), counts, counts_phrase(counts), bar.new, bar.skipped,
                          round(seconds, 3), engine, workers,
                          {"checkpoint": spec.checkpoint, "backend": spec.backend,
                           "threshold": spec.threshold})
    atomic_write_text(summary_path(out), json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary
