"""The one wording of the trust metrics (synthcheck.explain.metrics.verdicts) and colour bars."""

from __future__ import annotations

import numpy as np
import pytest

from synthcheck.explain import visual
from synthcheck.explain.metrics.verdicts import (
    CALLS,
    UNTRUSTED,
    agreement_sentence,
    faithfulness_call,
    faithfulness_sentence,
    random_iou,
)


def faith(d: float, rd: float, i: float, ri: float) -> dict[str, float]:
    return {"deletion_auc": d, "random_deletion_auc": rd, "insertion_auc": i, "random_insertion_auc": ri}


@pytest.mark.parametrize(("f", "call"), [
    (faith(0.20, 0.50, 0.80, 0.55), "beats_random"),
    (faith(0.50, 0.50, 0.80, 0.55), "partial"),  # level on one, better on the other
    (faith(0.495, 0.50, 0.80, 0.55), "partial"),  # better on deletion by less than the margin
    (faith(0.70, 0.50, 0.40, 0.55), "worse_than_random"),
    (faith(0.70, 0.50, 0.55, 0.55), "worse_than_random"),
    (faith(0.505, 0.50, 0.553, 0.55), "level"),
    (faith(1.00, 0.96, 0.99, 0.94), "mixed"),  # a confident fake: deletion loses, insertion wins
    ({}, None), (None, None),
])
def test_faithfulness_call(f, call) -> None:
    assert faithfulness_call(f) == call


def test_sentences_say_beats_or_worse_and_by_how_much() -> None:
    good = faithfulness_sentence("gradient_shap", faith(0.08, 0.66, 0.97, 0.81))
    assert good.startswith("gradient_shap beats random: ")
    assert "deletion AUC 0.08 vs 0.66 for random, 0.58 lower" in good
    assert "insertion AUC 0.97 vs 0.81 for random, 0.16 higher" in good
    bad = faithfulness_sentence("lime", faith(0.77, 0.66, 0.78, 0.81))
    assert bad.startswith(f"lime is worse than random: {UNTRUSTED}.")
    assert UNTRUSTED == "this map should not be trusted for this image"
    assert "0.11 higher" in bad and "0.03 lower" in bad
    mixed = faithfulness_sentence("gradcam", faith(1.00, 0.96, 0.99, 0.94))
    assert "worse than random on deletion" in mixed and "should not be trusted" in mixed
    assert "no better than random" in faithfulness_sentence("x", faith(0.5, 0.5, 0.5, 0.5))
    assert "not computed" in faithfulness_sentence("x", None)
    assert set(CALLS) == {"beats_random", "partial", "level", "mixed", "worse_than_random"}
    partial = faithfulness_sentence("guided_gradcam", faith(0.50, 0.50, 0.80, 0.55))
    assert partial.startswith("guided_gradcam beats random on insertion only")
    assert "no faster than a random order" in partial


def test_beats_random_never_says_no_faster_than_random() -> None:
    """'beats random' needs the margin on both tests, so its sentence cannot contradict itself."""
    rng = np.random.default_rng(0)
    for _ in range(2000):
        d, rd, i, ri = rng.uniform(0, 1, 4).round(3)
        s = faithfulness_sentence("m", faith(d, rd, i, ri))
        if s.startswith("m beats random:"):
            assert "no faster" not in s and "more slowly" not in s, s


def test_map_trust_is_the_one_call_and_sentence() -> None:
    from synthcheck.explain.metrics.verdicts import map_trust

    f = faith(0.70, 0.50, 0.40, 0.55)
    t = map_trust("Grad-CAM", f)
    assert t["call"] == "worse_than_random" and t["colour"] == "red"
    assert t["sentence"] == faithfulness_sentence("Grad-CAM", f) and UNTRUSTED in t["sentence"]
    assert map_trust("Grad-CAM", None)["call"] is None


def test_agreement_sentence_explains_the_figures() -> None:
    agree = {"spearman": {"a": {"b": 0.01, "c": 0.08}, "b": {"a": 0.01, "c": None},
                          "c": {"a": 0.08, "b": None}},
             "topk_iou": {"a": {"b": 0.02, "c": 0.10}, "b": {"a": 0.02, "c": 0.05},
                          "c": {"a": 0.10, "b": 0.05}}, "k": 0.1}
    s = agreement_sentence(agree)
    assert "The methods agree at 0.01-0.08" in s and "they point at different pixels" in s
    assert "rank" in s and "top 10% pixels overlap at IoU 0.02-0.10" in s
    assert f"about {random_iou(0.1):.2f}" in s and random_iou(0.1) == pytest.approx(0.1 / 1.9)
    agree["spearman"] = {"a": {"b": 0.9}, "b": {"a": 0.9}}
    assert "largely the same pixels" in agreement_sentence(agree)
    agree["spearman"] = {"a": {"b": -0.4, "c": 0.5}, "b": {"a": -0.4}, "c": {"a": 0.5}}
    assert "agree at -0.40 to 0.50" in agreement_sentence(agree)
    assert agreement_sentence({}) == "Agreement needs at least two methods."


def test_colour_bar_matches_the_overlay_limits() -> None:
    signed = np.array([[-2.0, 0.0], [1.0, 0.5]])
    bar = visual.colour_bar(signed, signed=True, width=240, target="FAKE")
    assert bar.dtype == np.uint8 and bar.shape[1] == 240 and bar.shape[2] == 3
    assert visual.colour_bar_label(-2.0, "FAKE") == "blue: against FAKE · red: for FAKE"
    assert visual.colour_bar_label(0.0, "REAL") == "0: none · red: strongest for REAL"
    row = bar.shape[0] // 4  # the bar sits in the top half; the label below it
    mid = bar[row, 120]  # the bar's centre is white (0)
    assert mid.min() > 200
    unsigned = visual.colour_bar(np.array([[0.0, 1.0]]), signed=False, width=240)
    left = unsigned[row, 25]
    assert left[2] > left[0]  # jet starts blue at 0


def _with_random(d_lo: float, i_lo: float, seed: int = 0) -> dict:
    """Figures as evaluate_faithfulness gives them: log-odds AUCs and 20 random maps' own."""
    rng = np.random.default_rng(seed)
    return {**faith(0.5, 0.5, 0.5, 0.5), "deletion_auc_logit": d_lo, "insertion_auc_logit": i_lo,
            "random_deletion_aucs_logit": list(2.0 + rng.normal(0, 0.5, 20)),
            "random_insertion_aucs_logit": list(4.0 + rng.normal(0, 0.5, 20))}


def test_the_per_image_call_is_the_benchs_percentile_rule() -> None:
    """With K random maps, 'beats random' means beating 95% of them on both tests (the
    explain-eval rule), not beating their mean: one lucky random map no longer decides."""
    from synthcheck.explain.metrics.random_baseline import beats_random

    for d, i in [(0.5, 6.0), (1.9, 4.1), (2.0, 6.0), (0.5, 4.0), (3.5, 2.5), (0.5, 2.5)]:
        f = _with_random(d, i)
        rule = beats_random(d, i, f["random_deletion_aucs_logit"], f["random_insertion_aucs_logit"])
        assert (faithfulness_call(f) == "beats_random") == rule, (d, i)
    assert faithfulness_call(_with_random(1.9, 4.1)) == "level"  # better than the mean, not than 95%
    assert faithfulness_call(_with_random(0.5, 4.0)) == "partial"
    assert faithfulness_call(_with_random(3.5, 2.5)) == "worse_than_random"
    assert faithfulness_call(_with_random(0.5, 2.5)) == "mixed"
    s = faithfulness_sentence("gradcam", _with_random(0.5, 6.0))
    assert s.startswith("gradcam beats random: ") and "log-odds" in s and "90% of 20 random orders" in s
