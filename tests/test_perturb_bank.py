"""The upload-style perturbation bank and the enlarge-first resize round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthcheck.data.bank import any_op_probability, bank_plan, build_bank, chunk_seed
from synthcheck.data.perturb import (
    RobustAugmentCfg,
    apply,
    draw_plan,
    execute,
    op_mix,
    resize_roundtrip,
)


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
    x = _images(1)
    out = build_bank(x, RobustAugmentCfg(jpeg_p=1.0, jpeg_quality=(20, 20)), workers=1)
    assert out.shape == x.shape and np.abs(out.astype(int) - x).mean() > 1  # JPEG q20 is lossy
    assert np.array_equal(build_bank(x, RobustAugmentCfg()), x)  # nothing to do: plain copies


MIXED = RobustAugmentCfg(resize_p=0.4, blur_p=0.15, noise_p=0.1, jpeg_p=0.3, resize_up_share=0.4,
                         resize_kernels=("nearest", "bilinear", "area"))


def _shares(mix: dict, key: str) -> dict:
    total = sum(mix[key].values())
    return {k: v / total for k, v in mix[key].items()}


def test_bank_draws_the_per_batch_mix() -> None:
    """Same ops, kernels, parameter levels and probabilities: the bank swapped in with
    ``any_op_probability`` gives each op the per-batch rate, and each op the same parameters."""
    n, shape = 40_000, (40_000, 2, 2, 3)
    batch = op_mix(draw_plan(shape, MIXED, torch.Generator().manual_seed(0)))
    bank = op_mix(bank_plan(shape, MIXED, torch.Generator().manual_seed(1)))
    p_any = any_op_probability(MIXED)
    for op, p in (("resize", MIXED.resize_p), ("blur", MIXED.blur_p), ("noise", MIXED.noise_p),
                  ("jpeg", MIXED.jpeg_p)):
        assert batch[op] / n == pytest.approx(p, abs=0.01)
        assert p_any * bank[op] / n == pytest.approx(p, abs=0.01), op
    for key in ("resize_kernels", "resize_scale", "blur_sigma", "jpeg_quality"):
        a, b = _shares(batch, key), _shares(bank, key)
        assert set(a) == set(b), key
        for k in a:
            assert b[k] == pytest.approx(a[k], abs=0.02), (key, k)
    kernels = {k for pair in bank["resize_kernels"] for k in pair}
    assert kernels <= set(MIXED.resize_kernels)  # the configured kernels only (no lanczos)


def test_bank_plan_has_an_op_for_every_image_and_is_what_build_bank_applies() -> None:
    only_jpeg = RobustAugmentCfg(jpeg_p=0.05)
    plan = bank_plan((500, 2, 2, 3), only_jpeg, torch.Generator().manual_seed(0))
    assert (plan.ops_per_image() == 1).all() and len(plan.jpeg) == 500
    with pytest.raises(ValueError):
        bank_plan((4, 2, 2, 3), RobustAugmentCfg(), torch.Generator())
    x = _images(40)
    g = torch.Generator().manual_seed(chunk_seed(5, 0))
    expected = execute(torch.from_numpy(x.copy()), bank_plan(x.shape, MIXED, g)).numpy()
    assert np.array_equal(build_bank(x, MIXED, seed=5, workers=1), expected)


def test_per_batch_apply_is_draw_plan_then_execute() -> None:
    x = torch.from_numpy(_images(48))
    plan = draw_plan(tuple(x.shape), MIXED, torch.Generator().manual_seed(2))
    assert torch.equal(apply(x, MIXED, torch.Generator().manual_seed(2)), execute(x, plan))
    assert {k for pair in plan.resize_kernels for k in pair} <= set(MIXED.resize_kernels)
    drawn = zip(plan.resize_scale.tolist(), plan.resize_kernels, strict=True)
    shrink = [pair for s, pair in drawn if s < 1]
    assert all(second != "area" for _, second in shrink)  # area never enlarges


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
