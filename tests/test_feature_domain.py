"""Domain check fitted on training data: kNN features + JPEG trace, keeps validation in,
flags far inputs, and gives the same answers through torch and ONNX Runtime."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from synthcheck.analysis import records
from synthcheck.checkpoint import load_checkpoint
from synthcheck.config import TrainConfig
from synthcheck.domain.features import joint_thresholds
from synthcheck.inference import Detector
from synthcheck.inference.onnx_backend import (
    OnnxDetector,
    decode_domain,
    encode_domain,
    export_onnx,
)
from synthcheck.train import fit
from tests.conftest import make_dataset


def _train(tmp_path, fmt: str) -> str:
    data = make_dataset(tmp_path / "d", n_per_class=40, splits=("train",), fmt=fmt)
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "run"), model="synthcnn_small", epochs=2,
                      batch_size=16, val_fraction=0.25, progress=False, patience=0, eval_test=False)
    return fit(cfg)["checkpoint"]


def _jpeg(arr: np.ndarray, quality: int = 75) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def test_png_training_data_fits_features_only_and_flags_noise(tmp_path):
    path = _train(tmp_path, "PNG")
    dom = load_checkpoint(path)["feature_domain"]
    assert dom["method"] == "knn" and dom["layer"] == "stages.2.1"  # the Grad-CAM layer
    assert dom["val_kept"] >= 0.99 and dom["threshold"] > 0 and dom["bank"].shape[0] == 60
    assert "jpeg" not in dom  # PNG training files carry no JPEG trace to test for
    det = Detector.from_checkpoint(path)
    inside = np.asarray(Image.open(tmp_path / "d" / "train" / "REAL" / "0.png").convert("RGB"))
    far = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)  # nothing like the toy data
    v_in, v_far = det.predict([inside, far])
    assert v_in.feature_distance <= det.domain_model.feature_threshold < v_far.feature_distance
    assert v_in.jpeg_residual is None
    rec = records([far], det, names=["noise"])[0]
    assert rec["in_domain"] is False and rec["band"] == "out_of_domain"
    assert any("internal features" in r for r in rec["domain_reasons"])


def test_jpeg_training_data_adds_the_trace_check_in_both_backends(tmp_path):
    path = _train(tmp_path, "JPEG")
    dom = load_checkpoint(path)["feature_domain"]
    assert dom["jpeg"]["quality"] == 75 and dom["jpeg"]["share"] == 1.0 and len(dom["jpeg"]["luma_table"]) == 64
    assert dom["val_kept"] >= 0.99
    det = Detector.from_checkpoint(path)
    inside = np.asarray(Image.open(tmp_path / "d" / "train" / "FAKE" / "3.jpeg").convert("RGB"))
    shifted = _jpeg(np.roll(inside, 3, axis=(0, 1)), 75)  # re-saved on a shifted grid ...
    shifted = np.roll(shifted, -3, axis=(0, 1))  # ... and moved back: same content, trace gone
    v_in, v_shift = det.predict([inside, shifted])
    assert v_in.jpeg_residual <= dom["jpeg"]["threshold"] < v_shift.jpeg_residual
    rec_in, rec_shift = records([inside, shifted], det, names=["in", "shifted"])
    assert not any("JPEG" in r for r in rec_in["domain_reasons"])
    assert rec_shift["in_domain"] is False
    assert any("JPEG quality 75" in r and "grid residual" in r for r in rec_shift["domain_reasons"])

    export_onnx(path)
    fast = OnnxDetector.for_checkpoint(path)
    assert fast.feature_domain["bank"].dtype == np.float16
    f_in, f_shift = fast.predict([inside, shifted])
    assert np.allclose([f_in.feature_distance, f_shift.feature_distance],
                       [v_in.feature_distance, v_shift.feature_distance], atol=2e-3)
    assert np.allclose([f_in.jpeg_residual, f_shift.jpeg_residual], [v_in.jpeg_residual, v_shift.jpeg_residual])
    assert [r["in_domain"] for r in records([inside, shifted], fast)] == [True, False]


def test_domain_survives_the_json_round_trip_into_onnx_metadata():
    import torch

    bank = torch.tensor(np.random.default_rng(1).random((7, 5)), dtype=torch.float16)
    dom = {"method": "knn", "bank": bank, "k": 3, "threshold": 0.1, "jpeg": {"luma_table": [8] * 64}}
    import json

    back = decode_domain(json.loads(json.dumps(encode_domain(dom))))
    assert np.array_equal(back["bank"], bank.numpy()) and back["k"] == 3 and back["jpeg"] == dom["jpeg"]


def test_joint_thresholds_keep_the_share_asked_for_and_no_more_than_needed():
    rng = np.random.default_rng(0)
    a, b = rng.random(5000), rng.random(5000)  # independent scores: each test must be looser
    (ta, tb), kept = joint_thresholds([a, b], 0.99)
    assert kept >= 0.99 and kept < 0.993
    assert ((a <= ta) & (b <= tb)).mean() == kept
    assert ta > np.quantile(a, 0.99) and tb > np.quantile(b, 0.99)
    (t1,), k1 = joint_thresholds([a], 0.99)
    assert 0.99 <= k1 < 0.9905


def test_shipped_model_has_a_domain_that_keeps_cifake_in(default_detector):
    dom = default_detector.feature_domain
    assert dom is not None and dom["val_kept"] >= 0.99 and dom["method"] == "knn"
    assert dom["jpeg"]["quality"] == 75  # every CIFAKE file is a quality-75 JPEG
    assert default_detector.meta["metrics"]["test"]["in_domain_share"] >= 0.99


def test_models_trained_on_resized_or_recompressed_copies_get_no_trace_test():
    from synthcheck.domain.features import trained_without_trace

    assert not trained_without_trace({})
    assert not trained_without_trace({"aug_resize_p": 0.0, "aug_jpeg_p": 0, "adv_train": "none"})
    assert trained_without_trace({"aug_resize_p": 0.35})
    assert trained_without_trace({"aug_jpeg_p": 0.3})
    assert trained_without_trace({"adv_train": "fgsm"})


def test_fit_records_the_training_greyscale_shares(tmp_path):
    dom = load_checkpoint(_train(tmp_path, "PNG"))["feature_domain"]
    grey = dom["greyscale"]
    assert len(grey["share"]) == 2 and all(0.0 <= s <= 1.0 for s in grey["share"]) and grey["n_fit"] == 60
    assert decode_domain(json.loads(json.dumps(encode_domain(dom))))["greyscale"] == grey
