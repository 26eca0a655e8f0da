"""Agreement between attribution maps: Spearman rank correlation and top-k IoU per pair."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman rank correlation of two maps; None when either is constant (undefined)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.size != b.size:
        raise ValueError(f"maps differ in size: {a.size} vs {b.size}")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def topk_mask(a: np.ndarray, k: float = 0.1) -> np.ndarray:
    """Boolean mask of the top ``k`` fraction of pixels (at least one) by value; stable ties."""
    a = np.asarray(a, np.float64).ravel()
    n = max(1, int(round(k * a.size)))
    mask = np.zeros(a.size, bool)
    mask[np.argsort(-a, kind="stable")[:n]] = True
    return mask


def topk_iou(a: np.ndarray, b: np.ndarray, k: float = 0.1) -> float:
    """Intersection over union of the two maps' top-``k`` pixel sets."""
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be in (0, 1], not {k}")
    ma, mb = topk_mask(a, k), topk_mask(b, k)
    return float((ma & mb).sum() / (ma | mb).sum())


def agreement(maps: Mapping[str, np.ndarray], k: float = 0.1) -> dict[str, Any]:
    """``{"spearman": {a: {b: r}}, "topk_iou": {a: {b: iou}}, "k": k}`` over all pairs a != b."""
    names = list(maps)
    rho: dict[str, dict[str, float | None]] = {a: {} for a in names}
    iou: dict[str, dict[str, float]] = {a: {} for a in names}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            r = spearman(maps[a], maps[b])
            rho[a][b] = rho[b][a] = r
            iou[a][b] = iou[b][a] = topk_iou(maps[a], maps[b], k)
    return {"spearman": rho, "topk_iou": iou, "k": k}
