"""What a scan worker does with a chunk of items: the one analysis, rows out.

Shared by both engines (worker processes and Ray actors): :func:`load_worker_detector` builds
the detector a worker holds (ONNX Runtime or torch, one intra-op thread), and :func:`score_items`
runs :func:`synthcheck.analysis.iter_analyze` on a chunk and turns each analysis into a results
row (:func:`synthcheck.scan.writer.to_row`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .sources import ScanItem
from .writer import to_row

BACKENDS = ("auto", "onnx", "torch")


@dataclass(frozen=True)
class DetectorSpec:
    """How a worker builds its detector: picklable, so it crosses process and node boundaries."""

    checkpoint: str
    backend: str = "auto"  # auto: the ONNX twin when it matches the checkpoint, else torch
    device: str = "cpu"
    threshold: float = 0.5
    threads: int = 1  # intra-op threads per worker: the workers are the parallelism
    options: dict[str, Any] = field(default_factory=dict)  # AnalysisOptions fields


def limit_threads(threads: int) -> None:
    """Cap the math libraries' thread pools before they start (call before importing them)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("SYNTHCHECK_DECODE_THREADS", "1")


def load_worker_detector(spec: DetectorSpec) -> Any:
    """The detector of ``spec``, with ``spec.threads`` intra-op threads."""
    if spec.backend in ("auto", "onnx") and spec.device == "cpu":
        from ..detector_base import file_sha256
        from ..onnx_fast import OnnxDetector, onnx_path_for

        onnx_file = onnx_path_for(spec.checkpoint)
        if onnx_file.is_file():
            det = OnnxDetector(onnx_file, spec.checkpoint, spec.threshold, threads=spec.threads)
            if det.checkpoint_sha256 == file_sha256(spec.checkpoint):
                return det
        if spec.backend == "onnx":
            raise RuntimeError(f"{spec.checkpoint}: no matching ONNX twin; export one with "
                               "`synthcheck export-onnx` or use --backend torch.")
    import torch

    from ..inference import Detector

    torch.set_num_threads(spec.threads)
    return Detector.from_checkpoint(spec.checkpoint, device=spec.device, threshold=spec.threshold)


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
                            names=[it.name for it in todo], keep_images=False)
    rows = []
    for it in items:
        record = {"path": it.name, "error": it.error} if it.error is not None else next(analysed).to_record()
        rows.append(to_row(it.key, record))
    return rows
