"""Signed anchors of a case's audit head, kept outside the database.

The hash chain of :mod:`.audit` shows any edit of a single row, but whoever can write the
SQLite file can also delete the last entries and rewind the head kept in the case row, or
rewrite an entry and recompute every hash after it: no key is needed for either. So after each
write session (creation, intake, note, tag, analysis, export, a passing verification) the head
(seq and hash) is signed with the installation's Ed25519 report key
(:func:`synthcheck.reporting.signing.load_or_create_key`) and appended, one JSON line with
fsync, to ``<home>/cases/<case id>.anchors.jsonl`` (or ``$SYNTHCHECK_ANCHOR_DIR``, e.g. an
append-only or remote mount). :func:`check_anchors` then holds the log against every anchor:
an anchored entry that is gone (a truncated log) or has another hash (a rewritten log) fails
the check, as do anchors with a bad signature, anchors by another key and a missing file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..fsio import fsync_directory
from . import audit
from .store import opened

ANCHOR_FORMAT = "synthcheck-audit-anchor"
ANCHOR_VERSION = 1
ANCHOR_DIR_ENV = "SYNTHCHECK_ANCHOR_DIR"

try:  # POSIX: serialise appends of concurrent writers (O_APPEND already keeps lines whole)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def anchors_path(case_id: str, home: Path | None = None) -> Path:
    """Where the anchors of a case live (whether or not the file exists yet)."""
    from ..home import synthcheck_home

    env = os.environ.get(ANCHOR_DIR_ENV, "").strip()
    folder = Path(env).expanduser() if env else (
        (Path(home) if home is not None else synthcheck_home()) / "cases")
    return folder / f"{re.sub(r'[^A-Za-z0-9._-]', '_', case_id)}.anchors.jsonl"


def _append_line(path: Path, line: bytes) -> None:
    """Append one whole line and fsync it (and the folder when the file is new)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)  # (releases the lock)
    if new:
        fsync_directory(path.parent)


def _last_line(path: Path, tail: int = 16_384) -> dict[str, Any] | None:
    """The file's last complete line, parsed (None when absent or unreadable)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - tail))
            lines = f.read().splitlines()
        obj = json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def anchor_head(case_id: str, session: str, *, actor: str | None = None, home: Path | None = None,
                conn: sqlite3.Connection | None = None) -> dict[str, Any] | None:
    """Sign the case's committed audit head and append it to its anchor file; returns the anchor.

    Call after the session's last write transaction has committed (never inside one: the head
    signed must be one that exists). None when the log is still empty; when the last anchor
    already names this head, that one is returned and nothing is written.
    """
    from ..reporting.signing import sign_report

    if conn is None:
        with opened(home) as own:
            return anchor_head(case_id, session, actor=actor, home=home, conn=own)
    if conn.in_transaction:
        raise RuntimeError("anchor_head() must be called after the write transaction commits")
    row = conn.execute("SELECT head_seq, head_hash FROM cases WHERE id = ?", (case_id,)).fetchone()
    if row is None:
        raise KeyError(case_id)
    if int(row[0]) == 0:
        return None
    path = anchors_path(case_id, home)
    last = _last_line(path)
    if last is not None and (last.get("seq"), last.get("hash")) == (int(row[0]), row[1]):
        return last
    record = {"format": ANCHOR_FORMAT, "version": ANCHOR_VERSION, "case_id": case_id,
              "seq": int(row[0]), "hash": str(row[1]), "session": session,
              "actor": actor or audit.default_actor(), "anchored_utc": audit.now_utc()}
    signed = sign_report(record, home=home)
    _append_line(path, (audit.canonical(signed) + "\n").encode("utf-8"))
    return signed


@contextlib.contextmanager
def anchoring(case_id: str, session: str, *, actor: str | None = None,
              home: Path | None = None) -> Iterator[None]:
    """Anchor the head when the block ends, also when it fails (what it committed stays pinned)."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):  # the session's own error is what the user must see
            anchor_head(case_id, f"{session} (interrupted)", actor=actor, home=home)
        raise
    anchor_head(case_id, session, actor=actor, home=home)


def read_anchors(case_id: str, home: Path | None = None) -> list[tuple[int, dict[str, Any] | None]]:
    """``(line number, parsed anchor or None when the line is not a JSON object)`` per line."""
    try:
        text = anchors_path(case_id, home).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    out: list[tuple[int, dict[str, Any] | None]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        out.append((n, obj if isinstance(obj, dict) else None))
    return out


def latest_anchor(case_id: str, home: Path | None = None) -> dict[str, Any] | None:
    """The anchor of the highest audit entry (as signed, for a report's ``case`` section)."""
    found = [a for _, a in read_anchors(case_id, home)
             if a is not None and isinstance(a.get("seq"), int)]
    return max(found, key=lambda a: a["seq"]) if found else None


def _installation_fingerprint(home: Path | None) -> str | None:
    """This installation's key fingerprint, or None when it has no key (none is created)."""
    from ..reporting.signing import key_paths, public_fingerprint

    return public_fingerprint(home) if key_paths(home)[0].exists() else None


@dataclass
class AnchorCheck:
    """Result of :func:`check_anchors`; ``first_broken_seq`` names the first entry that differs."""

    n_anchors: int = 0
    first_broken_seq: int | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


AnchorLines = Sequence[tuple[int, dict[str, Any] | None]]


def _valid_anchors(case_id: str, lines: AnchorLines, home: Path | None, check: AnchorCheck
                   ) -> list[tuple[int, dict[str, Any]]]:
    """The anchors whose signature holds, by this installation's key; the others are problems."""
    from ..reporting.signing import group_fingerprint, verify_report

    trusted = _installation_fingerprint(home)
    good: list[tuple[int, dict[str, Any]]] = []
    problem = check.problems.append
    for n, anchor in lines:
        where = f"anchor line {n}"
        if anchor is None or anchor.get("format") != ANCHOR_FORMAT:
            problem(f"{where} is not a signed audit anchor (the anchor file was edited)")
            continue
        sig = verify_report(anchor, home=home)
        try:
            seq, digest = int(anchor["seq"]), str(anchor["hash"])
        except (KeyError, TypeError, ValueError):
            problem(f"{where} has no valid seq and hash (the anchor file was edited)")
            continue
        where = f"{where} (entry {seq}, {anchor.get('session')}, {anchor.get('anchored_utc')})"
        if sig.problems:
            problem(f"{where} has a bad signature: {sig.problems[0]} "
                    "(the anchor was edited or forged)")
        elif trusted is None:
            problem(f"{where} cannot be trusted: this installation has no signing key any more "
                    "(it was deleted or moved)")
        elif sig.fingerprint != trusted:
            problem(f"{where} is signed by key {group_fingerprint(sig.fingerprint)[:39]}, not by "
                    "this installation's key: it was forged or re-signed")
        elif anchor.get("case_id") != case_id:
            problem(f"{where} belongs to case {anchor.get('case_id')!r}, not {case_id!r} "
                    "(the anchor file was swapped)")
        else:
            good.append((seq, {**anchor, "seq": seq, "hash": digest}))
    return good


def check_anchors(case_id: str, rows: Sequence[Mapping[str, Any]], lines: AnchorLines, *,
                  home: Path | None = None) -> AnchorCheck:
    """Hold the stored log (``rows``) against every signed anchor (``lines``: :func:`read_anchors`).

    Read the anchors *before* the rows: an anchor is written only after its head committed, so
    a session finishing in between cannot look like a truncation.
    """
    check = AnchorCheck()
    anchors = sorted(_valid_anchors(case_id, lines, home, check), key=lambda t: t[0])
    check.n_anchors = len(anchors)
    hashes = {int(r["seq"]): r for r in rows}
    last = max(hashes, default=0)
    if not lines:
        if rows:
            check.problems.append(
                "no signed anchor of this case's audit log exists "
                f"({anchors_path(case_id, home)}): the anchor file was deleted or moved, or the "
                "case predates anchors")
        return check
    good_below, failed = 0, []
    for seq, anchor in anchors:
        row = hashes.get(seq)
        if row is not None and row["hash"] == anchor["hash"]:
            if not failed:
                good_below = seq
            continue
        failed.append((seq, anchor, row))
    if failed:
        seq, anchor, row = failed[0]
        signed = (f"the anchor signed at {anchor.get('anchored_utc')} after the "
                  f"{anchor.get('session')} session")
        if row is None and seq > last:
            check.first_broken_seq = last + 1
            check.problems.append(
                f"the log ends at entry {last}, but {signed} records entry {seq}: entries "
                f"{last + 1}-{seq} were deleted and the head rewound (the log was truncated)")
        elif row is None:
            check.first_broken_seq = seq
            check.problems.append(f"entry {seq}, which {signed} records, is missing from the log")
        else:
            check.first_broken_seq = seq
            check.problems.append(
                f"entry {seq} ({row['action']}) is not the entry {signed} records (hash "
                f"{row['hash'][:16]}... instead of {anchor['hash'][:16]}...): the log was "
                f"rewritten at or before it, after entry {good_below}, the last one a signed "
                "anchor still vouches for")
        if len(failed) > 1:
            check.problems.append(f"{len(failed) - 1} later signed anchor(s) do not match the log "
                                  "either")
    top = anchors[-1][0] if anchors else 0
    if anchors and not failed and last > top:
        span = f"entry {last}" if last == top + 1 else f"entries {top + 1}-{last}"
        check.warnings.append(f"{span} came after the last signed anchor (entry {top}): a "
                              "session did not finish (or is still running), so nothing vouches "
                              "for them yet")
    return check
