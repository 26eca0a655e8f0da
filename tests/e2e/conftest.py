"""Browser-test fixtures: one ``streamlit run`` server and one Chromium page per test module.

The page records every request it makes (``page.requests``), so a test can check that nothing
was fetched from outside 127.0.0.1 (no font CDN, no icon service).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import ARGS, CHROMIUM, TIMINGS, streamlit_server


@pytest.fixture(scope="module")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's SYNTHCHECK_HOME (cases, keys, control runs), shared with the test module."""
    return tmp_path_factory.mktemp("e2e-home")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, e2e_home: Path) -> Iterator[str]:
    """``streamlit run streamlit_app.py`` on a free localhost port; yields its URL."""
    tmp = tmp_path_factory.mktemp("e2e")
    with streamlit_server(tmp, {"SYNTHCHECK_HOME": str(e2e_home)}, TIMINGS) as url:
        yield url


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[object]:
    """A Chromium page (1360 x 900) whose requests are recorded in ``page.requests``."""
    playwright_sync = pytest.importorskip("playwright.sync_api")
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1360, "height": 900})
        pg = ctx.new_page()
        pg.requests = []
        pg.on("request", lambda r: pg.requests.append(r.url))
        pg.set_default_timeout(60_000)
        yield pg
        ctx.close()
        browser.close()
