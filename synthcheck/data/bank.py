"""A bank of upload-style copies of the training set, made once before training starts.

Re-encoding and resampling on the fly is cheap per image but costs thousands of small ops per
batch, which starved a GPU training loop (1.7k img/s against 100k plain). Instead every
training image gets one perturbed copy up front, drawn from the per-batch definition itself
(:func:`synthcheck.data.perturb.draw_plan`: same ops, kernels, parameter levels and
probabilities) conditioned on at least one op, and made by the same batched ops
(:func:`synthcheck.data.perturb.execute`). A batch then swaps originals for their copies with
:func:`any_op_probability`, so ``aug_bank=True`` trains on the mix ``aug_bank=False`` draws.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from .perturb import PerturbPlan, RobustAugmentCfg, any_op_probability, draw_plan, execute

__all__ = ["any_op_probability", "bank_plan", "build_bank"]


def bank_plan(shape: tuple[int, ...], cfg: RobustAugmentCfg,
              generator: torch.Generator) -> PerturbPlan:
    """The perturbations of one chunk of the bank: :func:`draw_plan` with at least one op each."""
    return draw_plan(shape, cfg, generator, at_least_one=True)


def chunk_seed(seed: int, start: int) -> int:
    """The generator seed of the chunk that starts at image ``start``."""
    return seed * 1_000_003 + start


def _chunk(args: tuple[np.ndarray, RobustAugmentCfg, int]) -> np.ndarray:
    images, cfg, seed = args
    if not len(images) or any_op_probability(cfg) <= 0:
        return np.array(images, copy=True)
    x = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True))
    return execute(x, bank_plan(tuple(x.shape), cfg, torch.Generator().manual_seed(seed))).numpy()


def build_bank(images: np.ndarray, cfg: RobustAugmentCfg, seed: int = 0, workers: int | None = None,
               chunk: int = 2048) -> np.ndarray:
    """Perturbed copies of uint8 N x H x W x 3 ``images``, same order (deterministic per seed
    and ``chunk``; ``workers`` threads share the chunks and never change the result)."""
    jobs = [(images[s:s + chunk], cfg, chunk_seed(seed, s)) for s in range(0, len(images), chunk)]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if workers <= 1 or len(jobs) <= 1:
        parts = [_chunk(j) for j in jobs]
    else:  # torch ops release the GIL; threads avoid forking a process that holds torch
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(_chunk, jobs))
    return np.concatenate(parts) if parts else images.copy()
