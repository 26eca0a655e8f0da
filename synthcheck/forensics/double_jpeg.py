"""Double JPEG compression from the luminance DCT coefficient histograms.

Quantising with step a and later with step b leaves a periodic pattern in the histogram of the
second quantiser's coefficients. The test here is by simulation (after Fridrich & Lukáš):
the observed histograms of the low-frequency AC coefficients are compared with those of the
image re-compressed once (the decoded pixels shifted by 4 px off the block grid, then saved
with the file's own tables: a stand-in for "compressed once") and of simulated double saves
from each IJG quality. A double save fits much better than the single one when there was an
earlier save; its quality is the estimate of that save. Only the 9 lowest AC terms of a
central crop of at most 1024x1024 px are used, so it costs about a second at any size.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from ..domain.jpeg_trace import _dct_kron, ijg_luma_table

ZIGZAG_AC = (1, 8, 16, 9, 2, 3, 10, 17, 24)  # natural-order indices of the first 9 AC terms
BINS = 20  # histogram of quantised values -BINS..BINS
DOUBLE_RATIO = 0.85  # double-save fit / single-save fit below this: compressed twice
CROP = 1024  # analysed area (px per side, on the 8x8 grid); enough blocks, bounded time


def _blocks_dct(y: np.ndarray) -> np.ndarray:
    """Orthonormal 8x8 DCT of every whole block of ``y`` (float, level-shifted): (n, 64)."""
    h, w = y.shape[0] // 8 * 8, y.shape[1] // 8 * 8
    b = (y[:h, :w].astype(np.float32) - 128.0).reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)
    return b.reshape(-1, 64) @ _dct_kron()


def _histograms(y: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Normalised histograms (9, 2*BINS+1) of the quantised low-frequency AC coefficients."""
    q = np.rint(_blocks_dct(y)[:, ZIGZAG_AC] / table[list(ZIGZAG_AC)])
    out = np.stack([np.bincount(np.clip(col, -BINS, BINS).astype(int) + BINS, minlength=2 * BINS + 1)
                    for col in q.T]).astype(np.float64)
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1)


def _save(y: np.ndarray, **kw: Any) -> np.ndarray:
    """Greyscale JPEG round trip of ``y`` with Pillow's options ``kw`` (quality= or qtables=)."""
    buf = io.BytesIO()
    Image.fromarray(y).save(buf, "JPEG", **kw)
    buf.seek(0)
    return np.asarray(Image.open(buf), dtype=np.uint8)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).sum(axis=1).mean())


def double_jpeg(raw: bytes | None, qualities: range = range(50, 101, 2)) -> dict[str, Any]:
    """Whether a JPEG's luminance looks compressed twice, and the likely earlier quality.

    Keys: ``applicable`` (False for non-JPEG or greyscale-less files, with ``note``),
    ``double`` (bool), ``earlier_quality`` (IJG estimate or None), ``fit_single`` and
    ``fit_double`` (histogram distances, lower = better fit), ``ratio`` (double / single).
    """
    if raw is None:
        return {"applicable": False, "note": "no file bytes (pixels only)"}
    try:
        with Image.open(io.BytesIO(raw)) as im:
            if im.format != "JPEG" or not getattr(im, "quantization", None):
                return {"applicable": False, "note": "not a JPEG file"}
            if im.mode not in ("L", "RGB"):
                return {"applicable": False, "note": f"{im.mode} JPEG: only greyscale and YCbCr are read"}
            tables = {k: list(v) for k, v in im.quantization.items()}
            im.draft("YCbCr" if im.mode == "RGB" else "L", im.size)  # Y as decoded, no colour round trip
            y = np.asarray(im.getchannel(0), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as exc:
        return {"applicable": False, "note": f"JPEG unreadable ({type(exc).__name__})"}
    h, w = y.shape
    side_h, side_w = min(CROP, (h - 8) // 8 * 8), min(CROP, (w - 8) // 8 * 8)
    if side_h < 64 or side_w < 64:
        return {"applicable": False, "note": "too small for coefficient statistics (under 72 px)"}
    top, left = (h - side_h) // 16 * 8, (w - side_w) // 16 * 8
    table = np.asarray(tables[min(tables)], np.float64)
    observed = _histograms(y[top:top + side_h, left:left + side_w], table)
    shifted = np.ascontiguousarray(y[top + 4:top + 4 + side_h, left + 4:left + 4 + side_w])
    qtables = [tables[min(tables)]]
    single = _distance(observed, _histograms(_save(shifted, qtables=qtables), table))
    fits = {}
    for q in qualities:
        if np.array_equal(np.asarray(ijg_luma_table(q), np.float64), table):
            continue  # the same table twice is a single save
        twice = _save(_save(shifted, quality=q), qtables=qtables)
        fits[q] = _distance(observed, _histograms(twice, table))
    if not fits:
        return {"applicable": False, "note": "no candidate earlier quality"}
    best = min(fits, key=lambda q: (fits[q], -q))
    ratio = fits[best] / single if single > 0 else 1.0
    # Single saves measured 0.95-1.07 on photos, double saves 0.1 (earlier quality lower) to
    # 0.75 (earlier quality higher); a best fit at 98+ is a near-lossless first save, i.e. none.
    double = ratio < DOUBLE_RATIO and best < 98
    return {"applicable": True, "double": bool(double), "earlier_quality": int(best) if double else None,
            "best_candidate": int(best), "fit_single": round(single, 5), "fit_double": round(fits[best], 5),
            "ratio": round(ratio, 4), "area": [int(side_w), int(side_h)]}
