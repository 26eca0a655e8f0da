"""Torch-free Mahalanobis distance, shared by the torch and ONNX detectors."""

from __future__ import annotations

from typing import Any

import numpy as np

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
