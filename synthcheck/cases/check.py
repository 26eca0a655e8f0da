"""``case verify``: is a case exactly as SynthCheck recorded it?

Three checks: the audit log's hash chain and recorded head (:func:`audit.verify_chain`, which
names the first broken entry); every evidence row (image, name, analysis, note, tag, control
run) still hashes to the digest its audit entry pinned, and no evidence row exists that the log
does not mention; every stored image file still hashes to its SHA-256 name. Signed reports
exported earlier can be given as anchors: the log must still hold the entry each one recorded
as its head, and the export entry naming it, which catches even a tail deletion whose attacker
also rewrote the head kept in the case row. The signed anchors kept outside the database
(:mod:`.anchors`, written after each write session) are always checked the same way, so a
truncated or fully recomputed log fails even with no report at hand. Warnings (the case is not
failed for them): analysis runs that started but never finished, entries no anchor vouches for.

The outcome is a state of :mod:`synthcheck.reporting.verification`: ``verified``; ``failed`` on
any problem, a missing or replaced stored image included (the blob store is SynthCheck's own
custody, so nothing there is merely "not supplied"); ``incomplete`` only when the stored images
were not checked (``blobs=False``). An unknown case or an unreadable ``--report`` raises
:class:`CaseError` (``unreadable``, exit 2 in the CLI). Stored images are read as regular files
only, never past their recorded size, so a blob swapped for a pipe or a device cannot hang it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..reporting.verification import FAILED, VERIFIED, Coverage, Status, decide, describe
from . import anchors as _anchors
from . import audit
from .service import CaseError, case_row
from .store import BlobStore, opened, transaction

EVIDENCE_QUERIES = {
    "images": "SELECT * FROM images WHERE case_id = ?",
    "image_names": "SELECT n.* FROM image_names n JOIN images i ON i.id = n.image_id WHERE i.case_id = ?",
    "analyses": "SELECT * FROM analyses WHERE case_id = ?",
    "notes": "SELECT * FROM notes WHERE case_id = ?",
    "tag_events": "SELECT * FROM tag_events WHERE case_id = ?",
    "control_runs": "SELECT * FROM control_runs WHERE case_id = ?",
    "refused_files": "SELECT * FROM refused_files WHERE case_id = ?",
}
MAX_PROBLEMS = 200  # problems listed per kind (the count is always exact)


@dataclass
class CaseCheck:
    """Result of :func:`check_case`: ``verified`` only when the chain, the anchors, the evidence
    rows and every stored image agree (the states of :mod:`synthcheck.reporting.verification`)."""

    case_id: str
    status: Status
    n_entries: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None
    chain_problems: list[str] = field(default_factory=list)
    evidence_problems: list[str] = field(default_factory=list)
    n_rows_checked: int = 0
    coverage: Coverage = field(default_factory=Coverage)
    checked_utc: str = ""
    warnings: list[str] = field(default_factory=list)
    n_anchors: int = 0

    @property
    def ok(self) -> bool:
        """True only when ``verified``."""
        return self.status == VERIFIED

    @property
    def problems(self) -> list[str]:
        return self.chain_problems + self.evidence_problems

    @property
    def n_images_checked(self) -> int:
        """Stored images found and hashed."""
        return self.coverage.n_supplied

    def summary(self) -> str:
        """One sentence for the user (:func:`~synthcheck.reporting.verification.describe`)."""
        first = f"first broken entry: {self.first_broken_seq}; " if self.first_broken_seq else ""
        holds = (f"intact - {self.n_entries} audit entries chain up to head {self.head_hash[:16]}... "
                 f"and agree with {self.n_anchors} signed anchor(s), and each of the case's "
                 f"{self.n_rows_checked} stored records (images, names, analyses, notes, tags, "
                 "control runs) still matches what its audit entry pinned")
        said = describe(self.status, self.coverage, self.problems, holds=holds,
                        failed=f"TAMPERING DETECTED - {first}", noun="stored image", missing="not checked")
        warned = (f" {len(self.warnings)} warning(s): {self.warnings[0]}"
                  if self.warnings and self.status != FAILED else "")
        return f"case {self.case_id}: {said}.{warned}"

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "coverage"}
        return {**out, "ok": self.ok, **self.coverage.to_dict(), "n_images_checked": self.n_images_checked,
                "problems": self.problems, "summary": self.summary()}


def _evidence_rows(conn: sqlite3.Connection, case_id: str) -> dict[str, dict[int, sqlite3.Row]]:
    return {t: {int(r["id"]): r for r in conn.execute(q, (case_id,))} for t, q in EVIDENCE_QUERIES.items()}


def _check_refs(rows: list[sqlite3.Row], evidence: dict[str, dict[int, sqlite3.Row]]) -> tuple[list[str], int]:
    """Problems of pinned rows (missing, altered) and of rows no entry mentions; rows checked."""
    problems: list[str] = []
    seen: set[tuple[str, int]] = set()
    for row in rows:
        try:
            details = json.loads(row["details"])
        except ValueError:
            continue  # the chain check reports the altered entry
        for r in (details.get("refs") or []) if isinstance(details, dict) else []:
            try:
                table, rid, digest = r["table"], int(r["id"]), r["sha256"]
            except (KeyError, TypeError, ValueError):
                problems.append(f"entry {row['seq']} ({row['action']}) has a malformed reference")
                continue
            seen.add((table, rid))
            target = evidence.get(table, {}).get(rid)
            where = f"entry {row['seq']} ({row['action']})"
            if target is None:
                problems.append(f"{where} refers to {table} row {rid}, which is missing (deleted)")
            elif audit.row_digest(target) != digest:
                problems.append(f"{table} row {rid} was altered after {where} recorded it")
    for table, by_id in evidence.items():
        for rid in sorted(set(by_id) - {i for t, i in seen if t == table}):
            problems.append(f"{table} row {rid} is not in the audit log (added outside SynthCheck)")
    return problems, len(seen)


def _orphaned_log(conn: sqlite3.Connection, case_id: str) -> CaseCheck | None:
    """A failed check when the case row is gone but its audit log is still there."""
    n = conn.execute("SELECT COUNT(*) FROM audit WHERE case_id = ?", (case_id,)).fetchone()[0]
    if not n:
        return None
    problem = (f"the case's own record was deleted, but its audit log of {n} entries remains "
               "(the case was removed outside SynthCheck)")
    return CaseCheck(case_id, FAILED, n, 0, "", None, [problem], checked_utc=audit.now_utc())


@dataclass
class ReportAnchor:
    """What a signed export pins about the log: the head it was built at and its own SHA-256."""

    path: str
    case_id: str | None
    seq: int
    hash: str
    sha256: str
    signature_problems: list[str] = field(default_factory=list)


def report_anchor(path: str | Path) -> ReportAnchor:
    """Read the audit head a signed case report recorded (and check its signature)."""
    from ..reporting.signing import ReportReadError, read_report_file, verify_report

    try:
        data, report = read_report_file(path)
    except ReportReadError as exc:
        raise CaseError(str(exc)) from exc
    try:
        head = report["case"]["audit_head"]
        seq, digest = int(head["seq"]), str(head["hash"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CaseError(f"{path} is not a SynthCheck case report (no case.audit_head).") from exc
    problems = [f"report signature: {p}" for p in verify_report(data).problems]
    return ReportAnchor(str(path), report["case"].get("id"), seq, digest,
                        hashlib.sha256(data).hexdigest(), problems)


def _anchor_problems(case_id: str, rows: list[sqlite3.Row], anchor: ReportAnchor
                     ) -> tuple[list[str], int | None]:
    """Problems when the log no longer holds the head a signed report recorded, or its export."""
    name = Path(anchor.path).name
    problems = list(anchor.signature_problems)
    if anchor.case_id != case_id:
        return problems + [f"{name} is a report of case {anchor.case_id!r}, not {case_id!r}"], None
    row = next((r for r in rows if int(r["seq"]) == anchor.seq), None)
    first = None
    if row is None:
        problems.append(f"the signed report {name} was built at entry {anchor.seq}, which is no longer "
                        "in the log (entries were deleted)")
        first = anchor.seq
    elif row["hash"] != anchor.hash:
        problems.append(f"entry {anchor.seq} differs from the one the signed report {name} recorded")
        first = anchor.seq
    exported = any(r["action"] == "export" and anchor.sha256 in r["details"] for r in rows)
    if not exported:
        problems.append(f"no export entry of the log names {name} (SHA-256 {anchor.sha256[:16]}...): "
                        "the entry was deleted, or the file is not the exported one")
    return problems, first


def unfinished_runs(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One warning per analysis run whose ``analysis_start`` has no ``analysis_run`` after it."""
    started: dict[str, tuple[Mapping[str, Any], dict[str, Any]]] = {}
    ended: set[str] = set()
    done: Counter[str] = Counter()
    for row in rows:
        if row["action"] not in ("analysis_start", "analysis", "analysis_run"):
            continue
        try:
            details = json.loads(row["details"])
            run_id = str(details["run_id"])
        except (ValueError, KeyError, TypeError):
            continue  # (an altered entry: the chain check reports it)
        if row["action"] == "analysis_start":
            started[run_id] = (row, details)
        elif row["action"] == "analysis":
            done[run_id] += 1
        else:
            ended.add(run_id)
    return [f"analysis run {rid} started at {row['ts']} (entry {row['seq']}) never finished: "
            f"{done[rid]} of {details.get('n_images', '?')} images were analysed before it was "
            "interrupted (or it is still running)"
            for rid, (row, details) in started.items() if rid not in ended]


def _merge(chain: audit.ChainCheck, problems: list[str], first: int | None) -> None:
    """Add problems found against an anchor to the chain's (the lowest first broken seq wins)."""
    chain.problems += problems
    chain.ok = chain.ok and not problems
    if first is not None and (chain.first_broken_seq is None or first < chain.first_broken_seq):
        chain.first_broken_seq = first


def check_case(case_id: str, *, home: Path | None = None, blobs: bool = True,
               anchors: Sequence[ReportAnchor] = ()) -> CaseCheck:
    """Check a case without writing anything; ``anchors`` are signed reports to hold it against.

    The case's own signed anchors (:mod:`.anchors`) are always checked.
    """
    anchor_lines = _anchors.read_anchors(case_id, home)  # before the rows: see check_anchors
    with opened(home) as conn:
        if conn.execute("SELECT 1 FROM cases WHERE id = ?", (case_id,)).fetchone() is None:
            orphan = _orphaned_log(conn, case_id)
            if orphan is not None:
                return orphan
        case = case_row(conn, case_id)
        rows = audit.read_rows(conn, case_id)
        chain = audit.verify_chain(case_id, rows, case["head_seq"], case["head_hash"])
        evidence = _evidence_rows(conn, case_id)
    ref_problems, n_rows = _check_refs(rows, evidence)
    signed = _anchors.check_anchors(case_id, rows, anchor_lines, home=home)
    _merge(chain, signed.problems, signed.first_broken_seq)
    for anchor in anchors:
        _merge(chain, *_anchor_problems(case_id, rows, anchor))
    blob_problems: list[str] = []
    outcomes: Counter[str] = Counter()
    store = BlobStore(home)
    for r in evidence["images"].values() if blobs else ():
        outcome, problem = store.check(r["sha256"], _recorded_size(r))
        outcomes[outcome] += 1
        blob_problems += [problem] if problem else []
    n_images = len(evidence["images"])
    coverage = Coverage(n_images, n_images - outcomes["missing"] if blobs else 0, outcomes["match"],
                        outcomes["changed"])
    evidence_problems = ref_problems + blob_problems
    status = decide(chain.problems + evidence_problems, coverage)
    extra = len(evidence_problems) - MAX_PROBLEMS
    listed = evidence_problems[:MAX_PROBLEMS] + ([f"... and {extra} more"] if extra > 0 else [])
    return CaseCheck(case_id, status, len(rows), chain.head_seq, chain.head_hash, chain.first_broken_seq,
                     chain.problems[:MAX_PROBLEMS], listed, n_rows, coverage, audit.now_utc(),
                     unfinished_runs(rows) + signed.warnings, signed.n_anchors)


def _recorded_size(row: sqlite3.Row) -> int:
    """The byte count recorded at intake (0 when the row was edited into nonsense: then any
    stored bytes are over it, and the altered row is reported by the reference check)."""
    try:
        return max(int(row["n_bytes"]), 0)
    except (TypeError, ValueError):
        return 0


def verify_case(case_id: str, *, home: Path | None = None, record: bool = True,
                actor: str | None = None, reports: Sequence[str | Path] = ()) -> CaseCheck:
    """:func:`check_case` (against signed ``reports`` too), then (``record``) log the outcome."""
    result = check_case(case_id, home=home, anchors=[report_anchor(p) for p in reports])
    if record and result.head_hash:  # (nothing to append to when the case row itself is gone)
        with opened(home) as conn, transaction(conn):
            audit.append(conn, case_id, "verify", {
                "ok": result.ok, "status": result.status, "first_broken_seq": result.first_broken_seq,
                "n_entries_checked": result.n_entries, "head_hash_checked": result.head_hash,
                "n_problems": len(result.problems), "problems": result.problems[:20]}, actor)
        if result.ok:  # (a failed check is logged, but its head is not vouched for)
            _anchors.anchor_head(case_id, "verify", actor=actor, home=home)
    return result
