"""Domain checks from input properties."""

import numpy as np
from PIL import Image

from synthcheck.domain.inputs import check_domain, colour_stats
from synthcheck.imageio import load_image


def _noise(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def test_photo_like_32px_is_in_domain() -> None:
    d = check_domain(load_image(_noise(32, 32)), input_size=32)
    assert d.in_domain and d.reasons == []
    assert d.stats["colours"] is None or d.stats["colours"] > 64


def test_large_image_flagged() -> None:
    d = check_domain(load_image(_noise(640, 480)), input_size=32)
    assert not d.in_domain
    assert any("much larger" in r for r in d.reasons)


def test_small_image_flagged() -> None:
    d = check_domain(load_image(_noise(8, 8)), input_size=32)
    assert any("much smaller" in r for r in d.reasons)


def test_odd_aspect_flagged() -> None:
    d = check_domain(load_image(_noise(64, 32)), input_size=32)
    assert any("aspect ratio" in r for r in d.reasons)
    assert not any("larger" in r for r in d.reasons)


def test_graphic_few_colours_flagged() -> None:
    a = np.zeros((32, 32, 3), np.uint8)
    a[:, 16:] = (255, 0, 0)
    d = check_domain(load_image(a), input_size=32)
    assert any("distinct colours" in r for r in d.reasons)


def test_screenshot_flat_areas_flagged() -> None:
    rng = np.random.default_rng(1)
    a = np.full((96, 96, 3), 240, np.uint8)
    a[:20] = rng.integers(0, 256, (20, 96, 3), dtype=np.uint8)  # "text" strip, many colours
    d = check_domain(load_image(a), input_size=32)
    assert d.stats["colours"] is None or d.stats["colours"] > 64
    assert any("flat colour" in r for r in d.reasons)


def test_reasons_are_single_sentences_and_detector_size_used() -> None:
    class FakeDetector:
        input_size = 224

    d = check_domain(load_image(_noise(32, 32)), FakeDetector())
    assert any("224x224" in r for r in d.reasons)
    for r in d.reasons:
        assert r.endswith(".") and r.count(". ") == 0


def test_colour_stats_large_image_is_bounded() -> None:
    n, flat, chroma = colour_stats(Image.new("RGB", (4000, 3000), (10, 20, 30)))
    assert n == 1 and flat == 1.0 and chroma == 20.0
