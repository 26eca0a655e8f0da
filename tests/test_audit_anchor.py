"""Signed anchors of the audit head: a truncated or recomputed log fails ``case verify``.

Both attacks below pass the hash chain alone (no key is needed to recompute it); the anchors
signed after each write session and kept outside the database catch them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthcheck import cases
from synthcheck.cases import audit
from tests.test_cases import png, raw


@pytest.fixture
def case(home: Path) -> str:
    """9 entries over 4 write sessions (create 1-3, intake 4-7, note 8, tag 9), each anchored."""
    c = cases.create_case("Harbour", notes="first note", tags=["press"])
    cases.add_images(c["id"], [("a.png", png(1)), ("b.png", png(2)), ("again.png", png(1))])
    cases.add_note(c["id"], "looks edited", image="a.png")
    cases.tag(c["id"], ["suspect"], image="b.png")
    return c["id"]


def _anchor_file(case_id: str) -> Path:
    return cases.anchors_path(case_id)


def _recompute_chain(conn, case_id: str) -> None:
    """What an attacker without the key can do: rehash every entry and point the head at it."""
    prev = audit.GENESIS
    rows = conn.execute("SELECT seq, ts, actor, action, details FROM audit WHERE case_id = ? "
                        "ORDER BY seq", (case_id,)).fetchall()
    for seq, ts, actor, action, details in rows:
        digest = audit.entry_hash(case_id, seq, ts, actor, action, details, prev)
        conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE case_id = ? AND seq = ?",
                     (prev, digest, case_id, seq))
        prev = digest
    conn.execute("UPDATE cases SET head_seq = ?, head_hash = ? WHERE id = ?",
                 (rows[-1][0], prev, case_id))


def test_normal_use_verifies_against_every_anchor(case, home) -> None:
    path = _anchor_file(case)
    assert path.is_file() and path.parent != home and not str(path).endswith(".sqlite3")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [a["seq"] for a in lines] == [3, 7, 8, 9]
    assert [a["session"] for a in lines] == ["create", "intake", "note", "tag"]
    from synthcheck.reporting.signing import public_fingerprint, verify_report

    assert all(verify_report(a).ok and a["signature"]["fingerprint"] == public_fingerprint()
               for a in lines)
    got = cases.get_case(case)["audit_head"]
    latest = cases.latest_anchor(case)
    assert (latest["seq"], latest["hash"]) == (got["seq"], got["hash"])
    res = cases.verify_case(case)  # a passing verification is a write session too
    assert res.ok and res.n_anchors == 4 and not res.warnings, res.problems
    assert "agree with 4 signed anchor(s)" in res.summary()
    latest = cases.latest_anchor(case)
    assert latest["seq"] == 10 and latest["session"] == "verify"
    again = cases.verify_case(case, record=False)
    assert again.ok and again.n_anchors == 5 and not again.warnings


def test_deleted_tail_with_rewound_head_fails(case, home) -> None:
    """The attack that passes the chain: delete entries 8-9 (and the note and tag rows they pin)
    and point the head at entry 7."""
    with raw(home) as conn:
        conn.execute("DELETE FROM audit WHERE seq >= 8")
        conn.execute("DELETE FROM notes WHERE text = 'looks edited'")
        conn.execute("DELETE FROM tag_events WHERE tag = 'suspect'")
        seven = conn.execute("SELECT hash FROM audit WHERE seq = 7").fetchone()[0]
        conn.execute("UPDATE cases SET head_seq = 7, head_hash = ?", (seven,))
    res = cases.verify_case(case, record=False)
    assert not res.ok and res.first_broken_seq == 8, res.problems
    assert any("the log ends at entry 7" in p and "records entry 8" in p and "truncated" in p
               for p in res.problems), res.problems
    assert "first broken entry: 8" in res.summary() and not res.evidence_problems


def test_rewritten_verdict_with_recomputed_chain_fails(case, home, tiny_detector) -> None:
    cases.analyze_case(case, tiny_detector, control=False)
    cases.add_note(case, "reviewed")  # a later session: anchors the head past the analysis
    assert cases.verify_case(case, record=False).ok
    entries = cases.audit_entries(case)
    target = next(e for e in entries if e.action == "analysis")
    flipped = {"REAL": "FAKE", "FAKE": "REAL"}[target.details["verdict"]]
    with raw(home) as conn:
        details = dict(target.details, verdict=flipped)
        conn.execute("UPDATE audit SET details = ? WHERE case_id = ? AND seq = ?",
                     (audit.canonical(details), case, target.seq))
        _recompute_chain(conn, case)
    res = cases.verify_case(case, record=False)
    assert not res.ok, res.summary()
    assert not any("was altered" in p or "does not link" in p for p in res.problems)  # chain holds
    note_seq = entries[-1].seq
    assert target.seq <= res.first_broken_seq <= note_seq, res.problems
    assert any(f"entry {res.first_broken_seq}" in p and "rewritten" in p for p in res.problems)


def test_interrupted_analysis_is_reported(case, home, tiny_detector, monkeypatch) -> None:
    import synthcheck.analysis

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(synthcheck.analysis, "iter_analyze", killed)
    with pytest.raises(KeyboardInterrupt):
        cases.analyze_case(case, tiny_detector, control=False)
    start = cases.audit_entries(case)[-1]
    assert start.action == "analysis_start"
    res = cases.verify_case(case, record=False)
    assert res.ok, res.problems  # nothing was tampered with ...
    run = start.details["run_id"]
    warning = next(w for w in res.warnings if w.startswith(f"analysis run {run}"))
    assert f"started at {start.ts}" in warning and "never finished" in warning  # ... but it shows
    assert "0 of 2 images" in warning and "never finished" in res.summary()
    assert res.to_dict()["warnings"] == res.warnings


def test_bad_forged_and_missing_anchors_are_reported(case, home) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from synthcheck.reporting.signing import sign_report

    path = _anchor_file(case)
    lines = path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["seq"] = 6  # claims another entry: the signature no longer matches
    path.write_text("\n".join([lines[0], json.dumps(edited), *lines[2:]]) + "\n")
    res = cases.verify_case(case, record=False)
    assert not res.ok and any("anchor line 2" in p and "bad signature" in p for p in res.problems)

    path.write_text("\n".join(lines) + "\n")
    forged = {k: v for k, v in json.loads(lines[-1]).items() if k != "signature"}
    forged = sign_report(forged, key=Ed25519PrivateKey.generate())
    path.write_text("\n".join([*lines, json.dumps(forged)]) + "\n")
    res = cases.verify_case(case, record=False)
    assert not res.ok and any("anchor line 5" in p and "not by this installation's key" in p
                              for p in res.problems), res.problems

    path.unlink()
    res = cases.verify_case(case, record=False)
    assert not res.ok and "no signed anchor of this case's audit log exists" in res.problems[0]


def test_anchoring_needs_a_committed_head(case, home) -> None:
    from synthcheck.cases.store import opened, transaction

    with opened(home) as conn, transaction(conn), pytest.raises(RuntimeError, match="commits"):
        cases.anchor_head(case, "manual", conn=conn)
    n = len(_anchor_file(case).read_text().splitlines())
    assert cases.anchor_head(case, "manual")["seq"] == 9  # the head is anchored already: no line
    assert len(_anchor_file(case).read_text().splitlines()) == n
