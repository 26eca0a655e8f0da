"""What every detector backend shares: scores from logits, batching of inputs, errors per input.

A detector SCORES (logits, calibrated and raw ``p_fake``, the domain check's two distances); it
never decides FAKE or REAL and holds no threshold: :mod:`synthcheck.analysis` does that, once.
Torch-free on purpose: the ONNX Runtime backend (:mod:`synthcheck.inference.onnx_backend`) and
the torch :class:`synthcheck.inference.Detector` both build on it, so both give the same scores.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..domain.model import DomainModel, domain_model_of
from ..fsio import file_sha256
from ..imageio import (
    ImageError,
    ImageSource,
    LoadedImage,
    load_image,
    to_model_array,
)
from ..models.normalization import normalize_array
from .decoding import DECODE_TIMEOUT_S, load_with_timeout

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
DEFAULT_CHECKPOINT_NAME = "synthcheck-default.pt"


def default_checkpoint() -> Path:
    """``$SYNTHCHECK_CHECKPOINT`` if set, else the model shipped in the repository's ``models/``."""
    env = os.environ.get("SYNTHCHECK_CHECKPOINT")
    return Path(env) if env else REPO_MODELS / DEFAULT_CHECKPOINT_NAME


@dataclass
class Scores:
    """One image's scores; ``p_fake`` is the model's probability that the image is synthetic."""

    p_fake: float  # temperature-calibrated probability of FAKE
    p_fake_raw: float  # before temperature scaling
    logits: tuple[float, float]
    width: int
    height: int
    feature_distance: float | None = None  # distance of the model's features to its training data
    jpeg_residual: float | None = None  # distance from the training JPEG's DCT grid

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def softmax_p_fake(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """P(FAKE) from (N, 2) logits, in float64 (the same arithmetic for every backend)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e[:, 1] / e.sum(axis=1)


class BaseDetector:
    """Shared predict logic; subclasses provide ``logits_of_arrays`` and the metadata fields."""

    model_name: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    temperature: float
    path: str | None
    feature_domain: dict[str, Any] | None = None  # fitted domain check, if the checkpoint has one
    _sha256: str | None = None

    def logits_of_arrays(self, arrays: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        raise NotImplementedError

    def logits_and_features(self, arrays: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits and, where the backend can, the domain check's features (default: none)."""
        return self.logits_of_arrays(arrays), None

    @property
    def domain_model(self) -> DomainModel:
        """The checkpoint's domain model (input checks plus, when fitted, kNN and JPEG trace)."""
        return domain_model_of(self)

    @property
    def checkpoint_sha256(self) -> str | None:
        if self._sha256 is None and self.path:
            self._sha256 = file_sha256(self.path)
        return self._sha256

    def weights_sha256(self) -> str | None:
        """SHA-256 of the weights in memory, for a model with no checkpoint file (none here)."""
        return None

    def describe(self) -> dict[str, Any]:
        """The one identity of the model (JSON outputs, cases, reports, the API): name, file and
        SHA-256 of the checkpoint file, else of the weights in memory (``sha256_of`` says which)."""
        sha, of = self.checkpoint_sha256, "checkpoint"
        if not sha:
            sha, of = self.weights_sha256(), "weights"
        return {"name": self.model_name, "checkpoint": Path(self.path).name if self.path else None,
                "sha256": sha, "sha256_of": of if sha else None}

    def to_array(self, image: LoadedImage) -> np.ndarray:
        """The model's input for one image: uint8 (S, S, 3) at the checkpoint's input size."""
        size = self.input_size
        if image.image.size == (size, size) and image.image.mode == "RGB":
            return image.rgb_array()  # already the model's size: no resize, no second copy
        return to_model_array(image.image, size)

    def normalize_array(self, arrays: np.ndarray) -> np.ndarray:
        """uint8 (N, S, S, 3) -> float32 (N, 3, S, S) normalised with the checkpoint's mean/std."""
        return normalize_array(arrays, self.mean, self.std)

    def predict_arrays(self, arrays: np.ndarray,
                       sizes: Sequence[tuple[int, int]] | None = None) -> list[Scores]:
        """Scores for uint8 (N, S, S, 3) model inputs, with the domain model's two distances."""
        if self.feature_domain:
            logits, feats = self.logits_and_features(arrays)
        else:
            logits, feats = self.logits_of_arrays(arrays), None
        dist, residual = self.domain_model.score(arrays, feats)
        p_raw = softmax_p_fake(logits)
        p_cal = softmax_p_fake(logits, self.temperature)
        sizes = sizes or [(self.input_size, self.input_size)] * len(arrays)
        return [Scores(float(p), float(pr), (float(l0), float(l1)), w, h, d, r)
                for p, pr, (l0, l1), (w, h), d, r in zip(p_cal, p_raw, logits, sizes, dist, residual, strict=True)]

    def predict(self, images: Iterable[ImageSource | LoadedImage]) -> list[Scores]:
        """Scores for images of any PIL-readable kind; raises :class:`ImageError` on bad input.

        Use :meth:`predict_many` to get per-input errors instead of an exception.
        """
        loaded = [im if isinstance(im, LoadedImage) else load_image(im) for im in images]
        if not loaded:
            return []
        arrays = np.stack([self.to_array(im) for im in loaded])
        return self.predict_arrays(arrays, [(im.width, im.height) for im in loaded])

    def predict_many(self, sources: Sequence[ImageSource], timeout_s: float | None = None
                     ) -> list[tuple[LoadedImage | None, Scores | None, str | None]]:
        """(loaded, scores, error) for each input; bad or slow inputs never stop the others.

        Each input gets ``timeout_s`` seconds to open (default ``$SYNTHCHECK_DECODE_TIMEOUT``
        or 30 s); past that it is reported as an error and the next input is processed.
        """
        limit = timeout_s if timeout_s is not None else DECODE_TIMEOUT_S
        loaded: list[LoadedImage | None] = []
        errors: list[str | None] = []
        for src in sources:
            try:
                loaded.append(load_with_timeout(src, limit))
                errors.append(None)
            except ImageError as exc:
                loaded.append(None)
                errors.append(str(exc))
        good = [im for im in loaded if im is not None]
        scores = iter(self.predict(good)) if good else iter(())
        return [(im, next(scores) if im is not None else None, err)
                for im, err in zip(loaded, errors, strict=True)]
