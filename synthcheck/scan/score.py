"""What a scan worker does with a chunk of items: the one analysis, rows out.

Shared by both engines (worker processes and Ray actors): :func:`load_worker_detector` builds
the detector a worker holds (ONNX Runtime or torch, one intra-op thread), and :func:`score_items`
runs :func:`synthcheck.analysis.iter_analyze` on a chunk and turns each analysis into a results
row (:func:`synthcheck.scan.writer.to_row`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .sources import ScanItem
from .spec import DetectorSpec
from .writer import to_row


def limit_threads(threads: int) -> None:
    """Cap the math libraries' thread pools before they start (call before importing them)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("SYNTHCHECK_DECODE_THREADS", "1")


# A scan worker allocates ~60 short-lived objects per image and frees them with the chunk; at
# Python's default threshold (700) the cyclic collector ran every few images and walked the
# whole chunk each time (~17% of a worker's CPU on CIFAKE). Cycles (exceptions) stay rare.
GC_THRESHOLD = (50_000, 50, 1000)


def start_worker(spec: DetectorSpec) -> tuple[Any, Any]:
    """Set up a worker process or actor: thread caps, then (detector, analysis options), then
    the start-up objects frozen out of the collector and its threshold raised (see above)."""
    import gc

    from threadpoolctl import threadpool_limits

    limit_threads(spec.threads)
    # numpy may have been imported (by the fork server) before the caps above were set: its
    # BLAS pool would run a second, spinning thread beside each worker
    threadpool_limits(spec.threads)
    detector, options = load_worker_detector(spec), analysis_options(spec)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    return detector, options


def load_worker_detector(spec: DetectorSpec) -> Any:
    """The detector of ``spec``, with ``spec.threads`` intra-op threads."""
    if spec.backend in ("auto", "onnx") and spec.device == "cpu":
        from ..fsio import file_sha256
        from ..inference.onnx_backend import OnnxDetector, onnx_path_for

        onnx_file = onnx_path_for(spec.checkpoint)
        if onnx_file.is_file():
            det = OnnxDetector(onnx_file, spec.checkpoint, threads=spec.threads)
            if det.checkpoint_sha256 == file_sha256(spec.checkpoint):
                return det
        if spec.backend == "onnx":
            raise RuntimeError(f"{spec.checkpoint}: no matching ONNX twin; export one with "
                               "`synthcheck export-onnx` or use --backend torch.")
    import torch

    from ..inference import Detector

    torch.set_num_threads(spec.threads)
    return Detector.from_checkpoint(spec.checkpoint, device=spec.device)


def analysis_options(spec: DetectorSpec) -> Any:
    from ..options import AnalysisOptions

    opts = dict(spec.options)
    if "band_edges" in opts:
        opts["band_edges"] = tuple(opts["band_edges"])
    return AnalysisOptions(threshold=spec.threshold, **opts)


def score_items(items: Sequence[ScanItem], detector: Any, options: Any) -> list[dict[str, Any]]:
    """Results rows for ``items``, in order: refused items as error rows, the rest analysed."""
    from ..analysis import iter_analyze

    todo = [it for it in items if it.error is None]
    analysed = iter_analyze((it.source() for it in todo), detector, options,
                            names=[it.name for it in todo], keep_images=False,
                            inline_decode=True)
    rows = []
    for it in items:
        record = {"path": it.name, "error": it.error} if it.error is not None else next(analysed).to_record()
        rows.append(to_row(it.key, record))
    return rows
