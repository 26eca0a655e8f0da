"""Metrics-page data: curves, calibration bins, confusion cells, scoring."""

import numpy as np

from synthcheck.checkpoint import build_checkpoint
from synthcheck.evaluation.curves import (
    confusion_cells,
    point_at_threshold,
    pr_points,
    reliability_bins,
    roc_points,
    score_arrays,
    stratified_subset,
)
from synthcheck.inference import Detector
from synthcheck.models import create_model

Y = np.array([0, 0, 0, 1, 1, 1])
P = np.array([0.1, 0.4, 0.7, 0.3, 0.8, 0.9])


def test_confusion_cells_partition() -> None:
    cells = confusion_cells(Y, P, 0.5)
    assert cells["TN"].tolist() == [0, 1] and cells["FP"].tolist() == [2]
    assert cells["FN"].tolist() == [3] and cells["TP"].tolist() == [4, 5]
    assert sum(len(v) for v in cells.values()) == len(Y)


def test_point_at_threshold() -> None:
    pt = point_at_threshold(Y, P, 0.5)
    assert pt["tpr"] == 2 / 3 and pt["fpr"] == 1 / 3 and pt["precision"] == 2 / 3


def test_curves_and_single_class() -> None:
    roc = roc_points(Y, P)
    assert roc["fpr"][0] == 0.0 and roc["tpr"][-1] == 1.0
    pr = pr_points(Y, P)
    assert len(pr["precision"]) == len(pr["recall"])
    assert roc_points(np.zeros(3), np.array([0.1, 0.2, 0.3])) is None


def test_reliability_bins() -> None:
    bins = reliability_bins(Y, P, 5)
    assert sum(b["count"] for b in bins) == len(Y)
    assert all(0 <= b["fraction_fake"] <= 1 for b in bins)
    top = [b for b in bins if b["lo"] == 0.8][0]
    assert top["count"] == 2 and top["fraction_fake"] == 1.0  # 0.8 and 0.9
    assert reliability_bins(np.array([1]), np.array([1.0]), 10)[0]["hi"] == 1.0


def test_stratified_subset() -> None:
    labels = np.array([0] * 80 + [1] * 20)
    idx = stratified_subset(labels, 10, seed=1)
    assert len(idx) == 10 and (labels[idx] == 1).sum() == 2
    assert (np.diff(idx) > 0).all()
    assert len(stratified_subset(labels, 0)) == 100


def test_score_arrays_matches_predict() -> None:
    m = create_model("synthcnn_small")
    det = Detector(m, build_checkpoint(m))
    imgs = np.random.default_rng(0).integers(0, 256, (5, det.input_size, det.input_size, 3), dtype=np.uint8)
    seen: list[float] = []
    p = score_arrays(det, imgs, batch_size=2, progress=seen.append)
    ref = [v.p_fake for v in det.predict_arrays(imgs)]
    assert np.allclose(p, ref, atol=1e-6)
    assert seen[-1] == 1.0
