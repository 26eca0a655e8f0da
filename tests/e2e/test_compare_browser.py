"""The Compare methods page in a real browser at 1280 x 720: a saved explain-eval run is loaded
through the file uploader, the leaderboard, tie groups and plots appear, nothing overlaps or is
cut off (the layout check of ``test_layout.py``), an image's maps open, and nothing is fetched
from outside 127.0.0.1. Skipped when /usr/bin/chromium or Playwright is missing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from driver import CHROMIUM, ROOT, offsite, shot, wait_idle
from test_layout import LAYOUT_JS, TOLERANCE

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no /usr/bin/chromium "
                                 "(run scripts/ensure_chromium.sh)")]
pytest.importorskip("playwright.sync_api")

METHODS = ("gradcam", "gradcam_plus_plus", "integrated_gradients")


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """explain_eval.json of a real run on 4 bundled control images (their paths stay readable:
    the page opens maps from inside the control images folder)."""
    from synthcheck.evaluation.explanations import BenchConfig, MetricSettings, evaluate
    from synthcheck.inference import Detector

    tmp = tmp_path_factory.mktemp("compare")
    cfg = BenchConfig(METHODS, settings=MetricSettings(n_random=4, n_steps=4, road_percentiles=(50,)),
                      sanity_images=2)
    result, _ = evaluate(Detector.from_checkpoint(), ROOT / "synthcheck" / "selfcheck_images", cfg, n=4,
                         cache_dir=tmp / "cache")
    path = tmp / "explain_eval.json"
    path.write_text(json.dumps(result))
    return path


def test_compare_page_at_1280x720(server: str, page, saved_run: Path, tmp_path: Path) -> None:
    pg = page
    try:
        pg.set_viewport_size({"width": 1280, "height": 720})
        pg.goto(f"{server}/compare")
        pg.get_by_role("heading", name="Compare explanation methods").wait_for()
        wait_idle(pg)
        pg.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(saved_run))
        pg.get_by_role("heading", name="Leaderboard: 4 images, 3 methods").wait_for(timeout=120_000)
        pg.locator('[data-testid="stDataFrame"]').first.wait_for()
        pg.get_by_text("insertion_auc_logit: {").first.wait_for()
        pg.locator('[data-testid="stImage"] img').nth(1).wait_for()  # rates and agreement plots
        wait_idle(pg)
        pg.evaluate("() => window.scrollTo(0, 0)")
        shot(pg, "compare-1280x720")
        res = pg.evaluate(LAYOUT_JS, TOLERANCE)
        assert res["n"] >= 4 and not res["problems"], "\n".join(res["problems"])
        pg.get_by_text("Show its maps").click()
        for caption in ("input", *METHODS):
            pg.locator('[data-testid="stImage"]', has_text=caption).locator("img").first.wait_for(timeout=120_000)
        wait_idle(pg)
        res = pg.evaluate(LAYOUT_JS, TOLERANCE)
        assert not res["problems"], "\n".join(res["problems"])
        shutil.copy(shot(pg, "compare-maps-1280x720"), tmp_path / "maps.png")
        assert offsite(pg.requests) == []
    except BaseException:
        pg.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        print(f"\nfailure screenshot: {tmp_path / 'failure.png'}")
        raise
