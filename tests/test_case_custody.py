"""Chain of custody: every file offered to a case is accounted for, taken or refused.

Refused files (a truncated JPEG, a text file named .png, a ZIP entry climbing out of the archive,
a FIFO ...) are rows of the case with their reason, size and SHA-256 when known, pinned by a
``file_refused`` audit entry each, listed by ``get_case``, counted and listed in the signed report
(JSON, HTML, PDF); an older database gains the table without losing anything.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthcheck import cases
from synthcheck.cases import audit
from synthcheck.cases.store import SCHEMA_VERSION, db_path, opened, transaction
from synthcheck.reporting.signing import verify_report
from tests.conftest import random_png as png


def jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
                    ).save(buf, "JPEG", quality=90)
    return buf.getvalue()


TRUNCATED = jpeg(5)[:300]
TEXT = b"just some notes, not a picture\n"


@pytest.fixture
def offered(home: Path, tmp_path: Path) -> tuple[str, Path]:
    """A case offered 3 good images (one twice) and 6 bad files, in two intakes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("inner/c.png", png(3))
        zf.writestr("../evil.png", png(4))
        zf.writestr("readme.txt", b"hello")
    c = cases.create_case("Custody")
    cases.add_images(c["id"], [("a.png", png(1)), ("text.png", TEXT), ("trunc.jpg", TRUNCATED),
                               ("imgs.zip", buf.getvalue()), ("again.png", png(1))])
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "b.png").write_bytes(png(2))
    os.mkfifo(folder / "pipe.png")
    (folder / ".DS_Store").write_bytes(b"\0\0")
    cases.add_images(c["id"], [folder, tmp_path / "missing.png"])
    return c["id"], folder


def test_every_refusal_is_a_row_with_its_reason_size_and_hash(offered) -> None:
    case_id, _ = offered
    case = cases.get_case(case_id)
    refused = {r["name"]: r for r in case["refused"]}
    assert set(refused) == {"text.png", "trunc.jpg", "../evil.png", "readme.txt", "pipe.png",
                            str(Path(offered[1]).parent / "missing.png")}
    assert case["n_refused"] == 6 and case["n_images"] == 3
    assert "not a recognised image file" in refused["text.png"]["reason"]
    assert "truncated" in refused["trunc.jpg"]["reason"]
    assert "climbs out of the archive" in refused["../evil.png"]["reason"]
    assert refused["../evil.png"]["source"] == "upload:imgs.zip"
    assert "FIFO" in refused["pipe.png"]["reason"] and "not a regular file" in refused["pipe.png"]["reason"]
    assert "no such file" in refused[str(Path(offered[1]).parent / "missing.png")]["reason"]
    for name, data in (("text.png", TEXT), ("trunc.jpg", TRUNCATED)):  # bytes read: size and hash
        assert refused[name]["bytes"] == len(data)
        assert refused[name]["sha256"] == hashlib.sha256(data).hexdigest()
    assert refused["pipe.png"]["bytes"] is None and refused["pipe.png"]["sha256"] is None
    assert all(r["refused_utc"].endswith("Z") for r in case["refused"])


def test_each_refusal_is_pinned_in_the_audit_log_and_verified(offered, home) -> None:
    case_id, _ = offered
    entries = cases.audit_entries(case_id)
    logged = [e for e in entries if e.action == "file_refused"]
    assert [e.details["name"] for e in logged] == [r["name"] for r in cases.get_case(case_id)["refused"]]
    assert all(e.details["refs"][0]["table"] == "refused_files" for e in logged)
    intakes = [e for e in entries if e.action == "intake"]
    assert [e.details["n_rejected"] for e in intakes] == [4, 2]
    assert all(e.details["refused_recorded"] for e in intakes)
    assert intakes[1].details["hidden_skipped"] == 1
    assert cases.verify_case(case_id).ok

    conn = sqlite3.connect(db_path(home), isolation_level=None)
    conn.execute("DROP TRIGGER refused_files_no_update")
    conn.execute("UPDATE refused_files SET reason = 'fine' WHERE name = 'text.png'")
    conn.close()
    check = cases.verify_case(case_id, record=False)
    assert not check.ok and any("refused_files row" in p and "altered" in p for p in check.problems)


def test_refused_rows_are_append_only(offered, home) -> None:
    conn = sqlite3.connect(db_path(home), isolation_level=None)
    for sql in ("UPDATE refused_files SET reason = 'x'", "DELETE FROM refused_files"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    conn.close()


def test_an_older_database_gains_the_table_and_keeps_its_refusals(home) -> None:
    c = cases.create_case("Old")
    cases.add_images(c["id"], [("a.png", png(1))])
    with opened(home) as conn, transaction(conn):  # an intake as version 1 logged it: no rows
        audit.append(conn, c["id"], "intake", {"n_added": 0, "n_rejected": 3, "rejected": [
            {"name": "x.txt", "source": "upload", "reason": "not an image file type (.txt); skipped."},
            {"name": "y.png", "source": "upload", "reason": "y.png: not a recognised image file."}]})
    conn = sqlite3.connect(db_path(home), isolation_level=None)  # back to the version 1 schema
    for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND "
                                   "tbl_name = 'refused_files'").fetchall():
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("DROP TABLE refused_files")
    conn.execute("UPDATE schema_info SET value = '1' WHERE key = 'version'")
    conn.close()

    case = cases.get_case(c["id"])  # the first connection migrates
    assert case["n_images"] == 1
    assert [(r["name"], r["recorded_in"]) for r in case["refused"]][:2] == [
        ("x.txt", f"audit entry {case['audit_head']['seq']}"), ("y.png", f"audit entry {case['audit_head']['seq']}")]
    assert "1 more refused" in case["refused"][2]["reason"]
    cases.add_images(c["id"], [("z.png", b"junk")])  # a refusal after the migration: a row
    assert [r["name"] for r in cases.get_case(c["id"])["refused"]][0] == "z.png"  # rows first
    conn = sqlite3.connect(db_path(home), isolation_level=None)
    assert conn.execute("SELECT value FROM schema_info WHERE key = 'version'").fetchone()[0] == SCHEMA_VERSION
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):  # its triggers came with it
        conn.execute("UPDATE refused_files SET reason = 'fine'")
    conn.close()
    assert cases.verify_case(c["id"]).ok


def test_the_signed_report_counts_and_lists_every_refused_file(offered, tiny_detector, tmp_path) -> None:
    case_id, _ = offered
    cases.analyze_case(case_id, tiny_detector, control=False)
    out = tmp_path / "out"
    res = cases.export_case(case_id, out, tiny_detector, methods=[])
    assert res["n_refused"] == 6
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert verify_report(out / "report.json").status == "incomplete"  # signature valid, images not given
    assert report["summary"]["n_refused"] == 6 and report["summary"]["n_images"] == 3
    assert report["case"]["intake"] == {"n_offered": 10, "n_taken": 4, "n_images": 3, "n_duplicates": 1,
                                        "n_refused": 6, "hidden_skipped": 1}
    listed = {r["name"]: r for r in report["refused"]}
    assert listed["trunc.jpg"]["sha256"] == hashlib.sha256(TRUNCATED).hexdigest()
    assert "climbs out of the archive" in listed["../evil.png"]["reason"]

    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="refused">Files refused at intake</h2>' in html
    assert "Refused at intake</th><td>6" in html and "10 files offered to the case" in html
    assert html.index('id="summary"') < html.index('id="signature"')  # the conclusions lead
    assert "{&#39;seq&#39;" not in html and "{'seq'" not in html  # the audit head is a table
    assert "../evil.png" in html and "FIFO" in html

    text = subprocess.run(["pdftotext", str(out / "report.pdf"), "-"], check=True, capture_output=True,
                          text=True).stdout
    flat = re.sub(r"\s+", " ", text)
    assert "Files refused at intake" in flat and "6 file(s) refused at intake" in flat
    assert "10 file(s) offered to the case" in flat and "readme.txt" in flat


def test_a_case_without_refusals_says_so(home, tiny_detector, tmp_path) -> None:
    c = cases.create_case("Clean")
    cases.add_images(c["id"], [("a.png", png(1))])
    cases.analyze_case(c["id"], tiny_detector, control=False)
    cases.export_case(c["id"], tmp_path, tiny_detector, methods=[])
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["n_refused"] == 0 and report["refused"] == []
    assert "No file was refused." in (tmp_path / "report.html").read_text(encoding="utf-8")
