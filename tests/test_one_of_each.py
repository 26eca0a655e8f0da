"""One of each: p_fake from logits, code version, faithfulness baselines, captum attacks."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import synthcheck
from synthcheck.inference.base import softmax_p_fake

PACKAGE = Path(synthcheck.__file__).parent
REPO = PACKAGE.parent


# -- p_fake from logits ------------------------------------------------------------------------
def test_softmax_p_fake_is_a_stable_float64_two_class_softmax() -> None:
    logits = np.array([[0.0, 0.0], [1.0, 3.0], [1000.0, -1000.0], [-5.0, 800.0]], np.float32)
    p = softmax_p_fake(logits)
    assert p.dtype == np.float64 and np.isfinite(p).all()
    np.testing.assert_allclose(p[:2], [0.5, 1 / (1 + np.exp(-2.0))], rtol=0, atol=1e-15)
    assert p[2] == 0.0 and p[3] == 1.0
    halved = softmax_p_fake(logits[1:2], 2.0)
    np.testing.assert_allclose(halved, [1 / (1 + np.exp(-1.0))], atol=1e-15)


def test_callers_use_the_one_softmax_p_fake() -> None:
    import importlib

    from synthcheck import train
    from synthcheck.evaluation import curves, robustness
    from synthcheck.evaluation import metrics as evaluate

    faithfulness = importlib.import_module("synthcheck.explain.metrics.faithfulness")
    for module in (curves, evaluate, robustness, train, faithfulness):
        assert module.softmax_p_fake is softmax_p_fake, module.__name__
    assert not hasattr(evaluate, "p_fake_from_logits")


def test_no_other_softmax_of_logits_in_the_package() -> None:
    """Only inference/base.py turns logits into p_fake; explain/base.py's forward for captum (a torch
    graph, two-class output) and training's distillation loss are not p_fake computations."""
    allowed = {"inference/base.py", "explain/base.py", "train.py", "evaluation/metrics.py"}
    pattern = re.compile(r"softmax\(|np\.exp\(|\.exp\(\)")
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if str(p.relative_to(PACKAGE)) not in allowed
                 and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == [], offenders


def test_detector_score_fn_is_calibrated_p_of_the_target(tiny_detector) -> None:
    from synthcheck.explain.metrics import detector_score_fn

    arrays = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    logits = tiny_detector.logits_of_arrays(arrays)
    p = softmax_p_fake(logits, tiny_detector.temperature)
    np.testing.assert_allclose(detector_score_fn(tiny_detector, 1)(arrays), p, atol=1e-6)
    np.testing.assert_allclose(detector_score_fn(tiny_detector, 0)(arrays), 1 - p, atol=1e-6)
    with pytest.raises(ValueError):
        detector_score_fn(tiny_detector, 2)


# -- code version ------------------------------------------------------------------------------
def test_code_version_is_version_plus_git_describe(monkeypatch: pytest.MonkeyPatch) -> None:
    from synthcheck import version

    version.code_version.cache_clear()
    monkeypatch.setattr(version, "git_describe", lambda: "ab12cd3-dirty")
    try:
        assert version.code_version() == f"{synthcheck.__version__}+git.ab12cd3-dirty"
        version.code_version.cache_clear()
        monkeypatch.setattr(version, "git_describe", lambda: "")
        assert version.code_version() == synthcheck.__version__
    finally:
        version.code_version.cache_clear()


def test_git_describe_outside_a_checkout_is_empty(tmp_path: Path) -> None:
    from synthcheck.version import git_describe

    assert git_describe(tmp_path) == ""


def test_checkpoints_and_control_runs_record_the_one_code_version() -> None:
    from synthcheck.checkpoint import build_checkpoint
    from synthcheck.models import create_model
    from synthcheck.version import code_version

    assert code_version().startswith(synthcheck.__version__)
    assert build_checkpoint(create_model("synthcnn_small"))["code_version"] == code_version()
    source = (PACKAGE / "evaluation" / "selfcheck.py").read_text(encoding="utf-8")
    assert '"code_version": code_version()' in source


# -- faithfulness baselines --------------------------------------------------------------------
def _toy_score(arrays: np.ndarray) -> np.ndarray:
    w = np.linspace(0.0, 1.0, arrays[0].size).reshape(arrays.shape[1:])
    return (arrays.astype(np.float64) * w).sum((1, 2, 3)) / (255.0 * w.sum())


def test_faithfulness_numbers_do_not_depend_on_the_other_maps() -> None:
    from synthcheck.explain.metrics import faithfulness

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    base = np.zeros_like(img)
    maps = {"a": rng.random((8, 8)), "b": np.zeros((8, 8)), "c": rng.random((8, 8)).round(1)}
    together = faithfulness(_toy_score, img, maps, base, seed=7)
    for name, m in maps.items():
        assert faithfulness(_toy_score, img, {name: m}, base, seed=7)[name] == together[name]
    reordered = faithfulness(_toy_score, img, dict(reversed(list(maps.items()))), base, seed=7)
    assert reordered == together
    other_seed = faithfulness(_toy_score, img, maps, base, seed=8)
    assert other_seed["a"]["random_deletion_auc"] != together["a"]["random_deletion_auc"]


def test_explain_all_faithfulness_is_the_same_alone_together_or_reordered(tiny_detector) -> None:
    from synthcheck.explain import explain_all

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    options = {"gradient_shap": {"n_samples": 4}}
    methods = ["gradcam", "gradient_shap", "guided_gradcam"]

    def faith(ms: list[str]) -> dict:
        return explain_all(tiny_detector, img, ms, target="FAKE", seed=11, options=options, n_steps=4).faithfulness

    together = faith(methods)
    assert faith(list(reversed(methods))) == together
    for m in methods:
        assert faith([m]) == {m: together[m]}


# -- adversarial examples from captum ----------------------------------------------------------
@pytest.fixture(scope="module")
def small_model():
    from synthcheck.models import create_model

    torch.manual_seed(0)
    return create_model("synthcnn_small").eval()


def test_adversarial_batch_is_captums_fgsm_in_pixel_space(small_model) -> None:
    from captum.robust import FGSM

    from synthcheck.data.perturb import PixelSpace, adversarial_batch, cross_entropy_per_example
    from synthcheck.models.normalization import normalize

    cfg = small_model.synthcheck_cfg
    u8 = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8))
    x, y = normalize(u8, cfg.mean, cfg.std), torch.tensor([0, 1] * 3)
    adv = adversarial_batch(small_model, x, y, mean=cfg.mean, std=cfg.std, eps=4 / 255)
    net = PixelSpace(small_model, cfg.mean, cfg.std)
    x01 = (x * net.std + net.mean).clamp(0.0, 1.0)  # the pixels adversarial_batch attacks
    expected = FGSM(net, loss_func=cross_entropy_per_example, lower_bound=0.0, upper_bound=1.0
                    ).perturb(x01, epsilon=4 / 255, target=y)
    torch.testing.assert_close(adv * net.std + net.mean, expected, atol=1e-5, rtol=0)


def test_pgd_runs_through_captum_and_is_seeded_by_the_generator(small_model, monkeypatch) -> None:
    from captum.robust import PGD

    from synthcheck.data.perturb import adversarial_batch

    cfg = small_model.synthcheck_cfg
    x = torch.randn(4, 3, 32, 32) * 0.3
    y = torch.tensor([0, 1, 0, 1])
    calls = []
    real = PGD.perturb

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PGD, "perturb", spy)

    def run(seed: int) -> torch.Tensor:
        return adversarial_batch(small_model, x, y, mean=cfg.mean, std=cfg.std, eps=2 / 255,
                                 steps=3, generator=torch.Generator().manual_seed(seed))

    a, b, c = run(0), run(0), run(1)
    assert len(calls) == 3 and calls[0]["step_num"] == 3 and calls[0]["random_start"]
    assert torch.equal(a, b) and not torch.equal(a, c)
    std = torch.tensor(cfg.std).view(1, 3, 1, 1)
    assert ((a - x).abs() * std).max() <= 2 / 255 + 1e-5


def test_no_hand_written_attack_left() -> None:
    for rel in ("data/perturb.py", "evaluation/robustness.py"):
        assert "autograd.grad" not in (PACKAGE / rel).read_text(encoding="utf-8"), rel


def test_one_record_schema(default_detector) -> None:
    """to_record's keys are analysis.RECORD_FIELDS in order; scan rows are built from them."""
    from synthcheck.analysis import RECORD_FIELDS, TILE_FIELDS, AnalysisOptions, analyze_one
    from synthcheck.scan.writer import ROW_FIELDS

    img = np.random.default_rng(0).integers(0, 256, (600, 600, 3), dtype=np.uint8)
    plain = analyze_one(img, default_detector).to_record()
    assert tuple(plain) == RECORD_FIELDS
    tiled = analyze_one(img, default_detector, AnalysisOptions(tiles=True)).to_record()
    assert tuple(tiled) == RECORD_FIELDS + TILE_FIELDS
    assert ("key", "path", "error", *RECORD_FIELDS[1:], *TILE_FIELDS) == ROW_FIELDS

