"""A region of the image: crop and zoom for full-resolution inspection, and the model's full
conclusion on a crop the user picks (region-of-interest score)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class Box(NamedTuple):
    """A rectangle in image pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    def clamped(self, width: int, height: int) -> Box:
        """The box moved and shrunk to lie inside a ``width`` x ``height`` image (at least 1 px)."""
        x = min(max(0, int(self.x)), max(0, width - 1))
        y = min(max(0, int(self.y)), max(0, height - 1))
        return Box(x, y, max(1, min(int(self.w), width - x)), max(1, min(int(self.h), height - y)))

    def label(self) -> str:
        return f"x={self.x}, y={self.y}, {self.w}x{self.h} px"


def crop(rgb: np.ndarray, box: Box) -> np.ndarray:
    """The pixels of ``box`` (clamped to the image) as a contiguous array."""
    b = Box(*box).clamped(rgb.shape[1], rgb.shape[0])
    return np.ascontiguousarray(rgb[b.y:b.y + b.h, b.x:b.x + b.w])


def zoom(rgb: np.ndarray, factor: int) -> np.ndarray:
    """``rgb`` enlarged ``factor`` times with nearest neighbour (1 = 1:1, pixels as they are)."""
    k = int(factor)
    if k < 1:
        raise ValueError("zoom factor must be a whole number of at least 1")
    return rgb if k == 1 else np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)


def roi_analysis(image: Any, box: Box, detector: Any, options: Any = None, name: str | None = None) -> Any:
    """The :class:`synthcheck.analysis.Analysis` of the crop ``box`` of ``image``: the same one
    result as a whole image gets (domain check included, so an out-of-domain crop is honestly
    'cannot assess'). The crop is passed as pixels: its name says where it came from."""
    from ..analysis import analyze_one
    from ..imageio import as_loaded

    loaded = as_loaded(image)
    rgb = np.asarray(loaded.image, dtype=np.uint8)
    b = Box(*box).clamped(rgb.shape[1], rgb.shape[0])
    label = f"{name or loaded.name} [crop {b.label()}]"
    return analyze_one(crop(rgb, b), detector, options, name=label)


def locator(rgb: np.ndarray, box: Box, max_side: int = 512) -> np.ndarray:
    """A small copy of the image (at most ``max_side`` px) with ``box`` outlined in red."""
    from PIL import Image, ImageDraw

    from .images import fit_size

    small = Image.fromarray(fit_size(rgb, max_side))
    f = small.width / rgb.shape[1]
    b = Box(*box).clamped(rgb.shape[1], rgb.shape[0])
    ImageDraw.Draw(small).rectangle(
        [b.x * f, b.y * f, (b.x + b.w) * f - 1, (b.y + b.h) * f - 1], outline=(255, 0, 0),
        width=max(1, round(max(small.size) / 250)))
    return np.asarray(small)
