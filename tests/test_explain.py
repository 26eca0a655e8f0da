"""The explanation engine: one interface, every method, determinism, hygiene, visuals."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from synthcheck.explain import (
    ExplainReport,
    Explanation,
    canonical_method,
    explain,
    explain_all,
    explain_batch,
    get_explainer,
    list_methods,
)
from synthcheck.explain.visual import (
    overlay,
    side_by_side_figure,
    side_by_side_png,
    upscale_nearest,
)


@pytest.fixture(scope="module")
def tiny_detector():
    """An untrained synthcnn_small Detector (fast, fixed weights); own fixture, no conftest coupling."""
    from synthcheck.checkpoint import build_checkpoint
    from synthcheck.inference import Detector
    from synthcheck.models import create_model

    torch.manual_seed(0)
    model = create_model("synthcnn_small")
    return Detector(model, build_checkpoint(model))


METHODS = ["gradcam", "guided_gradcam", "gradient_shap", "kernel_shap", "lime", "integrated_gradients",
           "occlusion", "smoothgrad", "gradcam_plus_plus", "score_cam"]
RANDOM_METHODS = ["gradient_shap", "kernel_shap", "lime", "smoothgrad"]
FAST = {"gradient_shap": {"n_samples": 8}, "kernel_shap": {"n_samples": 64}, "lime": {"num_samples": 64},
        "integrated_gradients": {"n_steps": 4}, "occlusion": {"stride": 4}, "smoothgrad": {"nt_samples": 4}}


def textured(seed: int = 0, size: int = 32) -> np.ndarray:
    """A smooth colour gradient plus noise and a bright square: something to attribute."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.stack([x, y, (x + y) / 2], axis=2) * 180 + 30 + rng.normal(0, 12, (size, size, 3))
    img[4:12, 18:28] = 240
    return np.clip(img, 0, 255).astype(np.uint8)


INPUTS = {
    "rgb": lambda: textured(1),
    "rgb_large": lambda: np.asarray(Image.fromarray(textured(2)).resize((97, 64))),
    "grayscale": lambda: Image.fromarray(textured(3)[..., 0], "L"),
    "flat": lambda: np.full((32, 32, 3), 128, np.uint8),
}


def test_registry_and_aliases(tiny_detector) -> None:
    assert list_methods() == METHODS
    assert canonical_method("shap") == "gradient_shap"
    assert canonical_method("Kernel-SHAP".replace("SHAP", "shap")) == "kernel_shap"
    assert canonical_method("IG") == "integrated_gradients" and canonical_method("gradcam++") == "gradcam_plus_plus"
    assert {m for m in METHODS if get_explainer(m, tiny_detector).stochastic} == set(RANDOM_METHODS)
    with pytest.raises(ValueError, match="unknown explanation method"):
        canonical_method("xrai")
    assert get_explainer("shap", tiny_detector).name == "gradient_shap"


@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize("method", METHODS)
def test_map_shape_and_finite(tiny_detector, method: str, kind: str) -> None:
    exp = explain(tiny_detector, INPUTS[kind](), method, target="FAKE", seed=0, **FAST.get(method, {}))
    assert isinstance(exp, Explanation)
    assert exp.map.shape == (32, 32) and exp.map.dtype == np.float32
    assert np.isfinite(exp.map).all()
    assert exp.method == method and (exp.target, exp.target_index) == ("FAKE", 1)  # as asked
    assert 0.0 <= exp.p_target <= 1.0 and exp.model_evals >= 1 and exp.seconds > 0
    d = exp.to_dict()
    assert "map" not in d and d["map_shape"] == [32, 32]
    json.dumps(d)
    if not exp.signed:
        assert exp.map.min() >= 0


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_map(tiny_detector, method: str) -> None:
    img = textured(4)
    a = explain(tiny_detector, img, method, target="FAKE", seed=7, **FAST.get(method, {}))
    b = explain(tiny_detector, img, method, target="FAKE", seed=7, **FAST.get(method, {}))
    np.testing.assert_array_equal(a.map, b.map)


@pytest.mark.parametrize("method", RANDOM_METHODS)
def test_other_seed_other_map(tiny_detector, method: str) -> None:
    img = textured(5)
    a = explain(tiny_detector, img, method, target="FAKE", seed=1, **FAST[method])
    b = explain(tiny_detector, img, method, target="FAKE", seed=2, **FAST[method])
    assert not np.array_equal(a.map, b.map)


def test_global_rng_and_model_state_untouched(tiny_detector) -> None:
    model = tiny_detector.model
    grads = [p.requires_grad for p in model.parameters()]
    np.random.seed(123)
    torch.manual_seed(123)
    expected_np, expected_torch = np.random.rand(), torch.rand(1).item()
    np.random.seed(123)
    torch.manual_seed(123)
    for method in METHODS:
        explain(tiny_detector, textured(6), method, target="FAKE", seed=99, **FAST.get(method, {}))
    assert np.random.rand() == expected_np and torch.rand(1).item() == expected_torch
    assert [p.requires_grad for p in model.parameters()] == grads
    assert not model.training
    for m in model.modules():  # every captum hook was removed
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
        assert not getattr(m, "_backward_pre_hooks", {})


def test_inside_inference_mode(tiny_detector) -> None:
    with torch.inference_mode():
        exp = explain(tiny_detector, textured(7), "gradcam", target="FAKE")
    assert np.isfinite(exp.map).all()


def test_targets(tiny_detector) -> None:
    img = textured(8)
    fake = explain(tiny_detector, img, "gradcam", target="FAKE")
    real = explain(tiny_detector, img, "gradcam", target="real")
    assert (fake.target, real.target) == ("FAKE", "REAL")
    assert fake.p_target + real.p_target == pytest.approx(1.0, abs=1e-5)
    assert not np.allclose(fake.map, real.map)  # a different class gives a different map
    for bad in ("maybe", "predicted", 2, True):  # the explainer never picks a class itself
        with pytest.raises(ValueError, match="target"):
            explain(tiny_detector, img, "gradcam", target=bad)
    with pytest.raises(TypeError):
        explain(tiny_detector, img, "gradcam")  # no default target
    with pytest.raises(ValueError, match="seed"):
        explain(tiny_detector, img, "gradcam", target="FAKE", seed=-1)
    with pytest.raises(ValueError, match="unknown option"):
        explain(tiny_detector, img, "gradcam", target="FAKE", n_samples=3)


@pytest.mark.parametrize("method", ["lime", "kernel_shap"])
def test_single_superpixel_gives_zero_map_and_note(tiny_detector, method: str) -> None:
    exp = explain(tiny_detector, np.full((32, 32, 3), 90, np.uint8), method, target="FAKE", n_segments=1)
    assert not exp.map.any()
    assert "single superpixel" in " ".join(exp.params["notes"])


def test_batch_matches_single(tiny_detector) -> None:
    imgs = [textured(s) for s in (10, 11, 12)]
    batch = explain_batch(tiny_detector, imgs, "gradcam", target=["FAKE", "REAL", 1])
    assert [e.target for e in batch] == ["FAKE", "REAL", "FAKE"]
    for img, e in zip(imgs, batch, strict=True):
        single = explain(tiny_detector, img, "gradcam", target=e.target)
        np.testing.assert_allclose(single.map, e.map, rtol=1e-4, atol=1e-6)
    lime = explain_batch(tiny_detector, imgs[:2], "lime", target="FAKE", seed=3, num_samples=64)
    np.testing.assert_array_equal(lime[1].map, explain(tiny_detector, imgs[1], "lime", target="FAKE", seed=3, num_samples=64).map)


@pytest.mark.parametrize("method", ["integrated_gradients", "occlusion", "gradcam_plus_plus", "score_cam"])
def test_new_methods_batch_matches_single(tiny_detector, method: str) -> None:
    imgs = [textured(s) for s in (20, 21)]
    batch = explain_batch(tiny_detector, imgs, method, target=["FAKE", "REAL"], **FAST.get(method, {}))
    for img, e in zip(imgs, batch, strict=True):
        single = explain(tiny_detector, img, method, target=e.target, **FAST.get(method, {}))
        np.testing.assert_allclose(single.map, e.map, rtol=1e-3, atol=1e-5)
    assert batch[0].params == {**get_explainer(method, tiny_detector).defaults, **FAST.get(method, {}),
                               **{k: v for k, v in batch[0].params.items()
                                  if k not in get_explainer(method, tiny_detector).defaults}}


def test_threads_share_the_model(tiny_detector) -> None:
    img = textured(13)
    expected = explain(tiny_detector, img, "gradient_shap", target="FAKE", seed=1, n_samples=8).map
    results: list[np.ndarray] = []

    def work() -> None:
        for _ in range(3):
            results.append(explain(tiny_detector, img, "gradient_shap", target="FAKE", seed=1, n_samples=8).map)
            explain(tiny_detector, img, "guided_gradcam", target="FAKE")

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 9
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_explain_all_report(tiny_detector) -> None:
    rep = explain_all(tiny_detector, textured(14), ("gradcam", "shap", "lime"), target="REAL", seed=0,
                      options={"shap": FAST["gradient_shap"], "lime": FAST["lime"]})
    assert isinstance(rep, ExplainReport)
    assert list(rep.explanations) == ["gradcam", "gradient_shap", "lime"]
    assert rep.image.shape == (32, 32, 3) and rep.image.dtype == np.uint8
    assert not hasattr(rep, "verdict") and 0.0 <= rep.scores.p_fake <= 1.0  # scores, no verdict
    assert rep.target == "REAL" and {e.target for e in rep.explanations.values()} == {"REAL"}
    assert "verdict" not in rep.to_dict()
    for name in rep.explanations:
        f = rep.faithfulness[name]
        for key in ("deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc"):
            assert 0.0 <= f[key] <= 1.0
    assert set(rep.agreement["spearman"]["gradcam"]) == {"gradient_shap", "lime"}
    assert rep.agreement["topk_iou"]["lime"]["gradcam"] == rep.agreement["topk_iou"]["gradcam"]["lime"]
    d = rep.to_dict()
    json.dumps(d)
    assert "deletion_curve" not in d["faithfulness"]["gradcam"]
    assert "deletion_curve" in rep.to_dict(curves=True)["faithfulness"]["gradcam"]
    plain = explain_all(tiny_detector, textured(14), ("gradcam",), target="FAKE", with_metrics=False)
    assert plain.faithfulness == {} and plain.agreement == {}


def test_overlay_upscales_with_nearest_neighbour() -> None:
    img = textured(15)
    m = np.zeros((32, 32), np.float32)
    m[:16, :16] = 1.0
    out = overlay(img, m, alpha=0.5)
    assert out.shape == (256, 256, 3) and out.dtype == np.uint8
    assert (out[:8, :8] == out[0, 0]).all()  # one source pixel = one crisp 8 x 8 block
    assert not np.array_equal(out[0, 0], upscale_nearest(img, 8)[0, 0])
    assert overlay(img, m, upscale=1).shape == (32, 32, 3)
    np.testing.assert_array_equal(overlay(img, m, alpha=0.0, upscale=1), img)
    signed = overlay(img, m - 0.5, cmap="bwr", upscale=2)
    assert signed.shape == (64, 64, 3)
    assert overlay(img, np.zeros((32, 32)), upscale=1).shape == (32, 32, 3)  # constant map
    big = np.asarray(Image.fromarray(img).resize((300, 300)))
    assert overlay(big, m).shape == (300, 300, 3)  # map resized to the image, no upscaling
    with pytest.raises(ValueError):
        overlay(img, m, alpha=2.0)


def test_side_by_side_outputs(tiny_detector, tmp_path) -> None:
    rep = explain_all(tiny_detector, textured(16), ("gradcam", "lime"), target="FAKE",
                      options={"lime": FAST["lime"]})
    path = tmp_path / "sbs.png"
    data = side_by_side_png(rep.image, rep, path)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and path.read_bytes() == data
    with Image.open(path) as im:
        assert im.width > im.height
    assert side_by_side_png(rep.image, list(rep.explanations.values()))[:4] == b"\x89PNG"
    fig = side_by_side_figure(rep.image, rep.explanations)
    assert len(fig.data) == 3


def test_superpixels_for_small_noisy_and_flat_images() -> None:
    from synthcheck.explain.base import superpixels

    seg, kind = superpixels(textured(17))
    assert kind == "slic" and 10 <= seg.max() + 1 <= 36 and seg.min() == 0
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    seg, kind = superpixels(noise)  # SLIC merges pure noise into one region: grid fallback
    assert kind in ("slic", "grid") and seg.max() + 1 >= 6
    seg, _ = superpixels(np.full((32, 32, 3), 7, np.uint8))
    assert seg.max() + 1 >= 2
    seg, kind = superpixels(textured(17), n_segments=1)
    assert kind == "single" and seg.max() == 0
