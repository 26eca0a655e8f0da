"""Torch-free feature distances (kNN, Mahalanobis), shared by the torch and ONNX detectors."""

from __future__ import annotations

from typing import Any

import numpy as np

# Share of validation images the fitted domain tests keep. A little above the 99% asked for, so
# that the unseen test split, whose share scatters around the validation one, stays >= 99% too.
DEFAULT_KEEP = 0.992

_CACHE: dict[int, tuple[Any, Any, tuple[np.ndarray, np.ndarray]]] = {}


def _whitener(domain: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(class means @ W, W) with W W^T = precision: each distance becomes one small matmul.

    Cached per (means, precision) objects, never written into ``domain`` (which is saved in
    checkpoints and must hold tensors only).
    """
    key = id(domain["precision"])
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is domain["precision"] and hit[1] is domain["class_means"]:
        return hit[2]
    means = np.asarray(domain["class_means"], dtype=np.float64)
    prec = np.asarray(domain["precision"], dtype=np.float64)
    try:
        w = np.linalg.cholesky((prec + prec.T) / 2)
    except np.linalg.LinAlgError:  # not positive definite: symmetric square root instead
        vals, vecs = np.linalg.eigh((prec + prec.T) / 2)
        w = vecs * np.sqrt(np.clip(vals, 0, None))
    cached = ((means @ w).astype(np.float32), w.astype(np.float32))
    if len(_CACHE) > 16:
        _CACHE.clear()
    _CACHE[key] = (domain["precision"], domain["class_means"], cached)
    return cached


def mahalanobis(feats: np.ndarray, domain: dict[str, Any]) -> np.ndarray:
    """Distance of each feature row to the nearest class mean under the shared precision."""
    mw, w = _whitener(domain)
    z = np.asarray(feats, dtype=np.float32) @ w  # whitened features
    d2 = ((z[:, None, :] - mw[None, :, :]) ** 2).sum(-1)
    return np.sqrt(d2.min(1)).astype(np.float64)


_BANKS: dict[int, tuple[Any, np.ndarray]] = {}


def knn_distance(feats: np.ndarray, domain: dict[str, Any]) -> np.ndarray:
    """Cosine distance of each feature row to its k-th nearest training feature (Sun et al.
    2022, "Out-of-distribution detection with deep nearest neighbors").

    The bank is stored L2-normalised in float16; its float32 copy is cached per bank object.
    It is kept small (1,000 images, 0.5 MB as float32): a single-image product then stays
    below the size at which NumPy's BLAS starts threads (at 5,000 images their spinning beside
    torch's own threads made each single-image predict several times slower on a 2-core CPU),
    and the bank stays in cache; 1,000 flagged nearly the same photos as 20,000.
    """
    bank = domain["bank"]
    hit = _BANKS.get(id(bank))
    if hit is None or hit[0] is not bank:
        if len(_BANKS) > 16:
            _BANKS.clear()
        hit = (bank, np.ascontiguousarray(np.asarray(bank, dtype=np.float32).T))
        _BANKS[id(bank)] = hit
    f = np.asarray(feats, dtype=np.float32)
    dots = f @ hit[1]  # (N, bank); the bank is unit-length, so only the query norm is missing
    m = dots.shape[1] - min(int(domain["k"]), dots.shape[1])
    kth = np.partition(dots, m, axis=1)[:, m]  # the k-th largest; the order is norm-free
    return 1.0 - kth.astype(np.float64) / np.maximum(np.sqrt((f * f).sum(1, dtype=np.float64)), 1e-8)


def feature_score(feats: np.ndarray, domain: dict[str, Any]) -> np.ndarray:
    """The domain's distance for each feature row (larger = further from the training data)."""
    if domain.get("method") == "mahalanobis":  # checkpoints fitted before the kNN check
        return mahalanobis(feats, domain)
    return knn_distance(feats, domain)
