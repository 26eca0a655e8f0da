"""Large images at their own scale: score native-resolution patches instead of squashing.

Resizing a phone photo to 32x32 erases the pixel-level evidence the model reads. Instead we
take patches of the model's input size straight from the original pixels, on an even grid of
at most ``max_grid`` x ``max_grid`` positions (so cost is bounded whatever the image size), and
score them in one batch. The grid of p_fake values shows *where* the model sees synthesis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .bands import DEFAULT_THRESHOLD
from .imageio import LoadedImage


@dataclass
class TileGrid:
    """p_fake per native-resolution patch; ``boxes`` are (left, top, right, bottom) pixels."""

    rows: int
    cols: int
    tile: int
    p_fake: np.ndarray  # (rows, cols), temperature-calibrated
    boxes: list[tuple[int, int, int, int]]
    threshold: float = DEFAULT_THRESHOLD  # the analysis threshold: a patch at or above it is scored FAKE

    @property
    def mean(self) -> float:
        return float(self.p_fake.mean())

    @property
    def share_fake(self) -> float:
        """Fraction of patches scored FAKE at the analysis threshold."""
        return float((self.p_fake >= self.threshold).mean())

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "cols": self.cols, "tile_px": self.tile,
                "p_fake_mean": round(self.mean, 6), "share_fake": round(self.share_fake, 6),
                "threshold": float(self.threshold),
                "p_fake": np.round(self.p_fake, 6).tolist()}


def _positions(length: int, tile: int, max_n: int) -> list[int]:
    """Up to ``max_n`` evenly spaced patch starts covering [0, length - tile]."""
    n = min(max_n, max(1, length // tile))
    if n == 1:
        return [(length - tile) // 2]
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def tile_grid(detector, image: LoadedImage, max_grid: int = 16,
              threshold: float = DEFAULT_THRESHOLD) -> TileGrid | None:
    """Score patches of ``image``; None when the image is smaller than two patches either way."""
    tile = int(detector.input_size)
    w, h = image.width, image.height
    if w < 2 * tile and h < 2 * tile:
        return None
    arr = np.asarray(image.image, dtype=np.uint8)
    tops = _positions(h, tile, max_grid) if h >= tile else []
    lefts = _positions(w, tile, max_grid) if w >= tile else []
    if not tops or not lefts:
        return None
    patches = np.stack([arr[t:t + tile, left:left + tile] for t in tops for left in lefts])
    verdicts = detector.predict_arrays(patches)
    p = np.array([v.p_fake for v in verdicts], dtype=np.float64).reshape(len(tops), len(lefts))
    boxes = [(left, t, left + tile, t + tile) for t in tops for left in lefts]
    return TileGrid(len(tops), len(lefts), tile, p, boxes, float(threshold))


def _cell_edges(starts: list[int], tile: int, length: int) -> list[int]:
    """Cell borders halfway between neighbouring patch centres, so the cells cover the image."""
    centres = [s + tile / 2 for s in starts]
    mids = [round((a + b) / 2) for a, b in zip(centres, centres[1:], strict=False)]
    return [0, *mids, length]


def heat_colour(p: float) -> tuple[int, int, int]:
    """The one p_fake colour scale of every face: blue (0, real) through white (0.5) to red
    (1, synthetic); grey for a missing or non-numeric score."""
    try:
        p = float(p)
    except (TypeError, ValueError):
        return 204, 204, 204
    if p != p:
        return 204, 204, 204
    p = min(1.0, max(0.0, p))
    if p < 0.5:
        t = p / 0.5
        return round(40 + 215 * t), round(90 + 165 * t), 255
    t = (p - 0.5) / 0.5
    return 255, round(255 - 205 * t), round(255 - 215 * t)


def heat_hex(p: float) -> str:
    """:func:`heat_colour` as a CSS colour (``#rrggbb``), for the HTML report."""
    return "#" + "".join(f"{c:02x}" for c in heat_colour(p))


def tile_overlay(image: Image.Image, grid: TileGrid, max_side: int = 640, alpha: float = 0.45) -> np.ndarray:
    """The image (shrunk for display) under a heat grid of tile p_fake; each scored patch outlined."""
    w, h = image.size
    scale = min(1.0, max_side / max(w, h))
    base = image.convert("RGB").resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                       Image.Resampling.BILINEAR)
    layer = Image.new("RGB", base.size)
    draw = ImageDraw.Draw(layer)
    tops = sorted({b[1] for b in grid.boxes})
    lefts = sorted({b[0] for b in grid.boxes})
    ys, xs = _cell_edges(tops, grid.tile, h), _cell_edges(lefts, grid.tile, w)
    for r in range(grid.rows):
        for c in range(grid.cols):
            box = [xs[c] * scale, ys[r] * scale, xs[c + 1] * scale - 1, ys[r + 1] * scale - 1]
            draw.rectangle(box, fill=heat_colour(grid.p_fake[r, c]))
    out = Image.blend(base, layer, alpha)
    outline = ImageDraw.Draw(out)
    for left, top, right, bottom in grid.boxes:
        outline.rectangle([left * scale, top * scale, right * scale - 1, bottom * scale - 1],
                          outline=(20, 20, 20))
    return np.asarray(out)
