"""JPEG quantisation tables, estimated quality, chroma subsampling and baseline/progressive.

The tables a JPEG carries say which encoder settings wrote it. libjpeg (IJG) scales two
standard tables by quality, and libjpeg-turbo, Pillow, OpenCV and most tools built on them
write exactly those; a table that matches none of the IJG qualities came from something
else (camera firmware or an editor with its own tables). Vendor tables are not guessed here.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any

import numpy as np
from PIL import Image, JpegImagePlugin

from ..domain.jpeg_trace import _SUBSAMPLING_NAMES, _standard_luma_tables

IJG = "IJG standard table (libjpeg / libjpeg-turbo and the tools built on them, e.g. Pillow, OpenCV)"
NON_STANDARD = "non-standard table: camera firmware or an editor (not libjpeg's scaled standard table)"


@cache
def _ijg_chroma_table(quality: int) -> tuple[int, ...]:
    """libjpeg's chrominance table at ``quality`` (natural order), read back from a probe save."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG", quality=int(quality))
    return tuple(Image.open(buf).quantization[1])


def estimate_quality(luma: tuple[int, ...]) -> tuple[int, bool]:
    """(IJG quality, exact) for a luminance table: the exact IJG quality when the table is one
    of libjpeg's, else the quality whose table is closest (mean absolute log ratio)."""
    tables = _standard_luma_tables()
    if luma in tables:
        return tables[luma], True
    target = np.log(np.asarray(luma, np.float64))
    best = min(tables.items(), key=lambda kv: (float(np.abs(np.log(np.asarray(kv[0], np.float64))
                                                             - target).mean()), -kv[1]))
    return best[1], False


def jpeg_structure(raw: bytes | None) -> dict[str, Any]:
    """Header facts of a JPEG file's bytes (``{"is_jpeg": False, ...}`` for anything else).

    Keys: ``tables`` (id -> 64 steps, natural order), ``quality`` (IJG estimate), ``standard``
    (the luminance table is exactly IJG's), ``chroma_standard``, ``encoder`` (plain words),
    ``subsampling`` ("4:2:0", ...), ``progressive``, ``components``.
    """
    if raw is None:
        return {"is_jpeg": False, "note": "no file bytes (pixels only): JPEG tables unknown"}
    try:
        with Image.open(io.BytesIO(raw)) as im:
            if im.format != "JPEG" or not getattr(im, "quantization", None):
                return {"is_jpeg": False, "note": f"not a JPEG ({im.format or 'unknown'} file)"}
            tables = {int(k): [int(v) for v in t] for k, t in sorted(im.quantization.items())}
            sampling = JpegImagePlugin.get_sampling(im)
            progressive = bool(im.info.get("progressive") or im.info.get("progression"))
            components = len(getattr(im, "layer", ()) or ()) or len(im.getbands())
    except (OSError, ValueError, SyntaxError) as exc:
        return {"is_jpeg": False, "note": f"JPEG header unreadable ({type(exc).__name__})"}
    luma = tuple(tables[min(tables)])
    quality, exact = estimate_quality(luma) if len(luma) == 64 else (None, False)
    chroma = tables.get(1)
    chroma_standard = None if chroma is None or quality is None else (
        tuple(chroma) == _ijg_chroma_table(quality))
    standard = exact and chroma_standard is not False
    return {"is_jpeg": True, "tables": {str(k): v for k, v in tables.items()}, "quality": quality,
            "standard": bool(exact), "chroma_standard": chroma_standard,
            "encoder": IJG if standard else NON_STANDARD,
            "subsampling": _SUBSAMPLING_NAMES.get(sampling, "none (greyscale)" if components == 1 else "other"),
            "progressive": progressive, "components": int(components)}


def jpeg_tables_view(raw: bytes | None) -> dict[str, Any]:
    """:func:`jpeg_structure` as a view without a picture (the tables are numbers)."""
    return {"image": None, **jpeg_structure(raw)}
