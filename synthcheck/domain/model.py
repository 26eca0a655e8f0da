"""The domain model a checkpoint carries, with its three verbs: fit, score, judge.

- *fit* (:func:`synthcheck.domain.features.fit_feature_domain`, at training end or by
  ``synthcheck fit-domain``): a kNN bank of the model's mid-level features, the training data's
  JPEG trace and each class's greyscale share, stored in the checkpoint as ``feature_domain``.
- *score* (:meth:`DomainModel.score`, per batch, beside the forward pass): each input's feature
  distance and JPEG grid residual.
- *judge* (:meth:`DomainModel.judge` per input, :meth:`DomainModel.judge_many` per batch):
  input-property checks plus the two scores against their thresholds, and the greyscale note;
  one :class:`DomainCheck` per input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..imageio import LoadedImage
from .greyscale import greyscale_advisory
from .inputs import check_domain_many
from .jpeg_trace import describe as describe_jpeg
from .jpeg_trace import grid_residual
from .knn import feature_score
from .result import DomainCheck


@dataclass(frozen=True)
class DomainModel:
    """A checkpoint's fitted domain check (``fitted`` is its ``feature_domain`` dict, or None
    for a checkpoint without one: then only the input-property checks apply)."""

    input_size: int
    class_names: tuple[str, ...] = ("REAL", "FAKE")
    fitted: dict[str, Any] | None = None

    @property
    def feature_threshold(self) -> float | None:
        return float(self.fitted["threshold"]) if self.fitted else None

    @property
    def jpeg(self) -> dict[str, Any] | None:
        """The training data's JPEG setting and residual threshold, when the check has one."""
        return self.fitted.get("jpeg") if self.fitted else None

    @property
    def greyscale(self) -> dict[str, Any] | None:
        """Each class's greyscale share in the training data, when the fit recorded it."""
        return self.fitted.get("greyscale") if self.fitted else None

    def score(self, arrays: np.ndarray, features: np.ndarray | None
              ) -> tuple[list[float | None], list[float | None]]:
        """(feature distance, JPEG grid residual) per model-size uint8 input; None where the
        checkpoint has no such test."""
        n = len(arrays)
        dist: list[float | None] = [None] * n
        residual: list[float | None] = [None] * n
        if not self.fitted:
            return dist, residual
        if self.jpeg:
            residual = [float(r) for r in grid_residual(arrays, self.jpeg["luma_table"])]
        if features is not None:
            dist = [float(d) for d in feature_score(features, self.fitted)]
        return dist, residual

    def judge(self, loaded: LoadedImage, feature_distance: float | None = None,
              jpeg_residual: float | None = None) -> DomainCheck:
        """In domain or not, with one plain sentence per reason, and the advisories."""
        return self.judge_many([loaded], [feature_distance], [jpeg_residual])[0]

    def judge_many(self, loaded: Sequence[LoadedImage], feature_distances: Sequence[float | None],
                   jpeg_residuals: Sequence[float | None]) -> list[DomainCheck]:
        """:meth:`judge` of each input of a batch (the input-property checks run on the whole
        batch at once: per image they cost more than the model)."""
        checks = check_domain_many(loaded, self.input_size)
        limit, jpeg, grey = self.feature_threshold, self.jpeg, self.greyscale
        thr = float(jpeg["threshold"]) if jpeg else 0.0
        for domain, dist, residual in zip(checks, feature_distances, jpeg_residuals, strict=True):
            if limit is not None and dist is not None:
                _score_test(domain, "feature_distance", "feature_threshold", dist, limit, 4,
                            lambda d=dist: f"The model's internal features for this image are "
                            f"unlike its training images (distance {d:.3g}, while 99% of "
                            f"validation images stay under {limit:.3g}).")
            if jpeg and residual is not None:
                _score_test(domain, "jpeg_residual", "jpeg_threshold", residual, thr, 3,
                            lambda r=residual: f"The image lacks the trace of the "
                            f"{describe_jpeg(jpeg)} compression that every training image went "
                            f"through (grid residual {r:.3f}, while 99% of validation images stay "
                            f"under {thr:.3f}), so it was never compressed like them, or was "
                            f"resized, shifted or re-compressed since.")
            note = greyscale_advisory(domain.stats.get("mean_chroma"), grey, self.class_names)
            if note:
                domain.advisories.append(note)
        return checks


def _score_test(domain: DomainCheck, key: str, limit_key: str, value: float, limit: float,
                digits: int, reason: Callable[[], str]) -> None:
    """Record a fitted score and its limit in ``stats``; above the limit the input is out of
    domain, for ``reason()`` (worded only then)."""
    domain.stats[key], domain.stats[limit_key] = round(value, digits), round(limit, digits)
    if value > limit:
        domain.in_domain = False
        domain.reasons.append(reason())


def domain_model_of(detector: Any) -> DomainModel:
    """The :class:`DomainModel` of a detector (torch or ONNX backend)."""
    names: Sequence[str] = getattr(detector, "class_names", ("REAL", "FAKE"))
    return DomainModel(int(detector.input_size), tuple(names), getattr(detector, "feature_domain", None))
