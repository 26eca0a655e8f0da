"""Faithfulness, agreement and sanity-check metrics, on models whose true attribution is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from synthcheck.explain import Explainer, explain, explain_all
from synthcheck.explain.base import AttributionContext
from synthcheck.explain.metrics import (
    agreement,
    auc,
    evaluate_faithfulness,
    faithfulness,
    last_layers,
    model_randomisation_check,
    perturbation_images,
    pixel_order,
    randomised_detector,
    spearman,
    topk_iou,
)
from synthcheck.inference import Detector


@pytest.fixture(scope="module")
def default_detector() -> Detector:
    """The shipped default model (own fixture, no conftest coupling)."""
    return Detector.from_checkpoint(Path(__file__).resolve().parent.parent / "models" / "synthcheck-default.pt")


TOP_LEFT = np.zeros((32, 32), np.float32)
TOP_LEFT[:16, :16] = 1.0


class Focus(nn.Module):
    """Keeps the top-left quadrant of a feature map and zeroes the rest (the model's only view)."""

    def __init__(self) -> None:
        super().__init__()
        mask = torch.zeros(1, 1, 32, 32)
        mask[..., :16, :16] = 1.0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


class QuadrantModel(nn.Module):
    """FAKE logit = 10 x (texture energy of the top-left quadrant - 0.2); nothing else matters."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 1, bias=False)  # per-pixel grey level (normalised)
        nn.init.constant_(self.conv.weight, 1.0 / 3.0)
        self.focus = Focus()  # the CAM layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        energy = self.focus(self.conv(x) ** 2).sum((1, 2, 3)) / 256.0
        z = 10.0 * (energy - 0.2)
        return torch.stack([torch.zeros_like(z), z], dim=1)


@pytest.fixture(scope="module")
def quadrant_detector() -> Detector:
    ckpt = {"input_size": 32, "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25),
            "class_names": ["REAL", "FAKE"], "model_name": "quadrant", "cam_layer": "focus"}
    return Detector(QuadrantModel(), ckpt)


def quadrant_image(seed: int = 0) -> np.ndarray:
    """Uniform noise: textured everywhere, but only the top-left quadrant's texture counts."""
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3)).astype(np.uint8)


def test_auc_trapezoid() -> None:
    assert auc(np.ones(17)) == pytest.approx(1.0)
    assert auc(np.linspace(1, 0, 5)) == pytest.approx(0.5)
    assert auc([0.0, 1.0], [0.0, 0.5]) == pytest.approx(0.25)


def test_pixel_order_and_perturbations() -> None:
    rng = np.random.default_rng(0)
    m = np.arange(16, dtype=np.float32).reshape(4, 4)
    order = pixel_order(m, rng)
    assert order[0] == 15 and order[-1] == 0
    ties = [pixel_order(np.zeros((4, 4)), np.random.default_rng(s)) for s in (1, 1, 2)]
    np.testing.assert_array_equal(ties[0], ties[1])
    assert not np.array_equal(ties[0], ties[2])  # ties are broken randomly, not top-left first
    img, base = np.full((4, 4, 3), 200, np.uint8), np.zeros((4, 4, 3), np.uint8)
    d, i = perturbation_images(img, base, order, np.array([0, 3, 16]))
    np.testing.assert_array_equal(d[0], img)
    np.testing.assert_array_equal(i[0], base)
    np.testing.assert_array_equal(d[2], base)
    np.testing.assert_array_equal(i[2], img)
    assert (d[1] == 0).all(axis=2).sum() == 3 and d[1][3, 3].sum() == 0  # highest pixels go first


def test_faithful_map_beats_random_on_toy_model(quadrant_detector: Detector) -> None:
    img = quadrant_image()
    maps = {"truth": TOP_LEFT, "wrong": TOP_LEFT[::-1, ::-1].copy()}
    f = evaluate_faithfulness(quadrant_detector, img, maps, target_index=1, baseline="mean", seed=0)
    truth, wrong = f["truth"], f["wrong"]
    assert truth["deletion_auc"] < truth["random_deletion_auc"] - 0.1
    assert truth["insertion_auc"] > truth["random_insertion_auc"] + 0.05
    assert wrong["deletion_auc"] > wrong["random_deletion_auc"]
    assert wrong["insertion_auc"] < wrong["random_insertion_auc"]
    curve = truth["deletion_curve"]
    assert len(curve) == len(truth["fractions"]) == 17
    assert curve[0] > 0.85 and curve[4] < 0.2  # the quadrant's texture is gone after 1/4
    assert truth["random_deletion_auc"] == wrong["random_deletion_auc"]  # one shared random baseline


def test_faithfulness_counts_calls_and_validates() -> None:
    calls: list[int] = []

    def score(arrays: np.ndarray) -> np.ndarray:
        calls.append(len(arrays))
        return arrays[:, :16, :16].mean((1, 2, 3)) / 255.0

    img = quadrant_image(1)
    out = faithfulness(score, img, {"a": TOP_LEFT, "b": np.zeros((32, 32))}, np.zeros_like(img),
                       n_steps=8, n_random=2)
    assert calls == [2 + (2 + 2) * 2 * 7]  # one batched call: end points + interior steps
    assert out["a"]["deletion_auc"] < out["b"]["deletion_auc"]
    with pytest.raises(ValueError, match="shape"):
        faithfulness(score, img, {"a": np.zeros((8, 8))}, np.zeros_like(img))


@pytest.mark.parametrize("method", ["gradcam", "gradient_shap", "kernel_shap", "lime"])
def test_methods_find_the_quadrant(quadrant_detector: Detector, method: str) -> None:
    img = quadrant_image(2)
    opts = {"kernel_shap": {"n_samples": 128}, "lime": {"num_samples": 128}}.get(method, {})
    exp = explain(quadrant_detector, img, method, target="FAKE", seed=0, **opts)
    assert exp.p_target > 0.8
    inside = exp.map[:12, :12].mean()  # away from superpixels that straddle the quadrant's edge
    assert inside > 0 and np.abs(exp.map[20:, 20:]).mean() < 0.2 * inside
    f = evaluate_faithfulness(quadrant_detector, img, {method: exp.map}, 1, baseline="mean")[method]
    assert f["deletion_auc"] < f["random_deletion_auc"]


def test_agreement_measures() -> None:
    a = np.arange(100, dtype=np.float32).reshape(10, 10)
    assert spearman(a, a * 3 + 1) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, np.zeros_like(a)) is None
    assert topk_iou(a, a, 0.1) == 1.0
    assert topk_iou(a, -a, 0.1) == 0.0
    assert topk_iou(a, a, 1.0) == 1.0
    with pytest.raises(ValueError):
        topk_iou(a, a, 0.0)
    ag = agreement({"x": a, "y": -a, "z": a ** 2})
    assert ag["spearman"]["x"]["z"] == pytest.approx(1.0) and ag["spearman"]["z"]["x"] == ag["spearman"]["x"]["z"]
    assert ag["topk_iou"]["x"]["y"] == 0.0 and "x" not in ag["spearman"]["x"]


class ImageOnly(Explainer):
    """A 'method' that ignores the model: brightness of the input (an edge-detector-like map)."""

    name = "image_only"
    signed = False

    def _attribute(self, ctx: AttributionContext) -> np.ndarray:
        return ctx.arrays.mean(-1).astype(np.float32)


def test_sanity_check_flags_a_map_that_ignores_the_weights(default_detector: Detector) -> None:
    img = quadrant_image(3)
    res = model_randomisation_check(default_detector, img, ImageOnly, target="FAKE")
    assert res.similarity == pytest.approx(1.0) and res.passed is False
    assert res.layers == last_layers(default_detector.model, 2) == ["stages.3.1.0", "fc"]
    good = model_randomisation_check(default_detector, img, "gradient_shap", target="FAKE", n_samples=16)
    assert good.similarity < 0.5 and good.passed is True
    d = good.to_dict()
    assert set(d) >= {"method", "layers", "similarity", "threshold", "passed"}


def test_randomisation_never_touches_the_shared_model(default_detector: Detector) -> None:
    before = {k: v.clone() for k, v in default_detector.model.state_dict().items()}
    rand = randomised_detector(default_detector, ["fc"], seed=0)
    assert rand.model is not default_detector.model
    assert not torch.equal(rand.model.fc.weight, default_detector.model.fc.weight)
    assert torch.equal(rand.model.stages[0][0][0].weight, default_detector.model.stages[0][0][0].weight)
    for k, v in default_detector.model.state_dict().items():
        assert torch.equal(v, before[k])
    rep = explain_all(default_detector, quadrant_image(4), ("gradcam",), target="FAKE", with_metrics=False,
                      with_sanity=True)
    assert set(rep.sanity["gradcam"]) >= {"similarity", "passed"}
    for k, v in default_detector.model.state_dict().items():
        assert torch.equal(v, before[k])
