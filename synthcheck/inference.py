"""The Detector: a checkpoint plus its own preprocessing, turning images into verdicts.

It is the only object the faces (CLI, dashboard, API) hold. Preprocessing comes from the
checkpoint (input size, mean/std, temperature), never from the caller.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from .augment import normalize
from .checkpoint import file_sha256, load_checkpoint, model_from_checkpoint
from .imageio import ImageError, ImageSource, LoadedImage, load_image, to_model_array

REPO_MODELS = Path(__file__).resolve().parent.parent / "models"
DEFAULT_CHECKPOINT_NAME = "synthcheck-default.pt"


def default_checkpoint() -> Path:
    """``$SYNTHCHECK_CHECKPOINT`` if set, else the model shipped in the repository's ``models/``."""
    env = os.environ.get("SYNTHCHECK_CHECKPOINT")
    return Path(env) if env else REPO_MODELS / DEFAULT_CHECKPOINT_NAME


@dataclass
class Verdict:
    """One image's result; ``p_fake`` is the model's probability that the image is synthetic."""

    verdict: str  # "REAL" | "FAKE" at the detector's threshold
    p_fake: float  # temperature-calibrated probability of FAKE
    p_fake_raw: float  # before temperature scaling
    logits: tuple[float, float]
    width: int
    height: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Detector:
    """A loaded checkpoint in eval mode. Thread-safe for concurrent ``predict`` calls."""

    def __init__(self, model: nn.Module, ckpt: dict[str, Any], *, path: str | None = None,
                 device: str | torch.device = "cpu", threshold: float = 0.5) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval().to(memory_format=torch.channels_last)
        self.meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "scheduler")}
        self.path = path
        self.input_size = int(ckpt["input_size"])
        self.mean = tuple(float(v) for v in ckpt["mean"])
        self.std = tuple(float(v) for v in ckpt["std"])
        self.class_names = list(ckpt["class_names"])
        self.temperature = float(ckpt.get("temperature", 1.0))
        self.threshold = float(threshold)
        self.model_name = ckpt["model_name"]
        self.cam_layer = ckpt.get("cam_layer") or self.model.synthcheck_cfg.cam_layer
        self.lock = threading.RLock()  # explainers add hooks to the shared model under this
        self._sha256: str | None = None

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike | None = None, device: str = "cpu",
                        threshold: float = 0.5) -> Detector:
        """Load ``path`` (default: the shipped model) with ``weights_only=True``."""
        path = Path(path) if path else default_checkpoint()
        ckpt = load_checkpoint(path)
        model = model_from_checkpoint(ckpt, str(path))
        return cls(model, ckpt, path=str(path), device=device, threshold=threshold)

    @property
    def checkpoint_sha256(self) -> str | None:
        if self._sha256 is None and self.path:
            self._sha256 = file_sha256(self.path)
        return self._sha256

    def describe(self) -> dict[str, Any]:
        """Short identity of the model for JSON outputs."""
        return {"name": self.model_name, "checkpoint": Path(self.path).name if self.path else None,
                "sha256": self.checkpoint_sha256}

    # -- preprocessing ------------------------------------------------------------------
    def to_array(self, image: LoadedImage) -> np.ndarray:
        return to_model_array(image.image, self.input_size)

    def to_tensor(self, arrays: np.ndarray) -> torch.Tensor:
        """uint8 (N, S, S, 3) -> normalised float tensor on the detector's device."""
        return normalize(torch.as_tensor(arrays).to(self.device), self.mean, self.std)

    # -- prediction ---------------------------------------------------------------------
    @torch.inference_mode()
    def logits_of_arrays(self, arrays: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        out = []
        for s in range(0, len(arrays), batch_size):
            out.append(self.model(self.to_tensor(arrays[s:s + batch_size])).float().cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, 2), np.float32)

    def predict_arrays(self, arrays: np.ndarray, sizes: Sequence[tuple[int, int]] | None = None) -> list[Verdict]:
        logits = self.logits_of_arrays(arrays)
        z = torch.as_tensor(logits, dtype=torch.float64)
        p_raw = torch.softmax(z, 1)[:, 1].numpy()
        p_cal = torch.softmax(z / self.temperature, 1)[:, 1].numpy()
        sizes = sizes or [(self.input_size, self.input_size)] * len(arrays)
        return [Verdict("FAKE" if p >= self.threshold else "REAL", float(p), float(pr),
                        (float(l0), float(l1)), w, h)
                for p, pr, (l0, l1), (w, h) in zip(p_cal, p_raw, logits, sizes, strict=True)]

    def predict(self, images: Iterable[ImageSource | LoadedImage]) -> list[Verdict]:
        """Verdicts for images of any PIL-readable kind; raises :class:`ImageError` on bad input.

        Use :meth:`predict_many` to get per-input errors instead of an exception.
        """
        loaded = [im if isinstance(im, LoadedImage) else load_image(im) for im in images]
        if not loaded:
            return []
        arrays = np.stack([self.to_array(im) for im in loaded])
        return self.predict_arrays(arrays, [(im.width, im.height) for im in loaded])

    def predict_many(self, sources: Sequence[ImageSource]) -> list[tuple[LoadedImage | None, Verdict | None, str | None]]:
        """(loaded, verdict, error) for each input; bad inputs never stop the others."""
        loaded: list[LoadedImage | None] = []
        errors: list[str | None] = []
        for src in sources:
            try:
                loaded.append(load_image(src))
                errors.append(None)
            except ImageError as exc:
                loaded.append(None)
                errors.append(str(exc))
        good = [im for im in loaded if im is not None]
        verdicts = iter(self.predict(good)) if good else iter(())
        return [(im, next(verdicts) if im is not None else None, err)
                for im, err in zip(loaded, errors, strict=True)]
