"""What every forensic view shares: the input as RGB pixels (and its original bytes), luma,
a JPEG round trip, and sizing of pictures for reports and the dashboard."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from ..imageio import LoadedImage, load_image, upscale_nearest


def as_rgb_array(image: Any) -> np.ndarray:
    """Any supported image input -> uint8 HxWx3 array."""
    if isinstance(image, LoadedImage):
        return np.asarray(image.image, dtype=np.uint8)
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return image
    return np.asarray(load_image(image).image, dtype=np.uint8)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an HxWx3 array, float64 in [0, 255]."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def jpeg_roundtrip(rgb: np.ndarray, quality: int, subsampling: int = 2) -> np.ndarray:
    """Encode ``rgb`` as JPEG at ``quality`` and decode it.

    ``subsampling``: 2 = 4:2:0 (what most cameras and tools write), 0 = 4:4:4.
    """
    if not 1 <= int(quality) <= 100:
        raise ValueError("JPEG quality must be between 1 and 100")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(
        buf, format="JPEG", quality=int(quality), subsampling=int(subsampling))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.uint8)


def enlarge_to(rgb: np.ndarray, min_side: int = 256) -> np.ndarray:
    """Enlarge small pictures by the integer factor that brings the shorter side to at least
    ``min_side`` (:func:`upscale_nearest`), so pixels stay visible."""
    return upscale_nearest(rgb, int(np.ceil(min_side / max(1, min(rgb.shape[:2])))))


def fit_size(rgb: np.ndarray, max_side: int = 512) -> np.ndarray:
    """Shrink large pictures (area resampling) so reports stay small."""
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    f = max_side / max(h, w)
    return np.asarray(Image.fromarray(rgb).resize((max(1, round(w * f)), max(1, round(h * f))),
                                                  Image.Resampling.BOX))

