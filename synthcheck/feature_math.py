"""Torch-free Mahalanobis distance, shared by the torch and ONNX detectors."""

from __future__ import annotations

from typing import Any

import numpy as np


def mahalanobis(feats: np.ndarray, domain: dict[str, Any]) -> np.ndarray:
    """Distance of each feature row to the nearest class mean under the shared precision."""
    means = np.asarray(domain["class_means"], dtype=np.float64)
    prec = np.asarray(domain["precision"], dtype=np.float64)
    f = np.asarray(feats, dtype=np.float64)
    d2 = np.stack([np.einsum("nd,de,ne->n", f - mu, prec, f - mu) for mu in means], 1)
    return np.sqrt(np.maximum(d2.min(1), 0.0))
