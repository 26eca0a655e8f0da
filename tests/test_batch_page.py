"""Batch page: uploads in the page; server folders only under SYNTHCHECK_SCAN_ROOTS, scanned in
the background with progress, then shown a page at a time with a conclusion filter and exports."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from tests.test_app_pages import HEADLINES, _app, _encode, _errors, _img, _no_exception


@pytest.fixture(autouse=True)
def _env(monkeypatch) -> None:
    monkeypatch.setenv("SYNTHCHECK_DASHBOARD_WARMUP", "0")
    monkeypatch.delenv("SYNTHCHECK_SCAN_ROOTS", raising=False)
    monkeypatch.delenv("SYNTHCHECK_DATA", raising=False)


@pytest.fixture()
def folder(tmp_path) -> Path:
    root = tmp_path / "allowed" / "case"
    (root / "sub").mkdir(parents=True)
    for i in range(8):
        _img(i).save(root / ("sub" if i % 2 else "") / f"{i}.png")
    (root / "broken.png").write_bytes(b"junk")
    return root


def _folder_page(path: Path):
    at = _app().run()
    at.switch_page("pages/batch.py")
    at.session_state["batch_source"] = "Folder on the server"
    at.run()
    at.text_input(key="batch_folder").input(str(path)).run()
    _no_exception(at)
    return at


def test_uploads_and_zip_are_scored_in_the_page() -> None:
    at = _app().run()
    at.switch_page("pages/batch.py").run()
    good = _encode(_img(5), "PNG")
    at.file_uploader(key="batch_files").set_value(
        [("a.png", good, "image/png"), ("bad.png", b"junk", "image/png")]).run()
    _no_exception(at)
    df = at.dataframe[0].value
    assert len(df) == 2 and "not a recognised image" in df.loc[df["error"] != "", "error"].iloc[0]
    assert set(df["conclusion_label"]) <= set(HEADLINES) | {"Error"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x/a.png", good)
        zf.writestr("../evil.png", good)
    at.session_state["batch_source"] = "Upload a ZIP"
    at.run()
    at.file_uploader(key="batch_zip").set_value(("imgs.zip", buf.getvalue(), "application/zip")).run()
    _no_exception(at)
    assert sorted(at.dataframe[0].value["name"]) == ["../evil.png", "x/a.png"]


def test_no_scan_roots_means_no_server_folder_is_read(folder: Path) -> None:
    at = _app().run()
    at.switch_page("pages/batch.py")
    at.session_state["batch_source"] = "Folder on the server"
    at.run()
    _no_exception(at)
    assert any("SYNTHCHECK_SCAN_ROOTS" in i.value for i in at.info)
    assert not at.text_input and not at.dataframe and not at.button


def test_folder_outside_the_scan_roots_is_refused(folder: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHCHECK_SCAN_ROOTS", str(tmp_path / "elsewhere"))
    at = _folder_page(folder)
    assert any("outside the folders" in e for e in _errors(at))
    assert not at.dataframe and not at.button
    monkeypatch.setenv("SYNTHCHECK_DATA", str(folder.parent))  # the data folder is allowed
    at = _folder_page(folder)
    assert not _errors(at) and at.button(key="batch_scan_start")


def test_folder_scan_runs_in_the_background_then_pages_and_filters(folder: Path, tmp_path,
                                                                   monkeypatch) -> None:
    monkeypatch.setenv("SYNTHCHECK_SCAN_ROOTS", str(tmp_path / "allowed"))
    at = _folder_page(folder)
    at.button(key="batch_scan_start").click().run()
    _no_exception(at)
    deadline = time.monotonic() + 90
    while not at.dataframe and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        _no_exception(at)
    df = at.dataframe[0].value
    assert len(df) == 9 and (df["error"] != "").sum() == 1
    counts = {m.label: int(m.value) for m in at.metric}
    assert sum(counts[h] for h in HEADLINES) == 8 and counts["Errors"] == 1
    at.multiselect(key="batch_scan_conclusions").set_value(["error"]).run()
    _no_exception(at)
    df = at.dataframe[0].value
    assert list(df["conclusion_label"]) == ["Error"] and "broken.png" in df["path"].iloc[0]
    assert {b.label for b in at.get("download_button")} >= {"Download CSV", "Download JSON",
                                                           "Download PARQUET"}
    assert at.button(key="batch_scan_start").label.startswith("Scan again")
