"""End to end in a real browser: Playwright drives Debian's Chromium against ``streamlit run``.

Uploads an image on Analyze (conclusion and Grad-CAM must appear), then a full-size photo (the
headline must say "Cannot assess", with its reason), opens Explain and Metrics,
checks the model is not reloaded when switching pages, saves screenshots and prints
time-to-ready, upload-to-verdict and Explain timings. Refresh the README screenshots with
``SYNTHCHECK_E2E_DATA=/work/data/cifake pytest tests/e2e -s`` (writes docs/screenshots/*.png).
Skipped when /usr/bin/chromium or Playwright is missing (scripts/ensure_system.sh installs it).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from driver import CHROMIUM, TIMINGS, goto, offsite, photo, shot, wait_idle
from PIL import Image

HEADLINES = re.compile("^(Likely real|Uncertain|Likely synthetic|Cannot assess)$")

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no /usr/bin/chromium "
                                 "(run scripts/ensure_system.sh)")]
playwright_sync = pytest.importorskip("playwright.sync_api")
_photo, _shot, _wait_idle, _goto = photo, shot, wait_idle, goto


def _load_caption(pg) -> str:
    cap = pg.locator('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]', has_text="load #")
    return cap.first.inner_text()


def test_analyze_explain_metrics_in_a_real_browser(server: str, page, tmp_path: Path) -> None:
    try:
        _drive(server, page, tmp_path)
    except BaseException:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        print(f"\nfailure screenshot: {tmp_path / 'failure.png'}")
        raise


def _drive(server: str, pg, tmp_path: Path) -> None:
    img_path = tmp_path / "sample.png"
    _photo(7).save(img_path)
    real = os.environ.get("SYNTHCHECK_E2E_DATA")
    if real:  # a real CIFAKE fake, for representative screenshots
        img_path = sorted((Path(real) / "test" / "FAKE").glob("*.jpg"))[0]

    # A fresh server's first request is a deep link: the router and its sidebar must still run.
    t0 = time.perf_counter()
    pg.goto(f"{server}/model_card")
    pg.get_by_role("heading", name="Known limits").wait_for()
    _wait_idle(pg)
    TIMINGS["first_page_s"] = time.perf_counter() - t0
    pg.get_by_text("Decision threshold").first.wait_for()  # the sidebar came with it
    _wait_idle(pg)
    loaded = _load_caption(pg)
    _goto(pg, "Analyze")
    pg.get_by_role("heading", name="Analyze images").wait_for()
    _wait_idle(pg)

    t0 = time.perf_counter()
    pg.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(img_path))
    pg.get_by_role("heading", name=HEADLINES).first.wait_for()
    cam = pg.locator('[data-testid="stImage"]', has_text="Grad-CAM").locator("img").first
    cam.wait_for()
    pg.wait_for_function("(el) => el.complete && el.naturalWidth > 0", arg=cam.element_handle())
    TIMINGS["upload_to_verdict_and_gradcam_s"] = time.perf_counter() - t0
    assert pg.get_by_text("SHA-256").first.is_visible()
    _wait_idle(pg)
    _shot(pg, "analyze")
    _full_size_photo_cannot_be_assessed(pg, tmp_path)

    _goto(pg, "Explain")
    pg.get_by_role("heading", name="Explain a verdict").wait_for()
    _wait_idle(pg)
    if pg.get_by_text("Explanations are unavailable").count():
        pytest.fail("synthcheck.explain is not importable in the app")
    t0 = time.perf_counter()
    pg.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(img_path))
    pg.get_by_role("heading", name="Faithfulness and cost").wait_for()
    for method in ("gradcam", "gradient_shap", "lime"):
        pg.locator('[data-testid="stImage"]', has_text=f"{method} ·").locator("img").first.wait_for()
    TIMINGS["explain_three_methods_s"] = time.perf_counter() - t0
    _wait_idle(pg)
    _shot(pg, "explain")

    _goto(pg, "Metrics")
    t0 = time.perf_counter()
    pg.get_by_role("heading", name="Confusion matrix").wait_for()
    pg.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    _wait_idle(pg)
    TIMINGS["metrics_page_s"] = time.perf_counter() - t0
    assert pg.get_by_text("Accuracy").first.is_visible()
    _shot(pg, "metrics")

    _goto(pg, "Batch triage")
    pg.get_by_role("heading", name="Batch triage").wait_for()
    _wait_idle(pg)
    batch = [img_path]
    for i in range(5):
        _photo(20 + i, 32 if i < 4 else 400).save(tmp_path / f"batch{i}.png")
        batch.append(tmp_path / f"batch{i}.png")
    if real:
        batch = [*sorted((Path(real) / "test" / "REAL").glob("*.jpg"))[:4],
                 *sorted((Path(real) / "test" / "FAKE").glob("*.jpg"))[1:5], tmp_path / "batch4.png"]
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    batch.append(tmp_path / "broken.png")
    pg.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files([str(b) for b in batch])
    pg.locator('[data-testid="stDataFrame"]').first.wait_for()
    pg.get_by_role("button", name="Download CSV").wait_for()
    _wait_idle(pg)
    _shot(pg, "batch")

    _goto(pg, "Model card")
    pg.get_by_role("heading", name="Known limits").wait_for()
    _wait_idle(pg)
    _shot(pg, "model_card")
    _goto(pg, "Analyze")
    pg.get_by_role("heading", name="Analyze images").wait_for()
    assert _load_caption(pg) == loaded  # same load time and number: the model was not reloaded

    _drive_case(pg, [img_path, tmp_path / "batch0.png"])

    assert offsite(pg.requests) == []  # no font CDN, icon service or other web request
    print("\nDASHBOARD TIMINGS " + " ".join(f"{k}={v:.2f}" for k, v in TIMINGS.items()))
    assert TIMINGS["time_to_ready_s"] < 60


def _full_size_photo_cannot_be_assessed(pg, tmp_path: Path) -> None:
    """A full-size photograph is out of domain: the headline says so, never FAKE/REAL words."""
    from skimage import data as skdata

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(skdata.astronaut()).save(photo, quality=90)
    pg.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(photo))
    heading = pg.get_by_role("heading", name="Cannot assess")
    heading.first.wait_for()
    _wait_idle(pg)
    assert heading.count() == 1 and heading.first.is_visible()
    reason = pg.get_by_text("The model cannot judge this image.").first
    assert reason.is_visible()
    box, head_box = reason.bounding_box(), heading.first.bounding_box()
    assert 0 <= box["y"] - head_box["y"] < 200  # the reason sits at the headline
    assert "unreliable for this image" in pg.get_by_text("Model score p_fake").first.inner_text()
    for word in ("AI-generated", "Real photo", "Verdict:"):
        assert pg.get_by_text(word).count() == 0, word
    _shot(pg, "analyze_out_of_domain")


def _drive_case(pg, images: list[Path]) -> None:
    """Cases page: create a case, add evidence, analyse all, verify, build the signed report."""
    _goto(pg, "Cases")
    pg.get_by_role("heading", name="Cases").first.wait_for()
    _wait_idle(pg)
    pg.get_by_label("Title").fill("Browser test case")
    pg.get_by_role("button", name="Create case").click()
    _wait_idle(pg)
    pg.get_by_role("tab", name="Add evidence").click()
    pg.get_by_role("button", name="Add to case").wait_for()
    uploader = pg.locator('[data-testid="stFileUploaderDropzoneInput"]').last
    uploader.set_input_files([str(p) for p in images])
    pg.get_by_text(images[-1].name).first.wait_for()  # the upload reached the server
    _wait_idle(pg)
    pg.wait_for_function("() => [...document.querySelectorAll('button')].some("
                         "b => b.innerText.includes('Add to case') && !b.disabled)", timeout=60_000)
    pg.get_by_role("button", name="Add to case").click()
    _wait_idle(pg)
    pg.get_by_role("tab", name="Images and conclusions").click()
    t0 = time.perf_counter()
    pg.get_by_role("button", name="Analyse all").click()
    pg.get_by_text("control run", exact=False).first.wait_for()
    _wait_idle(pg)
    TIMINGS["case_analyse_s"] = time.perf_counter() - t0
    pg.get_by_role("tab", name="Verify and export").click()
    pg.get_by_role("button", name="Verify the case").click()
    pg.get_by_text("intact", exact=False).first.wait_for()
    _wait_idle(pg)
    pg.get_by_role("tab", name="Verify and export").click()
    pg.get_by_role("button", name="Build signed report").click()
    pg.get_by_role("tab", name="Verify and export").click()
    pg.get_by_role("button", name="Download the signed report (PDF)").wait_for(timeout=120_000)
    _shot(pg, "cases")
