"""Input-property checks of the domain model: size, aspect ratio, graphic-like colours.

The shipped model saw 32x32 CIFAKE photos. Much larger or smaller inputs, odd aspect ratios
(squashed to a square before scoring), and graphics or screenshots (few distinct colours,
large flat areas) are outside that domain, so their verdicts are less reliable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from ..imageio import LoadedImage
from .greyscale import mean_chroma
from .result import DomainCheck

LARGE_FACTOR = 4.0  # longest side above this multiple of the input size => much larger
SMALL_FACTOR = 0.5  # shortest side below this multiple of the input size => much smaller
MAX_ASPECT = 1.5  # long side / short side above this => squashed noticeably
MAX_COLOURS = 64  # this few distinct colours => a graphic, not a photo
MAX_FLAT_FRACTION = 0.5  # more than this share of pixels in exactly flat areas => graphic
_ANALYSIS_SIDE = 256  # colour statistics on at most this many pixels per side (nearest)
_COUNT_LIMIT = 256  # distinct colours are counted exactly up to this many
_CHROMA_SIDE = 64  # mean chroma on at most this many pixels per side (nearest)


def _mean_chroma(img: Image.Image) -> float:
    """Mean chroma of an RGB image, on a nearest-neighbour sample of at most ``_CHROMA_SIDE`` px
    per side: a mean needs no more, and the full 256 px copy cost ~0.2 ms more per upload."""
    if max(img.size) > _CHROMA_SIDE:
        scale = _CHROMA_SIDE / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.NEAREST)
    rgb = np.frombuffer(img.tobytes(), dtype=np.uint8).reshape(1, img.height, img.width, 3)
    return float(mean_chroma(rgb)[0])


def _small_stats(rgb: np.ndarray) -> list[tuple[int | None, float, float]]:
    """:func:`colour_stats` of N same-size small images at once, from their uint8 (N, H, W, 3)
    pixels: a scan scores hundreds of CIFAKE-sized inputs per batch, and one stacked pass is
    ~10x cheaper than N Pillow round trips."""
    n, h, w = rgb.shape[:3]
    chroma = mean_chroma(rgb)
    px = rgb.astype(np.uint32)
    a = px[..., 0] | (px[..., 1] << 8) | (px[..., 2] << 16)  # one word per pixel
    flat_a = np.sort(a.reshape(n, -1), axis=1)
    distinct = 1 + np.count_nonzero(flat_a[:, 1:] != flat_a[:, :-1], axis=1)
    if w < 2 or h < 2:
        flat = np.zeros(n)
    else:
        top = a[:, :-1, :-1]
        flat = np.count_nonzero((a[:, :-1, 1:] == top) & (a[:, 1:, :-1] == top), axis=(1, 2)) / (
            (h - 1) * (w - 1))
    return [(int(d) if d <= _COUNT_LIMIT else None, float(f), float(c))
            for d, f, c in zip(distinct, flat, chroma, strict=True)]


def analysis_copy(image: Image.Image) -> Image.Image:
    """The RGB, nearest-neighbour copy of at most ``_ANALYSIS_SIDE`` px per side that the colour
    statistics are measured on (the image itself when it is RGB and that small already)."""
    img = image if image.mode == "RGB" else image.convert("RGB")
    if max(img.size) > _ANALYSIS_SIDE:
        scale = _ANALYSIS_SIDE / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.NEAREST)
    return img


def colour_stats_many(images: Sequence[Image.Image], arrays: Sequence[np.ndarray | None] | None = None
                      ) -> list[tuple[int | None, float, float]]:
    """:func:`colour_stats` of each image, in order; small images of one size (every
    CIFAKE-sized input) are measured together in one stacked array. ``arrays[i]``, when given,
    is ``images[i]``'s RGB pixels (saves converting it again)."""
    out: list[tuple[int | None, float, float] | None] = [None] * len(images)
    groups: dict[tuple[int, int], list[int]] = {}
    copies = [analysis_copy(im) for im in images]
    for i, img in enumerate(copies):
        if max(img.size) <= _CHROMA_SIDE:
            groups.setdefault(img.size, []).append(i)
        else:
            out[i] = _large_stats(img)
    for idx in groups.values():  # small and RGB: each copy is its image, so arrays[i] its pixels
        rgb = np.stack([arrays[i] if arrays is not None and arrays[i] is not None
                        else np.asarray(copies[i]) for i in idx])
        for i, stats in zip(idx, _small_stats(rgb), strict=True):
            out[i] = stats
    return out  # type: ignore[return-value]


def _large_stats(img: Image.Image) -> tuple[int | None, float, float]:
    colours = img.getcolors(_COUNT_LIMIT)
    n_colours = len(colours) if colours is not None else None
    w, h = img.size
    chroma = _mean_chroma(img)
    if w < 2 or h < 2:
        return n_colours, 0.0, chroma
    # one 32-bit word per pixel (RGBA with a constant A): neighbour tests are single compares
    a = np.frombuffer(img.convert("RGBA").tobytes(), dtype=np.uint32).reshape(h, w)
    top = a[:-1, :-1]
    flat = np.count_nonzero((a[:-1, 1:] == top) & (a[1:, :-1] == top))
    return n_colours, flat / ((h - 1) * (w - 1)), chroma


def colour_stats(image: Image.Image) -> tuple[int | None, float, float]:
    """(distinct colours, or None when above ``_COUNT_LIMIT``; share of pixels whose right and
    lower neighbours are identical; mean chroma, max(R,G,B) - min(R,G,B) of 255, which is 0 for
    a grey image), on a nearest-neighbour copy of at most ``_ANALYSIS_SIDE`` px.

    Pillow's ``getcolors`` stops as soon as the limit is passed, so a large photo costs
    microseconds where counting every colour exactly (``np.unique``) cost ~20 ms on a 600x400
    upload; small images count theirs exactly in one sort.
    """
    return colour_stats_many([image])[0]


def check_domain_many(loaded: Sequence[LoadedImage], input_size: int) -> list[DomainCheck]:
    """:func:`check_domain` of each input, the colour statistics measured together."""
    stats = colour_stats_many([lo.image for lo in loaded], [lo.pixels for lo in loaded])
    return [_judge_inputs(lo, input_size, st) for lo, st in zip(loaded, stats, strict=True)]


def check_domain(loaded: LoadedImage, detector: Any = None, *, input_size: int | None = None) -> DomainCheck:
    """Judge ``loaded`` against the training domain of ``detector`` (or ``input_size``)."""
    size = int(input_size or getattr(detector, "input_size", None) or 32)
    return check_domain_many([loaded], size)[0]


def _judge_inputs(loaded: LoadedImage, size: int, colour: tuple[int | None, float, float]) -> DomainCheck:
    w, h = int(loaded.width), int(loaded.height)
    reasons: list[str] = []
    long_side, short_side = max(w, h), max(1, min(w, h))
    if long_side > LARGE_FACTOR * size:
        reasons.append(f"The image is {w}x{h} pixels, much larger than the {size}x{size} images "
                       f"the model was trained on, so fine detail is lost when it is shrunk.")
    if short_side < SMALL_FACTOR * size:
        reasons.append(f"The image is {w}x{h} pixels, much smaller than the {size}x{size} images "
                       f"the model was trained on, so it must be enlarged before analysis.")
    aspect = long_side / short_side
    if aspect > MAX_ASPECT:
        reasons.append(f"The aspect ratio is {aspect:.1f}:1, and the image is squashed to a square "
                       f"before analysis, unlike the square training images.")
    n_colours, flat, chroma = colour
    if w * h >= 256:
        if n_colours is not None and n_colours <= MAX_COLOURS:
            reasons.append(f"The image has only {n_colours} distinct colours, which suggests a "
                           f"graphic, logo or screenshot rather than a photograph.")
        elif flat > MAX_FLAT_FRACTION:
            reasons.append(f"{flat:.0%} of the image is perfectly flat colour, which suggests a "
                           f"screenshot or graphic rather than a photograph.")
    # colours: None means more than _COUNT_LIMIT distinct colours (a photo, not a graphic)
    stats = {"width": w, "height": h, "input_size": size, "aspect": round(aspect, 3),
             "colours": n_colours, "flat_fraction": round(flat, 4), "mean_chroma": round(chroma, 2)}
    return DomainCheck(not reasons, reasons, stats)
