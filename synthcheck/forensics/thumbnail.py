"""The EXIF thumbnail against the image: a camera writes both at once, so a thumbnail that shows
something else (other content, an uncropped or unretouched scene) means the image was changed
after the camera wrote it and the editor left the old thumbnail in place.

The thumbnail is found through IFD1's JPEGInterchangeFormat (offset from the TIFF header) and
JPEGInterchangeFormatLength, read with Pillow's EXIF parser; it is compared, in greyscale,
with the main image (stored orientation, as the thumbnail is) shrunk to the thumbnail's size.
Letterbox bars that cameras add when the aspects differ are trimmed first.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import ExifTags, Image

from .images import fit_size

JPEG_OFFSET, JPEG_LENGTH = 0x0201, 0x0202
DIFFERS_BELOW = 0.5  # SSIM below this: the thumbnail shows a different picture
MATCHES_ABOVE = 0.75  # SSIM above this: the thumbnail matches the image
LOCAL_DIFF = 48.0  # mean |difference| of one thumbnail tile (1/8 of each side) above this: an edit


def exif_thumbnail(raw: bytes | None) -> bytes | None:
    """The embedded EXIF thumbnail (JPEG bytes) of an image file, else None."""
    if not raw:
        return None
    try:
        with Image.open(io.BytesIO(raw)) as im:
            exif_block = im.info.get("exif")
            ifd1 = im.getexif().get_ifd(ExifTags.IFD.IFD1)
    except Exception:  # a damaged EXIF block is "no thumbnail", never a crash
        return None
    offset, length = ifd1.get(JPEG_OFFSET), ifd1.get(JPEG_LENGTH)
    if not isinstance(exif_block, bytes) or not isinstance(offset, int) or not isinstance(length, int):
        return None
    start = 6 + offset if exif_block.startswith(b"Exif\x00\x00") else offset
    thumb = exif_block[start:start + length]
    return thumb if length > 0 and len(thumb) == length and thumb.startswith(b"\xff\xd8") else None


def _trim_bars(g: np.ndarray, level: float = 16.0) -> np.ndarray:
    """``g`` without uniform dark rows/columns at its edges (letterboxing)."""
    rows = np.flatnonzero(g.max(axis=1) > level)
    cols = np.flatnonzero(g.max(axis=0) > level)
    if len(rows) < 8 or len(cols) < 8:
        return g
    return g[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _largest_tile_mean(diff: np.ndarray) -> float:
    """The largest mean of ``diff`` over an 8x8 grid of tiles (a local edit stands out)."""
    th, tw = max(1, diff.shape[0] // 8), max(1, diff.shape[1] // 8)
    h, w = diff.shape[0] // th * th, diff.shape[1] // tw * tw
    return float(diff[:h, :w].reshape(h // th, th, w // tw, tw).mean(axis=(1, 3)).max())


def thumbnail_check(raw: bytes | None) -> dict[str, Any]:
    """Compare the EXIF thumbnail with the image: ``status`` is ``no_thumbnail``, ``matches``,
    ``unclear`` or ``differs`` (with ``ssim``, ``mean_abs_diff`` and ``message``), plus the
    thumbnail, the shrunk image and their difference as ``pictures`` (uint8 RGB)."""
    thumb = exif_thumbnail(raw)
    if thumb is None:
        return {"status": "no_thumbnail", "message": "No EXIF thumbnail in the file.", "pictures": None}
    try:
        t_img = Image.open(io.BytesIO(thumb))
        t_img.load()
        main = Image.open(io.BytesIO(raw))
        main.draft("RGB", (t_img.width * 2, t_img.height * 2))  # fast JPEG decode at reduced scale
        main = main.convert("RGB")
    except Exception as exc:
        return {"status": "no_thumbnail", "pictures": None,
                "message": f"The EXIF thumbnail cannot be decoded ({type(exc).__name__})."}
    from skimage.metrics import structural_similarity

    t = _trim_bars(np.asarray(t_img.convert("L"), np.float64))
    m = np.asarray(main.convert("L").resize((t.shape[1], t.shape[0]), Image.Resampling.BOX), np.float64)
    win = min(7, *t.shape) // 2 * 2 + 1 if min(t.shape) >= 3 else 3
    ssim = float(structural_similarity(t, m, data_range=255.0, win_size=win)) if min(t.shape) >= 3 else 0.0
    diff = np.abs(t - m)
    local = _largest_tile_mean(diff)
    status = ("differs" if ssim < DIFFERS_BELOW or local > LOCAL_DIFF
              else "matches" if ssim > MATCHES_ABOVE else "unclear")
    message = {"differs": "The EXIF thumbnail differs from the image (overall or in part): a sign "
                          "the image was edited after the camera wrote it (or the thumbnail was "
                          "replaced).",
               "matches": "The EXIF thumbnail matches the image.",
               "unclear": "The EXIF thumbnail only loosely matches the image (cropping, strong "
                          "processing or a low-quality thumbnail)."}[status]
    t_rgb = np.asarray(t_img.convert("RGB"))
    m_rgb = np.asarray(main.resize(t_img.size, Image.Resampling.BOX))
    d_rgb = np.repeat(np.clip(diff * 2 + 0.5, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return {"status": status, "message": message, "ssim": round(ssim, 4),
            "mean_abs_diff": round(float(diff.mean()), 3), "largest_local_diff": round(local, 3),
            "thumbnail_size": list(t_img.size),
            "pictures": {"thumbnail": t_rgb, "image": m_rgb, "difference": d_rgb}}


def thumbnail_view(raw: bytes | None) -> dict[str, Any]:
    """Thumbnail | shrunk image | difference in one small picture, with the check's numbers."""
    res = thumbnail_check(raw)
    pics = res.pop("pictures")
    if pics is None:
        return {"image": None, **res}
    h = max(p.shape[0] for p in pics.values())
    gap = np.full((h, 4, 3), 255, np.uint8)
    row = [np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0)), constant_values=255) for p in pics.values()]
    strip = np.concatenate([row[0], gap, row[1], gap, row[2]], axis=1)
    return {"image": fit_size(strip, 768), **res}
