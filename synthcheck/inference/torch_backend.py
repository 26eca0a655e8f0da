"""The Detector: a checkpoint plus its own preprocessing, turning images into scores.

It is the object the faces (CLI, dashboard, API) hold. Preprocessing comes from the checkpoint
(input size, mean/std, temperature), never from the caller. ``synthcheck predict`` on CPU uses
the torch-free :mod:`synthcheck.inference.onnx_backend` when an exported ``.onnx`` sits beside
the checkpoint; both share :class:`synthcheck.inference.base.BaseDetector`, so scores agree.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ..checkpoint import load_checkpoint, model_from_checkpoint
from ..models.normalization import normalize
from .base import BaseDetector, Scores, default_checkpoint

__all__ = ["Detector", "Scores", "default_checkpoint"]


class Detector(BaseDetector):
    """A loaded checkpoint in eval mode. Thread-safe for concurrent ``predict`` calls."""

    def __init__(self, model: nn.Module, ckpt: dict[str, Any], *, path: str | None = None,
                 device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval().to(memory_format=torch.channels_last)
        self.meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "scheduler")}
        self.path = path
        self.input_size = int(ckpt["input_size"])
        self.mean = tuple(float(v) for v in ckpt["mean"])
        self.std = tuple(float(v) for v in ckpt["std"])
        self.class_names = list(ckpt["class_names"])
        self.temperature = float(ckpt.get("temperature", 1.0))
        self.model_name = ckpt["model_name"]
        self.cam_layer = ckpt.get("cam_layer") or self.model.synthcheck_cfg.cam_layer
        self.lock = threading.RLock()  # explainers add hooks to the shared model under this
        self._sha256 = None
        self._classifier: nn.Module | None = None
        dom = ckpt.get("feature_domain")
        self.feature_domain = ({k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in dom.items()}
                               if dom else None)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike | None = None, device: str = "cpu") -> Detector:
        """Load ``path`` (default: the shipped model) with ``weights_only=True``."""
        path = Path(path) if path else default_checkpoint()
        ckpt = load_checkpoint(path)
        model = model_from_checkpoint(ckpt, str(path))
        return cls(model, ckpt, path=str(path), device=device)

    def weights_sha256(self) -> str:
        """SHA-256 over the state dict (names and bytes, in name order)."""
        import hashlib

        h = hashlib.sha256()
        for key, tensor in sorted(self.model.state_dict().items()):
            h.update(key.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def to_tensor(self, arrays: np.ndarray) -> torch.Tensor:
        """uint8 (N, S, S, 3) -> normalised float tensor on the detector's device."""
        return normalize(torch.from_numpy(np.array(arrays, copy=True)).to(self.device), self.mean, self.std)

    def logits_and_features(self, arrays: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits and the domain check's features in one pass (a hook on the layer it reads)."""
        from ..domain.features import PENULTIMATE, last_linear, logits_and_features

        if self._classifier is None:
            self._classifier = last_linear(self.model)
        if len(arrays) == 0:
            return np.zeros((0, 2), np.float32), None
        with self.lock:  # the hook sits on the shared model while it runs
            layer = (self.feature_domain or {}).get("layer", PENULTIMATE)
            return logits_and_features(self.model, arrays, self.mean, self.std, self.device,
                                       batch_size, classifier=self._classifier, layer=layer)

    @torch.inference_mode()
    def logits_of_arrays(self, arrays: np.ndarray, batch_size: int = 256) -> np.ndarray:
        with self.lock:  # never run while an explainer's hook sits on the shared model
            out = [self.model(self.to_tensor(arrays[s:s + batch_size])).float().cpu()
                   for s in range(0, len(arrays), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, 2), np.float32)
