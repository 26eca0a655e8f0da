"""Signed reports: key handling, good / tampered (every byte) / wrong key, image hashes, PDF."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthcheck.reporting.pdf import clean_text, render_pdf, write_pdf
from synthcheck.reporting.signing import (
    MAX_DEPTH,
    file_bytes,
    group_fingerprint,
    key_paths,
    load_or_create_key,
    public_fingerprint,
    sign_report,
    verify_report,
    write_signed_json,
)
from synthcheck.reporting.verification import FAILED, INCOMPLETE, UNREADABLE, VERIFIED


def small_report() -> dict:
    """A compact report-shaped dict (no pictures) so every byte of it can be mutated."""
    return {"report": {"title": "Case Ω-7 «test»", "version": 1, "created_utc": "2025-01-02T03:04:05Z"},
            "summary": {"n_images": 2, "n_fake": 1, "n_real": 1},
            "images": [{"input": {"path": "a.png", "sha256": "ab" * 32},
                        "verdict": {"verdict": "FAKE", "p_fake": 0.91}},
                       {"input": {"path": "b.jpg", "sha256": "cd" * 32},
                        "verdict": {"verdict": "REAL", "p_fake": 0.08}}],
            "results_digest": "ef" * 32}


def test_key_is_created_once_private_and_stable(home: Path) -> None:
    k1 = load_or_create_key()
    priv, pub = key_paths()
    assert priv.parent == home / "keys"
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert pub.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    k2 = load_or_create_key()
    assert public_fingerprint() == public_fingerprint(home)
    raw = lambda k: k.public_key().public_bytes_raw()  # noqa: E731
    assert raw(k1) == raw(k2) and len(public_fingerprint()) == 64


def test_good_report_verifies_from_dict_and_file(home: Path, tmp_path: Path) -> None:
    signed = sign_report(small_report())
    sig = signed["signature"]
    assert sig["algorithm"] == "Ed25519" and sig["canonicalization"] == "json-sorted-keys-compact-utf8"
    assert sig["fingerprint"] == hashlib.sha256(base64.b64decode(sig["public_key"])).hexdigest()
    assert sig["fingerprint"] == public_fingerprint()
    assert verify_report(signed).status == INCOMPLETE  # signature valid, its two images not supplied
    path = write_signed_json(signed, tmp_path / "r.json")
    check = verify_report(path, trusted_fingerprint=group_fingerprint(sig["fingerprint"]))
    assert check.status == INCOMPLETE and check.problems == [] and check.fingerprint == sig["fingerprint"]
    assert check.to_dict()["status"] == "incomplete" and check.notes[0] == "signed by the trusted key"
    assert check.summary() == "signature valid; 0 of 2 images checked and match; 2 not supplied"
    assert verify_report(path).notes[0] == "signed by this installation's key"
    unlisted = sign_report({**small_report(), "images": []})
    assert verify_report(unlisted).status == VERIFIED and verify_report(unlisted).ok
    assert "signature" not in small_report() and sign_report(signed)["signature"]["value"]  # re-sign replaces


def test_every_single_byte_change_is_detected(home: Path, tmp_path: Path) -> None:
    signed = sign_report(small_report())
    fp = signed["signature"]["fingerprint"]
    good = file_bytes(signed)
    assert 800 < len(good) < 2000
    assert verify_report(good, trusted_fingerprint=fp).status == INCOMPLETE
    missed = []
    for i in range(len(good)):
        mutations = [good[:i] + bytes([good[i] ^ 0x01]) + good[i + 1:],  # change the byte
                     good[:i] + good[i + 1:]]  # delete it
        if i % 4 == 0:
            mutations.append(good[:i] + b" " + good[i:])  # insert one
        for mutated in mutations:
            if verify_report(mutated, trusted_fingerprint=fp).status not in (FAILED, UNREADABLE):
                missed.append(i)  # (unparseable is detected too: exit 2 in the CLI)
    assert missed == []
    path = tmp_path / "r.json"
    path.write_bytes(good)
    assert verify_report(path).status == INCOMPLETE


def test_reformatting_and_content_edits_are_named(home: Path, tmp_path: Path) -> None:
    signed = sign_report(small_report())
    path = tmp_path / "r.json"
    path.write_text(json.dumps(signed, indent=4), encoding="utf-8")  # same content, other layout
    check = verify_report(path)
    assert check.status == FAILED and any("re-formatted" in p for p in check.problems)
    assert not any("does not match the content" in p for p in check.problems)
    edited = json.loads(json.dumps(signed))
    edited["images"][0]["verdict"]["verdict"] = "REAL"
    path.write_bytes(file_bytes(edited))  # a careful forger keeps the layout
    check = verify_report(path)
    assert check.status == FAILED and check.problems == [
        "the signature does not match the content: the report was changed after signing"]


def test_wrong_key_is_caught_by_the_trusted_fingerprint(home: Path, tmp_path: Path) -> None:
    ours = sign_report(small_report())
    trusted = ours["signature"]["fingerprint"]
    forged = json.loads(json.dumps(ours))
    forged["images"][0]["verdict"]["verdict"] = "REAL"
    resigned = sign_report(forged, home=tmp_path / "attacker")  # a valid signature by another key
    assert resigned["signature"]["fingerprint"] != trusted
    assert verify_report(resigned).status == INCOMPLETE  # the signature itself is fine...
    check = verify_report(resigned, trusted_fingerprint=trusted)  # ...but not by the trusted key
    assert check.status == FAILED and "not by the trusted key" in check.problems[0]
    assert any("another key" in n for n in verify_report(resigned).notes)
    colon = ":".join(trusted[i:i + 2] for i in range(0, 64, 2)).upper()
    assert verify_report(ours, trusted_fingerprint=colon).status == INCOMPLETE
    assert verify_report(ours, trusted_fingerprint=trusted[:16]).status == FAILED  # a prefix is not enough
    swapped = json.loads(json.dumps(ours))  # attacker's key pasted into our signature block
    swapped["signature"]["public_key"] = resigned["signature"]["public_key"]
    swapped["signature"]["fingerprint"] = resigned["signature"]["fingerprint"]
    assert verify_report(swapped).status == FAILED


def test_unsigned_and_unreadable_reports(home: Path, tmp_path: Path) -> None:
    check = verify_report(small_report())
    assert check.status == FAILED and "not signed" in check.problems[0]
    (tmp_path / "x.json").write_text("{not json", encoding="utf-8")
    check = verify_report(tmp_path / "x.json")
    assert check.status == UNREADABLE and "not a JSON report" in check.problems[0]
    assert check.summary().startswith("cannot be verified: ")
    assert "no such file" in verify_report(tmp_path / "missing.json").problems[0]
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    assert verify_report(tmp_path / "list.json").status == UNREADABLE
    assert verify_report(b'{"a": 1}').status == UNREADABLE  # a JSON object, but not a report
    deep = b'{"images": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert verify_report(deep).status == UNREADABLE
    nested = {"images": [], "x": json.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))}
    check = verify_report(file_bytes(sign_report(nested)))  # deep, yet parseable and signed
    assert check.status == UNREADABLE and "nested more than" in check.problems[0]
    assert verify_report(sign_report(small_report()), images_dir=tmp_path / "nope").status == UNREADABLE


def test_images_dir_rehashes_by_content(home: Path, tmp_path: Path) -> None:
    a, b, c = b"image-a bytes", b"image-b bytes", b"image-c bytes"
    rep = small_report()
    rep["images"] = [{"input": {"path": f"/case/{n}", "sha256": hashlib.sha256(d).hexdigest()}}
                     for n, d in (("a.png", a), ("b.jpg", b), ("c.gif", c))] + [
                    {"input": {"path": "broken.jpg"}, "error": "not an image"}]
    signed = sign_report(rep)
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "renamed.png").write_bytes(a)  # found by hash whatever its name
    check = verify_report(signed, images_dir=folder)  # a subset: incomplete, not a failure
    assert check.status == INCOMPLETE and check.problems == []
    assert check.summary() == "signature valid; 1 of 3 images checked and match; 2 not supplied"
    assert (check.coverage.n_listed, check.coverage.n_supplied, check.coverage.n_missing) == (3, 1, 2)
    assert any("no hash recorded" in n for n in check.notes)
    (folder / "b.jpg").write_bytes(b + b"!")  # same name, changed content
    check = verify_report(signed, images_dir=folder)
    status = {Path(r["image"]).name: r["status"] for r in check.images}
    assert status == {"a.png": "match", "b.jpg": "changed", "c.gif": "missing", "broken.jpg": "no hash recorded"}
    assert check.status == FAILED and len(check.problems) == 1 and "b.jpg differs" in check.problems[0]
    assert check.to_dict()["n_mismatched"] == 1 and check.to_dict()["n_missing"] == 1
    (folder / "b.jpg").write_bytes(b)
    (folder / "c.gif").write_bytes(c)
    check = verify_report(signed, images_dir=folder)
    assert check.status == VERIFIED and check.summary() == "signature valid; all 3 images checked and match"


def _cli_verify(capsys, *argv: str) -> tuple[int, dict]:
    """``synthcheck report verify ... --json``: exit code and the printed JSON."""
    from synthcheck.cli import main

    rc = main(["report", "verify", *argv, "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_cli_exit_code_per_state(home: Path, tmp_path: Path, capsys) -> None:
    from synthcheck.cli import main

    data = {n: f"bytes of {n}".encode() for n in ("a.png", "b.png", "c.png")}
    rep = {**small_report(), "images": [{"input": {"path": f"/case/{n}", "sha256": hashlib.sha256(d).hexdigest()}}
                                        for n, d in data.items()]}
    js = write_signed_json(sign_report(rep), tmp_path / "report.json")
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for n, d in data.items():
        (imgs / n).write_bytes(d)
    rc, out = _cli_verify(capsys, str(js), "--images", str(imgs))
    assert (rc, out["status"], out["n_matching"]) == (0, "verified", 3)
    (imgs / "c.png").unlink()  # a subset of the images
    rc, out = _cli_verify(capsys, str(js), "--images", str(imgs))
    assert (rc, out["status"], out["problems"]) == (3, "incomplete", [])
    assert (out["n_listed"], out["n_supplied"], out["n_missing"], out["n_mismatched"]) == (3, 2, 1, 0)
    assert main(["report", "verify", str(js), "--images", str(imgs)]) == 3
    text = capsys.readouterr().out
    assert text.startswith("INCOMPLETE") and "FAILED" not in text and "PROBLEM" not in text
    assert "signature valid; 2 of 3 images checked and match; 1 not supplied" in text
    assert "not supplied: /case/c.png" in text
    (imgs / "b.png").write_bytes(b"other bytes")  # a replaced image
    rc, out = _cli_verify(capsys, str(js), "--images", str(imgs))
    assert (rc, out["status"], out["n_mismatched"]) == (1, "failed", 1)
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    rc, out = _cli_verify(capsys, str(deep))
    assert (rc, out["status"]) == (2, "unreadable") and "nested too deeply" in out["problems"][0]
    assert main(["report", "verify", str(deep)]) == 2
    assert "nested too deeply" in capsys.readouterr().err


@pytest.mark.timeout(20)
def test_a_fifo_given_as_the_report_is_refused_unread(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)  # nobody writes to it: a read would block forever
    rc, out = _cli_verify(capsys, str(fifo))
    assert (rc, out["status"]) == (2, "unreadable") and "FIFO" in out["problems"][0]


def _png_b64(rng: np.random.Generator) -> str:
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_pdf_has_fingerprint_and_survives_hostile_text(home: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rep = small_report()
    rep["images"][0].update({
        "input": {"path": "evil\x00\x1b[31m名前\u202e.png", "sha256": "ab" * 32, "bytes": 10},
        "pictures": {"original": _png_b64(rng), "model_input": "not base64!"},
        "provenance": {"signals": [{"source": "png-text", "field": "parameters", "value": "x" * 5000,
                                    "meaning": "generator 🤖", "strength": "strong"}],
                       "summary": "Generator metadata says synthetic.", "errors": []},
        "tiles": {"rows": 2, "cols": 3, "tile_px": 32, "p_fake_mean": 0.5, "share_fake": 0.5,
                  "p_fake": [[0.1, 0.5, 0.9], [0.0, 1.0, 0.3]]},
        "explanations": {"target": "FAKE", "methods": {"gradcam": {"title": "Grad-CAM",
                                                                   "overlay": _png_b64(rng)}}}})
    rep["case"] = {"id": "C-1", "title": "Press photo", "tags": ["urgent"], "audit_head": "12" * 32,
                   "notes": [{"created_utc": "2025-01-02T03:04:05Z", "actor": "ana", "text": "from tip line"}]}
    # the second image is an older report entry: no provenance, tiles or pictures at all
    signed = sign_report(rep)
    pdf = write_pdf(signed, tmp_path / "r.pdf", bundle={"json_file": "r.json", "json_sha256": "00" * 32})
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert signed["signature"]["fingerprint"].encode() in data  # in the document metadata
    assert render_pdf(small_report()).startswith(b"%PDF-")  # unsigned, minimal
    assert clean_text("a\x00b\u202ec", unicode_ok=False) == "a b c"
    assert clean_text("名", glyphs=frozenset({ord("a")})) == "?"
