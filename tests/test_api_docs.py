"""``/docs`` and ``/redoc`` reference only local URLs, and each asset they name is served."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from synthcheck.api.config import Settings
from synthcheck.api.main import create_app
from synthcheck.checkpoint import build_checkpoint
from synthcheck.inference import Detector
from synthcheck.models import create_model


@pytest.fixture(scope="module")
def client():
    m = create_model("synthcnn_small")
    with TestClient(create_app(Settings(), detector=Detector(m, build_checkpoint(m)))) as c:
        yield c


@pytest.mark.parametrize("page, asset", [("/docs", "swagger-ui-bundle.js"),
                                         ("/docs", "swagger-ui.css"),
                                         ("/redoc", "redoc.standalone.js")])
def test_docs_pages_use_only_local_assets(client, page, asset):
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert not re.search(r"(https?:)?//[\w.-]+\.\w", html), "the page names a remote URL"
    refs = re.findall(r"""(?:src|href|spec-url)=["']([^"']+)["']""", html)
    refs += re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)
    assert refs and all(u.startswith("/") and not u.startswith("//") for u in refs), refs
    assert any(u.endswith(asset) for u in refs)
    for u in refs:
        got = client.get(u)
        assert got.status_code == 200 and len(got.content) > 0, u


def test_openapi_schema_leaves_the_docs_pages_out(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/docs" not in paths and "/redoc" not in paths and "/v1/verify" in paths
