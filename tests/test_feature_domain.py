"""Feature-space domain check: fitted at training end, keeps validation in, flags far inputs."""

from __future__ import annotations

import numpy as np

from synthcheck.checkpoint import load_checkpoint
from synthcheck.config import TrainConfig
from synthcheck.inference import Detector
from synthcheck.onnx_fast import OnnxDetector, export_onnx
from synthcheck.results import records_for
from synthcheck.train import fit
from tests.conftest import make_dataset


def test_domain_fitted_at_training_end_and_used_by_both_backends(tmp_path):
    data = make_dataset(tmp_path / "d", n_per_class=40, splits=("train",))
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "run"), model="synthcnn_small", epochs=2,
                      batch_size=16, val_fraction=0.25, progress=False, patience=0, eval_test=False)
    path = fit(cfg)["checkpoint"]
    dom = load_checkpoint(path)["feature_domain"]
    assert dom["method"] == "mahalanobis" and dom["val_kept"] >= 0.99 and dom["threshold"] > 0
    det = Detector.from_checkpoint(path)
    rng = np.random.default_rng(0)
    inside = np.asarray(load_image_arr(data / "train" / "REAL" / "0.png"))
    far = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)  # white noise: nothing like the toy data
    v_in, v_far = det.predict([inside, far])
    assert v_in.feature_distance <= det.feature_threshold < v_far.feature_distance
    rec = records_for(det, [far], ["noise"])[0]
    assert rec["in_domain"] is False and rec["band"] == "out_of_domain"
    assert any("internal features" in r for r in rec["domain_reasons"])
    export_onnx(path)
    fast = OnnxDetector.for_checkpoint(path)
    d_fast = [v.feature_distance for v in fast.predict([inside, far])]
    assert np.allclose(d_fast, [v_in.feature_distance, v_far.feature_distance], rtol=1e-3)


def load_image_arr(path):
    from PIL import Image

    return Image.open(path).convert("RGB")


def test_shipped_model_has_a_domain_that_keeps_cifake_in(default_detector):
    dom = default_detector.feature_domain
    assert dom is not None and dom["val_kept"] >= 0.99
    assert default_detector.meta["metrics"]["test"]["in_domain_share"] >= 0.99
