"""JPEG ghosts (Farid 2009): re-save the image at a range of qualities and map the difference.

A region once saved at quality q1 changes least when re-saved at q1, even after the whole image
was saved again at another quality: it shows as a dark "ghost" in the map at q1 while the rest
does not. Works on the luminance (greyscale JPEG re-saves) at full resolution, because any
resampling would destroy the 8x8 block grid the effect lives on.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .images import fit_size, luminance

QUALITIES = tuple(range(50, 100, 5))


def _resave_error(y8: np.ndarray, quality: int, block: int) -> np.ndarray:
    """Mean squared difference per ``block`` x ``block`` tile between ``y8`` and its re-save."""
    buf = io.BytesIO()
    Image.fromarray(y8).save(buf, "JPEG", quality=int(quality))
    buf.seek(0)
    back = np.asarray(Image.open(buf), dtype=np.float32)
    d = (y8.astype(np.float32) - back) ** 2
    h, w = d.shape[0] // block * block, d.shape[1] // block * block
    return d[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))


def jpeg_ghost(rgb: np.ndarray, qualities: Sequence[int] = QUALITIES, block: int = 16,
               min_share: float = 0.03) -> dict[str, Any]:
    """Ghost maps and numbers for ``rgb`` (uint8 HxWx3).

    ``maps``: quality -> float32 tile map normalised to 0..1 (dark = changes least);
    ``curve``: [quality, mean squared error] pairs; ``min_quality``: the quality the image as a
    whole changes least at; ``ghosts``: [quality, share of tiles] where tiles have a local
    minimum of their own error curve at that quality (10% below both neighbours), for shares
    of at least ``min_share`` at qualities other than ``min_quality``: hints of an earlier save
    of those regions (a few scattered tiles do this by chance in any image).
    """
    qualities = sorted({int(q) for q in qualities})
    if not qualities or not all(1 <= q <= 100 for q in qualities):
        raise ValueError("ghost qualities must be between 1 and 100")
    y8 = np.clip(luminance(rgb) + 0.5, 0, 255).astype(np.uint8)
    block = max(1, min(int(block), *y8.shape))
    with ThreadPoolExecutor(max_workers=2) as pool:  # Pillow releases the GIL while coding
        errors = np.stack(list(pool.map(lambda q: _resave_error(y8, q, block), qualities)))
    curve = errors.reshape(len(qualities), -1).mean(axis=1)
    min_quality = qualities[int(np.argmin(curve))]
    ghosts = []
    for i in range(1, len(qualities) - 1):
        local = (errors[i] < 0.9 * errors[i - 1]) & (errors[i] < 0.9 * errors[i + 1])
        share = float(local.mean())
        if qualities[i] != min_quality and share >= min_share:
            ghosts.append([qualities[i], round(share, 4)])
    lo = errors.min(axis=(1, 2), keepdims=True)
    span = errors.max(axis=(1, 2), keepdims=True) - lo
    norm = ((errors - lo) / np.where(span > 0, span, 1.0)).astype(np.float32)
    return {"maps": dict(zip(qualities, norm, strict=True)), "block": block,
            "curve": [[q, round(float(e), 4)] for q, e in zip(qualities, curve, strict=True)],
            "min_quality": min_quality, "ghosts": ghosts}


def ghost_mosaic(maps: dict[int, np.ndarray], columns: int = 5, tile_side: int = 200) -> np.ndarray:
    """The normalised maps side by side (uint8 RGB), each labelled with its quality."""
    tiles = []
    for q, m in maps.items():
        g = np.repeat(np.clip(m * 255 + 0.5, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
        g = np.asarray(Image.fromarray(g).resize(_fit(g.shape[:2], tile_side), Image.Resampling.NEAREST))
        pic = Image.new("RGB", (tile_side, tile_side + 14), (255, 255, 255))
        pic.paste(Image.fromarray(g), (0, 14))
        ImageDraw.Draw(pic).text((2, 1), f"q{q}", fill=(0, 0, 0))
        tiles.append(np.asarray(pic))
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    blank = np.full_like(tiles[0], 255)
    return np.concatenate([np.concatenate(r + [blank] * (columns - len(r)), axis=1) for r in rows], axis=0)


def _fit(shape: tuple[int, int], side: int) -> tuple[int, int]:
    """(width, height) of a picture of ``shape`` scaled to fit a ``side`` square."""
    h, w = shape
    f = side / max(h, w)
    return max(1, round(w * f)), max(1, round(h * f))


def ghost_view(rgb: np.ndarray, qualities: Sequence[int] = QUALITIES) -> dict[str, Any]:
    """The ghost mosaic (report-sized) with the curve, the overall minimum and the ghosts."""
    g = jpeg_ghost(rgb, qualities)
    return {"image": fit_size(ghost_mosaic(g["maps"]), 1000), "qualities": list(g["maps"]),
            **{k: g[k] for k in ("block", "curve", "min_quality", "ghosts")}}
