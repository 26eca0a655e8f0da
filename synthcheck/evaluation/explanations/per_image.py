"""The bench's figures for one image: deletion/insertion in probability and log-odds space
against K random maps, the beats-random rule, and ROAD.

Deletion and insertion follow :mod:`synthcheck.explain.metrics.faithfulness` (the same pixel
order with seeded tie-breaking, the same blurred baseline, the same perturbation images); here
one model call returns the target's calibrated log-odds for every curve point of every map and
of every random map, and both spaces are read from its logits (p through the one
:func:`synthcheck.inference.base.softmax_p_fake`). The random maps
depend only on the image and the seed, so every method on an image meets the same K.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...explain.metrics.faithfulness import (
    RANDOM_MAPS,
    auc,
    baseline_image,
    curves_from_scores,
    perturbation_images,
    pixel_order,
    stream,
    target_scores,
)
from ...explain.metrics.random_baseline import QUANTILE, beats_random
from ...explain.metrics.road import PERCENTILES, road

if TYPE_CHECKING:
    from ...inference import Detector


@dataclass(frozen=True)
class MetricSettings:
    """What the per-image figures depend on besides the maps (hashed into the cache key)."""

    n_random: int = RANDOM_MAPS  # K seeded random maps per image
    n_steps: int = 16  # curve points - 1
    baseline: str = "blur"
    quantile: float = QUANTILE
    road_percentiles: tuple[int, ...] = PERCENTILES
    topk: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        return {"n_random": self.n_random, "n_steps": self.n_steps, "baseline": self.baseline,
                "quantile": self.quantile, "road_percentiles": list(self.road_percentiles), "topk": self.topk}


def curves(detector: Detector, image: np.ndarray, orders: list[np.ndarray], target_index: int,
           settings: MetricSettings) -> dict[str, np.ndarray]:
    """Deletion and insertion curves (len(orders) x n_steps+1) for pixel ``orders``: ``deletion``
    and ``insertion`` in log-odds, ``deletion_p`` and ``insertion_p`` in probability."""
    h, w = image.shape[:2]
    fractions = np.linspace(0.0, 1.0, settings.n_steps + 1)
    counts = np.round(fractions * h * w).astype(np.int64)
    base = baseline_image(detector, image, settings.baseline)
    batch = [image[None], base[None]]
    for order in orders:
        d, i = perturbation_images(image, base, order, counts[1:-1])
        batch += [d, i]
    out = {"fractions": fractions}
    for values, suffix in zip(target_scores(detector, np.concatenate(batch), target_index), ("", "_p"), strict=True):
        out[f"deletion{suffix}"], out[f"insertion{suffix}"] = curves_from_scores(values, len(orders),
                                                                                len(counts) - 2)
    return out


def _aucs(curve_set: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    f = curve_set["fractions"]
    out = {}
    for kind in ("deletion", "insertion"):
        out[f"{kind}_auc_logit"] = np.array([auc(c, f) for c in curve_set[kind]])
        out[f"{kind}_auc"] = np.array([auc(c, f) for c in curve_set[f"{kind}_p"]])
    return out


def random_figures(detector: Detector, image: np.ndarray, target_index: int, settings: MetricSettings,
                   seed: int) -> dict[str, list[float]]:
    """The K random maps' AUCs on this image (lists of K, both spaces)."""
    rng = stream(seed, "random-baseline")
    orders = [rng.permutation(image.shape[0] * image.shape[1]) for _ in range(settings.n_random)]
    return {k: v.tolist() for k, v in _aucs(curves(detector, image, orders, target_index, settings)).items()}


def method_figures(detector: Detector, image: np.ndarray, maps: Mapping[str, np.ndarray], target_index: int,
                   random: Mapping[str, list[float]], settings: MetricSettings, seed: int) -> dict[str, dict[str, Any]]:
    """Per map: AUCs (both spaces), beats random (both spaces; the log-odds one is the verdict),
    ROAD MoRF/LeRF."""
    names = list(maps)
    if not names:
        return {}
    orders = [pixel_order(maps[n], stream(seed, f"ties:{n}")) for n in names]
    aucs = _aucs(curves(detector, image, orders, target_index, settings))
    roads = road(detector, image, maps, target_index, percentiles=settings.road_percentiles, seed=seed)
    out = {}
    for j, n in enumerate(names):
        row = {k: float(v[j]) for k, v in aucs.items()}
        row["beats_random"] = beats_random(row["deletion_auc_logit"], row["insertion_auc_logit"],
                                           random["deletion_auc_logit"], random["insertion_auc_logit"],
                                           settings.quantile)
        row["beats_random_prob"] = beats_random(row["deletion_auc"], row["insertion_auc"], random["deletion_auc"],
                                                random["insertion_auc"], settings.quantile)
        r = roads[n]
        row.update(road_morf=r["morf"], road_lerf=r["lerf"], road_morf_logit=r["morf_logit"],
                   road_lerf_logit=r["lerf_logit"])
        out[n] = row
    return out
