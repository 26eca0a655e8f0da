"""The Cases dashboard page under ``streamlit.testing.v1.AppTest`` (temporary SYNTHCHECK_HOME)."""

from __future__ import annotations

import io
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from synthcheck import cases
from tests.conftest import random_png as png

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
PAGE = "pages/cases.py"




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
    assert "Added 3 image(s)" in texts(at.success) and "2 refused" in texts(at.success)
    assert "unsafe path" in texts(at.error)
    raw_errors = "\n".join(e.value for e in at.error)
    assert "\\!\\[x\\]\\(http" in raw_errors  # a hostile entry name is shown as text, not an image
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images"] == "3" and metrics["Refused"] == "2"
    refused = next(d.value for d in at.dataframe if "Why it was refused" in d.value.columns)
    assert set(refused["File"]) == {"../evil.png", "![x](http:/tracker.example/p.png).png"}  # (normalised)
    assert not at.file_uploader(key="cases_upload_1").value  # the uploader was emptied

    ok(at.button(key="cases_analyze").click().run())
    assert "Analysed 3 image(s)" in texts(at.success)
    df = next(d.value for d in at.dataframe if "Conclusion" in d.value.columns)
    assert len(df) == 3 and df["Raw call"].isin(["REAL", "FAKE"]).all() and df["Model score"].notna().all()
    assert df["Conclusion"].isin(["Likely real", "Uncertain", "Likely synthetic", "Cannot assess"]).all()
    assert list(df.columns[:2]) == ["File", "Conclusion"]  # the conclusion leads, the raw call follows
    assert "None" not in df.astype(str).to_numpy().ravel().tolist()
    assert {m.label: m.value for m in at.metric}["Control run"] == "passed"

    at.text_area(key="cases_note_text").input("seen on social media")
    ok(at.button(key="cases_note_add").click().run())
    assert "Note added" in texts(at.success)

    ok(at.button(key="cases_verify").click().run())
    assert "intact" in texts(at.success)
    audit = next(d.value for d in at.dataframe if "Action" in d.value.columns)
    assert audit["Action"].iloc[0] == "verify" and "image added" in set(audit["Action"])
    assert "file refused" in set(audit["Action"])
    assert not audit["Details"].str.contains("=").any()  # words, not key=value dumps
    ok(at.button(key="cases_note_add").click().run())  # another action: the result stays
    assert "intact" in texts(at.success)

    at.checkbox(key="cases_export_gradcam").uncheck()
    ok(at.button(key="cases_export").click().run())
    assert "Signed report written" in texts(at.success)
    labels = [b.label for b in at.get("download_button")]
    assert labels == [f"Download the signed report ({k})" for k in ("JSON", "HTML", "PDF")]
    at.text_area(key="cases_note_text").input("a later note")
    ok(at.button(key="cases_note_add").click().run())  # the case changed: the old report goes
    assert not at.get("download_button")

    conn = sqlite3.connect(home / "cases.sqlite3", isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_delete")
    conn.execute("DELETE FROM audit WHERE seq = 5")
    conn.close()
    ok(at.button(key="cases_verify").click().run())
    assert "TAMPERING DETECTED - first broken entry: 5" in texts(at.error)
    assert "intact" not in texts(at.success)  # the new result replaced the old one
    ok(at.button(key="cases_verify_dismiss").click().run())
    assert "TAMPERING DETECTED" not in texts(at.error)


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


def _case_with_images() -> str:
    c = cases.create_case("Evidence")
    cases.add_images(c["id"], [("a.png", png(1)), ("b.png", png(2))])
    return c["id"]


def test_one_image_says_what_the_stored_analysis_says(home, default_detector) -> None:
    cid = _case_with_images()
    cases.analyze_case(cid, default_detector, threshold=0.7, edges=(0.1, 0.9), control=False)
    stored = cases.get_case(cid)["images"][0]["analysis"]["record"]
    at = page()
    assert at.selectbox(key="cases_evidence").value is None  # nothing computed until chosen
    sha = cases.get_case(cid)["images"][0]["sha256"]
    ok(at.selectbox(key="cases_evidence").select(sha).run())
    headline = texts(m for m in at.markdown if str(m.value).startswith("### "))
    assert stored["conclusion_label"] in headline
    caption = texts(at.caption)
    assert "The same as the stored analysis" in caption and "threshold 0.7" in caption
    assert f"raw call {stored['verdict']} at threshold 0.7" in caption  # the record's, not the sidebar's
    captions = [x.caption for i in at.get("image") for x in i.proto.imgs]
    # the map explains the stored analysis's verdict (threshold 0.7), with its trust sentence
    from synthcheck.analysis import map_caption

    reliable = stored["conclusion"] != "cannot_assess"
    assert map_caption(stored["verdict"], reliable) in captions
    assert reliable or not any("evidence for" in c for c in captions)  # neutral out of domain
    assert any(c.startswith("Error level analysis: Re-saved at JPEG quality 90") for c in captions)
    assert re.search(r"Grad-CAM (beats|is) [^\n]*random", caption), caption
    assert any(c.startswith("Noise residual: ") and "grey levels" in c for c in captions)
    assert not any("_" in c.split(":")[0] for c in captions)  # titles, not view keys
    ok(at.button(key="cases_explain").click().run())
    table = next(d.value for d in at.dataframe if "Method" in d.value.columns)
    assert set(table["Method"]) == {"gradcam", "gradient_shap", "lime"}
    assert table["Deletion AUC (lower: better)"].notna().all()


def test_verify_a_signed_report_from_the_page(home, tiny_detector, tmp_path) -> None:
    cid = _case_with_images()
    cases.analyze_case(cid, tiny_detector, control=False)
    cases.export_case(cid, tmp_path, tiny_detector, methods=[])
    report = (tmp_path / "report.json").read_bytes()
    at = page()
    stored = cases.get_case(cid)["images"][0]
    ok(at.selectbox(key="cases_evidence").select(stored["sha256"]).run())  # analysed by another model
    assert stored["analysis"]["record"]["conclusion_label"] in texts(
        m for m in at.markdown if str(m.value).startswith("### "))
    assert "the sidebar's model is not the one that made it" in texts(at.caption)
    ok(at.toggle(key="cases_report_on").set_value(True).run())
    at.file_uploader(key="cases_report_files").set_value(
        [("report.json", report, "application/json"), ("a.png", png(1), "image/png"),
         ("b.png", png(2), "image/png")]).run()
    ok(at.button(key="cases_report_verify").click().run())
    assert "report.json: signature valid; all 2 images checked and match" in texts(at.success)
    assert not at.error and not at.warning
    ok(at.toggle(key="cases_report_on").set_value(False).run())  # the result stays until dismissed
    assert "signature valid" in texts(at.success)
    ok(at.button(key="cases_report_dismiss").click().run())
    assert "signature valid" not in texts(at.success)

    edited = report.replace(b'"title": "Evidence"', b'"title": "Evidencf"')
    assert edited != report
    ok(at.toggle(key="cases_report_on").set_value(True).run())
    at.file_uploader(key="cases_report_files").set_value(
        [("report.json", edited, "application/json"), ("a.png", png(9), "image/png")]).run()
    ok(at.button(key="cases_report_verify").click().run())
    errors = texts(at.error)
    assert "FAILED - 2 problem(s)" in errors and "signature" in errors and "a.png differs" in errors
    assert str(tmp_path) not in errors and "/tmp/synthcheck-verify-" not in errors
    at.file_uploader(key="cases_report_files").set_value([("a.png", png(1), "image/png")]).run()
    ok(at.button(key="cases_report_verify").click().run())
    assert "Upload exactly one signed report" in texts(at.error)


def test_a_report_checked_with_some_of_its_images_is_incomplete_not_red(home, tiny_detector, tmp_path) -> None:
    cid = _case_with_images()
    cases.analyze_case(cid, tiny_detector, control=False)
    cases.export_case(cid, tmp_path, tiny_detector, methods=[])
    report = (tmp_path / "report.json").read_bytes()
    at = page()
    ok(at.toggle(key="cases_report_on").set_value(True).run())
    at.file_uploader(key="cases_report_files").set_value(
        [("report.json", report, "application/json"), ("a.png", png(1), "image/png")]).run()
    ok(at.button(key="cases_report_verify").click().run())
    assert not at.error and not at.success  # a subset is not a forgery, nor the whole check
    assert "signature valid; 1 of 2 images checked and match; 1 not supplied" in texts(at.warning)
    table = next(d.value for d in at.dataframe if "Found as" in d.value.columns)
    assert sorted(table["Status"]) == ["found, matches", "not supplied"]
    assert "None" not in table.astype(str).to_numpy().ravel().tolist() and not table.isna().any().any()
    at.file_uploader(key="cases_report_files").set_value(
        [("report.json", b"[" * 100_000 + b"]" * 100_000, "application/json")]).run()
    ok(at.button(key="cases_report_verify").click().run())
    assert "cannot be verified: report.json: is not a JSON report" in texts(at.error)
    assert "FAILED" not in texts(at.error) and not at.warning


def test_adding_a_server_folder_follows_the_folder_policy(home, tmp_path, monkeypatch) -> None:
    cases.create_case("Folders")
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "a.png").write_bytes(png(1))
    monkeypatch.delenv("SYNTHCHECK_SCAN_ROOTS", raising=False)
    monkeypatch.delenv("SYNTHCHECK_DATA", raising=False)
    at = page()
    ok(at.text_input(key="cases_folder").input(str(folder)).run())
    ok(at.button(key="cases_add_folder").click().run())
    refusal = texts(at.error)
    assert "Reading folders on the server is off" in refusal
    assert "SYNTHCHECK_SCAN_ROOTS" in refusal and "SYNTHCHECK_DATA" in refusal
    assert cases.get_case(cases.list_cases()[0]["id"])["n_images"] == 0
    monkeypatch.setenv("SYNTHCHECK_SCAN_ROOTS", str(tmp_path / "elsewhere"))
    ok(at.button(key="cases_add_folder").click().run())
    assert "outside the folders this server may read" in texts(at.error)
    monkeypatch.setenv("SYNTHCHECK_SCAN_ROOTS", str(tmp_path))
    ok(at.button(key="cases_add_folder").click().run())
    assert "Added 1 image(s)" in texts(at.success)
    assert cases.get_case(cases.list_cases()[0]["id"])["n_images"] == 1
