"""Inputs from outside CIFAKE, built at run time from photos that ship inside installed packages.

Used by ``benchmarks/domain_check.py`` (the issue-8 figures) and by tests. Every item has a
truth: ``REAL`` for real photographs (whole, shrunk, cropped, re-encoded), ``None`` for drawn
graphics, which are neither camera photos nor diffusion images: any confident verdict on them
counts as wrong.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

_SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon",
                   "hubble_deep_field", "brick", "grass", "gravel", "stereo_motorcycle")


@dataclass(frozen=True)
class OodItem:
    name: str
    data: bytes  # encoded image file (PNG or JPEG)
    truth: str | None  # "REAL", "FAKE" or None (neither: a graphic)
    kind: str  # whole | shrunk | crop | crop_shrunk | jpeg | graphic | canvas, "_j75" for the JPEG twins


def real_photos() -> list[tuple[str, np.ndarray]]:
    """Full-size real photographs from scikit-image and scikit-learn (no download)."""
    import skimage.data as skd
    from sklearn.datasets import load_sample_images

    out = []
    for name in _SKIMAGE_PHOTOS:
        try:
            img = getattr(skd, name)()
        except Exception:  # noqa: BLE001 - a data file needing a download: skip it
            continue
        img = img[0] if isinstance(img, tuple) else img
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        out.append((name, np.ascontiguousarray(img[..., :3]).astype(np.uint8)))
    sample = load_sample_images()
    for fname, img in zip(sample.filenames, sample.images, strict=True):
        out.append((fname.rsplit("/", 1)[-1].split(".")[0], img))
    return out


def _encode(arr: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


def _graphics(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Charts, flat logos and text screenshots drawn with Pillow."""
    out = []
    for i in range(n):
        size = int(rng.choice([32, 96, 256]))
        img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(180, 256, 3)))
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(2, 6))):
            box = sorted(rng.integers(0, size, 2)), sorted(rng.integers(0, size, 2))
            colour = tuple(int(v) for v in rng.integers(0, 256, 3))
            if i % 3 == 0:
                d.rectangle([box[0][0], box[1][0], box[0][1], box[1][1]], fill=colour)
            elif i % 3 == 1:
                d.ellipse([box[0][0], box[1][0], box[0][1], box[1][1]], fill=colour)
            else:
                d.text((int(rng.integers(0, size // 2)), int(rng.integers(0, size // 2))),
                       "Report 2026", fill=colour)
        out.append(np.asarray(img))
    return out


def build_ood(seed: int = 0, crops_per_photo: int = 4, n_graphics: int = 12,
              jpeg75_twins: bool = True) -> list[OodItem]:
    """The out-of-CIFAKE set: every photo whole, shrunk to 32 px (two kernels), centre-cropped and
    shrunk, cut into native 32 px crops and larger crops shrunk, and re-saved as JPEG q75.

    ``jpeg75_twins`` adds, for every 32 px photo input, a twin saved as JPEG quality 75 (4:2:0),
    exactly as CIFAKE's files were: these carry the training data's compression trace, so only
    the model's own features can tell them apart (the hardest part of the set).
    """
    rng = np.random.default_rng(seed)
    items: list[OodItem] = []
    for name, img in real_photos():
        h, w = img.shape[:2]
        pil = Image.fromarray(img)
        items.append(OodItem(f"{name}/whole", _encode(img), "REAL", "whole"))
        items.append(OodItem(f"{name}/jpeg75", _encode(img, "JPEG", quality=75), "REAL", "jpeg"))
        for kernel, rs in (("bicubic", Image.Resampling.BICUBIC), ("area", Image.Resampling.BOX)):
            small = np.asarray(pil.resize((32, 32), rs))
            items.append(OodItem(f"{name}/shrunk_{kernel}", _encode(small), "REAL", "shrunk"))
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = pil.crop((left, top, left + side, top + side))
        items.append(OodItem(f"{name}/square_shrunk", _encode(np.asarray(
            square.resize((32, 32), Image.Resampling.BICUBIC))), "REAL", "crop_shrunk"))
        for k in range(crops_per_photo):
            t, lft = int(rng.integers(0, h - 32)), int(rng.integers(0, w - 32))
            items.append(OodItem(f"{name}/crop32_{k}", _encode(img[t:t + 32, lft:lft + 32]), "REAL", "crop"))
            s = int(rng.integers(64, min(h, w, 160)))
            t, lft = int(rng.integers(0, h - s)), int(rng.integers(0, w - s))
            crop = Image.fromarray(img[t:t + s, lft:lft + s]).resize((32, 32), Image.Resampling.BICUBIC)
            items.append(OodItem(f"{name}/crop{s}_shrunk_{k}", _encode(np.asarray(crop)), "REAL", "crop_shrunk"))
    if jpeg75_twins:
        items += [OodItem(f"{it.name}_j75", _encode(np.asarray(Image.open(io.BytesIO(it.data)).convert("RGB")),
                                                   "JPEG", quality=75), it.truth, f"{it.kind}_j75")
                  for it in list(items) if it.kind in ("shrunk", "crop", "crop_shrunk")]
    for i, g in enumerate(_graphics(rng, n_graphics)):
        items.append(OodItem(f"graphic_{i}", _encode(g), None, "graphic"))
    return items


def cifake_in_canvas(images: np.ndarray, labels: np.ndarray, n: int, seed: int = 0) -> list[OodItem]:
    """CIFAKE test images enlarged x4 and pasted into a 384x288 photo-like canvas (JPEG q90)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.choice(len(images), size=min(n, len(images)), replace=False):
        canvas = np.clip(rng.normal(128, 30, (288, 384, 3)), 0, 255).astype(np.uint8)
        big = np.asarray(Image.fromarray(images[i]).resize((128, 128), Image.Resampling.BICUBIC))
        t, lft = int(rng.integers(0, 288 - 128)), int(rng.integers(0, 384 - 128))
        canvas[t:t + 128, lft:lft + 128] = big
        truth = "FAKE" if int(labels[i]) == 1 else "REAL"
        out.append(OodItem(f"canvas_{i}", _encode(canvas, "JPEG", quality=90), truth, "canvas"))
    return out
