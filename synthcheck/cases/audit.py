"""The append-only audit log of a case: hash-chained entries and the check of the chain.

Each entry is ``{seq, ts, actor, action, details, prev_hash, hash}``; ``hash`` is the SHA-256
of a canonical JSON serialisation of the case id and every other field, ``prev_hash``
included, so editing, deleting, inserting or reordering any row breaks the chain at that
row. The head (last seq and hash) is also kept in the case row, so deleting the last rows
is caught too. :func:`verify_chain` names the first broken entry.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..timestamps import utc_now

GENESIS = "0" * 64  # prev_hash of a case's first entry
REORDER_WINDOW = 64  # how far a moved entry is searched for (its original seq)
MAX_EXAMINED = 200  # broken entries examined for a reorder before giving up on that detail


def now_utc() -> str:
    """UTC timestamp with microseconds, e.g. ``2025-06-13T10:11:12.123456Z``."""
    return utc_now(microseconds=True)


def default_actor() -> str:
    """``$SYNTHCHECK_ACTOR``, else the OS user name, else ``unknown``."""
    env = os.environ.get("SYNTHCHECK_ACTOR", "").strip()
    if env:
        return env
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # no user database entry (containers): still log something
        return "unknown"


def canonical(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text, NaN refused."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def row_digest(row: Mapping[str, Any]) -> str:
    """SHA-256 of a database row (all columns) as canonical JSON: logged to pin the row's content."""
    return sha256_text(canonical(dict(row)))


def entry_hash(case_id: str, seq: int, ts: str, actor: str, action: str, details: str,
               prev_hash: str) -> str:
    """SHA-256 over the canonical serialisation of one entry (``details`` as stored text)."""
    return sha256_text(canonical({"case_id": case_id, "seq": int(seq), "ts": ts, "actor": actor,
                                  "action": action, "details": details, "prev_hash": prev_hash}))


@dataclass
class AuditEntry:
    """One row of the log, with ``details`` parsed."""

    seq: int
    ts: str
    actor: str
    action: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AuditEntry:
        try:
            details = json.loads(row["details"])
        except ValueError:
            details = {"unparsable": row["details"]}
        return cls(int(row["seq"]), row["ts"], row["actor"], row["action"],
                   details if isinstance(details, dict) else {"value": details},
                   row["prev_hash"], row["hash"])


def append(conn: sqlite3.Connection, case_id: str, action: str, details: Mapping[str, Any],
           actor: str | None = None) -> AuditEntry:
    """Add one entry after the case's recorded head; call inside a write transaction."""
    row = conn.execute("SELECT head_seq, head_hash FROM cases WHERE id = ?", (case_id,)).fetchone()
    if row is None:
        raise KeyError(case_id)
    seq, prev = int(row[0]) + 1, row[1]
    ts, actor = now_utc(), actor or default_actor()
    text = canonical(dict(details))
    digest = entry_hash(case_id, seq, ts, actor, action, text, prev)
    conn.execute("INSERT INTO audit(case_id, seq, ts, actor, action, details, prev_hash, hash) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (case_id, seq, ts, actor, action, text, prev, digest))
    conn.execute("UPDATE cases SET head_seq = ?, head_hash = ? WHERE id = ?", (seq, digest, case_id))
    return AuditEntry(seq, ts, actor, action, dict(details), prev, digest)


def read_rows(conn: sqlite3.Connection, case_id: str) -> list[sqlite3.Row]:
    """Every stored row of a case's log, in seq order."""
    return conn.execute("SELECT seq, ts, actor, action, details, prev_hash, hash FROM audit "
                        "WHERE case_id = ? ORDER BY seq", (case_id,)).fetchall()


@dataclass
class ChainCheck:
    """Result of :func:`verify_chain`: ``first_broken_seq`` is None when the chain is intact."""

    ok: bool
    n_entries: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None = None
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _hash_of(case_id: str, row: Mapping[str, Any], seq: int) -> str:
    return entry_hash(case_id, seq, row["ts"], row["actor"], row["action"], row["details"],
                      row["prev_hash"])


def _moved_from(case_id: str, row: Mapping[str, Any], at: int) -> int | None:
    """The seq this row was written at, when it verifies there (a reordered row), else None."""
    for delta in range(1, REORDER_WINDOW + 1):
        for seq in (at - delta, at + delta):
            if seq >= 1 and _hash_of(case_id, row, seq) == row["hash"]:
                return seq
    return None


def verify_chain(case_id: str, rows: Sequence[Mapping[str, Any]], head_seq: int,
                 head_hash: str) -> ChainCheck:
    """Check every link of a case's log and its recorded head; name the first broken entry."""
    check = ChainCheck(True, len(rows), int(head_seq), head_hash)

    def broken(seq: int, message: str) -> None:
        check.ok = False
        if check.first_broken_seq is None or seq < check.first_broken_seq:
            check.first_broken_seq = seq
        check.problems.append(message)

    expected, prev_hash, examined = 1, GENESIS, 0
    for row in rows:
        seq = int(row["seq"])
        gap = seq > expected
        if gap:
            span = f"entry {expected}" if seq == expected + 1 else f"entries {expected}-{seq - 1}"
            broken(expected, f"{span} missing: the log jumps from entry {expected - 1} to {seq} "
                             "(rows were deleted)")
        elif seq < expected:
            broken(seq, f"entry {seq} appears more than once (a row was inserted)")
        label = f"entry {seq} ({row['action']})"
        if _hash_of(case_id, row, seq) != row["hash"]:
            origin = None
            if examined < MAX_EXAMINED:
                examined += 1
                origin = _moved_from(case_id, row, seq)
            if origin is not None:
                broken(seq, f"{label} is out of order: it was written as entry {origin} "
                            "(rows were reordered)")
            else:
                broken(seq, f"{label} was altered: its contents no longer match its hash")
        elif row["prev_hash"] != prev_hash and not gap:
            what = "the start of the log" if seq == 1 else f"entry {seq - 1}"
            broken(seq, f"{label} does not link to {what}: its prev_hash {row['prev_hash'][:16]}... "
                        f"is not {prev_hash[:16]}... (a row was forged, inserted or rewritten)")
        prev_hash, expected = row["hash"], max(expected, seq + 1)

    last = int(rows[-1]["seq"]) if rows else 0
    if head_seq > last:
        n = head_seq - last
        broken(last + 1, f"the log ends at entry {last} but the case records {head_seq} entries: "
                         f"the last {n} entr{'y was' if n == 1 else 'ies were'} deleted")
    elif head_seq < last:
        broken(head_seq + 1, f"entries {head_seq + 1}-{last} come after the case's recorded head "
                             f"(entry {head_seq}): they were added outside SynthCheck")
    elif rows and rows[-1]["hash"] != head_hash:
        broken(last, f"entry {last} does not match the head hash recorded in the case "
                     "(the last entry was replaced)")
    elif not rows:
        broken(1, "the audit log of this case is empty")
    return check
