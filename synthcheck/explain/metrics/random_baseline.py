"""Does one map beat chance on one image: the per-image rule of the model reviewer's bench.

A map beats random when its deletion AUC is below the ``1 - quantile`` quantile of K seeded
random maps' deletion AUCs AND its insertion AUC is above their ``quantile`` quantile (default
0.95): on both tests it does better than 95% of random pixel orders on the same image. The
explain-eval bench counts this per image and reports the share with a Wilson interval; the
Explain page can call :func:`beats_random` with the same figures.

This is stricter than :func:`.verdicts.faithfulness_call`, which compares with the *mean* of a
few random maps plus :data:`.verdicts.MARGIN`: here chance has a spread, and the map must clear
it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

QUANTILE = 0.95  # the share of random maps a map must beat on each test


def random_bounds(random_deletion: Sequence[float], random_insertion: Sequence[float],
                  quantile: float = QUANTILE) -> tuple[float, float]:
    """(deletion bound, insertion bound): the random maps' ``1 - quantile`` deletion quantile
    and ``quantile`` insertion quantile (numpy's linear interpolation)."""
    if not 0.5 <= quantile < 1.0:
        raise ValueError(f"quantile must be in [0.5, 1), not {quantile}")
    d, i = np.asarray(random_deletion, np.float64), np.asarray(random_insertion, np.float64)
    if d.size < 1 or i.size < 1:
        raise ValueError("need at least one random map on each test")
    return float(np.quantile(d, 1.0 - quantile)), float(np.quantile(i, quantile))


def beats_random(deletion_auc: float, insertion_auc: float, random_deletion: Sequence[float],
                 random_insertion: Sequence[float], quantile: float = QUANTILE) -> bool:
    """True when the map beats the ``quantile`` of the random maps on deletion (lower is better)
    AND on insertion (higher is better); ties with the bound do not count as beating it."""
    d_bound, i_bound = random_bounds(random_deletion, random_insertion, quantile)
    return bool(deletion_auc < d_bound and insertion_auc > i_bound)
