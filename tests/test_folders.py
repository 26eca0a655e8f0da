"""The dashboard's one folder policy (``synthcheck.dashboard.folders``), without Streamlit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from synthcheck.dashboard.folders import (
    READING_OFF,
    FolderRefused,
    allowed_folder,
    allowed_roots,
    default_data_folder,
    roots_sentence,
)


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    (tmp_path / "cases" / "a").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "cases" / "link").symlink_to(tmp_path / "other")
    return tmp_path


def test_roots_come_from_the_two_variables_resolved_without_repeats(tree: Path) -> None:
    env = {"SYNTHCHECK_SCAN_ROOTS": f"{tree / 'cases'}{os.pathsep} {os.pathsep}{tree / 'x' / '..' / 'cases'}",
           "SYNTHCHECK_DATA": str(tree / "data")}
    assert allowed_roots(env) == [(tree / "cases").resolve(), (tree / "data").resolve()]
    assert allowed_roots({}) == []
    assert default_data_folder(env) == str(tree / "data") and default_data_folder({}) == ""


def test_inside_a_root_is_allowed_and_outside_is_refused_naming_the_variables(tree: Path) -> None:
    roots = [tree / "cases"]
    assert allowed_folder(tree / "cases" / "a", roots) == (tree / "cases" / "a").resolve()
    assert allowed_folder(tree / "cases", roots) == (tree / "cases").resolve()
    for outside in (tree / "other", tree / "cases" / ".." / "other", tree / "cases" / "link"):
        with pytest.raises(FolderRefused, match="outside the folders this server may read") as exc:
            allowed_folder(outside, roots)
        assert "SYNTHCHECK_SCAN_ROOTS" in str(exc.value) and "SYNTHCHECK_DATA" in str(exc.value)


def test_no_roots_means_no_folder_and_the_message_says_how_to_allow_one(tree: Path) -> None:
    with pytest.raises(FolderRefused) as exc:
        allowed_folder(tree / "cases", [])
    assert str(exc.value) == READING_OFF
    assert "SYNTHCHECK_SCAN_ROOTS" in READING_OFF and "SYNTHCHECK_DATA" in READING_OFF
    assert roots_sentence([]) == READING_OFF
    assert str(tree / "cases") in roots_sentence([tree / "cases"])


def test_a_missing_folder_or_a_file_is_refused_unless_a_file_is_asked_for(tree: Path) -> None:
    (tree / "cases" / "a" / "x.png").write_bytes(b"x")
    with pytest.raises(FolderRefused, match="is not a folder"):
        allowed_folder(tree / "cases" / "missing", [tree])
    with pytest.raises(FolderRefused, match="is not a folder"):
        allowed_folder(tree / "cases" / "a" / "x.png", [tree])
    assert allowed_folder(tree / "cases" / "a" / "x.png", [tree], must_be_dir=False).is_file()
    with pytest.raises(FolderRefused, match="No folder given"):
        allowed_folder("  ", [tree])


def test_the_environment_is_read_when_no_roots_are_given(tree: Path, monkeypatch) -> None:
    monkeypatch.delenv("SYNTHCHECK_SCAN_ROOTS", raising=False)
    monkeypatch.setenv("SYNTHCHECK_DATA", str(tree / "data"))
    assert allowed_folder(tree / "data") == (tree / "data").resolve()
    with pytest.raises(FolderRefused, match="outside"):
        allowed_folder(tree / "cases")
