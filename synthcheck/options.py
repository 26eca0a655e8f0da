"""What a face may choose for an analysis (threshold, band edges, tiles, seed, explanations),
checked once: NaN, infinities and out-of-range values get one plain sentence, never a result."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .bands import DEFAULT_EDGES, DEFAULT_THRESHOLD, validate_edges

MAX_SEED = 2**32 - 1


class OptionsError(ValueError):
    """Analysis options out of range (threshold, band edges, seed); one plain sentence."""


def check_threshold(value: Any) -> float:
    """``value`` as a float in [0, 1]; :class:`OptionsError` for NaN, infinities or out of range."""
    try:
        t = float(value)
    except (TypeError, ValueError) as exc:
        raise OptionsError(f"the threshold must be a number in [0, 1], got {value!r}.") from exc
    if not math.isfinite(t) or not 0.0 <= t <= 1.0:
        raise OptionsError(f"the threshold must be a number in [0, 1], got {value!r}.")
    return t


def check_seed(value: Any) -> int:
    """``value`` as an int in [0, 2**32 - 1] (what NumPy and torch seeding accept)."""
    try:
        seed = int(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise OptionsError(f"the seed must be a whole number from 0 to {MAX_SEED}, got {value!r}.") from exc
    if isinstance(value, float) and not float(value).is_integer():
        raise OptionsError(f"the seed must be a whole number from 0 to {MAX_SEED}, got {value!r}.")
    if not 0 <= seed <= MAX_SEED:
        raise OptionsError(f"the seed must be a whole number from 0 to {MAX_SEED}, got {value!r}.")
    return seed


@dataclass(frozen=True)
class AnalysisOptions:
    """What a face may choose. ``threshold=None`` means :data:`synthcheck.bands.DEFAULT_THRESHOLD`."""

    threshold: float | None = None
    band_edges: tuple[float, float] = DEFAULT_EDGES
    tiles: bool = False
    seed: int = 0
    explain: tuple[str, ...] = ()  # explanation methods to run (none by default: they are slow)
    explain_options: dict[str, dict[str, Any]] | None = None
    with_metrics: bool = True  # faithfulness figures beside each explanation

    def resolved(self) -> AnalysisOptions:
        """A copy with the default threshold filled in and every value checked (no detector
        holds a threshold, so none is consulted)."""
        try:
            edges = validate_edges(self.band_edges)
        except (TypeError, ValueError) as exc:
            raise OptionsError(f"{exc}.") from exc
        if any(not math.isfinite(e) for e in edges):
            raise OptionsError(f"band edges must be finite, got {tuple(self.band_edges)}.")
        thr = check_threshold(DEFAULT_THRESHOLD if self.threshold is None else self.threshold)
        return AnalysisOptions(thr, edges, bool(self.tiles), check_seed(self.seed),
                               tuple(dict.fromkeys(self.explain)), self.explain_options, self.with_metrics)
