"""Training-time robustness perturbations, batched, plus an adversarial-example step.

What a deployed detector meets: re-encoded JPEGs, resized copies, slight blur, sensor noise,
and (sometimes) deliberate adversarial noise. These ops apply them to whole uint8 batches,
drawing random parameters per image but grouping images so each op is a handful of tensor
calls. The same primitives serve :mod:`synthcheck.evaluation.robustness` with fixed parameters.

One definition of the random mix: :func:`draw_plan` draws which image gets which op and
parameter, :func:`execute` applies a drawn plan. Per-batch augmentation (:func:`apply`) and
the pre-made bank (:mod:`synthcheck.data.bank`) both go through them. Adversarial examples
come from ``captum.robust`` (FGSM / PGD) through :func:`linf_attack`, here and in
:mod:`synthcheck.evaluation.robustness`.

Use in a training loop (``x_u8``: uint8 N x H x W x 3, ``g``: a seeded ``torch.Generator``)::

    from synthcheck.data.perturb import RobustAugmentCfg, apply, mix_adversarial
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

import contextlib
import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
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


@dataclass
class PerturbPlan:
    """Which images of a batch get which op, with which parameter (drawn by :func:`draw_plan`).

    Index tensors are positions in the batch; each op's parameters line up with its indices.
    The ops run in this order: resize round trip, blur, noise, JPEG.
    """

    n: int
    resize: torch.Tensor  # long (k,)
    resize_scale: torch.Tensor  # float (k,): < 1 shrinks first, > 1 enlarges first
    resize_kernels: list[tuple[str, str]]  # (first, second) kernel per resized image
    blur: torch.Tensor
    blur_sigma: torch.Tensor
    noise: torch.Tensor
    noise_field: torch.Tensor  # float (k, H, W, 3): the noise added, in 0..255 units
    jpeg: torch.Tensor
    jpeg_quality: torch.Tensor  # long (k,)

    def ops_per_image(self) -> torch.Tensor:
        """How many ops each image gets (long (n,))."""
        count = torch.zeros(self.n, dtype=torch.long)
        for idx in (self.resize, self.blur, self.noise, self.jpeg):
            count[idx] += 1
        return count


def _drawn_kernels(cfg: RobustAugmentCfg, scales: torch.Tensor, kd: torch.Tensor, ku: torch.Tensor
                   ) -> list[tuple[str, str]]:
    """Kernel names each way; area is a shrinking kernel, so never the enlarging step."""
    out = []
    for s, a, b in zip(scales.tolist(), kd.tolist(), ku.tolist(), strict=True):
        first, second = cfg.resize_kernels[a], cfg.resize_kernels[b]
        if s < 1:
            second = "bilinear" if second == "area" else second
        else:
            first = "bilinear" if first == "area" else first
        out.append((first, second))
    return out


def _draw(shape: tuple[int, ...], cfg: RobustAugmentCfg, g: torch.Generator | None) -> PerturbPlan:
    n = shape[0]
    empty_l, empty_f = torch.zeros(0, dtype=torch.long), torch.zeros(0)

    def chosen(p: float) -> torch.Tensor:
        return (torch.rand(n, generator=g) < p).nonzero().flatten() if p > 0 else empty_l

    resize, scales, kernels = chosen(cfg.resize_p), empty_f, []
    if len(resize):
        enlarge = torch.rand(len(resize), generator=g) < cfg.resize_up_share
        k = len(resize)
        up = _buckets(_uniform(k, *cfg.resize_up_scale, g), *cfg.resize_up_scale, cfg.groups)
        down = _buckets(_uniform(k, *cfg.resize_scale, g), *cfg.resize_scale, cfg.groups)
        scales = torch.where(enlarge, up, down)
        kd = torch.randint(len(cfg.resize_kernels), (len(resize),), generator=g)
        ku = torch.randint(len(cfg.resize_kernels), (len(resize),), generator=g)
        kernels = _drawn_kernels(cfg, scales, kd, ku)
    blur, sigma = chosen(cfg.blur_p), empty_f
    if len(blur):
        sigma = _buckets(_uniform(len(blur), *cfg.blur_sigma, g), *cfg.blur_sigma, cfg.groups)
    noise, noise_field = chosen(cfg.noise_p), torch.zeros((0, *shape[1:]))
    if len(noise):
        std = _uniform(len(noise), *cfg.noise_std, g)
        noise_field = torch.randn((len(noise), *shape[1:]), generator=g)
        noise_field = noise_field * (std[:, None, None, None] * 255.0)
    jpg, quality = chosen(cfg.jpeg_p), empty_l
    if len(jpg):
        quality = _buckets(_uniform(len(jpg), *cfg.jpeg_quality, g), *cfg.jpeg_quality,
                           max(cfg.groups, 2)).round().long()
    return PerturbPlan(n, resize, scales, kernels, blur, sigma, noise, noise_field, jpg, quality)


def _merge(plan: PerturbPlan, sub: PerturbPlan, rows: torch.Tensor) -> PerturbPlan:
    """``plan`` with the rows ``rows`` drawn again as ``sub`` (those rows had no op in ``plan``)."""
    cat = torch.cat
    return PerturbPlan(
        plan.n, cat([plan.resize, rows[sub.resize]]), cat([plan.resize_scale, sub.resize_scale]),
        plan.resize_kernels + sub.resize_kernels, cat([plan.blur, rows[sub.blur]]),
        cat([plan.blur_sigma, sub.blur_sigma]), cat([plan.noise, rows[sub.noise]]),
        cat([plan.noise_field, sub.noise_field]), cat([plan.jpeg, rows[sub.jpeg]]),
        cat([plan.jpeg_quality, sub.jpeg_quality]))


def draw_plan(shape: tuple[int, ...], cfg: RobustAugmentCfg,
              generator: torch.Generator | None = None, *,
              at_least_one: bool = False) -> PerturbPlan:
    """Draw the perturbations of an N x H x W x 3 batch: THE definition of the random mix.

    Each image gets each op independently with its probability (``cfg.*_p``) and its own
    parameter, quantised into ``cfg.groups`` levels; resize kernels are drawn from
    ``cfg.resize_kernels`` each way. ``at_least_one`` draws from the same distribution
    conditioned on at least one op per image (images with none are drawn again), which is what
    the perturbation bank stores: swapped in with :func:`any_op_probability`, it gives each op
    exactly the per-batch rate and mix.
    """
    plan = _draw(tuple(shape), cfg, generator)
    if not at_least_one:
        return plan
    if not cfg.enabled:
        raise ValueError("at_least_one needs at least one op with a probability above 0")
    while len(rows := (plan.ops_per_image() == 0).nonzero().flatten()):
        plan = _merge(plan, _draw((len(rows), *shape[1:]), cfg, generator), rows)
    return plan


def any_op_probability(cfg: RobustAugmentCfg) -> float:
    """Chance that :func:`draw_plan` gives an image at least one op."""
    keep = 1.0
    for p in (cfg.resize_p, cfg.jpeg_p, cfg.blur_p, cfg.noise_p):
        keep *= 1.0 - p
    return 1.0 - keep


def op_mix(plan: PerturbPlan) -> dict[str, Any]:
    """Counts of a plan: images per op, per (first, second) resize kernel, per parameter level."""

    def counts(values: list) -> dict:
        return dict(Counter(values))

    return {"n": plan.n, "resize": len(plan.resize), "blur": len(plan.blur),
            "noise": len(plan.noise), "jpeg": len(plan.jpeg),
            "resize_kernels": counts(plan.resize_kernels),
            "resize_scale": counts([round(v, 6) for v in plan.resize_scale.tolist()]),
            "blur_sigma": counts([round(v, 6) for v in plan.blur_sigma.tolist()]),
            "jpeg_quality": counts(plan.jpeg_quality.tolist())}


def execute(x: torch.Tensor, plan: PerturbPlan) -> torch.Tensor:
    """Apply a drawn plan to a uint8 N x H x W x 3 batch (one batched call per parameter)."""
    if plan.n != len(x):
        raise ValueError(f"plan is for {plan.n} images, batch has {len(x)}")
    x = x.clone()
    groups: dict[tuple[float, str, str], list[int]] = {}
    drawn = zip(plan.resize.tolist(), plan.resize_scale.tolist(), plan.resize_kernels, strict=True)
    for i, s, (first, second) in drawn:
        groups.setdefault((s, first, second), []).append(i)
    for (s, first, second), rows in groups.items():
        sel = torch.tensor(rows, dtype=torch.long, device=x.device)
        x[sel] = resize_roundtrip(x[sel], s, first, second)
    for s in torch.unique(plan.blur_sigma):
        sel = plan.blur[plan.blur_sigma == s].to(x.device)
        x[sel] = gaussian_blur(x[sel], float(s))
    if len(plan.noise):
        sel = plan.noise.to(x.device)
        noisy = x[sel].float() + plan.noise_field.to(x.device)
        x[sel] = noisy.round_().clamp_(0, 255).to(torch.uint8)
    for q in torch.unique(plan.jpeg_quality):
        sel = plan.jpeg[plan.jpeg_quality == q].to(x.device)
        x[sel] = jpeg(x[sel], int(q))
    return x


def apply(x: torch.Tensor, cfg: RobustAugmentCfg, generator: torch.Generator | None = None) -> torch.Tensor:
    """Randomly perturb a uint8 N x H x W x 3 batch: resize round trip, blur, noise, then JPEG.

    ``execute(x, draw_plan(x.shape, cfg, generator))``. Returns a new uint8 tensor on ``x``'s
    device (``x`` itself when every probability is 0).
    """
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError("apply expects a uint8 N x H x W x 3 tensor")
    if not cfg.enabled or len(x) == 0:
        return x
    return execute(x, draw_plan(tuple(x.shape), cfg, generator))


# -- adversarial examples (captum.robust FGSM / PGD in pixel space) ---------------------------
class PixelSpace(nn.Module):
    """``model`` taking [0, 1] NCHW pixels (attacks work in pixel space): normalises first."""

    def __init__(self, model: nn.Module, mean, std) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) / self.std
        return self.model(z.contiguous(memory_format=torch.channels_last))


def cross_entropy_per_example(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per example (summed by captum, so no example's gradient is scaled down)."""
    return F.cross_entropy(logits.float(), target, reduction="none")


@contextlib.contextmanager
def _torch_rng_from(generator: torch.Generator | None, device: torch.device) -> Iterator[None]:
    """Seed torch's global RNG (captum's random start uses it) from ``generator``; restore after."""
    if generator is None:
        yield
        return
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def linf_attack(net: nn.Module, x01: torch.Tensor, target: torch.Tensor, *, eps: float,
                steps: int = 1, step_size: float | None = None, random_start: bool = False,
                loss_func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """L-inf attack on [0, 1] images pushing ``net`` away from ``target``: captum's FGSM (one
    step, no random start) or PGD (``steps`` of ``step_size``, default 2.5 eps / steps).

    ``loss_func(logits, target)`` is maximised (default: per-example cross-entropy); the random
    start, if any, is drawn from ``generator``. Returns a detached tensor within [0, 1].
    """
    from captum.robust import FGSM, PGD

    loss = loss_func or cross_entropy_per_example
    x01 = x01.detach().clone()
    with warnings.catch_warnings():  # captum warns that it set requires_grad on its own copies
        warnings.simplefilter("ignore", UserWarning)
        if steps == 1 and not random_start:
            step = eps if step_size is None else step_size
            return FGSM(net, loss_func=loss, lower_bound=0.0, upper_bound=1.0).perturb(
                x01, epsilon=step, target=target).detach()
        step = step_size if step_size is not None else (eps if steps == 1 else 2.5 * eps / steps)
        with _torch_rng_from(generator if random_start else None, x01.device):
            return PGD(net, loss_func=loss, lower_bound=0.0, upper_bound=1.0).perturb(
                x01, radius=eps, step_size=step, step_num=steps, target=target,
                random_start=random_start).detach()


def adversarial_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, mean, std, eps: float,
                      steps: int = 1, step_size: float | None = None, random_start: bool | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """L-inf adversarial version of a *normalised* batch ``x`` (FGSM if ``steps == 1``, else PGD).

    ``eps`` and ``step_size`` are in [0, 1] pixel units; the attack (:func:`linf_attack`) runs
    in pixel space, so the result stays within the valid pixel range. The model runs in eval
    mode while the attack is computed (BatchNorm statistics are not touched) and its mode is
    restored. Returns a detached tensor like ``x``.
    """
    if eps <= 0:
        return x.detach()
    net = PixelSpace(model, mean, std).to(x.device)
    m, s = net.mean.to(x.dtype), net.std.to(x.dtype)
    was_training = model.training
    model.eval()
    try:
        x01 = (x.detach() * s + m).clamp_(0.0, 1.0)
        adv01 = linf_attack(net, x01, y, eps=eps, steps=steps, step_size=step_size,
                            random_start=steps > 1 if random_start is None else random_start,
                            generator=generator)
        return ((adv01 - m) / s).to(x.dtype).contiguous(memory_format=torch.channels_last).detach()
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
