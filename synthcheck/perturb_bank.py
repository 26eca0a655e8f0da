"""A bank of upload-style copies of the training set, made once with Pillow in worker processes.

Re-encoding and resampling on the fly is cheap per image but costs thousands of small ops per
batch, which starved a GPU training loop (1.7k img/s against 100k plain). Instead every
training image gets one perturbed copy before training starts: a resize round trip (shrink or
enlarge first, random factor and Pillow kernel each way), optional blur and noise, then JPEG
at a random quality, each op with the probability of :class:`RobustAugmentCfg` divided by the
chance that any op applies. A batch then swaps originals for their copies with that chance, so
each op's overall rate matches the configured probability. Pillow is what uploads go through.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image, ImageFilter

from .robust_augment import RobustAugmentCfg

_KERNELS = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
            "bicubic": Image.Resampling.BICUBIC, "area": Image.Resampling.BOX,
            "lanczos": Image.Resampling.LANCZOS}


def any_op_probability(cfg: RobustAugmentCfg) -> float:
    """Chance that at least one perturbation applies to an image."""
    keep = 1.0
    for p in (cfg.resize_p, cfg.jpeg_p, cfg.blur_p, cfg.noise_p):
        keep *= 1.0 - p
    return 1.0 - keep


def perturb_one(img: np.ndarray, cfg: RobustAugmentCfg, rng: np.random.Generator) -> np.ndarray:
    """One upload-style copy of a uint8 H x W x 3 image (ops conditioned on at least one)."""
    p_any = any_op_probability(cfg)
    if p_any <= 0:
        return img
    probs = [min(1.0, p / p_any) for p in (cfg.resize_p, cfg.blur_p, cfg.noise_p, cfg.jpeg_p)]
    while True:
        do = [rng.random() < p for p in probs]
        if any(do):
            break
    pil = Image.fromarray(img)
    w, h = pil.size
    kernels = list(_KERNELS)
    if do[0]:
        if rng.random() < cfg.resize_up_share:
            s = rng.uniform(*cfg.resize_up_scale)
            first, second = rng.choice([k for k in kernels if k != "area"]), rng.choice(kernels)
        else:
            s = rng.uniform(*cfg.resize_scale)
            first, second = rng.choice(kernels), rng.choice([k for k in kernels if k != "area"])
        size = (max(1, round(w * s)), max(1, round(h * s)))
        pil = pil.resize(size, _KERNELS[first]).resize((w, h), _KERNELS[second])
    if do[1]:
        pil = pil.filter(ImageFilter.GaussianBlur(rng.uniform(*cfg.blur_sigma)))
    out = np.asarray(pil, dtype=np.uint8)
    if do[2]:
        std = rng.uniform(*cfg.noise_std) * 255.0
        out = np.clip(out + rng.normal(0, std, out.shape), 0, 255).astype(np.uint8)
    if do[3]:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, "JPEG", quality=int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)))
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype=np.uint8)
    return out


def _chunk(args: tuple[np.ndarray, RobustAugmentCfg, int]) -> np.ndarray:
    images, cfg, seed = args
    rng = np.random.default_rng(seed)
    return np.stack([perturb_one(im, cfg, rng) for im in images]) if len(images) else images


def build_bank(images: np.ndarray, cfg: RobustAugmentCfg, seed: int = 0, workers: int | None = None,
               chunk: int = 2048) -> np.ndarray:
    """Perturbed copies of uint8 N x H x W x 3 ``images``, same order (deterministic per seed)."""
    jobs = [(images[s:s + chunk], cfg, seed * 1_000_003 + s) for s in range(0, len(images), chunk)]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if workers <= 1 or len(jobs) <= 1:
        parts = [_chunk(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(_chunk, jobs))
    return np.concatenate(parts) if parts else images.copy()
