"""``/v1/cases`` routes over the case service (TestClient, tiny untrained model)."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import zipfile

import pytest
from fastapi.testclient import TestClient

from synthcheck.api.config import Settings
from synthcheck.api.main import create_app
from synthcheck.checkpoint import build_checkpoint
from synthcheck.inference import Detector
from synthcheck.models import create_model
from tests.conftest import random_png as png


@pytest.fixture(scope="module")
def client():
    m = create_model("synthcnn_small")
    with TestClient(create_app(Settings(), detector=Detector(m, build_checkpoint(m)))) as c:
        yield c


def test_case_routes_end_to_end(client, home) -> None:
    assert client.get("/v1/cases").json() == []
    r = client.post("/v1/cases", json={"title": "Upload case", "tags": ["api"], "notes": "n1"},
                    headers={"X-SynthCheck-Actor": "bob"})
    assert r.status_code == 201
    cid = r.json()["id"]
    assert r.json()["tags"] == ["api"] and r.json()["created_by"] == "bob"

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("z/c.png", png(3))
        zf.writestr("../evil.png", png(4))
    r = client.post(f"/v1/cases/{cid}/images", files=[
        ("files", ("a.png", png(1), "image/png")), ("files", ("b.png", png(2), "image/png")),
        ("files", ("dup.png", png(1), "image/png")), ("files", ("bad.png", b"nope", "image/png")),
        ("files", ("more.zip", buf.getvalue(), "application/zip"))])
    assert r.status_code == 200
    rep = r.json()
    assert [a["name"] for a in rep["added"]] == ["a.png", "b.png", "z/c.png"]
    assert rep["duplicates"][0]["duplicate_of"] == "a.png"
    reasons = {x["name"]: x["reason"] for x in rep["rejected"]}
    assert "not a recognised image" in reasons["bad.png"] and "unsafe path" in reasons["../evil.png"]

    r = client.post(f"/v1/cases/{cid}/analyze", params={"control": "false", "seed": 3})
    assert r.status_code == 200
    res = r.json()
    assert res["n_analysed"] == 3 and res["seed"] == 3
    assert res["records"][0]["sha256"] == hashlib.sha256(png(1)).hexdigest()

    assert client.post(f"/v1/cases/{cid}/notes", json={"text": "checked", "image": "b.png"}).status_code == 201
    assert client.post(f"/v1/cases/{cid}/tags", json={"tags": ["x"]}).json() == {"tags": ["api", "x"]}

    case = client.get(f"/v1/cases/{cid}").json()
    assert case["n_analysed"] == 3 and all(im["analysis"] for im in case["images"])
    assert [c["id"] for c in client.get("/v1/cases").json()] == [cid]

    v = client.post(f"/v1/cases/{cid}/verify").json()
    assert v["status"] == "verified" and v["ok"] is True and v["first_broken_seq"] is None

    r = client.post(f"/v1/cases/{cid}/export", params={"methods": "none"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    signed = json.loads(r.content)
    assert signed["case"]["id"] == cid and "signature" in signed
    assert hashlib.sha256(r.content).hexdigest() == r.headers["X-SynthCheck-Report-SHA256"]
    from synthcheck.reporting.signing import verify_report

    assert verify_report(signed).status == "incomplete"  # signature valid; images not given
    r = client.post(f"/v1/cases/{cid}/export", params={"methods": "none", "format": "zip"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert sorted(zipfile.ZipFile(io.BytesIO(r.content)).namelist()) == [
        "report.html", "report.json", "report.pdf"]

    log = client.get(f"/v1/cases/{cid}/audit").json()
    assert [e["action"] for e in log][-2:] == ["export", "export"]
    assert log[0]["actor"] == "bob" and log[-1]["actor"] == "api"

    conn = sqlite3.connect(home / "cases.sqlite3", isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 3")
    conn.close()
    v = client.post(f"/v1/cases/{cid}/verify", params={"record": "false"}).json()
    assert v["status"] == "failed" and v["ok"] is False and v["first_broken_seq"] == 3 and "entry 3" in v["problems"][0]


def test_case_route_errors(client, home) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/v1/cases", "/v1/cases/{case_id}", "/v1/cases/{case_id}/export"} <= paths
    r = client.get("/v1/cases/nope")
    assert r.status_code == 404 and "no case 'nope'" in r.json()["error"]
    assert client.post("/v1/cases/nope/verify").status_code == 404
    assert client.post("/v1/cases/nope/images", files=[("files", ("a.png", png(1), "image/png"))]).status_code == 404
    assert client.post("/v1/cases", json={"title": ""}).status_code == 422
    r = client.post("/v1/cases", json={"title": "ok", "id": "../x"})
    assert r.status_code == 400 and "not usable" in r.json()["error"]
    cid = client.post("/v1/cases", json={"title": "empty"}).json()["id"]
    r = client.post(f"/v1/cases/{cid}/export")
    assert r.status_code == 400 and "no images" in r.json()["error"]
    r = client.post(f"/v1/cases/{cid}/export", params={"methods": "rm -rf"})
    assert r.status_code == 400 and "unknown explanation method" in r.json()["error"]
    r = client.post(f"/v1/cases/{cid}/analyze", params={"band_low": 0.9, "band_high": 0.1})
    assert r.status_code == 400
    r = client.post(f"/v1/cases/{cid}/notes", json={"text": "x", "image": "missing.png"})
    assert r.status_code == 400 and "no image" in r.json()["error"]


def test_case_upload_limit_is_enforced_while_the_body_streams(client, home) -> None:
    client.app.state.settings.case_upload_mb = 100 / 2**20  # 100 bytes
    try:
        cid = client.post("/v1/cases", json={"title": "small"}).json()["id"]
        r = client.post(f"/v1/cases/{cid}/images", files=[("files", ("a.png", png(1), "image/png"))])
        assert r.status_code == 413 and "limit" in r.json()["error"]
        assert client.get(f"/v1/cases/{cid}").json()["n_images"] == 0

        def chunks():  # no Content-Length: only the streaming count can stop it
            boundary = b"--xyz\r\n"
            yield boundary + b'Content-Disposition: form-data; name="files"; filename="a.png"\r\n\r\n'
            for _ in range(50):
                yield b"\0" * 64
        r = client.post(f"/v1/cases/{cid}/images", content=chunks(),
                        headers={"content-type": "multipart/form-data; boundary=xyz"})
        assert r.status_code == 413
        r = client.post(f"/v1/cases/{cid}/images", json={"files": []})
        assert r.status_code == 415
    finally:
        client.app.state.settings.case_upload_mb = 256.0
    r = client.post(f"/v1/cases/{cid}/images", files=[("files", ("a.png", png(1), "image/png"))])
    assert r.status_code == 200 and client.get(f"/v1/cases/{cid}").json()["n_images"] == 1
