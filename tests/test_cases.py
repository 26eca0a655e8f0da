"""Cases core: hash-chained audit log (tamper detection), evidence pinning, blobs, ZIP/folder intake."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import stat
import zipfile
from pathlib import Path

import pytest

from synthcheck import cases
from synthcheck.cases import audit
from synthcheck.cases.store import BlobStore, db_path
from synthcheck.intake import IntakeLimits, iter_intake, unsafe_name_reason
from tests.conftest import random_png as png


def zip_bytes(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name) if name.endswith("/") else name, data)
    return buf.getvalue()


@pytest.fixture
def home(home: Path, monkeypatch) -> Path:
    """The test's home (conftest), with a fixed actor name in the audit log."""
    monkeypatch.setenv("SYNTHCHECK_ACTOR", "tester")
    return home


@pytest.fixture
def case(home) -> str:
    """A case with 9 audit entries: created, 2 images (+intake), 1 duplicate, notes, tags."""
    c = cases.create_case("Harbour", notes="first note", tags=["press"])
    cases.add_images(c["id"], [("a.png", png(1)), ("b.png", png(2)), ("again.png", png(1))])
    cases.add_note(c["id"], "looks edited", image="a.png")
    cases.tag(c["id"], ["suspect"], image="b.png")
    return c["id"]


def raw(home: Path) -> sqlite3.Connection:
    """A plain connection with every trigger dropped: what an attacker with file access can do."""
    conn = sqlite3.connect(db_path(home), isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    return conn


def head(case_id: str) -> int:
    return cases.get_case(case_id)["audit_head"]["seq"]


# -- the chain ----------------------------------------------------------------------------
def test_intact_case_verifies_and_the_verification_is_logged(case) -> None:
    n = head(case)
    assert n == 9
    res = cases.verify_case(case)
    assert res.ok and res.first_broken_seq is None and not res.problems
    assert res.n_entries == n and res.n_images_checked == 2
    assert "intact" in res.summary()
    last = cases.audit_entries(case)[-1]
    assert last.action == "verify" and last.details["ok"] is True and last.seq == n + 1
    assert cases.verify_case(case, record=False).ok and head(case) == n + 1


def test_chain_links_each_entry_to_the_previous_hash(case) -> None:
    entries = cases.audit_entries(case)
    assert entries[0].prev_hash == audit.GENESIS and entries[0].action == "case_created"
    for prev, e in zip(entries, entries[1:], strict=False):
        assert e.prev_hash == prev.hash and e.seq == prev.seq + 1
        assert e.actor == "tester"
    actions = [e.action for e in entries]
    assert actions == ["case_created", "note_added", "tag_added", "image_added", "image_added",
                       "image_duplicate", "intake", "note_added", "tag_added"]


def test_triggers_refuse_update_and_delete(case, home) -> None:
    conn = sqlite3.connect(db_path(home), isolation_level=None)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit WHERE seq = 9")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM images")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE image_names SET name = 'other.png'")
    with pytest.raises(sqlite3.DatabaseError, match="head"):
        conn.execute("UPDATE cases SET head_seq = 3")
    with pytest.raises(sqlite3.DatabaseError, match="identity"):
        conn.execute("UPDATE cases SET title = 'other'")
    assert cases.verify_case(case, record=False).ok


def _tampered(case: str, first: int, words: str) -> cases.CaseCheck:
    res = cases.verify_case(case, record=False)
    assert not res.ok
    assert res.first_broken_seq == first, res.problems
    assert words in res.problems[0], res.problems
    assert f"first broken entry: {first}" in res.summary()
    return res


def test_edited_details_are_detected(case, home) -> None:
    with raw(home) as conn:
        conn.execute("UPDATE audit SET details = replace(details, 'looks edited', 'looks fine') "
                     "WHERE seq = 8")
    _tampered(case, 8, "entry 8 (note_added) was altered")


@pytest.mark.parametrize("column,value", [("actor", "mallory"), ("ts", "2020-01-01T00:00:00.000000Z"),
                                          ("action", "note_removed")])
def test_every_column_is_covered_by_the_hash(case, home, column, value) -> None:
    with raw(home) as conn:
        conn.execute(f"UPDATE audit SET {column} = ? WHERE seq = 3", (value,))
    _tampered(case, 3, "was altered")


def test_deleted_middle_row_is_detected(case, home) -> None:
    with raw(home) as conn:
        conn.execute("DELETE FROM audit WHERE seq = 5")
    res = _tampered(case, 5, "entry 5 missing")
    assert "rows were deleted" in res.problems[0]


def test_deleted_last_rows_are_detected_through_the_recorded_head(case, home) -> None:
    with raw(home) as conn:
        conn.execute("DELETE FROM audit WHERE seq >= 8")
    _tampered(case, 8, "the last 2 entries were deleted")


def test_reordered_rows_are_detected(case, home) -> None:
    with raw(home) as conn:  # swap the positions of entries 4 and 5
        conn.execute("UPDATE audit SET seq = -1 WHERE seq = 4")
        conn.execute("UPDATE audit SET seq = 4 WHERE seq = 5")
        conn.execute("UPDATE audit SET seq = 5 WHERE seq = -1")
    res = _tampered(case, 4, "entry 4 (image_added) is out of order: it was written as entry 5")
    assert any("entry 5" in p and "written as entry 4" in p for p in res.problems)


def test_forged_row_with_recomputed_hash_but_wrong_prev_is_detected(case, home) -> None:
    with raw(home) as conn:
        row = conn.execute("SELECT ts, actor, action, details FROM audit WHERE seq = 6").fetchone()
        details = json.loads(row[3])
        details["name"] = "innocent.png"
        text, prev = audit.canonical(details), "f" * 64
        digest = audit.entry_hash(case, 6, row[0], row[1], row[2], text, prev)
        conn.execute("UPDATE audit SET details = ?, prev_hash = ?, hash = ? WHERE seq = 6",
                     (text, prev, digest))
    _tampered(case, 6, "entry 6 (image_duplicate) does not link to entry 5")


def test_rewritten_row_is_caught_at_the_next_link(case, home) -> None:
    """Edit + recompute its hash with the right prev_hash: the next entry no longer links to it."""
    with raw(home) as conn:
        row = conn.execute("SELECT ts, actor, action, details, prev_hash FROM audit WHERE seq = 2").fetchone()
        text = row[3].replace("first note", "other note")
        digest = audit.entry_hash(case, 2, row[0], row[1], row[2], text, row[4])
        conn.execute("UPDATE audit SET details = ?, hash = ? WHERE seq = 2", (text, digest))
    res = _tampered(case, 3, "entry 3 (tag_added) does not link to entry 2")
    assert len(res.chain_problems) == 1 and not res.evidence_problems


def test_inserted_row_after_the_head_is_detected(case, home) -> None:
    n = head(case)
    with raw(home) as conn:
        last = conn.execute("SELECT hash FROM audit WHERE seq = ?", (n,)).fetchone()[0]
        text = audit.canonical({"text": "planted"})
        ts = audit.now_utc()
        digest = audit.entry_hash(case, n + 1, ts, "x", "note_added", text, last)
        conn.execute("INSERT INTO audit VALUES (?, ?, ?, 'x', 'note_added', ?, ?, ?)",
                     (case, n + 1, ts, text, last, digest))
    _tampered(case, n + 1, "added outside SynthCheck")


def test_deleted_case_row_is_reported_not_hidden(case, home) -> None:
    with raw(home) as conn:
        conn.execute("DELETE FROM cases WHERE id = ?", (case,))
    res = cases.verify_case(case)
    assert not res.ok and "case's own record was deleted" in res.problems[0]
    assert "audit log of 9 entries remains" in res.problems[0]


def test_concurrent_writers_keep_one_valid_chain(case, home) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from synthcheck.cases.store import connect

    def work(k: int) -> None:
        for i in range(10):
            cases.add_note(case, f"writer {k} note {i}", actor=f"w{k}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    assert head(case) == 9 + 40
    assert cases.verify_case(case, record=False).ok
    conn = connect(home)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.close()


def test_verify_chain_on_synthetic_log_is_fast_and_exact() -> None:
    rows, prev = [], audit.GENESIS
    for seq in range(1, 2001):
        text = audit.canonical({"i": seq})
        h = audit.entry_hash("c", seq, "t", "a", "x", text, prev)
        rows.append({"seq": seq, "ts": "t", "actor": "a", "action": "x", "details": text,
                     "prev_hash": prev, "hash": h})
        prev = h
    assert audit.verify_chain("c", rows, 2000, prev).ok
    assert not audit.verify_chain("other-case", rows, 2000, prev).ok  # rows are bound to their case
    del rows[999]
    check = audit.verify_chain("c", rows, 2000, prev)
    assert check.first_broken_seq == 1000 and len(check.problems) == 1


# -- evidence rows and blobs ----------------------------------------------------------------
def test_edited_deleted_and_unlogged_evidence_rows_are_detected(case, home) -> None:
    with raw(home) as conn:
        conn.execute("UPDATE notes SET text = 'nothing to see' WHERE text = 'looks edited'")
        conn.execute("DELETE FROM tag_events WHERE tag = 'suspect'")
        conn.execute("INSERT INTO images(case_id, sha256, n_bytes, added_utc) VALUES (?, ?, 1, 'now')",
                     (case, "e" * 64))
    res = cases.verify_case(case, record=False)
    assert not res.ok and res.first_broken_seq is None  # the log itself is intact
    text = "\n".join(res.evidence_problems)
    assert "notes row" in text and "altered after entry 8 (note_added)" in text
    assert "tag_events row" in text and "missing (deleted)" in text
    assert "is not in the audit log" in text
    assert "missing from the blob store" in text


def test_blobs_are_content_addressed_read_only_and_checked(case, home) -> None:
    store = BlobStore(home)
    sha = hashlib.sha256(png(1)).hexdigest()
    path = store.path_for(sha)
    assert path == home / "blobs" / sha[:2] / sha[2:] and path.read_bytes() == png(1)
    assert not (path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    assert store.put(png(1)) == (sha, False)  # dedupe: never rewritten
    os.chmod(path, 0o644)
    path.write_bytes(png(9))
    res = cases.verify_case(case, record=False)
    assert not res.ok and any("no longer matches its SHA-256" in p for p in res.problems)
    path.unlink()
    assert any("missing from the blob store" in p for p in cases.verify_case(case, record=False).problems)
    with pytest.raises(ValueError):
        store.path_for("../../etc/passwd")


def test_originals_are_never_modified_and_names_are_kept(home, tmp_path) -> None:
    src = tmp_path / "evidence"
    (src / "deep" / "er").mkdir(parents=True)
    f = src / "deep" / "er" / "x.png"
    f.write_bytes(png(3))
    before = (f.read_bytes(), f.stat().st_mtime_ns, f.stat().st_mode)
    c = cases.create_case("Names")
    rep = cases.add_images(c["id"], [src, f])
    assert [a["name"] for a in rep.added] == ["deep/er/x.png"]
    assert [(d["name"], d["duplicate_of"]) for d in rep.duplicates] == [("x.png", "deep/er/x.png")]
    assert (f.read_bytes(), f.stat().st_mtime_ns, f.stat().st_mode) == before
    (im,) = cases.get_case(c["id"])["images"]
    assert [n["name"] for n in im["names"]] == ["deep/er/x.png", "x.png"]
    assert im["names"][0]["source"] == f"folder:{src.resolve()}"
    assert im["names"][1]["source"] == f"file:{f.resolve()}" and "mtime_utc" in im["names"][1]


def test_case_errors_are_one_sentence(home) -> None:
    with pytest.raises(cases.CaseNotFound, match="no case 'nope'"):
        cases.get_case("nope")
    with pytest.raises(cases.CaseError, match="title is empty"):
        cases.create_case("  ")
    c = cases.create_case("X", case_id="my-case")
    with pytest.raises(cases.CaseError, match="exists already"):
        cases.create_case("Y", case_id="my-case")
    with pytest.raises(cases.CaseError, match="not usable"):
        cases.create_case("Y", case_id="../bad")
    with pytest.raises(cases.CaseError, match="no image"):
        cases.add_note(c["id"], "x", image="missing.png")
    assert [r["id"] for r in cases.list_cases()] == ["my-case"]


def test_tags_add_and_remove_replayed_from_events(case) -> None:
    assert cases.tag(case, ["a", "b"]) == ["a", "b", "press"]
    assert cases.tag(case, ["press", "zzz"], remove=True) == ["a", "b"]
    got = cases.get_case(case)
    assert got["tags"] == ["a", "b"]
    assert [im["tags"] for im in got["images"]] == [[], ["suspect"]]
    assert cases.verify_case(case, record=False).ok


# -- analysis -----------------------------------------------------------------------------
def test_analysis_rows_are_reproducible_records(case, tiny_detector) -> None:
    from synthcheck.analysis import records

    res = cases.analyze_case(case, tiny_detector, seed=7, control=False)
    assert res["n_analysed"] == 2 and res["control_run"] is None
    got = cases.get_case(case)
    for im, data in zip(got["images"], (png(1), png(2)), strict=True):
        a = im["analysis"]
        assert a["record"] == records([data], tiny_detector, names=[im["name"]])[0]
        assert a["seed"] == 7 and a["params"]["threshold"] == 0.5
        assert a["params"]["band_edges"] == [0.2, 0.8]
        assert a["model_name"] == "synthcnn_small" and len(a["model_sha256"]) == 64
        assert a["code_version"].startswith(__import__("synthcheck").__version__)
    assert res["model"]["sha256_of"] == "weights"
    entries = cases.audit_entries(case)
    assert [e.action for e in entries[-3:]] == ["analysis", "analysis", "analysis_run"]
    assert cases.verify_case(case, record=False).ok
    again = cases.analyze_case(case, tiny_detector, only_new=True, control=False)
    assert again["n_images"] == 0


def test_control_run_recorded_and_reused_the_same_day(case, default_detector) -> None:
    first = cases.analyze_case(case, default_detector)["control_run"]
    assert first["ok"] is True and first["reused"] is False
    second = cases.analyze_case(case, default_detector)["control_run"]
    assert second["reused"] is True
    got = cases.get_case(case)["control_run"]
    assert got["ok"] is True and got["model_sha256"] == default_detector.checkpoint_sha256
    assert [e.action for e in cases.audit_entries(case)].count("control_run") == 2
    assert cases.verify_case(case, record=False).ok


def test_tampered_blob_is_not_analysed(case, home, tiny_detector) -> None:
    path = BlobStore(home).path_for(hashlib.sha256(png(2)).hexdigest())
    os.chmod(path, 0o644)
    path.write_bytes(png(5))
    res = cases.analyze_case(case, tiny_detector, control=False)
    assert res["n_errors"] == 1 and "no longer matches its SHA-256" in res["problems"][0]


# -- intake -------------------------------------------------------------------------------
def _intake(sources, **limits):
    items = list(iter_intake(sources, IntakeLimits(**limits) if limits else None))
    good = [i for i in items if isinstance(i, cases.Candidate)]
    bad = {i.name: i.reason for i in items if isinstance(i, cases.Rejection)}
    return good, bad


@pytest.mark.parametrize("name", ["../evil.png", "a/../../evil.png", "/etc/evil.png", "C:/win.png",
                                  "c:evil.png", "a\\..\\..\\evil.png", "\\\\server\\share.png"])
def test_zip_path_traversal_is_refused(name) -> None:
    assert unsafe_name_reason(name)
    good, bad = _intake([("up.zip", zip_bytes({name: png(), "ok/fine.png": png(1)}))])
    assert [g.name for g in good] == ["ok/fine.png"]
    assert "unsafe path" in bad[name]


def test_zip_bomb_lying_header_symlink_encrypted_and_nested_archives() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.png", b"\0" * 5_000_000)
        link = zipfile.ZipInfo("link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("inner.zip", zip_bytes({"x.png": png()}))
        zf.writestr("deep/er/ok.png", png(4))
    data = bytearray(buf.getvalue())
    enc = bytearray(zip_bytes({"secret.png": png()}, method=zipfile.ZIP_STORED))
    for off in (i for i in range(len(enc) - 4) if enc[i:i + 4] in (b"PK\x03\x04", b"PK\x01\x02")):
        enc[off + (6 if enc[off + 2] == 3 else 8)] |= 0x1  # mark the entry encrypted
    good, bad = _intake([("a.zip", bytes(data)), ("enc.zip", bytes(enc))])
    assert [g.name for g in good] == ["deep/er/ok.png"]
    assert "compression ratio" in bad["bomb.png"] and "ZIP bomb" in bad["bomb.png"]
    assert "symbolic link" in bad["link.png"]
    assert "ZIP archive inside the ZIP" in bad["inner.zip"]
    assert "encrypted" in bad["secret.png"]


def test_zip_entry_larger_than_its_header_is_refused() -> None:
    data = bytearray(zip_bytes({"x.png": png(6, 64)}, method=zipfile.ZIP_STORED))
    real = len(png(6, 64))
    # shrink the declared size in the local header and the central directory
    for off in (i for i in range(len(data) - 4) if data[i:i + 4] in (b"PK\x03\x04", b"PK\x01\x02")):
        field = off + (22 if data[off + 2] == 3 else 24)
        assert int.from_bytes(data[field:field + 4], "little") == real
        data[field:field + 4] = (100).to_bytes(4, "little")
    good, bad = _intake([("a.zip", bytes(data))])
    assert not good and "x.png" in bad
    assert "ZIP" in bad["x.png"] or "header" in bad["x.png"]


def test_count_size_and_total_limits() -> None:
    entries = {f"{i}.png": png(i) for i in range(6)}
    good, bad = _intake([("a.zip", zip_bytes(entries))], max_files=2)
    assert len(good) == 2 and "over the limit of 2 files" in bad["2.png"]
    assert "4 inputs in all were over the limit" in bad["(3 more)"]
    big = png(1, 256)
    good, bad = _intake([("big.png", big), ("small.png", png(2))], max_file_bytes=len(big) - 1)
    assert [g.name for g in good] == ["small.png"] and "per-file limit" in bad["big.png"]
    good, bad = _intake([("a.png", png(1)), ("b.png", png(2))], max_total_bytes=len(png(1)) + 10)
    assert [g.name for g in good] == ["a.png"] and "in total" in bad["b.png"]
    good, bad = _intake([("a.zip", zip_bytes(entries))], max_zip_members=3)
    assert not good and "over the limit of 3" in bad["a.zip"]


def test_non_images_corrupt_zip_and_hidden_files(home, tmp_path) -> None:
    c = cases.create_case("Mixed")
    z = zip_bytes({"notes.txt": b"hello", "fake.png": b"not an image", "__MACOSX/._a.png": b"x",
                   ".hidden.png": png(), "dir/": b"", "real.png": png(7)})
    rep = cases.add_images(c["id"], [("up.zip", z), ("broken.zip", b"PK\x03\x04garbage")])
    assert [a["name"] for a in rep.added] == ["real.png"]
    reasons = {r["name"]: r["reason"] for r in rep.rejected}
    assert "not an image file type (.txt)" in reasons["notes.txt"]
    assert reasons["fake.png"] == "fake.png: not a recognised image file."  # imageio's own words
    assert "not a valid ZIP archive" in reasons["broken.zip"]
    assert rep.hidden_skipped == 2
    intake = cases.audit_entries(c["id"])[-1]
    assert intake.action == "intake" and intake.details["n_rejected"] == 3
    assert {r["name"] for r in intake.details["rejected"]} == {"notes.txt", "fake.png", "broken.zip"}


def test_folder_intake_is_recursive_skips_hidden_and_refuses_links(tmp_path) -> None:
    root = tmp_path / "f"
    (root / "a" / "b").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "a" / "b" / "deep.png").write_bytes(png(1))
    (root / "top.jpg").write_bytes(png(2))
    (root / ".git" / "x.png").write_bytes(png(3))
    (root / ".DS_Store").write_bytes(b"x")
    (root / "readme.md").write_text("x")
    (root / "inside.zip").write_bytes(zip_bytes({"z.png": png(4)}))
    (root / "link.png").symlink_to(root / "top.jpg")
    (root / "linkdir").symlink_to(root / "a")
    good, bad = _intake([root, tmp_path / "missing.png"])
    assert sorted(g.name for g in good) == ["a/b/deep.png", "top.jpg", "z.png"]
    assert "symbolic link" in bad["link.png"] and "not followed" in bad["linkdir"]
    assert "not an image file type" in bad["readme.md"]
    assert "no such file" in bad[str(tmp_path / "missing.png")]
