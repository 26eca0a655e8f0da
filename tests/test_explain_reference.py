"""Our explanations and statistics against the reference libraries, on the shipped model.

Grad-CAM against pytorch-grad-cam's GradCAM, LIME against the ``lime`` package run the plain way,
ROAD against pytorch-grad-cam's ROAD metric classes, our imputer against its
``NoisyLinearImputer``, the Wilson interval against scipy/statsmodels and Holm against
statsmodels. The images are CIFAKE-like 32 x 32 pictures made here (smooth scenes with texture,
saved as quality-75 JPEG like CIFAKE's files).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from synthcheck.evaluation.explanations.stats import holm, rate, wilson_interval
from synthcheck.explain import get_explainer
from synthcheck.explain.base import CountingForward, superpixels
from synthcheck.explain.metrics.faithfulness import stream
from synthcheck.explain.metrics.road import FastNoisyLinearImputer, rank_map, road, torch_seed


def cifake_like(seed: int) -> np.ndarray:
    """A 32 x 32 'photo': sky-to-ground gradient, a blob, texture noise, JPEG quality 75."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:32, 0:32] / 31.0
    img = (rng.uniform(60, 200, 3) * (1 - y[..., None]) + rng.uniform(20, 120, 3) * y[..., None]
           + rng.normal(0, 10, (32, 32, 3)))
    cy, cx, r = rng.integers(8, 24, 2).tolist() + [rng.integers(4, 9)]
    img[(np.hypot(y * 31 - cy, x * 31 - cx) < r)] = rng.uniform(0, 255, 3)
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=75)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


IMAGES = [cifake_like(s) for s in range(3)]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.mark.parametrize("target", [0, 1])
def test_gradcam_equals_pytorch_grad_cam(default_detector, target: int) -> None:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    det = default_detector
    ours = get_explainer("gradcam", det).explain_arrays(np.stack(IMAGES), target=target)
    fwd = CountingForward(det.model, det.temperature, "log_odds")  # the same output we attribute
    with GradCAM(model=fwd, target_layers=[det.model.get_submodule(det.cam_layer)]) as cam:
        theirs = cam(input_tensor=det.to_tensor(np.stack(IMAGES)),
                     targets=[ClassifierOutputTarget(target)] * len(IMAGES))
    det.model.eval()
    for exp, ref in zip(ours, theirs, strict=True):
        assert np.ptp(exp.map) > 0
        assert pearson(exp.map, ref) >= 0.999


def test_lime_equals_the_lime_package(default_detector) -> None:
    from lime import lime_image

    det, img, seed = default_detector, IMAGES[1], 5
    opts = get_explainer("lime", det).defaults
    ours = get_explainer("lime", det).explain_arrays(img[None], target=1, seed=seed, num_samples=128)[0]
    seg = superpixels(img, int(opts["n_segments"]), float(opts["compactness"]))[0]

    def classifier(batch: np.ndarray) -> np.ndarray:  # calibrated class probabilities, one image at a time
        with torch.no_grad():
            return np.concatenate([torch.softmax(det.model(det.to_tensor(np.ascontiguousarray(b[None], np.uint8)))
                                                 / det.temperature, 1).numpy() for b in batch])

    plain = lime_image.LimeImageExplainer(kernel_width=float(opts["kernel_width"]), feature_selection="none",
                                          random_state=seed)
    exp = plain.explain_instance(img, classifier, labels=(1,), hide_color=opts["hide_color"], top_labels=None,
                                 num_features=int(seg.max()) + 1, num_samples=128, batch_size=10,
                                 segmentation_fn=lambda _i: seg, random_seed=seed)
    weights = np.zeros(int(seg.max()) + 1, np.float32)
    for s, w in exp.local_exp[1]:
        weights[s] = w
    np.testing.assert_allclose(ours.map, weights[seg], atol=1e-4 * float(np.abs(weights).max()) + 1e-7)


def test_our_imputer_equals_pytorch_grad_cam_noisy_linear_imputer(default_detector) -> None:
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer

    x = default_detector.to_tensor(IMAGES[0][None])[0]
    rng = np.random.default_rng(0)
    for keep_share in (0.1, 0.5, 0.9):
        mask = torch.from_numpy((rng.random((32, 32)) < keep_share).astype(np.float32))
        torch.manual_seed(3)
        theirs = NoisyLinearImputer(noise=0.01)(x, mask)
        torch.manual_seed(3)
        ours = FastNoisyLinearImputer(0.01)(x, mask)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
        assert torch.equal(ours[:, mask.bool()], x[:, mask.bool()])  # kept pixels untouched


def test_road_matches_pytorch_grad_cam_road_metric(default_detector) -> None:
    """Our figure = the library's averaged ROAD score change + the unperturbed score (same ranked
    map, same torch seed, the library's own imputer); tolerance 1e-5 in probability."""
    from pytorch_grad_cam.metrics.road import (
        ROADLeastRelevantFirstAverage,
        ROADMostRelevantFirstAverage,
    )
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    det, img, target, seed = default_detector, IMAGES[2], 1, 4
    maps = {"gradcam": get_explainer("gradcam", det).explain_arrays(img[None], target=target)[0].map,
            "noise": np.random.default_rng(1).random((32, 32)).astype(np.float32)}
    ours = road(det, img, maps, target, seed=seed)
    proba = CountingForward(det.model, det.temperature, "proba")
    x = det.to_tensor(img[None])
    with torch.no_grad():
        p0 = float(proba(x)[0, target])
    for name, m in maps.items():
        cam = rank_map(m, stream(seed, f"ties:{name}"))[None]
        for order, cls in (("morf", ROADMostRelevantFirstAverage), ("lerf", ROADLeastRelevantFirstAverage)):
            torch.manual_seed(torch_seed(seed, f"road-{order}:{name}"))
            diff = cls()(x, cam, [ClassifierOutputTarget(target)], proba)
            assert ours[name][order] == pytest.approx(p0 + float(diff[0]), abs=1e-5)
    assert ours["gradcam"]["morf"] < ours["gradcam"]["lerf"]  # removing the map's top pixels hurts more


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (47, 60), (1, 1), (250, 500)])
def test_wilson_interval_matches_scipy_and_statsmodels(k: int, n: int) -> None:
    from scipy.stats import binomtest
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = wilson_interval(k, n)
    ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert (lo, hi) == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert (lo, hi) == pytest.approx(proportion_confint(k, n, 0.05, method="wilson"), abs=1e-9)
    r = rate([True] * k + [False] * (n - k) + [None])
    assert r["n"] == n and r["k"] == k and r["ci95"] == [lo, hi]


def test_holm_matches_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(0)
    for p in ([0.01, 0.04, 0.03, 0.2], rng.random(12) ** 3, [0.5], [0.001, 0.001, 0.9]):
        np.testing.assert_allclose(holm(list(p)), multipletests(p, method="holm")[1], atol=1e-12)
