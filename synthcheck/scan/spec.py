"""What a scan worker is told to build: the detector's checkpoint, runtime and settings.

Pure data with no heavy imports, so the command line can start the fork server before it loads
numpy and the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..bands import DEFAULT_THRESHOLD

BACKENDS = ("auto", "onnx", "torch")


@dataclass(frozen=True)
class DetectorSpec:
    """How a worker builds its detector: picklable, so it crosses process and node boundaries."""

    checkpoint: str
    backend: str = "auto"  # auto: the ONNX twin when it matches the checkpoint, else torch
    device: str = "cpu"
    threshold: float = DEFAULT_THRESHOLD
    threads: int = 1  # intra-op threads per worker: the workers are the parallelism
    options: dict[str, Any] = field(default_factory=dict)  # AnalysisOptions fields
