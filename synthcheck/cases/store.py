"""Case storage: the SQLite database (schema, connections, transactions) and the blob store.

One database ``<home>/cases.sqlite3`` (WAL, foreign keys, busy timeout) so the dashboard, the
API and the CLI can work on it at once. Evidence tables are append-only: SQLite triggers refuse
UPDATE and DELETE on them (defence in depth; :mod:`synthcheck.cases.check` still detects edits
made with the triggers dropped). Images live outside the database, content-addressed by SHA-256
under ``<home>/blobs/ab/cdef...``, written once (temp file, fsync, atomic rename, read-only).
Files refused at intake are rows of ``refused_files`` (name, source, size and SHA-256 when known,
reason, time), so every file offered to a case is accounted for, taken or not.

Migrations: every statement of :data:`SCHEMA` is ``IF NOT EXISTS``, so running it over a database
of an older :data:`SCHEMA_VERSION` adds what that version lacks (version 2 added
``refused_files``) and leaves existing rows alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..fsio import atomic_write_bytes
from ..home import synthcheck_home
from ..imageio import read_bounded

DB_NAME = "cases.sqlite3"
BLOB_DIR = "blobs"
SCHEMA_VERSION = "2"  # 1: first release; 2: + refused_files
BUSY_TIMEOUT_MS = 30_000
# Tables whose rows are evidence: never updated or deleted once written.
APPEND_ONLY = ("audit", "images", "image_names", "analyses", "notes", "tag_events", "control_runs",
               "refused_files")

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_info(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases(
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    created_by TEXT NOT NULL,
    head_seq INTEGER NOT NULL DEFAULT 0,
    head_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit(
    case_id TEXT NOT NULL REFERENCES cases(id),
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY(case_id, seq));
CREATE TABLE IF NOT EXISTS images(
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(id),
    sha256 TEXT NOT NULL,
    n_bytes INTEGER NOT NULL,
    format TEXT,
    width INTEGER,
    height INTEGER,
    added_utc TEXT NOT NULL,
    UNIQUE(case_id, sha256));
CREATE TABLE IF NOT EXISTS image_names(
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id),
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    added_utc TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS analyses(
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(id),
    image_id INTEGER NOT NULL REFERENCES images(id),
    run_id TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    model_name TEXT,
    model_sha256 TEXT,
    code_version TEXT,
    params TEXT NOT NULL,
    seed INTEGER,
    record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes(
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(id),
    image_id INTEGER REFERENCES images(id),
    created_utc TEXT NOT NULL,
    actor TEXT NOT NULL,
    text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tag_events(
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(id),
    image_id INTEGER REFERENCES images(id),
    tag TEXT NOT NULL,
    op TEXT NOT NULL CHECK(op IN ('add', 'remove')),
    created_utc TEXT NOT NULL,
    actor TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS control_runs(
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(id),
    created_utc TEXT NOT NULL,
    model_sha256 TEXT,
    ok INTEGER,
    result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refused_files(
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(id),
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    n_bytes INTEGER,
    sha256 TEXT,
    reason TEXT NOT NULL,
    refused_utc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS images_case ON images(case_id);
CREATE INDEX IF NOT EXISTS names_image ON image_names(image_id);
CREATE INDEX IF NOT EXISTS analyses_case ON analyses(case_id, image_id);
CREATE INDEX IF NOT EXISTS notes_case ON notes(case_id);
CREATE INDEX IF NOT EXISTS tags_case ON tag_events(case_id);
CREATE INDEX IF NOT EXISTS control_case ON control_runs(case_id);
CREATE INDEX IF NOT EXISTS refused_case ON refused_files(case_id);
CREATE TRIGGER IF NOT EXISTS cases_identity_fixed BEFORE UPDATE OF id, title, created_utc, created_by
    ON cases BEGIN SELECT RAISE(ABORT, 'a case''s identity cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS cases_no_delete BEFORE DELETE ON cases
    BEGIN SELECT RAISE(ABORT, 'cases cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS cases_head_forward BEFORE UPDATE OF head_seq, head_hash ON cases
    WHEN NEW.head_seq < OLD.head_seq OR NOT EXISTS (
        SELECT 1 FROM audit WHERE case_id = NEW.id AND seq = NEW.head_seq AND hash = NEW.head_hash)
    BEGIN SELECT RAISE(ABORT, 'the audit head can only move forward to an existing entry'); END;
"""


def _append_only_triggers() -> str:
    """UPDATE/DELETE-refusing triggers for every evidence table."""
    return "\n".join(
        f"CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t} "
        f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;\n"
        f"CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t} "
        f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;" for t in APPEND_ONLY)


def db_path(home: Path | None = None) -> Path:
    """Where the case database lives."""
    return (Path(home) if home is not None else synthcheck_home()) / DB_NAME


def connect(home: Path | None = None) -> sqlite3.Connection:
    """A new connection (autocommit; use :func:`transaction`) with the schema in place."""
    path = db_path(home)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    _ensure_schema(conn)
    return conn


def _ensure_schema(conn: sqlite3.Connection) -> None:
    """Create (or migrate up to :data:`SCHEMA_VERSION`) tables and triggers once; afterwards a
    cheap check of the version row. A database of a newer version is left as it is."""
    try:
        row = conn.execute("SELECT value FROM schema_info WHERE key = 'version'").fetchone()
        if row is not None and row[0].isdigit() and int(row[0]) >= int(SCHEMA_VERSION):
            return
    except sqlite3.OperationalError:  # no schema_info yet: a new database
        pass
    script = (f"BEGIN IMMEDIATE;{SCHEMA}{_append_only_triggers()}\nINSERT OR REPLACE INTO "
              f"schema_info(key, value) VALUES ('version', '{SCHEMA_VERSION}');\nCOMMIT;")
    try:
        conn.executescript(script)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error): one writer at a time."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextlib.contextmanager
def opened(home: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A connection that is closed on exit."""
    conn = connect(home)
    try:
        yield conn
    finally:
        conn.close()


# -- blobs --------------------------------------------------------------------------------
class BlobStore:
    """Files named by the SHA-256 of their bytes: ``root/ab/cdef...`` (64 hex digits in all)."""

    def __init__(self, home: Path | None = None) -> None:
        self.root = (Path(home) if home is not None else synthcheck_home()) / BLOB_DIR

    def path_for(self, sha256: str) -> Path:
        """Where the blob with this hash lives (whether or not it exists)."""
        sha = sha256.lower()
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha[:2] / sha[2:]

    def put(self, data: bytes, sha256: str | None = None) -> tuple[str, bool]:
        """Store ``data`` once; returns (sha256, newly written). Never rewrites an existing blob."""
        sha = sha256 or hashlib.sha256(data).hexdigest()
        path = self.path_for(sha)
        if path.is_file() and path.stat().st_size == len(data):
            return sha, False
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_bytes(path, data, mode=0o444)  # fsyncs the file and its folder
        return sha, True

    def read(self, sha256: str) -> bytes:
        """The blob's bytes (``OSError`` when missing)."""
        return self.path_for(sha256).read_bytes()

    def check(self, sha256: str, n_bytes: int) -> tuple[str, str | None]:
        """``("match", None)``, ``("missing", why)`` or ``("changed", why)`` for one stored image.

        Only a regular file (no link, FIFO or device) is read, never more than ``n_bytes`` + 1
        bytes (the size recorded at intake), so a blob swapped for a pipe or a link to
        ``/dev/zero`` is reported at once instead of hanging the check.
        """
        path = self.path_for(sha256)
        if not os.path.lexists(path):
            return "missing", f"stored image {sha256[:16]}... is missing from the blob store ({path})"
        data = read_bounded(path, max(n_bytes, 0), follow_symlinks=False)
        if isinstance(data, str):
            return "changed", (f"stored image {sha256[:16]}... was replaced or modified (the stored "
                               f"file {data.removeprefix('file ')})")
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            return "changed", (f"stored image {sha256[:16]}... no longer matches its SHA-256 "
                               f"(now {actual[:16]}...): the file was modified")
        return "match", None
