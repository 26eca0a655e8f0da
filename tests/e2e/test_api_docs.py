"""``/docs`` and ``/redoc`` of a live ``synthcheck serve`` work offline, in a real browser.

Every request that leaves 127.0.0.1 is aborted (``page.route``), as on a machine without
internet; Swagger UI must still list the operations and ReDoc must still render them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from driver import ARGS, CHROMIUM, ROOT, free_port, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no /usr/bin/chromium "
                                 "(run scripts/ensure_system.sh)")]
playwright_sync = pytest.importorskip("playwright.sync_api")
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``synthcheck serve`` with a tiny untrained checkpoint on a free port; yields its URL."""
    from synthcheck.checkpoint import atomic_torch_save, build_checkpoint
    from synthcheck.models import create_model

    tmp = tmp_path_factory.mktemp("api-docs")
    m = create_model("synthcnn_small")
    atomic_torch_save(build_checkpoint(m), tmp / "tiny.pt")
    port = free_port()
    log = open(tmp / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "synthcheck", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--checkpoint", str(tmp / "tiny.pt")],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, f"{url}/v1/health", tmp / "serve.log", "synthcheck serve", poll_s=0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture
def offline_page(api_server: str) -> Iterator[object]:
    """A Chromium page where every request outside 127.0.0.1 is aborted and recorded."""
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        pg = ctx.new_page()
        pg.blocked = []

        def block(route) -> None:
            pg.blocked.append(route.request.url)
            route.abort()

        pg.route(lambda url: not url.startswith("http://127.0.0.1:"), block)
        pg.set_default_timeout(30_000)
        yield pg
        ctx.close()
        browser.close()


def test_swagger_ui_lists_the_operations_offline(api_server: str, offline_page) -> None:
    pg = offline_page
    pg.goto(f"{api_server}/docs")
    pg.locator(".opblock").first.wait_for()
    verify = pg.locator(".opblock-post", has_text="/v1/verify")
    assert verify.count() >= 1 and verify.first.is_visible()
    assert pg.locator(".opblock").count() >= 8  # verify, model, health and the case routes
    assert pg.blocked == []


def test_redoc_renders_the_operations_offline(api_server: str, offline_page) -> None:
    pg = offline_page
    pg.goto(f"{api_server}/redoc")
    pg.get_by_text("/v1/verify").first.wait_for(state="attached")
    assert pg.get_by_text("Real or AI-generated? One result per uploaded file").count() >= 1
    # ReDoc's sidebar attribution image is fetched from its CDN and hides itself on error;
    # nothing the page needs is remote
    assert set(pg.blocked) <= {REDOC_LOGO}
