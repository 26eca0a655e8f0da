"""Robustness evaluation, verdict stability and training-time robust augmentation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from synthcheck.checkpoint import atomic_torch_save, build_checkpoint
from synthcheck.cli import main as cli_main
from synthcheck.data import perturb as ra
from synthcheck.evaluation.robustness import (
    balanced_subset,
    default_perturbations,
    evaluate_robustness,
    margin_loss,
    parse_perturbations,
    perturb_uint8,
    verdict_stability,
)
from synthcheck.inference import Detector
from synthcheck.models import create_model


@pytest.fixture(scope="module")
def tiny() -> tuple[Detector, str]:
    torch.manual_seed(0)
    m = create_model("synthcnn_small")
    return Detector(m, build_checkpoint(m)), m


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """test/REAL: smooth images; test/FAKE: noisy ones (12 each, 32x32 JPEG)."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for cls in ("REAL", "FAKE"):
        d = root / "test" / cls
        d.mkdir(parents=True)
        for i in range(12):
            small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            img = np.asarray(Image.fromarray(small).resize((32, 32), Image.Resampling.BICUBIC), dtype=np.int16)
            if cls == "FAKE":
                img = img + rng.integers(-40, 40, img.shape)
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(d / f"{i}.jpg", quality=95)
    return root


def test_robustness_command_on_tiny_folder(folder, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHCHECK_CACHE", str(tmp_path / "cache"))
    m = create_model("synthcnn_small")
    ckpt = tmp_path / "tiny.pt"
    atomic_torch_save(build_checkpoint(m), ckpt)
    rc = cli_main(["robustness", "--data", str(folder), "--limit", "16", "--epsilons", "8",
                   "--checkpoint", str(ckpt), "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_images"] == 16 and report["n_fake"] == 8
    names = [r["name"] for r in report["rows"]]
    assert names[0] == "clean"
    for expected in ("jpeg_q90", "jpeg_q70", "jpeg_q50", "jpeg_q30", "resize_0.5", "blur_1",
                     "noise_0.02", "fgsm_8", "pgd_8"):
        assert expected in names
    for r in report["rows"]:
        assert 0 <= r["accuracy"] <= 1 and 0 <= r["roc_auc"] <= 1 and 0 <= r["flip_rate"] <= 1
    clean = report["rows"][0]
    assert clean["flip_rate"] == 0 and clean["delta_accuracy"] == 0
    pgd8 = next(r for r in report["rows"] if r["name"] == "pgd_8")
    assert pgd8["accuracy"] <= clean["accuracy"]  # a white-box attack never helps
    # text table
    assert cli_main(["robustness", "--data", str(folder), "--limit", "8", "--no-adversarial",
                     "--only", "jpeg", "--checkpoint", str(ckpt)]) == 0
    out = capsys.readouterr().out
    assert "JPEG quality 30" in out and "PGD" not in out


def test_evaluate_is_reproducible_and_attacks_hurt(tiny) -> None:
    det, _ = tiny
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    labels = np.array([0, 1] * 8)
    ps = parse_perturbations(["noise_0.05", "fgsm_8"])
    a = evaluate_robustness(det, images, labels, ps, seed=4)
    b = evaluate_robustness(det, images, labels, ps, seed=4)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in a["rows"]]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in b["rows"]]
    assert a["rows"][2]["accuracy"] <= a["rows"][0]["accuracy"]


def test_verdict_stability(tiny) -> None:
    det, _ = tiny
    img = np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    res = verdict_stability(det, img, parse_perturbations(["jpeg_q30", "pgd_8"]))
    assert [r["name"] for r in res["rows"]] == ["clean", "jpeg_q30", "pgd_8"]
    assert res["rows"][0]["delta"] == 0
    pgd = res["rows"][2]
    # the attack pushes p_fake away from the current verdict
    assert (pgd["delta"] <= 0) if res["verdict"] == "FAKE" else (pgd["delta"] >= 0)


def test_perturbations_and_helpers() -> None:
    assert {p.family for p in default_perturbations()} == {"jpeg", "resize", "blur", "noise", "fgsm", "pgd"}
    assert not any(p.adversarial for p in default_perturbations(adversarial=False))
    with pytest.raises(ValueError):
        parse_perturbations(["sharpen"])
    x = np.full((2, 16, 16, 3), 128, np.uint8)
    for p in default_perturbations(adversarial=False):
        y = perturb_uint8(x, p)
        assert y.shape == x.shape and y.dtype == np.uint8
        if p.family in ("resize", "blur"):  # a flat image is a fixed point
            assert np.abs(y.astype(int) - 128).max() <= 1
    idx = balanced_subset(np.array([0] * 10 + [1] * 3), 6, seed=0)
    assert len(idx) == 6 and (np.array([0] * 10 + [1] * 3)[idx] == 1).sum() == 3
    z = torch.tensor([[2.0, -1.0], [0.0, 5.0]])
    assert margin_loss(z, torch.tensor([0, 0])).tolist() == [-3.0, 5.0]


def test_robust_augment_apply() -> None:
    x = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8))
    assert ra.apply(x, ra.RobustAugmentCfg()) is x  # all off: unchanged
    cfg = ra.RobustAugmentCfg(jpeg_p=0.5, resize_p=0.5, blur_p=0.5, noise_p=0.5).validate()
    a = ra.apply(x, cfg, torch.Generator().manual_seed(0))
    b = ra.apply(x, cfg, torch.Generator().manual_seed(0))
    assert a.dtype == torch.uint8 and a.shape == x.shape and torch.equal(a, b)
    changed = (a != x).flatten(1).any(1).float().mean()
    assert 0.7 < changed <= 1.0  # 1 - 0.5^4 = 94% expected
    only_jpeg = ra.apply(x, ra.RobustAugmentCfg(jpeg_p=1.0, jpeg_quality=(50, 50)))
    assert torch.equal(only_jpeg, ra.jpeg(x, 50))
    with pytest.raises(ValueError):
        ra.RobustAugmentCfg(jpeg_quality=(0, 200)).validate()
    with pytest.raises(ValueError):
        ra.apply(x.float(), cfg)


def test_adversarial_training_helpers(tiny) -> None:
    det, m = tiny
    from synthcheck.models.normalization import normalize

    u8 = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8))
    x = normalize(u8, det.mean, det.std)
    y = torch.tensor([0, 1] * 4)
    m.train()
    eps = 4 / 255
    adv = ra.adversarial_batch(m, x, y, mean=det.mean, std=det.std, eps=eps, steps=3,
                               generator=torch.Generator().manual_seed(0))
    assert m.training  # mode restored
    std = torch.tensor(det.std).view(1, 3, 1, 1)
    assert ((adv - x).abs() * std).max() <= eps + 1e-5  # within the radius in pixel units
    m.eval()
    with torch.no_grad():
        loss_clean = torch.nn.functional.cross_entropy(m(x), y)
        loss_adv = torch.nn.functional.cross_entropy(m(adv), y)
    assert loss_adv >= loss_clean
    cfg = ra.RobustAugmentCfg(adv="fgsm", adv_eps=eps, adv_fraction=0.5)
    mixed = ra.mix_adversarial(m, x, y, cfg, det.mean, det.std, torch.Generator().manual_seed(0))
    assert (mixed != x).flatten(1).any(1).sum() == 4


def test_robust_cfg_from_train_config() -> None:
    from types import SimpleNamespace

    assert not ra.RobustAugmentCfg.from_train_config(object()).enabled
    cfg = ra.RobustAugmentCfg.from_train_config(SimpleNamespace(
        aug_jpeg_p=0.3, aug_blur_p=0.1, adv_train="pgd", adv_eps=0.01, adv_steps=2))
    assert cfg.enabled and cfg.jpeg_p == 0.3 and cfg.blur_p == 0.1 and cfg.resize_p == 0
    assert (cfg.adv, cfg.adv_eps, cfg.adv_steps) == ("pgd", 0.01, 2)
    with pytest.raises(ValueError):
        ra.RobustAugmentCfg.from_train_config(SimpleNamespace(adv_train="cw"))
