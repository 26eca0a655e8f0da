"""Greyscale bias: fitted shares, the advisory sentence, and its path into every record."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from synthcheck.analysis import records
from synthcheck.domain.greyscale import (
    GREY_MAX_CHROMA,
    fit_greyscale_bias,
    greyscale_advisory,
    mean_chroma,
)
from synthcheck.domain.inputs import colour_stats
from synthcheck.imageio import load_image

BIAS = {"max_chroma": GREY_MAX_CHROMA, "share": [0.017, 0.132], "n_fit": 90000}  # CIFAKE's train split


def _photo(seed: int = 0, grey: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return np.repeat(a[..., :1], 3, axis=2) if grey else a


def test_mean_chroma_is_zero_for_grey_and_the_channel_spread_otherwise():
    grey = _photo(grey=True)
    tinted = np.zeros((32, 32, 3), np.uint8) + np.array([10, 20, 30], np.uint8)
    assert mean_chroma(np.stack([grey, tinted])).tolist() == [0.0, 20.0]
    assert mean_chroma(np.stack([grey] * 9), chunk=4).shape == (9,)  # chunks cover every image
    assert colour_stats(Image.fromarray(tinted))[2] == 20.0


def test_fit_counts_each_class_share_of_greyscale_images():
    images = np.stack([_photo(i, grey=i < 3) for i in range(10)])  # 3 grey, all in class 1
    labels = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    bias = fit_greyscale_bias(images, labels)
    assert bias["share"] == [0.0, 0.6] and bias["n_fit"] == 10


def test_advisory_names_the_class_the_model_leans_to_and_only_for_grey_inputs():
    note = greyscale_advisory(0.0, BIAS, ["REAL", "FAKE"])
    assert note is not None and "13.2% of the synthetic images" in note and "1.7% of the real photos" in note
    assert "'synthetic'" in note
    flipped = greyscale_advisory(1.0, {**BIAS, "share": [0.132, 0.017]}, ["REAL", "FAKE"])
    assert flipped is not None and "'real'" in flipped
    assert greyscale_advisory(40.0, BIAS, ["REAL", "FAKE"]) is None  # a colour photo
    assert greyscale_advisory(0.0, {**BIAS, "share": [0.10, 0.12]}, ["REAL", "FAKE"]) is None  # no real imbalance
    assert greyscale_advisory(0.0, {**BIAS, "share": [0.0, 0.005]}, ["REAL", "FAKE"]) is None  # too rare to learn
    assert greyscale_advisory(0.0, None, ["REAL", "FAKE"]) is None
    assert greyscale_advisory(None, BIAS, ["REAL", "FAKE"]) is None


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_shipped_model_notes_greyscale_inputs_without_calling_them_out_of_domain(default_detector, mode):
    bias = default_detector.domain_model.greyscale
    assert bias is not None and bias["share"][1] > 5 * bias["share"][0]  # CIFAKE: fakes far more often grey
    grey = Image.fromarray(_photo(1, grey=True)).convert(mode)
    colour = Image.fromarray(_photo(1))
    loaded = load_image(grey)
    v = default_detector.predict([loaded])[0]
    dom = default_detector.domain_model.judge(loaded, v.feature_distance, v.jpeg_residual)
    assert len(dom.advisories) == 1 and "greyscale" in dom.advisories[0]
    assert "greyscale" not in " ".join(dom.reasons)  # an advisory, never a domain reason
    assert json.loads(json.dumps(dom.to_dict()))["advisories"] == dom.advisories
    rec_grey, rec_colour = records([grey, colour], default_detector, names=["grey", "colour"])
    assert rec_grey["advisories"] == dom.advisories and rec_colour["advisories"] == []


def test_cli_text_prints_the_note_under_the_verdict(tmp_path, capsys):
    from synthcheck.cli import main

    path = tmp_path / "grey.png"
    Image.fromarray(_photo(2, grey=True)).save(path)
    assert main(["predict", str(path)]) == 0
    out = capsys.readouterr().out
    assert "note: The image is (nearly) greyscale." in out
