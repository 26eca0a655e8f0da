"""The Forensics page under ``streamlit.testing.v1.AppTest``: the conclusion first, then each
forensic view on a generated forgery (a cloned region and an EXIF thumbnail of another picture),
full-resolution zoom, the region-of-interest score and the side-by-side compare."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from skimage import data as skdata
from streamlit.testing.v1 import AppTest

from tests.test_forensic_views import clone, exif_with_thumbnail, jpeg, thumb_of

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/forensics.py"


@pytest.fixture(autouse=True)
def _no_warmup(monkeypatch) -> None:
    monkeypatch.setenv("SYNTHCHECK_DASHBOARD_WARMUP", "0")


@pytest.fixture(scope="module")
def forged() -> bytes:
    """Chelsea with a cloned patch, saved at q85, carrying the thumbnail of another picture."""
    rgb = clone(skdata.chelsea(), (80, 60), (300, 180), 80)
    return jpeg(rgb, 85, exif=exif_with_thumbnail(thumb_of(skdata.coffee())))


def _page(threshold: float | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    if threshold is not None:
        at.sidebar.slider(key="threshold").set_value(threshold)
    return at.switch_page(PAGE).run()


def _headlines(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("### :")]


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("warning", "success", "info", "error", "markdown", "caption")
             for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def test_views_of_a_forgery(forged) -> None:
    at = _page()
    at.file_uploader(key="forensics_file").set_value(("forged.jpg", forged, "image/jpeg")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(_headlines(at)) == 1  # the conclusion comes first, once
    assert [t.label for t in at.tabs] == ["Views", "Zoom (full resolution)", "JPEG", "Copy-move",
                                          "EXIF thumbnail", "Region score", "Compare"]
    text = _texts(at)
    assert "Saved at about quality 85 (IJG scale), 4:2:0 chroma subsampling, baseline" in text
    assert "grey levels on average" in text and "None" not in text
    assert "1 cloned region(s)" in text and "differs from the image" in text
    assert "No sign of an earlier JPEG save" in text
    captions = [c for i in at.get("image") for c in i.captions]
    assert "ELA at 2:1" in captions and any(c.startswith("Where: x=") for c in captions)
    assert any(c.startswith("Quantisation table 0") for c in (x.value for x in at.caption))


def test_zoom_follows_the_controls(forged) -> None:
    at = _page()
    at.file_uploader(key="forensics_file").set_value(("forged.jpg", forged, "image/jpeg")).run()
    at.select_slider(key="zoom_side").set_value(64)
    at.select_slider(key="zoom_factor").set_value(4)
    at.slider(key="zoom_x").set_value(0).run()
    assert not at.exception
    captions = [c for i in at.get("image") for c in i.captions]
    assert "Noise residual at 4:1" in captions
    assert any(c.startswith("Where: x=0, y=") and c.endswith("64x64 px") for c in captions)


def test_region_score_uses_the_sidebar_threshold(forged) -> None:
    at = _page(threshold=0.35)
    at.file_uploader(key="forensics_file").set_value(("forged.jpg", forged, "image/jpeg")).run()
    for key, value in (("roi_x", 10), ("roi_y", 20), ("roi_w", 32), ("roi_h", 32)):
        at.number_input(key=key).set_value(value)
    at.toggle(key="roi_go").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(_headlines(at)) == 2  # the image's and the region's
    scores = [c.value for c in at.caption if "raw call" in c.value]
    assert len(scores) == 2 and all(re.search(r"at threshold 0\.35\b", s) for s in scores)
    assert "**Region x=10, y=20, 32x32 px**" in [m.value for m in at.markdown]
    at.number_input(key="roi_w").set_value(300).run()  # a large crop is out of the model's domain
    assert _headlines(at)[1] == "### :gray[Cannot assess]"
    assert "**Region x=10, y=20, 300x32 px**" in [m.value for m in at.markdown]


def test_compare_two_images(forged) -> None:
    at = _page()
    at.file_uploader(key="forensics_file").set_value(("forged.jpg", forged, "image/jpeg")).run()
    original = jpeg(skdata.chelsea(), 85)
    at.file_uploader(key="forensics_compare_file").set_value(("orig.jpg", original, "image/jpeg")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(_headlines(at)) == 3  # the page's own, then both side by side
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Structural similarity (SSIM; 1 = identical)"]) < 1
    assert metrics["Pixels changed by more than 16 grey levels"] != "0.00%"
    assert any("The changes lie within a " in c.value and " px box at x " in c.value for c in at.caption)
    other = jpeg(np.ascontiguousarray(skdata.coffee()), 85)
    at.file_uploader(key="forensics_compare_file").set_value(("coffee.jpg", other, "image/jpeg")).run()
    assert not at.exception
    assert any("No difference map: the images differ in size" in i.value for i in at.info)
    assert not any("no pixel difference map" in i.value for i in at.info)


def test_broken_upload_is_one_error() -> None:
    at = _page()
    at.file_uploader(key="forensics_file").set_value(("x.jpg", b"not an image", "image/jpeg")).run()
    assert not at.exception
    assert len(at.error) == 1 and "Cannot analyse this file" in at.error[0].value


def test_the_html_file_goes_when_the_image_changes(forged) -> None:
    at = _page()
    at.file_uploader(key="forensics_file").set_value(("fake1.jpg", forged, "image/jpeg"))
    at.session_state["report_methods"] = ["gradcam"]
    at.run()
    at.button(key="report_build").click().run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download fake1.jpg: forensic views (HTML, unsigned)",
                      "Download fake1.jpg: forensic views (JSON)"]
    assert any("Cases" in c.value and "signed" in c.value for c in at.caption)
    other = jpeg(skdata.coffee(), 85)
    at.file_uploader(key="forensics_file").set_value(("real1.jpg", other, "image/jpeg")).run()
    assert not at.exception
    assert not at.get("download_button")  # fake1's file is never offered beside real1
    at.slider(key="ela_q").set_value(80).run()
    assert not at.get("download_button")
