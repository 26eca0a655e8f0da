"""The upload-style perturbation bank and the enlarge-first resize round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthcheck.perturb_bank import any_op_probability, build_bank, perturb_one
from synthcheck.robust_augment import RobustAugmentCfg, apply, resize_roundtrip


def _images(n: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    return np.kron(base, np.ones((1, 4, 4, 1), np.uint8))  # blocky 32x32: resampling changes it


def test_bank_is_deterministic_same_shape_and_perturbed() -> None:
    cfg = RobustAugmentCfg(resize_p=0.5, jpeg_p=0.5)
    x = _images()
    a, b = build_bank(x, cfg, seed=3, workers=1), build_bank(x, cfg, seed=3, workers=1)
    assert a.shape == x.shape and a.dtype == np.uint8 and np.array_equal(a, b)
    changed = (np.abs(a.astype(int) - x).reshape(len(x), -1).max(1) > 0).mean()
    assert changed > 0.9  # every copy gets an op (a nearest-kernel round trip may be a no-op)
    assert not np.array_equal(build_bank(x, cfg, seed=4, workers=1), a)


def test_bank_parallel_equals_serial() -> None:
    cfg = RobustAugmentCfg(resize_p=0.3, jpeg_p=0.3, noise_p=0.1)
    x = _images(96)
    assert np.array_equal(build_bank(x, cfg, seed=1, workers=2, chunk=32),
                          build_bank(x, cfg, seed=1, workers=1, chunk=32))


def test_any_op_probability_and_only_jpeg() -> None:
    assert any_op_probability(RobustAugmentCfg()) == 0.0
    assert any_op_probability(RobustAugmentCfg(resize_p=0.5, jpeg_p=0.5)) == pytest.approx(0.75)
    x = _images(1)[0]
    out = perturb_one(x, RobustAugmentCfg(jpeg_p=1.0, jpeg_quality=(20, 20)), np.random.default_rng(0))
    assert out.shape == x.shape and np.abs(out.astype(int) - x).mean() > 1  # JPEG q20 is lossy


def test_enlarge_first_round_trip_is_a_mild_blur() -> None:
    x = torch.from_numpy(_images(4))
    up = resize_roundtrip(x, 4.0, "bicubic", "bicubic")
    down = resize_roundtrip(x, 0.5, "area", "bicubic")
    d_up = (up.float() - x.float()).abs().mean()
    d_down = (down.float() - x.float()).abs().mean()
    assert 0 < d_up < d_down  # enlarging first loses less than shrinking first
    cfg = RobustAugmentCfg(resize_p=1.0, resize_up_share=1.0)
    out = apply(x, cfg, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)
    with pytest.raises(ValueError):
        RobustAugmentCfg(resize_up_scale=(0.5, 2.0)).validate()
