"""Error level analysis: re-save as JPEG at a known quality and look at the difference.

Regions that were compressed differently (pasted, retouched, or never JPEG-compressed) stand out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .images import as_rgb_array, jpeg_roundtrip


def ela_difference(image: Any, quality: int = 90) -> np.ndarray:
    """Absolute per-channel difference (float32 HxWx3, 0..255) between the image and its re-save.

    The re-save is 4:4:4 (no chroma subsampling), so colour resampling does not drown the
    error levels: content already saved at ``quality`` comes back almost unchanged.
    """
    rgb = as_rgb_array(image)
    return np.abs(rgb.astype(np.float32) - jpeg_roundtrip(rgb, quality, 0).astype(np.float32))


def stretch(diff: np.ndarray, scale: float | None = None) -> np.ndarray:
    """``diff * scale`` as uint8; ``scale=None`` stretches the largest difference to 255."""
    if scale is None:
        top = float(diff.max())
        scale = 255.0 / top if top > 0 else 1.0
    return np.clip(diff * float(scale) + 0.5, 0, 255).astype(np.uint8)


def error_level_analysis(image: Any, quality: int = 90, scale: float | None = None) -> np.ndarray:
    """Amplified ELA picture (uint8 HxWx3): ``|image - resave(quality)| * scale``.

    ``scale=None`` stretches the largest difference to 255, as ELA tools do; pass a fixed
    scale (e.g. 15) to compare images with each other.
    """
    return stretch(ela_difference(image, quality), scale)


def ela_view(rgb: np.ndarray, quality: int = 90) -> dict[str, Any]:
    """The ELA picture (stretched) with its mean and largest difference."""
    diff = ela_difference(rgb, quality)
    return {"image": stretch(diff), "quality": int(quality), "ela_mean": round(float(diff.mean()), 4),
            "ela_max": round(float(diff.max()), 4)}
