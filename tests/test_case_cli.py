"""``synthcheck case`` end to end: new -> add folder + ZIP -> analyze -> show -> export -> verify."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from synthcheck.cli import main
from tests.conftest import random_png as png

ROOT = Path(__file__).resolve().parents[1]




@pytest.fixture
def evidence(tmp_path) -> tuple[Path, Path]:
    folder = tmp_path / "photos"
    (folder / "day2").mkdir(parents=True)
    (folder / "a.png").write_bytes(png(1))
    (folder / "day2" / "b.png").write_bytes(png(2))
    archive = tmp_path / "phone.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("DCIM/c.png", png(3))
        zf.writestr("DCIM/copy-of-a.png", png(1))
    return folder, archive


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["case", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def run_json(capsys, *argv: str):
    rc, out, err = run(capsys, *argv, "--json")
    return rc, json.loads(out), err


def test_case_cli_end_to_end(home, evidence, tmp_path, capsys) -> None:
    folder, archive = evidence
    rc, case, _ = run_json(capsys, "new", "Harbour fire", "--tag", "press", "--notes", "from the desk",
                           "--actor", "alice")
    assert rc == 0 and case["title"] == "Harbour fire" and case["tags"] == ["press"]
    cid = case["id"]

    rc, added, _ = run_json(capsys, "add", cid, str(folder), str(archive))
    assert rc == 0
    assert sorted(a["name"] for a in added["added"]) == ["DCIM/c.png", "a.png", "day2/b.png"]
    assert [(d["name"], d["duplicate_of"]) for d in added["duplicates"]] == [("DCIM/copy-of-a.png", "a.png")]

    rc, res, err = run_json(capsys, "analyze", cid)
    assert rc == 0 and "analysed: 3/3" in err
    assert res["n_analysed"] == 3 and res["control_run"]["ok"] is True
    assert {r["path"] for r in res["records"]} == {"a.png", "day2/b.png", "DCIM/c.png"}
    assert all(r["verdict"] in ("REAL", "FAKE") and 0 <= r["p_fake"] <= 1 for r in res["records"])

    rc, _, _ = run(capsys, "note", cid, "b came by e-mail", "--image", "day2/b.png")
    assert rc == 0
    rc, tags, _ = run_json(capsys, "tag", cid, "urgent")
    assert tags["tags"] == ["press", "urgent"]

    rc, shown, _ = run_json(capsys, "show", cid)
    assert rc == 0 and shown["n_analysed"] == 3 and shown["control_run"]["ok"] is True
    b = next(im for im in shown["images"] if im["name"] == "day2/b.png")
    assert b["notes"][0]["text"] == "b came by e-mail"
    assert b["analysis"]["record"]["sha256"] == hashlib.sha256(png(2)).hexdigest()
    rc, text, _ = run(capsys, "show", cid, "--audit")
    assert "control run: passed" in text and "day2/b.png" in text and "image_duplicate" in text
    head_before = shown["audit_head"]

    out = tmp_path / "out"
    rc, exp, err = run_json(capsys, "export", cid, "--out", str(out), "--methods", "none", "--with-images")
    assert rc == 0 and exp["signed"] is True
    report = json.loads((out / "report.json").read_text())
    assert report["case"]["id"] == cid and report["case"]["audit_head"] == head_before
    assert report["case"]["tags"] == ["press", "urgent"]
    assert report["case"]["control_run"]["ok"] is True
    assert {im["input"]["path"] for im in report["images"]} == {"a.png", "day2/b.png", "DCIM/c.png"}
    for kind in ("json", "html", "pdf"):
        assert (out / f"report.{kind}").is_file()
    assert exp["files"]["json"]["sha256"] == hashlib.sha256((out / "report.json").read_bytes()).hexdigest()
    from synthcheck.reporting.signing import verify_report

    check = verify_report(out / "report.json", images_dir=out / "images")
    assert check.ok, check.problems

    rc, log, _ = run_json(capsys, "log", cid)
    assert log[-1]["action"] == "export" and log[-1]["details"]["files"]["json"]["sha256"] == \
        exp["files"]["json"]["sha256"]
    assert log[0]["actor"] == "alice"

    rc, text, _ = run(capsys, "verify", cid)
    assert rc == 0 and "intact" in text
    rc, listed, _ = run_json(capsys, "list")
    assert [r["id"] for r in listed] == [cid] and listed[0]["n_images"] == 3

    rc, text, _ = run(capsys, "verify", cid, "--report", str(out / "report.json"))
    assert rc == 0 and "intact" in text

    # A careful attacker deletes the tail (the export entry) and rewrites the head kept in the case
    # row: the chain alone cannot tell; the signed anchors kept outside the database and the
    # signed report can.
    conn = sqlite3.connect(home / "cases.sqlite3", isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    seq = exp["audit_seq"]
    conn.execute("DELETE FROM audit WHERE seq >= ?", (seq,))
    prev = conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq - 1,)).fetchone()[0]
    conn.execute("UPDATE cases SET head_seq = ?, head_hash = ?", (seq - 1, prev))
    rc, text, _ = run(capsys, "verify", cid, "--no-record")
    assert rc == 1 and "the log was truncated" in text
    rc, text, _ = run(capsys, "verify", cid, "--no-record", "--report", str(out / "report.json"))
    assert rc == 1 and "no export entry of the log names report.json" in text

    conn.execute("DELETE FROM audit WHERE seq = 4")
    conn.close()
    rc, text, _ = run(capsys, "verify", cid)
    assert rc == 1
    assert "TAMPERING DETECTED - first broken entry: 4" in text and "entry 4 missing" in text
    rc, res, _ = run_json(capsys, "verify", cid, "--no-record")
    assert rc == 1 and res["ok"] is False and res["first_broken_seq"] == 4


def test_case_cli_bad_input_exit_codes(home, tmp_path, capsys) -> None:
    rc, _, err = run(capsys, "show", "nope")
    assert rc == 2 and "no case 'nope'" in err
    rc, _, err = run(capsys, "new", "   ")
    assert rc == 2 and "title is empty" in err
    rc, case, _ = run_json(capsys, "new", "X", "--id", "x-1")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    rc, out, err = run(capsys, "add", "x-1", str(tmp_path / "bad.png"), str(tmp_path / "missing"))
    assert rc == 2
    assert "REJECTED   bad.png: not a recognised image file." in err
    assert "missing: no such file or folder" in err
    assert "0 added" in out
    rc, _, err = run(capsys, "note", "x-1", "hi", "--image", "nothing.png")
    assert rc == 2 and "has no image 'nothing.png'" in err
    rc, _, err = run(capsys, "export", "x-1", "--out", str(tmp_path / "o"))
    assert rc == 2 and "no images" in err
    with pytest.raises(SystemExit) as exc:
        main(["case", "frobnicate"])
    assert exc.value.code == 2
    capsys.readouterr()


def test_case_cli_subprocess_never_prints_a_traceback(home) -> None:
    p = subprocess.run([sys.executable, "-m", "synthcheck", "case", "verify", "missing-case"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "no case" in p.stderr


def _case_with_images(capsys, evidence) -> tuple[str, list[dict]]:
    """A case holding the evidence folder's two images (no analysis: nothing model-dependent)."""
    rc, case, _ = run_json(capsys, "new", "Blobs")
    rc, added, _ = run_json(capsys, "add", case["id"], str(evidence[0]))
    assert rc == 0 and len(added["added"]) == 2
    return case["id"], added["added"]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("swap", ["fifo", "link to /dev/zero"])
def test_case_verify_refuses_a_blob_swapped_for_a_pipe_or_device(home, evidence, capsys, swap) -> None:
    from synthcheck.cases import BlobStore, check_case

    cid, added = _case_with_images(capsys, evidence)
    rc, res, _ = run_json(capsys, "verify", cid, "--no-record")
    assert (rc, res["status"], res["n_matching"]) == (0, "verified", 2)
    assert check_case(cid, blobs=False).status == "incomplete"  # images not checked: not verified
    blob = BlobStore(home).path_for(added[0]["sha256"])
    blob.unlink()
    if swap == "fifo":
        os.mkfifo(blob)  # nobody writes to it: reading it would block forever
    else:
        blob.symlink_to("/dev/zero")  # reading it would never end
    rc, res, _ = run_json(capsys, "verify", cid, "--no-record")
    assert (rc, res["status"], res["n_mismatched"], res["n_matching"]) == (1, "failed", 1, 1)
    word = "FIFO" if swap == "fifo" else "symbolic link"
    assert any(added[0]["sha256"][:16] in p and word in p for p in res["problems"]), res["problems"]
    rc, text, _ = run(capsys, "verify", cid, "--no-record")
    assert rc == 1 and "TAMPERING DETECTED" in text


def test_case_verify_states_its_status_and_exit_code(home, evidence, capsys) -> None:
    cid, added = _case_with_images(capsys, evidence)
    rc, text, _ = run(capsys, "verify", cid)
    assert rc == 0 and "intact" in text and "all 2 stored images checked and match" in text
    from synthcheck.cases import BlobStore

    blob = BlobStore(home).path_for(added[1]["sha256"])
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"appended")  # more bytes than recorded: never read past them
    rc, res, _ = run_json(capsys, "verify", cid, "--no-record")
    assert (rc, res["status"]) == (1, "failed") and "over the limit of" in res["problems"][0]
    blob.unlink()
    rc, res, _ = run_json(capsys, "verify", cid, "--no-record")
    assert (rc, res["status"]) == (1, "failed") and "missing from the blob store" in res["problems"][0]
    rc, _, err = run(capsys, "verify", "no-such-case")
    assert rc == 2 and "no case" in err
