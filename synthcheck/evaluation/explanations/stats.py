"""Statistics for the bench: means with t intervals, Wilson intervals for rates, paired
Wilcoxon signed-rank tests between methods with Holm's correction, and tie groups.

- A mean's 95% interval is Student's t interval (mean +- t(0.975, n-1) * sd / sqrt(n)):
  deterministic, and at the bench's sizes (tens to hundreds of images) close to a bootstrap.
- A rate's 95% interval is Wilson's score interval (closed form below; equals
  ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``).
- Two methods are compared on the images both were measured on, per metric, by the Wilcoxon
  signed-rank test (scipy; zero differences dropped, ``zero_method="wilcox"``); the p-values of
  one metric's pairs are one family, corrected by Holm's step-down method (written here; equals
  ``statsmodels.stats.multitest.multipletests(method="holm")``).
- Tie groups: methods sorted best first; a group is the best method not yet placed plus every
  later method whose difference from it is not significant after Holm. A method in a group is
  not shown to differ from the group's leader; two groups differ at least at their leaders.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np

ALPHA = 0.05
Z95 = 1.959963984540054  # the 0.975 normal quantile


def mean_ci(values: Sequence[float | None], level: float = 0.95) -> dict[str, Any]:
    """``{"mean", "ci95": [lo, hi], "n", "sd"}`` of the finite values (t interval); a single value
    has no interval (``ci95`` null), no values give ``mean`` null."""
    from scipy.stats import t as student_t

    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], np.float64)
    n = int(x.size)
    if n == 0:
        return {"mean": None, "ci95": None, "n": 0, "sd": None}
    mean = float(x.mean())
    if n == 1:
        return {"mean": mean, "ci95": None, "n": 1, "sd": None}
    sd = float(x.std(ddof=1))
    half = float(student_t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "ci95": [mean - half, mean + half], "n": n, "sd": sd}


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for ``k`` successes in ``n`` trials (``(0, 1)`` when n = 0)."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n], not {k} of {n}")
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    return (0.0 if k == 0 else lo, 1.0 if k == n else hi)  # exact ends (no rounding inside the rate)


def rate(flags: Sequence[bool | None]) -> dict[str, Any]:
    """``{"rate", "ci95": [lo, hi], "n", "k"}`` over the non-None flags (Wilson interval)."""
    x = [bool(f) for f in flags if f is not None]
    n, k = len(x), int(sum(x))
    lo, hi = wilson_interval(k, n)
    return {"rate": (k / n) if n else None, "ci95": [lo, hi], "n": n, "k": k}


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (step-down, monotone, capped at 1), in the input order."""
    p = np.asarray(pvalues, np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def wilcoxon_p(a: Sequence[float], b: Sequence[float]) -> tuple[float | None, float]:
    """(statistic, two-sided p) of the Wilcoxon signed-rank test of paired ``a`` - ``b``; p = 1
    when every difference is zero (nothing to test)."""
    from scipy.stats import wilcoxon

    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    if d.size == 0 or np.all(d == 0):
        return None, 1.0
    res = wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def signed_rank_sum(d: np.ndarray) -> float:
    """W+ - W- of the nonzero differences ``d`` (ranks of |d|, ties averaged): positive when the
    first of the pair tends to be larger, in the test's own terms."""
    from scipy.stats import rankdata

    d = np.asarray(d, np.float64)
    d = d[d != 0]
    if d.size == 0:
        return 0.0
    r = rankdata(np.abs(d))
    return float(r[d > 0].sum() - r[d < 0].sum())


def pairwise(values: Mapping[str, Mapping[str, Mapping[str, float]]], higher_is_better: Mapping[str, bool],
             alpha: float = ALPHA) -> list[dict[str, Any]]:
    """Paired tests for every metric and every pair of methods.

    ``values[metric][method][image] -> value``. Returns one row per (metric, a, b): n paired
    images, mean and median of a - b, the Wilcoxon statistic, p, Holm-adjusted p (within the
    metric), ``significant`` and ``better`` (the better method when significant, else None).
    """
    rows = []
    for metric, per_method in values.items():
        family = []
        for a, b in combinations(list(per_method), 2):
            common = sorted(set(per_method[a]) & set(per_method[b]))
            xa = np.array([per_method[a][i] for i in common], np.float64)
            xb = np.array([per_method[b][i] for i in common], np.float64)
            stat, p = wilcoxon_p(xa, xb)
            d = xa - xb
            family.append({"metric": metric, "a": a, "b": b, "n": len(common),
                           "mean_diff": float(d.mean()) if d.size else None,
                           "median_diff": float(np.median(d)) if d.size else None,
                           "statistic": stat, "p": p, "a_larger": signed_rank_sum(d) > 0})
        for row, p_adj in zip(family, holm([r["p"] for r in family]), strict=True):
            row["p_holm"] = p_adj
            row["significant"] = bool(p_adj < alpha)
            a_larger = row.pop("a_larger")
            row["better"] = ((row["a"] if a_larger == higher_is_better[metric] else row["b"])
                             if row["significant"] else None)
        rows += family
    return rows


def tie_groups(means: Mapping[str, float | None], rows: Sequence[Mapping[str, Any]], metric: str,
               higher_is_better: bool) -> list[list[str]]:
    """Methods of ``metric`` in groups that the tests cannot tell apart (see the module doc)."""
    significant = {frozenset((r["a"], r["b"])) for r in rows if r["metric"] == metric and r["significant"]}
    ranked = sorted((m for m, v in means.items() if v is not None),
                    key=lambda m: -means[m] if higher_is_better else means[m])
    groups, placed = [], set()
    for leader in ranked:
        if leader in placed:
            continue
        group = [leader] + [m for m in ranked if m not in placed and m != leader
                            and frozenset((leader, m)) not in significant
                            and ranked.index(m) > ranked.index(leader)]
        placed.update(group)
        groups.append(group)
    return groups
