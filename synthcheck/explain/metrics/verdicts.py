"""Plain words for the trust metrics: does a map beat random, and do the methods agree.

The one wording of the faithfulness and agreement figures, shared by the Explain page, the
``synthcheck explain`` CLI and anything else that shows them (one wording, many renderers).
A map "beats random" by the same per-image rule as the explain-eval bench: on both tests it
beats 95% of K seeded random maps (log-odds AUCs, which do not saturate on confident images).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .random_baseline import QUANTILE, random_bounds

MARGIN = 0.01  # AUC differences smaller than this count as level with random
CALLS = {
    "beats_random": "beats random",
    "partial": "better than random on one test only",
    "level": "no better than random",
    "mixed": "worse than random on one test",
    "worse_than_random": "worse than random",
}
CALL_COLOURS = {"beats_random": "green", "partial": "orange", "level": "orange", "mixed": "red",
                "worse_than_random": "red"}
UNTRUSTED = "this map should not be trusted for this image"


def gains(f: Mapping[str, Any]) -> tuple[float, float]:
    """(deletion gain, insertion gain) over the random maps' mean; positive means better."""
    return (float(f["random_deletion_auc"]) - float(f["deletion_auc"]),
            float(f["insertion_auc"]) - float(f["random_insertion_auc"]))


def _percentile_mode(f: Mapping[str, Any]) -> bool:
    return bool(f.get("random_deletion_aucs_logit")) and "deletion_auc_logit" in f


def judgements(f: Mapping[str, Any]) -> tuple[str, str]:
    """(deletion, insertion) each ``better``, ``worse`` or ``level`` than random.

    With the K random maps' own log-odds AUCs (what :func:`.faithfulness.faithfulness` gives for
    a detector), the bench's per-image rule (:mod:`.random_baseline`): better means beating 95%
    of the random maps on that test, worse means losing to 95% of them. Without them (figures
    from elsewhere), the map is compared with the random maps' mean, level within
    :data:`MARGIN`."""
    if _percentile_mode(f):
        rd, ri = f["random_deletion_aucs_logit"], f["random_insertion_aucs_logit"]
        d_good, i_good = random_bounds(rd, ri, QUANTILE)
        d_bad, i_bad = float(np.quantile(rd, QUANTILE)), float(np.quantile(ri, 1.0 - QUANTILE))
        d, i = float(f["deletion_auc_logit"]), float(f["insertion_auc_logit"])
        return ("better" if d < d_good else "worse" if d > d_bad else "level",
                "better" if i > i_good else "worse" if i < i_bad else "level")
    d_gain, i_gain = gains(f)
    return _judge(d_gain), _judge(i_gain)


def faithfulness_call(f: Mapping[str, Any] | None) -> str | None:
    """``beats_random``, ``partial``, ``level``, ``mixed`` or ``worse_than_random`` (None
    without figures), from :func:`judgements`.

    Beats random: better than random on BOTH deletion and insertion; partial: better on one and
    level on the other; worse than random: worse on one and not better on the other; mixed:
    better on one, worse on the other.
    """
    if not f or "deletion_auc" not in f:
        return None
    judged = judgements(f)
    if judged == ("better", "better"):
        return "beats_random"
    if "better" in judged:
        return "mixed" if "worse" in judged else "partial"
    return "worse_than_random" if "worse" in judged else "level"


CLAUSES = {
    ("deletion", "better"): "removing its top pixels first lowers the score faster than a random order",
    ("deletion", "worse"): "removing its top pixels first lowers the score more slowly than a random order",
    ("deletion", "level"): "removing its top pixels first lowers the score no faster than a random order",
    ("insertion", "better"): "restoring them first raises it faster than random",
    ("insertion", "worse"): "restoring them first raises it more slowly than random",
    ("insertion", "level"): "restoring them first raises it no faster than random",
}


def _judge(gain: float) -> str:
    return "better" if gain > MARGIN else "worse" if gain < -MARGIN else "level"


def _curve_clause(kind: str, f: Mapping[str, Any], judged: str) -> str:
    """One test's clause with its figures: against K random maps' spread (log-odds AUC) when
    they are there, else against their mean (probability AUC)."""
    if _percentile_mode(f):
        rand = np.asarray(f[f"random_{kind}_aucs_logit"], np.float64)
        lo, hi = np.quantile(rand, 1.0 - QUANTILE), np.quantile(rand, QUANTILE)
        return (f"{CLAUSES[kind, judged]} ({kind} AUC {float(f[f'{kind}_auc_logit']):.2f} in "
                f"log-odds; 90% of {rand.size} random orders give {lo:.2f} to {hi:.2f})")
    value, random = float(f[f"{kind}_auc"]), float(f[f"random_{kind}_auc"])
    direction = "lower" if value < random else "higher"
    return (f"{CLAUSES[kind, judged]} ({kind} AUC {value:.2f} vs {random:.2f} for random, "
            f"{abs(value - random):.2f} {direction})")


def faithfulness_sentence(method: str, f: Mapping[str, Any] | None) -> str:
    """One plain sentence: does ``method``'s map beat random maps on this image, by how much."""
    call = faithfulness_call(f)
    if call is None or f is None:
        return f"{method}: no faithfulness figures (metrics were not computed)."
    d_judged, i_judged = judgements(f)
    detail = (f"{_curve_clause('deletion', f, d_judged)}, and "
              f"{_curve_clause('insertion', f, i_judged)}")
    if call == "beats_random":
        return f"{method} beats random: {detail}."
    if call == "worse_than_random":
        return f"{method} is worse than random: {UNTRUSTED}. {detail[0].upper()}{detail[1:]}."
    if call == "level":
        return (f"{method} is no better than random, so it says little about this image: "
                f"{detail}.")
    if call == "partial":
        better = "deletion" if d_judged == "better" else "insertion"
        return (f"{method} beats random on {better} only, so read it with care: "
                f"{detail}.")
    worse = "deletion" if d_judged == "worse" else "insertion"
    return (f"{method} is worse than random on {worse} and better on the other test: a map that "
            f"loses to random on either test should not be trusted for this image. "
            f"{detail[0].upper()}{detail[1:]}.")


def random_iou(k: float) -> float:
    """The expected IoU of the top-``k`` pixel sets of two unrelated random maps."""
    return k / (2.0 - k)


def _pair_values(matrix: Mapping[str, Mapping[str, Any]]) -> list[float]:
    """Each unordered pair's value once, skipping undefined (None) entries."""
    seen, out = set(), []
    for a, row in matrix.items():
        for b, v in row.items():
            if v is not None and frozenset((a, b)) not in seen:
                seen.add(frozenset((a, b)))
                out.append(float(v))
    return out


def _span(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    if round(lo, 2) == round(hi, 2):
        return f"{lo:.2f}"
    return f"{lo:.2f} to {hi:.2f}" if lo < 0 else f"{lo:.2f}-{hi:.2f}"


def agreement_sentence(agreement: Mapping[str, Any] | None) -> str:
    """What the Spearman and top-k IoU figures between methods mean, in plain words."""
    if not agreement or not isinstance(agreement.get("spearman"), Mapping):
        return "Agreement needs at least two methods."
    k = float(agreement.get("k", 0.1))
    rho = _pair_values(agreement["spearman"])
    iou = _pair_values(agreement.get("topk_iou") or {})
    parts = []
    if rho:
        top = max(rho)
        meaning = ("they point at different pixels" if top < 0.3 else
                   "they only partly point at the same pixels" if top < 0.6 else
                   "they point at largely the same pixels")
        parts.append(f"The methods agree at {_span(rho)} (Spearman: how similarly two maps rank "
                     f"the pixels, 1 = the same order, 0 = unrelated): {meaning}.")
    else:
        parts.append("Spearman is undefined here: a constant map ranks no pixels.")
    if iou:
        parts.append(f"Their top {k:.0%} pixels overlap at IoU {_span(iou)} (1 = the same pixels; "
                     f"two random maps would give about {random_iou(k):.2f}).")
    if rho and max(rho) < 0.3:
        parts.append("No single map is the explanation; trust the ones that beat random.")
    return " ".join(parts)


def map_trust(method: str, f: Mapping[str, Any] | None) -> dict[str, Any]:
    """What every face shows beside a map: the call, its colour and the one sentence (the same
    words on the Analyze, Cases and Explain pages, the API, the CLI and the HTML/PDF reports)."""
    call = faithfulness_call(f)
    return {"call": call, "call_label": CALLS.get(call or "", "not measured"),
            "colour": CALL_COLOURS.get(call or "", "gray"),
            "sentence": faithfulness_sentence(method, f)}
