"""Score bands: turn a calibrated ``p_fake`` into a label an investigator can act on.

Two edges split [0, 1] into *likely real* / *uncertain* / *likely synthetic*; an input far from
the training domain gets *out of domain* whatever its score, because the score is unreliable.
"""

from __future__ import annotations

from collections.abc import Sequence

BANDS: tuple[str, str, str, str] = ("likely_real", "uncertain", "likely_synthetic", "out_of_domain")
BAND_LABELS: dict[str, str] = {
    "likely_real": "Likely real",
    "uncertain": "Uncertain",
    "likely_synthetic": "Likely synthetic",
    "out_of_domain": "Out of domain",
}
DEFAULT_EDGES: tuple[float, float] = (0.2, 0.8)
# The decision threshold when a face chooses none. The one definition: the score is calibrated
# (temperature scaling), so 0.5 is where both classes are equally likely; checkpoints carry none.
DEFAULT_THRESHOLD: float = 0.5


def validate_edges(edges: Sequence[float]) -> tuple[float, float]:
    """Return ``(low, high)`` or raise ``ValueError`` unless ``0 <= low <= high <= 1``."""
    if len(edges) != 2:
        raise ValueError(f"band edges must be two numbers, got {len(edges)}")
    low, high = float(edges[0]), float(edges[1])
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"band edges must satisfy 0 <= low <= high <= 1, got ({low}, {high})")
    return low, high


def band_for(p_fake: float, edges: Sequence[float] = DEFAULT_EDGES, in_domain: bool = True) -> str:
    """The band of ``p_fake``: below ``low`` likely real, at or above ``high`` likely synthetic.

    ``in_domain=False`` always gives ``"out_of_domain"``.
    """
    low, high = validate_edges(edges)
    if not in_domain:
        return "out_of_domain"
    p = float(p_fake)
    if p != p:  # NaN
        raise ValueError("p_fake is NaN")
    if p < low:
        return "likely_real"
    if p >= high:
        return "likely_synthetic"
    return "uncertain"


def band_label(band: str) -> str:
    """Human wording of a band name (``"likely_real"`` -> ``"Likely real"``)."""
    return BAND_LABELS.get(band, band)


def decide(p_fake: float, threshold: float) -> str:
    """``"FAKE"`` when ``p_fake >= threshold`` else ``"REAL"``: the one decision rule, applied by
    :mod:`synthcheck.analysis` (and by evaluations that sweep thresholds over scores)."""
    return "FAKE" if float(p_fake) >= float(threshold) else "REAL"
