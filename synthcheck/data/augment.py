"""Batched augmentation on uint8 image tensors, on whatever device the batch lives.

Per-sample torchvision transforms in DataLoader workers cap a 2-core machine (and starve a
GPU at ~100k images/s), so each transform here draws its random parameters per image but
applies them to the whole batch with one tensor op. Semantics match torchvision v2's
RandomHorizontalFlip, RandomCrop(padding, reflect) and RandomRotation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AugmentCfg:
    hflip: bool = True  # mirror left-right with p=0.5
    crop_padding: int = 0  # reflect-pad then crop back at a random offset (0 = off)
    rotate_degrees: float = 0.0  # uniform rotation in [-d, d] (bilinear; 0 = off)


def augment_batch(x: torch.Tensor, cfg: AugmentCfg, generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment a float batch (N, C, H, W); returns a new tensor of the same shape."""
    n, _, h, w = x.shape
    dev = x.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(dev)

    if cfg.hflip:
        flip = rand(n) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if cfg.crop_padding > 0:
        p = cfg.crop_padding
        padded = F.pad(x, (p, p, p, p), mode="reflect")
        dy = (rand(n) * (2 * p + 1)).long().clamp_(max=2 * p)
        dx = (rand(n) * (2 * p + 1)).long().clamp_(max=2 * p)
        rows = (dy[:, None] + torch.arange(h, device=dev)[None, :])  # (n, h)
        cols = (dx[:, None] + torch.arange(w, device=dev)[None, :])  # (n, w)
        idx_r = rows[:, None, :, None].expand(n, x.shape[1], h, padded.shape[3])
        padded = padded.gather(2, idx_r)
        idx_c = cols[:, None, None, :].expand(n, x.shape[1], h, w)
        x = padded.gather(3, idx_c)
    if cfg.rotate_degrees > 0:
        ang = (rand(n) * 2 - 1) * math.radians(cfg.rotate_degrees)
        cos, sin = torch.cos(ang), torch.sin(ang)
        theta = torch.stack([torch.stack([cos, -sin, torch.zeros_like(cos)], 1),
                             torch.stack([sin, cos, torch.zeros_like(cos)], 1)], 1)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return x
