"""Data behind the dashboard's Metrics page: scores of a split, curves, calibration bins, cells.

Pure functions of labels and ``p_fake`` (FAKE = positive class), so they are unit-tested
without a model; :func:`score_arrays` is the only one that runs the detector.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..inference.base import softmax_p_fake

CELLS = ("TN", "FP", "FN", "TP")  # (true, predicted): REAL/REAL, REAL/FAKE, FAKE/REAL, FAKE/FAKE
CELL_LABELS = {"TN": "real judged real", "FP": "real judged fake (false positive)",
               "FN": "fake judged real (false negative)", "TP": "fake judged fake"}


def score_arrays(detector: Any, images: np.ndarray, batch_size: int = 512,
                 progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Calibrated p_fake of uint8 NxHxWx3 ``images`` at the detector's input size, in batches."""
    n = len(images)
    out = np.zeros(n, dtype=np.float64)
    for s in range(0, n, batch_size):
        logits = detector.logits_of_arrays(np.ascontiguousarray(images[s:s + batch_size]))
        out[s:s + len(logits)] = softmax_p_fake(logits, detector.temperature)
        if progress:
            progress(min(1.0, (s + batch_size) / n))
    return out


def stratified_subset(labels: np.ndarray, max_n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``max_n`` items keeping class proportions (all if max_n <= 0)."""
    labels = np.asarray(labels)
    n = len(labels)
    if max_n <= 0 or max_n >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    picked = []
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        k = max(1, round(max_n * len(idx) / n))
        picked.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(picked))[:max_n]


@dataclass
class SplitScores:
    """Scores of (a stratified subset of) one split, with the decoded images for a gallery."""

    labels: np.ndarray
    p_fake: np.ndarray
    images: np.ndarray
    paths: list[str]
    n_total: int
    n_skipped: int
    fingerprint: str
    seconds: float


def score_split(detector: Any, data_dir: str | os.PathLike, split: str, max_images: int = 0,
                seed: int = 0, progress: Callable[[float], None] | None = None) -> SplitScores:
    """Decode ``data_dir/split`` (cached on disk by :func:`synthcheck.data.dataset.load_split`),
    take a stratified subset of at most ``max_images`` (0: all) and score it."""
    from ..data.dataset import load_split

    t0 = time.perf_counter()
    dec = load_split(data_dir, split, image_size=detector.input_size)
    idx = stratified_subset(dec.labels, max_images, seed)
    images = np.ascontiguousarray(dec.images[idx])
    p = score_arrays(detector, images, batch_size=256, progress=progress)
    return SplitScores(dec.labels[idx], p, images, [dec.paths[i] for i in idx], len(dec),
                       dec.n_skipped, dec.fingerprint, time.perf_counter() - t0)


def confusion_cells(y_true: np.ndarray, p_fake: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    """Indices of the images in each confusion-matrix cell at ``threshold``."""
    y = np.asarray(y_true).astype(int)
    pred = (np.asarray(p_fake) >= threshold).astype(int)
    return {"TN": np.flatnonzero((y == 0) & (pred == 0)), "FP": np.flatnonzero((y == 0) & (pred == 1)),
            "FN": np.flatnonzero((y == 1) & (pred == 0)), "TP": np.flatnonzero((y == 1) & (pred == 1))}


def roc_points(y_true: np.ndarray, p_fake: np.ndarray) -> dict[str, list[float]] | None:
    """ROC curve (fpr, tpr, thresholds); None when only one class is present."""
    from sklearn.metrics import roc_curve

    if len(np.unique(y_true)) < 2:
        return None
    fpr, tpr, thr = roc_curve(y_true, p_fake)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": np.clip(thr, 0, 1).tolist()}


def pr_points(y_true: np.ndarray, p_fake: np.ndarray) -> dict[str, list[float]] | None:
    """Precision-recall curve for FAKE; None when only one class is present."""
    from sklearn.metrics import precision_recall_curve

    if len(np.unique(y_true)) < 2:
        return None
    prec, rec, thr = precision_recall_curve(y_true, p_fake)
    return {"precision": prec.tolist(), "recall": rec.tolist(), "thresholds": thr.tolist()}


def reliability_bins(y_true: np.ndarray, p_fake: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Equal-width bins of p_fake with mean predicted p_fake vs observed FAKE fraction (non-empty bins)."""
    y = np.asarray(y_true).astype(float)
    p = np.asarray(p_fake, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        m = which == b
        if m.any():
            bins.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "count": int(m.sum()),
                         "mean_p_fake": float(p[m].mean()), "fraction_fake": float(y[m].mean())})
    return bins


def point_at_threshold(y_true: np.ndarray, p_fake: np.ndarray, threshold: float) -> dict[str, float]:
    """(fpr, tpr, precision, recall) of the decision rule ``p_fake >= threshold``."""
    cells = {k: len(v) for k, v in confusion_cells(y_true, p_fake, threshold).items()}
    tp, fp, fn, tn = cells["TP"], cells["FP"], cells["FN"], cells["TN"]
    return {"fpr": fp / max(1, fp + tn), "tpr": tp / max(1, tp + fn),
            "precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / max(1, tp + fn)}
