"""The hostile corpus through the API and the dashboard's analysis: same answers as the package."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from synthcheck.analysis import analyze
from synthcheck.api.config import Settings
from synthcheck.api.main import create_app
from tests.hostile_corpus import build_corpus


@pytest.fixture(scope="module")
def uploads(tmp_path_factory):
    """(name, bytes, case) for every corpus file that exists as a file (uploads have bytes)."""
    cases = build_corpus(tmp_path_factory.mktemp("hostile"), large=True)
    return [(c.path.name, c.path.read_bytes(), c) for c in cases if c.path.is_file()]


def test_api_over_the_corpus(uploads, default_detector):
    settings = Settings(max_upload_mb=64, max_files=64)
    with TestClient(create_app(settings, detector=default_detector)) as client:
        for name, data, case in uploads:
            res = client.post("/v1/verify", files=[("files", (name, data, "application/octet-stream"))])
            assert res.status_code < 500, (name, res.status_code, res.text[:200])
            body = res.json()
            if case.expect == "ok":
                assert res.status_code == 200, (name, body)
                row = body["results"][0] if isinstance(body, dict) and "results" in body else body[0]
                assert row["verdict"] in ("REAL", "FAKE") and "error" not in row
            else:
                text = str(body)
                assert "Traceback" not in text and case.phrase in text, (name, body)
        # all at once: the good ones still get verdicts
        res = client.post("/v1/verify", files=[("files", (n, d, "application/octet-stream")) for n, d, _ in uploads])
        assert res.status_code == 200
        body = res.json()
        rows = body["results"] if isinstance(body, dict) and "results" in body else body
        assert len(rows) == len(uploads)
        for (_, _, case), row in zip(uploads, rows, strict=True):
            assert ("error" in row) == (case.expect == "error"), (case.name, row)


def test_dashboard_analysis_over_the_corpus(uploads, default_detector):
    results = analyze([(n, d) for n, d, _ in uploads], default_detector, names=[n for n, _, _ in uploads])
    for (_, _, case), r in zip(uploads, results, strict=True):
        if case.expect == "ok":
            assert r.error is None and r.verdict is not None, (case.name, r.error)
        else:
            assert r.error and case.phrase in r.error and "\n" not in r.error, (case.name, r.error)


def test_dashboard_analyze_page_upload_of_the_corpus(uploads):
    """AppTest upload of every corpus file (except the 6000x4000 photo, for speed)."""
    from tests.test_app_pages import _app, _errors, _no_exception, _verdicts

    files = [(n, d, "application/octet-stream") for n, d, c in uploads if not n.startswith("large_")]
    at = _app().run()
    at.file_uploader(key="analyze_files").set_value(files).run()
    _no_exception(at)
    expected_ok = sum(c.expect == "ok" for n, _, c in uploads if not n.startswith("large_"))
    expected_err = len(files) - expected_ok
    assert len(_verdicts(at)) == expected_ok
    errors = _errors(at)
    assert len(errors) == expected_err and all("Traceback" not in e for e in errors)
