"""The Cases dashboard page under ``streamlit.testing.v1.AppTest`` (temporary SYNTHCHECK_HOME)."""

from __future__ import annotations

import io
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from synthcheck import cases

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
PAGE = "pages/cases.py"


def png(seed: int) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(autouse=True)
def home(home: Path, monkeypatch) -> Path:
    """The test's home (conftest); no dashboard warm-up thread competing for the cores."""
    monkeypatch.setenv("SYNTHCHECK_DASHBOARD_WARMUP", "0")
    return home


def page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> str:
    """Element bodies with the page's Markdown escapes removed."""
    return "\n".join(str(e.value) for e in elements).replace("\\", "")


def test_cases_page_full_workflow(home) -> None:
    at = page()
    assert "No cases yet" in texts(at.info)
    at.text_input(key="cases_new_title").input("Dashboard case")
    at.text_input(key="cases_new_tags").input("web, urgent")
    ok(at.button(key="cases_create").click().run())
    assert "Created case" in texts(at.success)
    (row,) = cases.list_cases()
    assert row["title"] == "Dashboard case" and row["tags"] == ["urgent", "web"]
    assert at.selectbox(key="cases_open").value == row["id"]

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("inner/c.png", png(3))
        zf.writestr("../evil.png", png(4))
        zf.writestr("![x](http://tracker.example/p.png).png", b"junk")
    at.file_uploader(key="cases_upload").set_value(
        [("a.png", png(1), "image/png"), ("b.png", png(2), "image/png"),
         ("imgs.zip", buf.getvalue(), "application/zip")]).run()
    ok(at.button(key="cases_add").click().run())
    assert "Added 3 image(s)" in texts(at.success)
    assert "unsafe path" in texts(at.error)
    raw_errors = "\n".join(e.value for e in at.error)
    assert "\\!\\[x\\]\\(http" in raw_errors  # a hostile entry name is shown as text, not an image
    assert {m.label: m.value for m in at.metric}["Images"] == "3"

    ok(at.button(key="cases_analyze").click().run())
    assert "Analysed 3 image(s)" in texts(at.success)
    df = next(d.value for d in at.dataframe if "conclusion" in d.value.columns)
    assert len(df) == 3 and df["raw call"].isin(["REAL", "FAKE"]).all() and df["p_fake"].notna().all()
    assert df["conclusion"].isin(["Likely real", "Uncertain", "Likely synthetic", "Cannot assess"]).all()
    assert list(df.columns[:2]) == ["name", "conclusion"]  # the conclusion leads, the raw call follows
    assert {m.label: m.value for m in at.metric}["Control run"] == "passed"

    at.text_area(key="cases_note_text").input("seen on social media")
    ok(at.button(key="cases_note_add").click().run())
    assert "Note added" in texts(at.success)

    ok(at.button(key="cases_verify").click().run())
    assert "intact" in texts(at.success)
    audit = next(d.value for d in at.dataframe if "action" in d.value.columns)
    assert audit["action"].iloc[0] == "verify" and "image_added" in set(audit["action"])

    at.checkbox(key="cases_export_gradcam").uncheck()
    ok(at.button(key="cases_export").click().run())
    assert "Signed report written" in texts(at.success)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download JSON", "Download HTML", "Download PDF"]

    conn = sqlite3.connect(home / "cases.sqlite3", isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DELETE FROM audit WHERE seq = 5")
    conn.close()
    ok(at.button(key="cases_verify").click().run())
    assert "TAMPERING DETECTED - first broken entry: 5" in texts(at.error)


def test_cases_page_bad_input_shows_errors_not_exceptions(home) -> None:
    at = page()
    ok(at.button(key="cases_create").click().run())  # empty title
    assert "title is empty" in texts(at.error)
    cases.create_case("Existing")
    ok(at.run())
    at.file_uploader(key="cases_upload").set_value([("junk.png", b"not an image", "image/png")]).run()
    ok(at.button(key="cases_add").click().run())
    assert "not a recognised image file" in texts(at.error)
    at.text_input(key="cases_tag_text").input(",")
    ok(at.button(key="cases_tag_apply").click().run())
    assert "no tag given" in texts(at.error)
