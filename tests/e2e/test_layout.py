"""Layouts that hold: Analyze, Explain (all five methods), Forensics, Metrics and Cases at
1280 x 720 and 1920 x 1080 in a real browser, with representative content.

For each page and size a screenshot ``<page>-<W>x<H>.png`` is saved (to docs/screenshots/ when
SYNTHCHECK_E2E_DATA or SYNTHCHECK_SCREENSHOTS is set, else a temporary folder), and the element
boxes are checked: no image, metric, heading or chart overlaps another (elements nested in each
other aside), none extends past the right edge of the main block, and no metric label or value
is cut off. On Analyze the headline and its reason must be in the first 1280 x 720 viewport.
Refresh the README screenshots with ``SYNTHCHECK_E2E_DATA=/tmp/cifake pytest tests/e2e -s``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from driver import CHROMIUM, offsite, photo, shot, wait_idle
from PIL import Image

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no /usr/bin/chromium "
                                 "(run scripts/ensure_system.sh)")]
pytest.importorskip("playwright.sync_api")

VIEWPORTS = ((1280, 720), (1920, 1080))
METHODS = ("gradcam", "guided_gradcam", "gradient_shap", "kernel_shap", "lime")
TOLERANCE = 2  # px of overlap or overhang forgiven (borders, sub-pixel rounding)
REAL = os.environ.get("SYNTHCHECK_E2E_DATA")

# Boxes of every visible image, metric, heading and chart in the main block; pairs that
# intersect (neither inside the other), boxes past the main block's right edge, and metric
# texts wider than their box (cut off with an ellipsis).
LAYOUT_JS = """(tol) => {
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  const m = main.getBoundingClientRect();
  const sel = '[data-testid="stImage"] img, [data-testid="stMetric"], h1, h2, h3, '
            + '[data-testid="stPlotlyChart"]';
  const els = [...main.querySelectorAll(sel)].filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && e.checkVisibility({visibilityProperty: true});
  });
  const name = (e) => {
    const tid = e.closest('[data-testid]');
    const text = (e.innerText || e.alt || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
    return `${e.tagName.toLowerCase()}[${tid ? tid.dataset.testid : ''}] "${text}"`;
  };
  const out = [];
  const boxes = els.map((e) => e.getBoundingClientRect());
  for (let i = 0; i < els.length; i++) {
    const a = boxes[i];
    if (a.right > m.right + tol) {
      out.push(`clipped: ${name(els[i])} ends at x=${a.right.toFixed(0)}, main block at ${m.right.toFixed(0)}`);
    }
    for (let j = i + 1; j < els.length; j++) {
      if (els[i].contains(els[j]) || els[j].contains(els[i])) continue;
      const b = boxes[j];
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > tol && h > tol) {
        out.push(`overlap: ${name(els[i])} and ${name(els[j])} (${w.toFixed(0)} x ${h.toFixed(0)} px)`);
      }
    }
  }
  const texts = main.querySelectorAll('[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] *, '
                                      + '[data-testid="stMetricValue"], [data-testid="stMetricValue"] *');
  for (const t of texts) {
    if (t.checkVisibility() && t.scrollWidth > t.clientWidth + 1 && t.clientWidth > 0) {
      out.push(`truncated: ${name(t)} needs ${t.scrollWidth} px, has ${t.clientWidth}`);
    }
  }
  return {problems: out, n: els.length};
}"""


def judge(pg, page_name: str, min_elements: int = 2) -> list[str]:
    """Screenshot ``page_name`` at both sizes and return every layout problem found."""
    problems = []
    for w, h in VIEWPORTS:
        pg.set_viewport_size({"width": w, "height": h})
        pg.wait_for_timeout(600)  # columns and Plotly charts re-flow after a resize
        pg.evaluate("() => window.scrollTo(0, 0)")
        shot(pg, f"{page_name}-{w}x{h}")
        res = pg.evaluate(LAYOUT_JS, TOLERANCE)
        assert res["n"] >= min_elements, f"{page_name} at {w}x{h}: only {res['n']} elements found"
        problems += [f"{page_name} {w}x{h}: {p}" for p in res["problems"]]
    return problems


def open_page(pg, server: str, slug: str, heading: str) -> None:
    pg.goto(f"{server}/{slug}")
    pg.get_by_role("heading", name=heading).first.wait_for()
    wait_idle(pg)


def upload(pg, paths: list[Path] | Path) -> None:
    files = [str(p) for p in paths] if isinstance(paths, list) else str(paths)
    pg.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(files)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32 x 32 image: a real CIFAKE fake when SYNTHCHECK_E2E_DATA is set, else generated."""
    if REAL:
        return sorted((Path(REAL) / "test" / "FAKE").glob("*.jpg"))[0]
    path = tmp_path_factory.mktemp("layout") / "sample.jpg"
    photo(7).save(path, quality=75)  # CIFAKE's own compression, so the model can judge it
    return path


@pytest.fixture(scope="module")
def case_id(e2e_home: Path, sample: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A case in the server's SYNTHCHECK_HOME holding two analysed images."""
    from synthcheck import cases
    from synthcheck.inference import Detector, default_checkpoint

    second = tmp_path_factory.mktemp("case") / "second.png"
    photo(21).save(second)
    case = cases.create_case("Layout test case", home=e2e_home)
    cases.add_images(case["id"], [str(sample), str(second)], home=e2e_home)
    cases.analyze_case(case["id"], Detector.from_checkpoint(default_checkpoint()), home=e2e_home)
    return case["id"]


def test_analyze_layout(server: str, page, sample: Path, tmp_path: Path) -> None:
    pg = page
    pg.goto(server)
    pg.get_by_role("heading", name="Analyze images").wait_for()
    wait_idle(pg)
    upload(pg, sample)
    pg.locator('[data-testid="stImage"]', has_text="Grad-CAM").locator("img").first.wait_for()
    wait_idle(pg)
    problems = judge(pg, "analyze", min_elements=4)

    # Out of domain: the headline and its reason sit in the first 1280 x 720 viewport.
    from skimage import data as skdata

    big = tmp_path / "astronaut.jpg"
    Image.fromarray(skdata.astronaut()).save(big, quality=90)
    pg.set_viewport_size({"width": 1280, "height": 720})
    pg.reload()  # a fresh session: the uploader holds only this file
    pg.get_by_role("heading", name="Analyze images").wait_for()
    wait_idle(pg)
    upload(pg, big)
    pg.get_by_role("heading", name="Cannot assess").first.wait_for()
    wait_idle(pg)
    pg.evaluate("() => window.scrollTo(0, 0)")
    shot(pg, "analyze_out_of_domain-1280x720")
    for target in (pg.get_by_role("heading", name="Cannot assess").first,
                   pg.get_by_text("The model cannot judge this image.").first):
        box = target.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 720, \
            f"{target} is below the fold at 1280x720 (bottom at y={box and box['y'] + box['height']:.0f})"
    assert not problems, "\n".join(problems)


def test_explain_layout_with_all_five_methods(server: str, page, sample: Path) -> None:
    pg = page
    open_page(pg, server, "explain", "Explain a verdict")
    pg.get_by_text("Settings").first.click()
    box = pg.locator('[data-testid="stMultiSelect"]').first
    for method in METHODS:  # the dropdown offers only the methods not chosen yet
        box.locator("input").click()
        pg.wait_for_timeout(300)
        option = pg.get_by_role("option", name=method, exact=True)
        if option.count():
            option.click()
            wait_idle(pg)
        pg.keyboard.press("Escape")
    pg.get_by_text("Settings").first.click()  # fold the settings away again
    upload(pg, sample)
    pg.get_by_role("heading", name="Faithfulness and cost").wait_for(timeout=180_000)
    for method in METHODS:
        pg.locator('[data-testid="stImage"]', has_text=f"{method} ·").locator("img").first.wait_for()
    wait_idle(pg)
    pg.locator('[data-testid="stPlotlyChart"]').nth(len(METHODS) - 1).wait_for()  # the curves
    problems = judge(pg, "explain", min_elements=len(METHODS) + 2)
    assert not problems, "\n".join(problems)


def test_forensics_layout(server: str, page, sample: Path) -> None:
    pg = page
    open_page(pg, server, "forensics", "Forensic views")
    upload(pg, sample)
    pg.locator('[data-testid="stImage"] img').nth(1).wait_for()
    wait_idle(pg)
    problems = judge(pg, "forensics", min_elements=4)
    assert not problems, "\n".join(problems)


def test_metrics_layout(server: str, page) -> None:
    pg = page
    open_page(pg, server, "metrics", "Metrics")
    pg.get_by_role("heading", name="Confusion matrix").wait_for(timeout=300_000)
    pg.locator('[data-testid="stPlotlyChart"]').nth(3).wait_for()
    wait_idle(pg)
    problems = judge(pg, "metrics", min_elements=8)
    assert not problems, "\n".join(problems)


def test_cases_layout(server: str, page, case_id: str) -> None:
    pg = page
    open_page(pg, server, "cases", "Cases")
    pg.get_by_text(case_id).first.wait_for()
    pg.locator('[data-testid="stDataFrame"]').first.wait_for()  # the two images and verdicts
    wait_idle(pg)
    problems = judge(pg, "cases", min_elements=1)
    assert not problems, "\n".join(problems)


def test_nothing_was_fetched_from_outside(page) -> None:
    """Every page above loaded its fonts, icons and favicon from the local server."""
    assert page.requests, "no request was recorded"
    assert offsite(page.requests) == []
