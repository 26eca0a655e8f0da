"""The JPEG history of the training data, and whether an input carries the same trace.

Every CIFAKE image, real or fake, is a JPEG saved at quality 75. A detector trained on them
learns its cues on top of that compression. Decoding a JPEG leaves the 8x8 block DCT
coefficients of its luminance on (or within rounding of) integer multiples of the file's
quantisation steps; a never-compressed, resampled, shifted or differently compressed image has
them anywhere. The *grid residual*, the mean distance of those coefficients from the nearest
multiple of the training data's steps (0 = on the grid; about 0.25 = no relation), is a cheap,
model-free test of "was this input made the way the training images were?".
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import numpy as np
from PIL import Image, JpegImagePlugin

_SUBSAMPLING_NAMES = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}


@cache
def ijg_luma_table(quality: int) -> tuple[int, ...]:
    """libjpeg's (IJG) luminance table at ``quality`` (natural order), read back from a probe
    save: the one source of standard tables (domain check, forensic JPEG views)."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "JPEG", quality=int(quality))
    return tuple(Image.open(buf).quantization[0])


@cache
def _standard_luma_tables() -> dict[tuple[int, ...], int]:
    """Pillow's (IJG) luminance table for every quality 1..100, keyed by the table."""
    tables: dict[tuple[int, ...], int] = {}
    for q in range(100, 0, -1):  # equal tables at low q: keep the higher quality
        tables.setdefault(ijg_luma_table(q), q)
    return tables


def jpeg_settings(path: str | os.PathLike) -> tuple[tuple[int, ...], int] | None:
    """(luminance quantisation table in natural order, chroma subsampling code) of a JPEG
    file, else None. Reads the header only."""
    try:
        with Image.open(path) as im:
            if im.format != "JPEG" or not getattr(im, "quantization", None):
                return None
            return tuple(int(v) for v in im.quantization[0]), max(JpegImagePlugin.get_sampling(im), 0)
    except (OSError, ValueError, SyntaxError):
        return None


def training_jpeg_profile(paths: Iterable[str | os.PathLike], min_share: float = 0.95,
                          max_files: int = 2000, seed: int = 0) -> dict[str, Any] | None:
    """The one JPEG setting shared by at least ``min_share`` of the training files, else None.

    A sample of at most ``max_files`` headers is read; mixed or non-JPEG training data has no
    single trace to test for, so the check is then left out.
    """
    paths = list(paths)
    if not paths:
        return None
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(paths), size=min(max_files, len(paths)), replace=False)
    counts = Counter(jpeg_settings(paths[i]) for i in pick)
    (setting, n), = counts.most_common(1)
    if setting is None or n / len(pick) < min_share or len(setting[0]) != 64:
        return None
    table, subsampling = setting
    quality = _standard_luma_tables().get(table)
    return {"quality": quality, "subsampling": int(subsampling), "luma_table": list(table),
            "share": round(n / len(pick), 4), "n_sampled": int(len(pick))}


@cache
def _dct_kron() -> np.ndarray:
    """64x64 matrix taking a flattened 8x8 block to its orthonormal 2-D DCT-II (JPEG's)."""
    k, i = np.arange(8)[:, None], np.arange(8)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / 16) * np.sqrt(2 / 8)
    d[0] /= np.sqrt(2)
    return np.ascontiguousarray(np.kron(d, d).T.astype(np.float32))


@cache
def _rgb_block_to_grid(table: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(M, offset) with ``rgb_block @ M + offset`` = Y's DCT coefficients in quantisation steps.

    ``rgb_block`` is one 8x8x3 block flattened pixel-major (192 values). JPEG's luminance
    (0.299 R + 0.587 G + 0.114 B, level-shifted by 128), the DCT and the division by the
    table are all linear, so they fold into one matrix: a single product per batch.
    """
    weights = np.array([0.299, 0.587, 0.114])
    k = _dct_kron().astype(np.float64)  # (64 pixels, 64 coefficients)
    recip = 1.0 / np.asarray(table, np.float64)
    m = (k[:, None, :] * weights[None, :, None]).reshape(192, 64) * recip
    offset = -128.0 * k.sum(0) * recip
    return np.ascontiguousarray(m.astype(np.float32)), offset.astype(np.float32)


def grid_residual(arrays: np.ndarray, luma_table: Sequence[int]) -> np.ndarray:
    """Mean distance (0 to 0.5) of each image's luminance DCT coefficients, on the 8x8 grid from
    the top-left corner, from the nearest multiple of ``luma_table`` (64 steps, natural order).

    ``arrays``: uint8 (N, H, W, 3); a partial block at the right or bottom edge is left out.
    Near 0 for images last saved as JPEG with that table; near 0.25 for any other image.
    """
    a = np.asarray(arrays)
    n, h, w = a.shape[0], a.shape[1] // 8 * 8, a.shape[2] // 8 * 8
    if n == 0 or h == 0 or w == 0:
        return np.full(n, 0.25)
    m, offset = _rgb_block_to_grid(tuple(luma_table))
    blocks = a[:, :h, :w].reshape(n, h // 8, 8, w // 8, 8, 3).transpose(0, 1, 3, 2, 4, 5).reshape(-1, 192)
    r = blocks.astype(np.float32) @ m
    r += offset
    r -= np.rint(r)
    np.abs(r, out=r)
    return r.reshape(n, -1).mean(1, dtype=np.float64)


def describe(profile: dict[str, Any]) -> str:
    """'JPEG quality 75, 4:2:0' for messages and the model card."""
    sub = _SUBSAMPLING_NAMES.get(int(profile.get("subsampling", 2)), "?")
    quality = f"quality {profile['quality']}" if profile.get("quality") else "one fixed table"
    return f"JPEG {quality}, {sub}"
