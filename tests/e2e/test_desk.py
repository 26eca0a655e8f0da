"""The desk in a real browser (Playwright + Debian Chromium): first paint, folder scans at the
command line's speed, downloads tied to their image, quiet "cannot assess" cards, and the
Forensics page's first screen at 1280 x 720.

One server for the module, started with a scan root holding 2,000 generated JPEGs.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import ARGS, CHROMIUM, ROOT, photo, streamlit_server, wait_idle
from PIL import Image

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no /usr/bin/chromium "
                                 "(run scripts/ensure_system.sh)")]
pytest.importorskip("playwright.sync_api")
sys.path.insert(0, str(ROOT))
from benchmarks.bench_page_scan import cli_scan, make_folder, page_scan, server_warnings  # noqa: E402

N_SCAN = 2000
HEADLINES = re.compile("^(Likely real|Uncertain|Likely synthetic|Cannot assess)$")
NOT_QUIET_JS = """() => {
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  const text = main.innerText;
  return {red: main.querySelectorAll('.sc-score-bar[data-colour="red"]').length,
          progress: main.querySelectorAll('[data-testid="stProgress"]').length,
          bars: [...main.querySelectorAll('.sc-score-bar')].map((b) => b.dataset.colour),
          evidence: /evidence for (FAKE|REAL)/.test(text)};
}"""


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, e2e_home: Path) -> Iterator[dict]:
    """The server (its URL, log, scan folder) with 2,000 JPEGs under its scan root."""
    tmp = tmp_path_factory.mktemp("desk")
    folder = make_folder(tmp / "scan" / "images", N_SCAN)
    env = {"SYNTHCHECK_HOME": str(e2e_home), "SYNTHCHECK_SCAN_ROOTS": str(tmp / "scan"),
           "SYNTHCHECK_DASHBOARD_WARMUP": "0"}
    t0 = time.perf_counter()
    with streamlit_server(tmp, env) as url:
        yield {"url": url, "log": tmp / "streamlit.log", "folder": folder, "tmp": tmp, "t0": t0}


@pytest.fixture(scope="module")
def pg(desk: dict) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_default_timeout(120_000)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """skimage's astronaut photo as a JPEG: far outside the model's 32 x 32 training data."""
    from skimage import data as skdata

    path = tmp_path_factory.mktemp("astronaut") / "astronaut.jpg"
    Image.fromarray(skdata.astronaut()).save(path, quality=90)
    return path


def upload(pg, path: Path) -> None:
    pg.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(path))


def test_first_paint_shows_the_page_and_never_the_file_name_list(desk: dict, pg) -> None:
    """The server's first request: the router's menu, never "streamlit app, analyze, ..."."""
    pg.goto(desk["url"])
    seen_names = False
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        nav = pg.locator('[data-testid="stSidebarNav"]')
        if nav.count() and nav.first.is_visible():
            seen_names = seen_names or "streamlit app" in nav.first.inner_text().lower()
        if pg.get_by_role("heading", name="Analyze images").count():
            break
        pg.wait_for_timeout(50)
    assert pg.get_by_role("heading", name="Analyze images").count()
    wait_idle(pg)
    assert not seen_names
    links = pg.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]')
    from synthcheck.dashboard.app import PAGES

    links.nth(len(PAGES) - 1).wait_for()
    texts = links.all_inner_texts()
    assert len(texts) == len(PAGES) and all(p.title in t for p, t in zip(PAGES, texts, strict=True))


def test_a_folder_scan_from_the_page_runs_at_the_command_lines_speed(desk: dict, pg) -> None:
    cli_s = cli_scan(desk["folder"], desk["tmp"] / "cli.parquet")
    res = page_scan(pg, desk["url"], desk["folder"])
    assert res["first_count_s"] is not None and res["first_count_s"] <= 2.0, res["progress"][:3]
    assert any(total == N_SCAN for _, _, total, _ in res["progress"])
    assert res["page_scan_s"] is not None and res["page_scan_s"] <= 2 * cli_s, (res["page_scan_s"], cli_s)
    done = [d for _, d, _, _ in res["progress"]]
    assert done == sorted(done) and len(set(done)) >= 2  # it moved while it ran
    pg.get_by_text(f"{N_SCAN:,} rows").first.wait_for()  # the results file, a page at a time
    print(f"\nscan of {N_SCAN}: CLI {cli_s:.2f} s, page {res['page_scan_s']:.2f} s, "
          f"first count at {res['first_count_s']:.2f} s")
    assert server_warnings(desk["log"]) == []


def test_forensics_first_screen_and_no_stale_download(desk: dict, pg, tmp_path: Path) -> None:
    fake1, real1 = tmp_path / "fake1.jpg", tmp_path / "real1.jpg"
    photo(7, 256).save(fake1, quality=75)
    photo(8, 256).save(real1, quality=75)
    pg.set_viewport_size({"width": 1280, "height": 720})
    pg.goto(f"{desk['url']}/forensics")
    pg.get_by_role("heading", name="Forensic views").first.wait_for()
    wait_idle(pg)
    upload(pg, fake1)
    ela = pg.locator('[data-testid="stImage"]', has_text="ELA at quality").locator("img").first
    ela.wait_for()
    wait_idle(pg)
    pg.evaluate("() => window.scrollTo(0, 0)")
    box = ela.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 720, f"ELA ends at y={box}"
    pg.get_by_role("button", name="Build the HTML file").click()
    html = pg.get_by_role("button", name="Download fake1.jpg: forensic views (HTML, unsigned)")
    html.wait_for(timeout=180_000)
    wait_idle(pg)
    upload(pg, real1)  # the same uploader: real1 replaces fake1
    html.wait_for(state="detached", timeout=60_000)  # fails if fake1's file is still offered
    pg.get_by_role("button", name=re.compile("^Cancel upload")).first.wait_for(state="detached")
    pg.get_by_role("button", name="Build the HTML file").wait_for()  # real1's page, to its end
    wait_idle(pg)
    names = [b.get_attribute("aria-label") or b.inner_text() for b in pg.get_by_role("button").all()]
    assert not [n for n in names if "fake1" in n or n.startswith("Download")], names


def test_cannot_assess_is_quiet_on_every_page(desk: dict, pg, astronaut: Path, e2e_home: Path) -> None:
    from synthcheck import cases
    from synthcheck.inference import Detector, default_checkpoint

    case = cases.create_case("Astronaut", home=e2e_home)
    cases.add_images(case["id"], [str(astronaut)], home=e2e_home)
    cases.analyze_case(case["id"], Detector.from_checkpoint(default_checkpoint()), home=e2e_home,
                       control=False)
    seen = {}
    for slug, heading in (("", "Analyze images"), ("forensics", "Forensic views")):
        pg.goto(f"{desk['url']}/{slug}")
        pg.get_by_role("heading", name=heading).first.wait_for()
        wait_idle(pg)
        upload(pg, astronaut)
        pg.get_by_role("heading", name="Cannot assess").first.wait_for()
        if not slug:
            pg.locator('[data-testid="stImage"]', has_text="Grad-CAM").first.wait_for()
        wait_idle(pg)
        seen[slug or "analyze"] = pg.evaluate(NOT_QUIET_JS)
    pg.goto(f"{desk['url']}/cases")
    pg.get_by_role("heading", name="Cases").first.wait_for()
    wait_idle(pg)
    pg.locator('[data-testid="stSelectbox"]', has_text="Open case").locator("input").click()
    pg.get_by_role("option", name=re.compile(case["id"])).click()
    wait_idle(pg)
    pg.get_by_role("tab", name="One image").click()
    pg.locator('[data-testid="stSelectbox"]', has_text="Image").last.locator("input").click()
    pg.get_by_role("option", name=re.compile("astronaut")).click()
    pg.get_by_role("heading", name="Cannot assess").first.wait_for()
    pg.locator('[data-testid="stImage"]', has_text="Grad-CAM").first.wait_for()
    wait_idle(pg)
    seen["cases"] = pg.evaluate(NOT_QUIET_JS)
    for page_name, s in seen.items():
        assert s["bars"] == ["gray"], (page_name, s)
        assert s["red"] == 0 and s["progress"] == 0 and not s["evidence"], (page_name, s)
