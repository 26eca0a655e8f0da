"""Noise residual: the image minus a denoised copy.

Camera noise is fine and uniform; synthetic or pasted regions are often smoother or differently
textured.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .images import as_rgb_array


def noise_residual(image: Any, method: str = "median", size: int = 3, sigma: float = 1.0) -> np.ndarray:
    """Image minus a denoised copy (float32 HxWx3, signed): ``median`` or ``gaussian`` filter."""
    from scipy import ndimage

    u8 = as_rgb_array(image)
    rgb = u8.astype(np.float32)
    if method == "median" and size == 3:
        import cv2  # same result as scipy's 3x3 "reflect" median (edge pixel repeated), ~50x faster

        smooth = cv2.medianBlur(np.ascontiguousarray(u8), 3).astype(np.float32)
    elif method == "median":
        smooth = ndimage.median_filter(rgb, size=(size, size, 1), mode="reflect")
    elif method == "gaussian":
        smooth = ndimage.gaussian_filter(rgb, sigma=(sigma, sigma, 0), mode="reflect")
    else:
        raise ValueError(f"unknown denoiser {method!r}; use 'median' or 'gaussian'")
    return rgb - smooth


def residual_view(residual: np.ndarray, gain: float | None = None) -> np.ndarray:
    """A signed residual around mid-grey (uint8 HxWx3); ``gain=None`` uses 3 standard deviations."""
    if gain is None:
        sd = float(residual.std())
        gain = 127.0 / (3.0 * sd) if sd > 0 else 1.0
    return np.clip(residual * gain + 127.5, 0, 255).astype(np.uint8)


def noise_view(rgb: np.ndarray) -> dict[str, Any]:
    """The median-filter residual picture with its standard deviation."""
    resid = noise_residual(rgb)
    return {"image": residual_view(resid), "method": "median 3x3", "noise_std": round(float(resid.std()), 4)}
