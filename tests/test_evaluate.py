"""Metrics on a known confusion matrix, ECE, and temperature scaling."""

from __future__ import annotations

import numpy as np
import pytest

from synthcheck.evaluation.metrics import (
    compute_metrics,
    expected_calibration_error,
    fit_temperature,
)


def test_metrics_on_known_confusion_matrix():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.7, 0.6, 0.95, 0.4, 0.2])
    m = compute_metrics(y, p)
    assert m["confusion_matrix"] == [[3, 1], [2, 4]]  # rows true REAL/FAKE, cols predicted
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["precision"] == pytest.approx(4 / 5)
    assert m["recall"] == pytest.approx(4 / 6)
    assert m["f1"] == pytest.approx(2 * 0.8 * (4 / 6) / (0.8 + 4 / 6))
    assert m["per_class"]["REAL"]["recall"] == pytest.approx(3 / 4)
    # ROC-AUC = share of (FAKE, REAL) pairs ranked correctly, ties count half
    pos, neg = p[y == 1], p[y == 0]
    pairs = [(a > b) + 0.5 * (a == b) for a in pos for b in neg]
    assert m["roc_auc"] == pytest.approx(np.mean(pairs))
    assert m["n_images"] == 10


def test_threshold_moves_the_verdicts():
    y = np.array([0, 1])
    p = np.array([0.3, 0.6])
    assert compute_metrics(y, p, 0.5)["accuracy"] == 1.0
    assert compute_metrics(y, p, 0.7)["accuracy"] == 0.5


def test_ece_perfect_and_overconfident():
    y = np.array([0, 1] * 500)
    assert expected_calibration_error(y, y.astype(float)) == pytest.approx(0.0, abs=1e-6)
    rng = np.random.default_rng(0)
    noisy = np.where(rng.random(1000) < 0.3, 1 - y, y)  # 70% right, but 99% sure
    assert expected_calibration_error(noisy, np.where(y == 1, 0.99, 0.01)) == pytest.approx(0.29, abs=0.03)


def test_temperature_above_one_for_an_overconfident_model():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    correct = rng.random(2000) < 0.8
    pred = np.where(correct, labels, 1 - labels)
    logits = np.zeros((2000, 2))
    logits[np.arange(2000), pred] = 8.0  # ~99.97% confident, right 80% of the time
    t = fit_temperature(logits, labels)
    assert t > 1.5
    well = np.zeros((2000, 2))
    well[np.arange(2000), pred] = np.log(0.8 / 0.2)  # already calibrated
    assert fit_temperature(well, labels) == pytest.approx(1.0, abs=0.15)
