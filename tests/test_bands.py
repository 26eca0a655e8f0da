"""Score bands and the threshold rule."""

import math

import pytest

from synthcheck.bands import BANDS, band_for, band_label, decide, validate_edges


@pytest.mark.parametrize(("p", "band"), [(0.0, "likely_real"), (0.19, "likely_real"),
                                         (0.2, "uncertain"), (0.5, "uncertain"),
                                         (0.79, "uncertain"), (0.8, "likely_synthetic"),
                                         (1.0, "likely_synthetic")])
def test_default_edges(p: float, band: str) -> None:
    assert band_for(p) == band


def test_out_of_domain_overrides_score() -> None:
    assert band_for(0.99, in_domain=False) == "out_of_domain"
    assert band_for(0.01, in_domain=False) == "out_of_domain"


def test_custom_and_degenerate_edges() -> None:
    assert band_for(0.4, (0.3, 0.6)) == "uncertain"
    assert band_for(0.5, (0.5, 0.5)) == "likely_synthetic"  # no uncertain band
    assert band_for(0.49, (0.5, 0.5)) == "likely_real"


@pytest.mark.parametrize("edges", [(0.8, 0.2), (-0.1, 0.5), (0.5, 1.1), (0.5,)])
def test_bad_edges(edges: tuple) -> None:
    with pytest.raises(ValueError):
        validate_edges(edges)


def test_nan_rejected_and_labels() -> None:
    with pytest.raises(ValueError):
        band_for(math.nan)
    assert [band_label(b) for b in BANDS] == ["Likely real", "Uncertain", "Likely synthetic",
                                              "Out of domain"]


def test_decide_matches_detector_rule() -> None:
    assert decide(0.5, 0.5) == "FAKE"
    assert decide(0.4999, 0.5) == "REAL"
    assert decide(0.3, 0.2) == "FAKE"
