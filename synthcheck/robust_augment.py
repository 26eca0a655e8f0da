"""Training-time robustness perturbations, batched, plus an adversarial-example step.

What a deployed detector meets: re-encoded JPEGs, resized copies, slight blur, sensor noise,
and (sometimes) deliberate adversarial noise. These ops apply them to whole uint8 batches,
drawing random parameters per image but grouping images so each op is a handful of tensor
calls. The same primitives serve :mod:`synthcheck.robustness` with fixed parameters.

Use in a training loop (``x_u8``: uint8 N x H x W x 3, ``g``: a seeded ``torch.Generator``)::

    from synthcheck.robust_augment import RobustAugmentCfg, apply, mix_adversarial
    rcfg = RobustAugmentCfg(jpeg_p=0.3, resize_p=0.2, blur_p=0.1, noise_p=0.1, adv="fgsm")
    x_u8 = apply(x_u8, rcfg, g)                            # before normalize()
    x = normalize(x_u8, mean, std)                         # the usual float NCHW batch
    x = mix_adversarial(model, x, y, rcfg, mean, std, g)   # after normalize(), before forward

Wiring into ``train.py`` (fields read by :meth:`RobustAugmentCfg.from_train_config`)::

    rcfg = RobustAugmentCfg.from_train_config(cfg)          # once, before the epoch loop
    xb = x_train[idx]
    if rcfg.enabled:
        xb = apply(xb, rcfg, g)                             # g: the loop's CPU generator
    x = augment_batch(normalize(xb, mean, std), aug, g)
    y = y_train[idx]
    if rcfg.adv != "none":                                  # pass the bare module, not DDP
        x = mix_adversarial(getattr(net, "module", net), x, y, rcfg, mean, std, g)

``apply`` runs on any device (JPEG goes through the CPU via torchvision.io/libjpeg, the rest
stays on the batch's device); with every probability at 0 it returns its input unchanged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

RESIZE_KERNELS = ("nearest", "bilinear", "bicubic", "area")


@dataclass
class RobustAugmentCfg:
    """Per-image probabilities and parameter ranges; all off by default."""

    jpeg_p: float = 0.0  # re-encode as JPEG ...
    jpeg_quality: tuple[int, int] = (30, 95)  # ... at a quality drawn uniformly from this range
    resize_p: float = 0.0  # resize round trip: shrink and enlarge back, or enlarge and shrink ...
    resize_scale: tuple[float, float] = (0.35, 0.9)  # ... shrinking by a factor from this range
    resize_up_share: float = 0.5  # ... or, for this share of them, enlarging first ...
    resize_up_scale: tuple[float, float] = (1.5, 4.0)  # ... by a factor from this range
    resize_kernels: tuple[str, ...] = RESIZE_KERNELS  # ... with a random kernel each way
    blur_p: float = 0.0  # Gaussian blur ...
    blur_sigma: tuple[float, float] = (0.3, 1.5)  # ... sigma in pixels
    noise_p: float = 0.0  # additive Gaussian noise ...
    noise_std: tuple[float, float] = (0.005, 0.04)  # ... std as a fraction of 255
    adv: str = "none"  # none | fgsm | pgd: adversarial examples in training (mix_adversarial)
    adv_eps: float = 2 / 255  # L-inf radius in [0, 1] pixel units
    adv_steps: int = 3  # PGD steps (FGSM: 1)
    adv_fraction: float = 0.5  # share of each batch replaced by its adversarial version
    groups: int = field(default=4, repr=False)  # parameter buckets per op (fewer = faster)

    @property
    def enabled(self) -> bool:
        return any(p > 0 for p in (self.jpeg_p, self.resize_p, self.blur_p, self.noise_p))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_train_config(cls, cfg: object) -> RobustAugmentCfg:
        """From ``TrainConfig``'s flat fields ``aug_jpeg_p``, ``aug_resize_p``, ``aug_blur_p``,
        ``aug_noise_p``, ``aug_resize_up_share``, ``adv_train`` (none|fgsm|pgd), ``adv_eps`` and, if present,
        ``adv_steps`` / ``adv_fraction``; absent fields keep the defaults (off)."""
        d = cls()

        def get(name: str, default: Any) -> Any:
            value = getattr(cfg, name, None)
            return default if value is None else type(default)(value)

        return cls(jpeg_p=get("aug_jpeg_p", d.jpeg_p), resize_p=get("aug_resize_p", d.resize_p),
                   resize_up_share=get("aug_resize_up_share", d.resize_up_share),
                   blur_p=get("aug_blur_p", d.blur_p), noise_p=get("aug_noise_p", d.noise_p),
                   adv=get("adv_train", d.adv), adv_eps=get("adv_eps", d.adv_eps),
                   adv_steps=get("adv_steps", d.adv_steps),
                   adv_fraction=get("adv_fraction", d.adv_fraction)).validate()

    def validate(self) -> RobustAugmentCfg:
        for name in ("jpeg_p", "resize_p", "blur_p", "noise_p", "adv_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise ValueError("jpeg_quality must be a range within 1..100")
        if not 0 < self.resize_scale[0] <= self.resize_scale[1] <= 1:
            raise ValueError("resize_scale must be a range within (0, 1]")
        if not 1 <= self.resize_up_scale[0] <= self.resize_up_scale[1] <= 8:
            raise ValueError("resize_up_scale must be a range within [1, 8]")
        if not 0.0 <= self.resize_up_share <= 1.0:
            raise ValueError("resize_up_share must be in [0, 1]")
        if unknown := set(self.resize_kernels) - set(RESIZE_KERNELS):
            raise ValueError(f"unknown resize kernels {sorted(unknown)}; use {RESIZE_KERNELS}")
        if self.adv not in ("none", "fgsm", "pgd"):
            raise ValueError("adv must be none, fgsm or pgd")
        if self.adv_eps < 0 or self.adv_steps < 1:
            raise ValueError("adv_eps must be >= 0 and adv_steps >= 1")
        return self


# -- primitives on uint8 NHWC batches (one parameter for the whole batch) ----------------------
def _nchw_float(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2).float()


def _to_u8_nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.round().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode and decode every image as JPEG (4:2:0, libjpeg, same bytes as Pillow)."""
    from torchvision.io import decode_jpeg, encode_jpeg

    if len(x) == 0:
        return x
    chw = list(x.permute(0, 3, 1, 2).contiguous().cpu())
    out = decode_jpeg(encode_jpeg(chw, quality=int(quality)))
    return torch.stack(out).permute(0, 2, 3, 1).contiguous().to(x.device)


def resize_roundtrip(x: torch.Tensor, scale: float, down: str = "area", up: str = "bicubic") -> torch.Tensor:
    """Resize by ``scale`` with kernel ``down``, then back to the original size with ``up``.

    ``scale < 1`` shrinks first (a thumbnail enlarged again); ``scale > 1`` enlarges first (an
    upscaled copy shrunk back, e.g. 32 -> 128 -> 32 px in an upload pipeline).
    """
    if len(x) == 0:
        return x
    h, w = x.shape[1:3]
    small = (max(1, round(h * scale)), max(1, round(w * scale)))
    f = _nchw_float(x)

    def interp(t: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
        kw = {} if mode in ("nearest", "area") else {"align_corners": False, "antialias": mode != "bicubic" or size[0] < t.shape[2]}
        return F.interpolate(t, size=size, mode=mode, **kw)

    return _to_u8_nhwc(interp(interp(f, small, down), (h, w), up))


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (reflect padding), kernel radius ceil(3 sigma)."""
    if len(x) == 0 or sigma <= 0:
        return x
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32, device=x.device)
    k = torch.exp(-(t ** 2) / (2 * sigma ** 2))
    k = k / k.sum()
    f = F.pad(_nchw_float(x), (r, r, r, r), mode="reflect") if min(x.shape[1:3]) > r else \
        F.pad(_nchw_float(x), (r, r, r, r), mode="replicate")
    c = f.shape[1]
    f = F.conv2d(f, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    f = F.conv2d(f, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return _to_u8_nhwc(f)


def gaussian_noise(x: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add N(0, (std * 255)^2) per pixel and channel, then round and clip to uint8."""
    if len(x) == 0 or std <= 0:
        return x
    noise = torch.randn(x.shape, generator=generator).to(x.device) * (std * 255.0)
    return (x.float() + noise).round_().clamp_(0, 255).to(torch.uint8)


# -- random per-image application -----------------------------------------------------------
def _uniform(n: int, lo: float, hi: float, g: torch.Generator | None) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def _buckets(values: torch.Tensor, lo: float, hi: float, groups: int) -> torch.Tensor:
    """Quantise drawn parameters into ``groups`` levels so each level is one batched op."""
    if hi <= lo or groups <= 1:
        return torch.full_like(values, (lo + hi) / 2)
    step = (hi - lo) / (groups - 1)
    return lo + torch.round((values - lo) / step) * step


def apply(x: torch.Tensor, cfg: RobustAugmentCfg, generator: torch.Generator | None = None) -> torch.Tensor:
    """Randomly perturb a uint8 N x H x W x 3 batch: resize round trip, blur, noise, then JPEG.

    Each image gets each op with its probability and its own parameter (quantised into
    ``cfg.groups`` levels). Returns a new uint8 tensor on ``x``'s device.
    """
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError("apply expects a uint8 N x H x W x 3 tensor")
    if not cfg.enabled or len(x) == 0:
        return x
    g = generator
    n = len(x)
    x = x.clone()

    def chosen(p: float) -> torch.Tensor:
        return (torch.rand(n, generator=g) < p).nonzero().flatten() if p > 0 else torch.zeros(0, dtype=torch.long)

    if len(idx := chosen(cfg.resize_p)):
        enlarge = torch.rand(len(idx), generator=g) < cfg.resize_up_share
        scales = torch.where(
            enlarge, _buckets(_uniform(len(idx), *cfg.resize_up_scale, g), *cfg.resize_up_scale, cfg.groups),
            _buckets(_uniform(len(idx), *cfg.resize_scale, g), *cfg.resize_scale, cfg.groups))
        kd = torch.randint(len(cfg.resize_kernels), (len(idx),), generator=g)
        ku = torch.randint(len(cfg.resize_kernels), (len(idx),), generator=g)
        keys = torch.stack([scales, kd.float(), ku.float()], 1)
        for key in torch.unique(keys, dim=0):
            sel = idx[(keys == key).all(1)]
            first, second = cfg.resize_kernels[int(key[1])], cfg.resize_kernels[int(key[2])]
            if float(key[0]) < 1:  # area is a shrinking kernel: never the enlarging step
                second = "bilinear" if second == "area" else second
            else:
                first = "bilinear" if first == "area" else first
            x[sel.to(x.device)] = resize_roundtrip(x[sel.to(x.device)], float(key[0]), first, second)
    if len(idx := chosen(cfg.blur_p)):
        sig = _buckets(_uniform(len(idx), *cfg.blur_sigma, g), *cfg.blur_sigma, cfg.groups)
        for s in torch.unique(sig):
            sel = idx[sig == s].to(x.device)
            x[sel] = gaussian_blur(x[sel], float(s))
    if len(idx := chosen(cfg.noise_p)):
        std = _uniform(len(idx), *cfg.noise_std, g)
        noise = torch.randn((len(idx), *x.shape[1:]), generator=g) * (std[:, None, None, None] * 255.0)
        sel = idx.to(x.device)
        x[sel] = (x[sel].float() + noise.to(x.device)).round_().clamp_(0, 255).to(torch.uint8)
    if len(idx := chosen(cfg.jpeg_p)):
        q = _buckets(_uniform(len(idx), *cfg.jpeg_quality, g), *cfg.jpeg_quality, max(cfg.groups, 2)).round()
        for qq in torch.unique(q):
            sel = idx[q == qq].to(x.device)
            x[sel] = jpeg(x[sel], int(qq))
    return x


# -- adversarial examples ---------------------------------------------------------------------
def _bounds(mean, std, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m = torch.tensor(mean, dtype=like.dtype, device=like.device)[None, :, None, None]
    s = torch.tensor(std, dtype=like.dtype, device=like.device)[None, :, None, None]
    return (0 - m) / s, (1 - m) / s, s


def adversarial_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, mean, std, eps: float,
                      steps: int = 1, step_size: float | None = None, random_start: bool | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """L-inf adversarial version of a *normalised* batch ``x`` (FGSM if ``steps == 1``, else PGD).

    ``eps`` and ``step_size`` are in [0, 1] pixel units (converted per channel with ``std``);
    the result stays within the valid pixel range. The model runs in eval mode while the
    attack is computed (BatchNorm statistics are not touched) and its mode is restored.
    Returns a detached tensor like ``x``.
    """
    if eps <= 0:
        return x.detach()
    lo, hi, s = _bounds(mean, std, x)
    radius = eps / s
    step = (step_size if step_size is not None else (eps if steps == 1 else 2.5 * eps / steps)) / s
    was_training = model.training
    model.eval()
    try:
        x0 = x.detach()
        adv = x0.clone()
        if random_start if random_start is not None else steps > 1:
            noise = (torch.rand(x.shape, generator=generator).to(x.device) * 2 - 1)
            adv = torch.max(torch.min(adv + noise * radius, hi), lo)
        for _ in range(steps):
            adv.requires_grad_(True)
            with torch.enable_grad():
                loss = F.cross_entropy(model(adv).float(), y)
                (grad,) = torch.autograd.grad(loss, adv)
            adv = adv.detach() + step * grad.sign()
            adv = torch.max(torch.min(adv, x0 + radius), x0 - radius)
            adv = torch.max(torch.min(adv, hi), lo)
        return adv.detach()
    finally:
        model.train(was_training)


def mix_adversarial(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: RobustAugmentCfg, mean, std,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace ``cfg.adv_fraction`` of a normalised batch with adversarial versions (cfg.adv).

    Call after ``normalize``/``augment_batch`` and before the training forward pass; costs
    about ``adv_steps`` extra forward+backward passes on that share of the batch.
    """
    if cfg.adv == "none" or cfg.adv_fraction <= 0 or cfg.adv_eps <= 0:
        return x
    n = len(x)
    k = max(1, round(n * cfg.adv_fraction))
    idx = torch.randperm(n, generator=generator)[:k].to(x.device)
    steps = 1 if cfg.adv == "fgsm" else cfg.adv_steps
    out = x.clone()
    out[idx] = adversarial_batch(model, x[idx], y[idx], mean=mean, std=std, eps=cfg.adv_eps,
                                 steps=steps, generator=generator).to(out.dtype)
    return out
