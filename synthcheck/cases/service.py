"""Case operations used by every face (CLI, API, dashboard): create, list, show, add, note, tag.

Each function opens its own connection (safe from any thread), writes evidence rows and their
audit entries in one transaction, and raises :class:`CaseError` (bad input, one sentence) or
:class:`CaseNotFound`. Analysis, export and verification live in :mod:`.analysis`,
:mod:`.export` and :mod:`.check`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SynthCheckError
from ..imageio import ImageError, load_image
from ..intake import Candidate, IntakeLimits, IntakeStats, Rejection, Source, iter_intake
from . import audit
from .anchors import anchor_head, anchoring
from .store import BlobStore, opened, transaction

ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TAG_RE = re.compile(r"^[^\s,][^,]{0,63}$")
MAX_TITLE, MAX_NOTE = 300, 20_000
INTAKE_CHUNK = 64  # candidates decoded and written per transaction ...
INTAKE_CHUNK_BYTES = 128 * 1024 * 1024  # ... or fewer, when they are large
MAX_LOGGED_REJECTIONS = 200

Progress = Callable[[int, int], None]


class CaseError(SynthCheckError):
    """A request the case store cannot carry out (bad input); the message is for the user."""


class CaseNotFound(CaseError):
    """No case with that id."""


# -- small helpers ------------------------------------------------------------------------
def new_case_id(conn: sqlite3.Connection) -> str:
    """``YYYYMMDD-xxxx``: the creation day and four random base32 characters (unique)."""
    day = audit.now_utc()[:10].replace("-", "")
    for _ in range(100):
        cid = f"{day}-{''.join(secrets.choice(ID_ALPHABET) for _ in range(4))}"
        if conn.execute("SELECT 1 FROM cases WHERE id = ?", (cid,)).fetchone() is None:
            return cid
    raise CaseError("could not find a free case id; pass one explicitly.")


def case_row(conn: sqlite3.Connection, case_id: str) -> sqlite3.Row:
    """The case's row or :class:`CaseNotFound`."""
    row = conn.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()
    if row is None:
        raise CaseNotFound(f"no case {case_id!r} (see `synthcheck case list`).")
    return row


def ref(conn: sqlite3.Connection, table: str, row_id: int) -> dict[str, Any]:
    """``{"table", "id", "sha256"}`` pinning the content of one evidence row in the log."""
    row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
    return {"table": table, "id": int(row_id), "sha256": audit.row_digest(row)}


def resolve_image(conn: sqlite3.Connection, case_id: str, key: str) -> sqlite3.Row:
    """An image of the case by SHA-256 (or a unique prefix of 6+ hex digits) or original name."""
    key = key.strip()
    rows = conn.execute("SELECT * FROM images WHERE case_id = ? AND sha256 LIKE ?",
                        (case_id, key.lower() + "%")).fetchall() if len(key) >= 6 and all(
        c in "0123456789abcdefABCDEF" for c in key) else []
    if not rows:
        rows = conn.execute("SELECT DISTINCT i.* FROM images i JOIN image_names n ON n.image_id = i.id "
                            "WHERE i.case_id = ? AND n.name = ?", (case_id, key)).fetchall()
    if len(rows) == 1:
        return rows[0]
    if not rows:
        raise CaseError(f"case {case_id} has no image {key!r} (give a SHA-256 prefix or an original name).")
    raise CaseError(f"{key!r} matches {len(rows)} images of case {case_id}; give more of the SHA-256.")


def _check_text(value: str, what: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise CaseError(f"the {what} is empty.")
    if len(value) > limit:
        raise CaseError(f"the {what} is {len(value)} characters, over the limit of {limit}.")
    return value


def _check_tag(tag: str) -> str:
    tag = (tag or "").strip()
    if not TAG_RE.match(tag):
        raise CaseError(f"tag {tag!r} is not usable: 1-64 characters, no commas, not starting "
                        "with a space.")
    return tag


# -- create, list, show -------------------------------------------------------------------
def create_case(title: str, *, notes: str = "", tags: Sequence[str] = (), case_id: str | None = None,
                actor: str | None = None, home: Path | None = None) -> dict[str, Any]:
    """A new case (its first audit entry records its creation); returns :func:`get_case`."""
    title = _check_text(title, "title", MAX_TITLE)
    tags = [_check_tag(t) for t in tags]
    if case_id is not None and not ID_RE.match(case_id):
        raise CaseError(f"case id {case_id!r} is not usable: letters, digits, '.', '_' or '-', "
                        "at most 64 characters.")
    actor = actor or audit.default_actor()
    with opened(home) as conn, transaction(conn):
        cid = case_id or new_case_id(conn)
        if conn.execute("SELECT 1 FROM cases WHERE id = ?", (cid,)).fetchone():
            raise CaseError(f"a case {cid!r} exists already.")
        conn.execute("INSERT INTO cases(id, title, created_utc, created_by, head_seq, head_hash) "
                     "VALUES (?, ?, ?, ?, 0, ?)", (cid, title, audit.now_utc(), actor, audit.GENESIS))
        audit.append(conn, cid, "case_created", {"case_id": cid, "title": title}, actor)
        if notes.strip():
            _insert_note(conn, cid, None, _check_text(notes, "note", MAX_NOTE), actor)
        for tag in dict.fromkeys(tags):
            _insert_tag(conn, cid, None, tag, "add", actor)
    anchor_head(cid, "create", actor=actor, home=home)
    return get_case(cid, home=home)


def list_cases(*, home: Path | None = None) -> list[dict[str, Any]]:
    """Every case, newest first, with image and analysis counts."""
    with opened(home) as conn:
        rows = conn.execute(
            "SELECT c.*, (SELECT COUNT(*) FROM images i WHERE i.case_id = c.id) AS n_images, "
            "(SELECT COUNT(DISTINCT a.image_id) FROM analyses a WHERE a.case_id = c.id) AS n_analysed "
            "FROM cases c ORDER BY c.created_utc DESC, c.id").fetchall()
        return [{"id": r["id"], "title": r["title"], "created_utc": r["created_utc"],
                 "created_by": r["created_by"], "n_images": r["n_images"], "n_analysed": r["n_analysed"],
                 "audit_entries": r["head_seq"], "tags": current_tags(conn, r["id"]).get(None, [])}
                for r in rows]


def current_tags(conn: sqlite3.Connection, case_id: str) -> dict[int | None, list[str]]:
    """Tags now on the case (key None) and on each image (key image id), replayed from events."""
    state: dict[tuple[int | None, str], bool] = {}
    for r in conn.execute("SELECT image_id, tag, op FROM tag_events WHERE case_id = ? ORDER BY id",
                          (case_id,)):
        state[(r["image_id"], r["tag"])] = r["op"] == "add"
    out: dict[int | None, list[str]] = {}
    for (image_id, tag), on in state.items():
        if on:
            out.setdefault(image_id, []).append(tag)
    return {k: sorted(v) for k, v in out.items()}


def latest_analyses(conn: sqlite3.Connection, case_id: str) -> dict[int, sqlite3.Row]:
    """The most recent analysis row of each image of the case."""
    rows = conn.execute("SELECT * FROM analyses WHERE id IN (SELECT MAX(id) FROM analyses "
                        "WHERE case_id = ? GROUP BY image_id)", (case_id,)).fetchall()
    return {r["image_id"]: r for r in rows}


def analysis_dict(row: sqlite3.Row) -> dict[str, Any]:
    """An analyses row as JSON-friendly data (params and record parsed)."""
    return {"id": row["id"], "run_id": row["run_id"], "created_utc": row["created_utc"],
            "model_name": row["model_name"], "model_sha256": row["model_sha256"],
            "code_version": row["code_version"], "params": json.loads(row["params"]),
            "seed": row["seed"], "record": json.loads(row["record"])}


def latest_control_run(conn: sqlite3.Connection, case_id: str) -> dict[str, Any] | None:
    """The case's most recent control run (the selfcheck result, without per-image rows)."""
    row = conn.execute("SELECT * FROM control_runs WHERE case_id = ? ORDER BY id DESC LIMIT 1",
                       (case_id,)).fetchone()
    if row is None:
        return None
    result = json.loads(row["result"])
    return {"id": row["id"], "created_utc": row["created_utc"], "ok": None if row["ok"] is None
            else bool(row["ok"]), **{k: v for k, v in result.items() if k != "details"}}


def get_case(case_id: str, *, home: Path | None = None) -> dict[str, Any]:
    """Everything about a case: identity, audit head, notes, tags, images with latest analysis
    and the files refused at intake (:func:`refused_files`)."""
    with opened(home) as conn:
        c = case_row(conn, case_id)
        tags = current_tags(conn, case_id)
        latest = latest_analyses(conn, case_id)
        names: dict[int, list[dict[str, Any]]] = {}
        for n in conn.execute("SELECT n.* FROM image_names n JOIN images i ON i.id = n.image_id "
                              "WHERE i.case_id = ? ORDER BY n.id", (case_id,)):
            names.setdefault(n["image_id"], []).append(
                {"name": n["name"], "source": n["source"], "added_utc": n["added_utc"],
                 **json.loads(n["meta"] or "{}")})
        notes = [{"id": n["id"], "image_id": n["image_id"], "created_utc": n["created_utc"],
                  "actor": n["actor"], "text": n["text"]}
                 for n in conn.execute("SELECT * FROM notes WHERE case_id = ? ORDER BY id", (case_id,))]
        by_image: dict[int | None, list[dict[str, Any]]] = {}
        for n in notes:
            by_image.setdefault(n["image_id"], []).append(n)
        images = []
        for im in conn.execute("SELECT * FROM images WHERE case_id = ? ORDER BY id", (case_id,)):
            a = latest.get(im["id"])
            images.append({"id": im["id"], "sha256": im["sha256"], "bytes": im["n_bytes"],
                           "format": im["format"], "width": im["width"], "height": im["height"],
                           "added_utc": im["added_utc"], "names": names.get(im["id"], []),
                           "name": (names.get(im["id"]) or [{"name": im["sha256"][:16]}])[0]["name"],
                           "tags": tags.get(im["id"], []),
                           "notes": by_image.get(im["id"], []),
                           "analysis": analysis_dict(a) if a is not None else None})
        refused = refused_files(conn, case_id)
        return {"id": c["id"], "title": c["title"], "created_utc": c["created_utc"],
                "created_by": c["created_by"],
                "audit_head": {"seq": c["head_seq"], "hash": c["head_hash"]},
                "tags": tags.get(None, []),
                "notes": by_image.get(None, []),
                "n_images": len(images), "n_analysed": len(latest), "n_refused": len(refused),
                "control_run": latest_control_run(conn, case_id),
                "images": images, "refused": refused}


def audit_entries(case_id: str, *, home: Path | None = None) -> list[audit.AuditEntry]:
    """The case's audit log as stored, in seq order (check it with :func:`verify_case`)."""
    with opened(home) as conn:
        case_row(conn, case_id)
        return [audit.AuditEntry.from_row(r) for r in audit.read_rows(conn, case_id)]


# -- notes and tags -----------------------------------------------------------------------
def _insert_note(conn: sqlite3.Connection, case_id: str, image: sqlite3.Row | None, text: str,
                 actor: str) -> audit.AuditEntry:
    cur = conn.execute("INSERT INTO notes(case_id, image_id, created_utc, actor, text) VALUES "
                       "(?, ?, ?, ?, ?)", (case_id, image["id"] if image else None, audit.now_utc(),
                                           actor, text))
    details: dict[str, Any] = {"text": text, "refs": [ref(conn, "notes", cur.lastrowid)]}
    if image is not None:
        details["image_sha256"] = image["sha256"]
    return audit.append(conn, case_id, "note_added", details, actor)


def _insert_tag(conn: sqlite3.Connection, case_id: str, image: sqlite3.Row | None, tag: str,
                op: str, actor: str) -> audit.AuditEntry:
    cur = conn.execute("INSERT INTO tag_events(case_id, image_id, tag, op, created_utc, actor) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (case_id, image["id"] if image else None, tag, op,
                                                     audit.now_utc(), actor))
    details: dict[str, Any] = {"tag": tag, "refs": [ref(conn, "tag_events", cur.lastrowid)]}
    if image is not None:
        details["image_sha256"] = image["sha256"]
    return audit.append(conn, case_id, "tag_added" if op == "add" else "tag_removed", details, actor)


def add_note(case_id: str, text: str, *, image: str | None = None, actor: str | None = None,
             home: Path | None = None) -> dict[str, Any]:
    """Append a note to the case or to one image (by SHA-256 prefix or original name)."""
    text = _check_text(text, "note", MAX_NOTE)
    with anchoring(case_id, "note", actor=actor, home=home), opened(home) as conn, \
            transaction(conn):
        case_row(conn, case_id)
        im = resolve_image(conn, case_id, image) if image else None
        return _insert_note(conn, case_id, im, text, actor or audit.default_actor()).to_dict()


def tag(case_id: str, tags: Sequence[str], *, image: str | None = None, remove: bool = False,
        actor: str | None = None, home: Path | None = None) -> list[str]:
    """Add (or remove) tags on the case or one image; returns the tags now there."""
    tags = [_check_tag(t) for t in tags]
    if not tags:
        raise CaseError("no tag given.")
    actor = actor or audit.default_actor()
    with anchoring(case_id, "tag", actor=actor, home=home), opened(home) as conn, \
            transaction(conn):
        case_row(conn, case_id)
        im = resolve_image(conn, case_id, image) if image else None
        key = im["id"] if im is not None else None
        now = set(current_tags(conn, case_id).get(key, []))
        for t in dict.fromkeys(tags):
            if remove and t in now:
                _insert_tag(conn, case_id, im, t, "remove", actor)
            elif not remove and t not in now:
                _insert_tag(conn, case_id, im, t, "add", actor)
        return current_tags(conn, case_id).get(key, [])


# -- intake -------------------------------------------------------------------------------
@dataclass
class IntakeReport:
    """What an intake did: images added, duplicates seen, inputs refused (with reasons).

    ``rejected`` rows are ``{name, source, reason, bytes, sha256, refused_utc}`` (size and hash
    when the bytes were read), the same as the case's ``refused_files`` rows.
    """

    case_id: str
    added: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    hidden_skipped: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Checked:
    """A candidate after decoding and storing its bytes (outside the write transaction)."""

    cand: Candidate
    sha256: str
    fmt: str | None
    width: int
    height: int


@dataclass
class _Refused:
    """An input refused at intake or at decoding, with what is known of its bytes."""

    rejection: Rejection
    n_bytes: int | None = None
    sha256: str | None = None


def _store_candidate(cand: Candidate, blobs: BlobStore) -> _Checked | _Refused:
    """Validate with :func:`load_image`, then write the blob (idempotent)."""
    try:
        loaded = load_image(cand.data, name=cand.name)
    except ImageError as exc:
        return _Refused(Rejection(cand.name, cand.source, str(exc)), len(cand.data),
                        hashlib.sha256(cand.data).hexdigest())
    blobs.put(cand.data, loaded.sha256)
    return _Checked(cand, str(loaded.sha256), loaded.format, loaded.width, loaded.height)


def _refused_at_intake(rej: Rejection, upload_sizes: dict[str, int]) -> _Refused:
    """An intake rejection with its size when known (a whole upload, or the intake says so)."""
    size = getattr(rej, "size", None)
    if size is None and rej.source in ("upload", f"upload:{rej.name}"):
        size = upload_sizes.get(rej.name)
    return _Refused(rej, size)


def _record_refusal(conn: sqlite3.Connection, case_id: str, item: _Refused, actor: str,
                    report: IntakeReport) -> None:
    """Insert the ``refused_files`` row and its ``file_refused`` audit entry."""
    rej, now = item.rejection, audit.now_utc()
    cur = conn.execute("INSERT INTO refused_files(case_id, name, source, n_bytes, sha256, reason, "
                       "refused_utc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (case_id, rej.name, rej.source, item.n_bytes, item.sha256, rej.reason, now))
    row = {"name": rej.name, "source": rej.source, "reason": rej.reason, "bytes": item.n_bytes,
           "sha256": item.sha256}
    audit.append(conn, case_id, "file_refused",
                 {**row, "refs": [ref(conn, "refused_files", int(cur.lastrowid))]}, actor)
    report.rejected.append({**row, "refused_utc": now})


def refused_files(conn: sqlite3.Connection, case_id: str) -> list[dict[str, Any]]:
    """Every file refused at the case's intakes, oldest first: ``refused_files`` rows, then the
    refusals of intakes made before those rows were kept (read from their audit entries)."""
    out = [{"name": r["name"], "source": r["source"], "bytes": r["n_bytes"], "sha256": r["sha256"],
            "reason": r["reason"], "refused_utc": r["refused_utc"], "recorded_in": "refused_files"}
           for r in conn.execute("SELECT * FROM refused_files WHERE case_id = ? ORDER BY id",
                                 (case_id,))]
    for row in conn.execute("SELECT seq, ts, details FROM audit WHERE case_id = ? AND "
                            "action = 'intake' ORDER BY seq", (case_id,)):
        try:
            details = json.loads(row["details"])
        except ValueError:
            continue  # (an altered entry: verify reports it)
        if not isinstance(details, dict) or "refused_recorded" in details:
            continue
        listed = [r for r in details.get("rejected") or [] if isinstance(r, dict)]
        out += [{"name": r.get("name"), "source": r.get("source"), "bytes": None, "sha256": None,
                 "reason": r.get("reason"), "refused_utc": row["ts"],
                 "recorded_in": f"audit entry {row['seq']}"} for r in listed]
        extra = int(details.get("n_rejected") or 0) - len(listed)
        if extra > 0:
            out.append({"name": f"({extra} more)", "source": "intake", "bytes": None, "sha256": None,
                        "reason": f"{extra} more refused files of this intake were counted but not "
                                  "listed in its audit entry.", "refused_utc": row["ts"],
                        "recorded_in": f"audit entry {row['seq']}"})
    return out


def _record_image(conn: sqlite3.Connection, case_id: str, item: _Checked, actor: str,
                  report: IntakeReport) -> None:
    """Insert the image (or just its new name when a duplicate) and its audit entry."""
    cand, now = item.cand, audit.now_utc()
    existing = conn.execute("SELECT id FROM images WHERE case_id = ? AND sha256 = ?",
                            (case_id, item.sha256)).fetchone()
    if existing is None:
        cur = conn.execute("INSERT INTO images(case_id, sha256, n_bytes, format, width, height, "
                           "added_utc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (case_id, item.sha256, len(cand.data), item.fmt, item.width, item.height, now))
        image_id = int(cur.lastrowid)
        first_name = None
    else:
        image_id = int(existing["id"])
        first = conn.execute("SELECT name FROM image_names WHERE image_id = ? ORDER BY id LIMIT 1",
                             (image_id,)).fetchone()
        first_name = first["name"] if first else None
    cur = conn.execute("INSERT INTO image_names(image_id, name, source, added_utc, meta) VALUES "
                       "(?, ?, ?, ?, ?)", (image_id, cand.name, cand.source, now,
                                           audit.canonical(cand.meta)))
    refs = [ref(conn, "image_names", int(cur.lastrowid))]
    details = {"sha256": item.sha256, "name": cand.name, "source": cand.source}
    if existing is None:
        refs.insert(0, ref(conn, "images", image_id))
        details.update(bytes=len(cand.data), format=item.fmt, width=item.width, height=item.height)
        audit.append(conn, case_id, "image_added", {**details, "refs": refs}, actor)
        report.added.append({"name": cand.name, "sha256": item.sha256, "source": cand.source})
    else:
        audit.append(conn, case_id, "image_duplicate", {**details, "first_name": first_name,
                                                        "refs": refs}, actor)
        report.duplicates.append({"name": cand.name, "sha256": item.sha256, "source": cand.source,
                                  "duplicate_of": first_name})


def add_images(case_id: str, sources: Iterable[Source], *, limits: IntakeLimits | None = None,
               actor: str | None = None, home: Path | None = None,
               progress: Progress | None = None) -> IntakeReport:
    """Take in files, folders, ZIPs and ``(name, bytes)`` uploads; originals are never modified.

    Images are validated with :func:`synthcheck.imageio.load_image`, stored once by SHA-256 and
    logged one entry each. Every refused input (not an image, unsafe ZIP entry, FIFO, undecodable
    ...) becomes a ``refused_files`` row with its reason, size and SHA-256 when known, and a
    ``file_refused`` entry, in input order: every file offered is accounted for.
    """
    t0 = time.perf_counter()
    actor = actor or audit.default_actor()
    sources = list(sources)
    upload_sizes = {str(s[0]): len(s[1]) for s in sources if isinstance(s, tuple)}
    report, stats, blobs = IntakeReport(case_id), IntakeStats(), BlobStore(home)
    with anchoring(case_id, "intake", actor=actor, home=home), opened(home) as conn:
        case_row(conn, case_id)
        chunk: list[Candidate | _Refused] = []
        done = 0

        def flush() -> None:
            nonlocal done
            # decode + blob outside the write lock, then record everything in input order
            checked = [c if isinstance(c, _Refused) else _store_candidate(c, blobs) for c in chunk]
            with transaction(conn):
                for item in checked:
                    if isinstance(item, _Refused):
                        _record_refusal(conn, case_id, item, actor, report)
                    else:
                        _record_image(conn, case_id, item, actor, report)
            done += len(chunk)
            chunk.clear()
            if progress:
                progress(done, 0)

        for item in iter_intake(sources, limits, stats):
            chunk.append(_refused_at_intake(item, upload_sizes) if isinstance(item, Rejection)
                         else item)
            if len(chunk) >= INTAKE_CHUNK or sum(
                    len(c.data) for c in chunk if isinstance(c, Candidate)) >= INTAKE_CHUNK_BYTES:
                flush()
        if chunk:
            flush()
        report.hidden_skipped = stats.hidden_skipped
        report.seconds = round(time.perf_counter() - t0, 3)
        with transaction(conn):
            audit.append(conn, case_id, "intake", {
                "sources": [s[0] if isinstance(s, tuple) else str(Path(s).expanduser().resolve())
                            for s in sources],
                "n_added": len(report.added), "n_duplicates": len(report.duplicates),
                "n_rejected": len(report.rejected), "hidden_skipped": report.hidden_skipped,
                "refused_recorded": True,  # each refusal has its own row and entry above
                "rejected": [{k: r[k] for k in ("name", "source", "reason")}
                             for r in report.rejected[:MAX_LOGGED_REJECTIONS]]}, actor)
    return report
