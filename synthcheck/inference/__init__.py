"""The scoring side: decode inputs and turn them into scores (logits, calibrated ``p_fake``).

Nothing here decides FAKE or REAL and no detector holds a threshold: that is
:mod:`synthcheck.analysis`'s one job. ``base`` and ``onnx_backend`` stay torch-free, so
``synthcheck predict`` on the ONNX path never imports torch; :class:`Detector` (the torch backend)
is loaded on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BaseDetector", "Detector", "OnnxDetector", "Scores", "default_checkpoint"]

_LAZY = {"Detector": "torch_backend", "OnnxDetector": "onnx_backend", "BaseDetector": "base",
         "Scores": "base", "default_checkpoint": "base"}


def __getattr__(name: str) -> Any:
    """Import a backend only when it is asked for (torch costs seconds on a small CPU)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
