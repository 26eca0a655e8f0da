"""Every option of every API route, given a hostile value, answers 4xx JSON with one sentence.

The query parameters come from the app's own OpenAPI schema, so a route or option added later
is fuzzed too. Hostile values: NaN, infinities, negatives, out of range, huge integers, words,
empty strings.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from synthcheck.api.config import Settings
from synthcheck.api.main import create_app
from synthcheck.checkpoint import build_checkpoint
from synthcheck.inference import Detector
from synthcheck.models import create_model
from synthcheck.options import OptionsError
from tests.conftest import random_png as png

HOSTILE = ["nan", "NaN", "inf", "-inf", "-1", "2", "1e400", "99999999999999999999",
           "-99999999999999999999", "abc", "", " ", "0x10", "1.5", "true", "none"]




@pytest.fixture(scope="module")
def app_client(tmp_path_factory):
    """(client, case id): the app over a tiny untrained model and one case with one image."""
    home = tmp_path_factory.mktemp("fuzz-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("SYNTHCHECK_HOME", str(home))
    m = create_model("synthcnn_small")
    app = create_app(Settings(), detector=Detector(m, build_checkpoint(m)))
    with TestClient(app, raise_server_exceptions=False) as c:
        cid = c.post("/v1/cases", json={"title": "fuzz"}).json()["id"]
        assert c.post(f"/v1/cases/{cid}/images",
                      files=[("files", ("a.png", png(1), "image/png"))]).status_code == 200
        yield c, cid
    mp.undo()


def _operations(client: TestClient) -> list[tuple[str, str, list[str]]]:
    """(method, path, query parameter names) of every API operation that takes options."""
    ops = []
    for path, item in client.app.openapi()["paths"].items():
        for method, op in item.items():
            names = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            if names:
                ops.append((method.upper(), path, names))
    return ops


def _request(client: TestClient, cid: str, method: str, path: str, params: dict[str, str]):
    url = path.replace("{case_id}", cid)
    files = [("files", ("a.png", png(2), "image/png"))] if path.endswith("/verify") \
        and "cases" not in path else None
    return client.request(method, url, params=params, files=files)


def _assert_4xx_sentence(r, what: str) -> None:
    assert 400 <= r.status_code < 500, f"{what}: HTTP {r.status_code} {r.text[:300]}"
    body = r.json()
    assert isinstance(body["error"], str) and body["error"].strip(), f"{what}: {body}"
    assert body["status"] == r.status_code


def test_the_schema_lists_the_options_we_mean_to_fuzz(app_client):
    client, _ = app_client
    names = {(path, n) for _, path, ns in _operations(client) for n in ns}
    for want in [("/v1/verify", "threshold"), ("/v1/verify", "band_low"), ("/v1/verify", "explain"),
                 ("/v1/verify", "tiles"), ("/v1/cases/{case_id}/analyze", "seed"),
                 ("/v1/cases/{case_id}/analyze", "band_high"), ("/v1/cases/{case_id}/export", "seed"),
                 ("/v1/cases/{case_id}/export", "methods")]:
        assert want in names


def test_hostile_option_values_never_answer_500(app_client):
    client, cid = app_client
    tried = 0
    for method, path, names in _operations(client):
        for name in names:
            for value in HOSTILE:
                r = _request(client, cid, method, path, {name: value})
                what = f"{method} {path}?{name}={value!r}"
                assert r.status_code < 500, f"{what}: HTTP {r.status_code} {r.text[:300]}"
                if r.status_code >= 400:
                    _assert_4xx_sentence(r, what)
                tried += 1
    assert tried >= 15 * len(HOSTILE)


@pytest.mark.parametrize("params", [
    {"seed": "99999999999999999999"},
    {"seed": "99999999999999999999", "methods": "none"},
    {"seed": "-1", "methods": "none"},
    {"seed": str(2**32), "methods": "gradcam"},
])
def test_case_export_with_a_seed_out_of_range_is_422_with_the_sentence(app_client, params):
    client, cid = app_client
    r = client.post(f"/v1/cases/{cid}/export", params=params)
    assert r.status_code == 422
    assert r.json()["error"].startswith("the seed must be a whole number from 0 to 4294967295")


@pytest.mark.parametrize("path, params", [
    ("/v1/verify", {"threshold": "nan"}),
    ("/v1/verify", {"band_low": "0.9", "band_high": "0.1"}),
    ("/v1/cases/{case_id}/analyze", {"band_low": "0.9", "band_high": "0.1"}),
    ("/v1/cases/{case_id}/analyze", {"seed": "99999999999999999999", "control": "false"}),
    ("/v1/cases/{case_id}/export", {"methods": "nan"}),
])
def test_option_combinations_are_4xx(app_client, path, params):
    client, cid = app_client
    r = _request(client, cid, "POST", path, params)
    _assert_4xx_sentence(r, f"{path} {params}")


def test_an_options_error_anywhere_in_a_route_is_422_json():
    """The app-wide handler: a route that lets OptionsError escape still answers 422 JSON."""
    m = create_model("synthcnn_small")
    app = create_app(Settings(), detector=Detector(m, build_checkpoint(m)))

    @app.get("/boom")
    def boom() -> None:
        raise OptionsError("the threshold must be a number in [0, 1], got 'x'.")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 422
    assert r.json() == {"error": "the threshold must be a number in [0, 1], got 'x'.", "status": 422}
