"""Scan results on disk: one fixed row schema, Parquet or JSONL by extension, resumable.

A run writes numbered part files into ``RESULTS.parts/``; each is written whole and renamed
into place (:func:`synthcheck.fsio.atomic_path`), so a ``kill -9`` leaves only complete parts
(plus a stray temporary file, removed on the next run). The parts are the state: resuming reads
their ``key`` column and skips those inputs. When a run ends, :meth:`ResultStore.finish` merges
the previous ``RESULTS`` and the parts into a new ``RESULTS`` (atomically, streaming, dropping
any key already there, so a crash between that rename and the clean-up duplicates nothing),
then removes the parts. A run that starts afresh appends each part to the new ``RESULTS`` as it
is committed (:meth:`ResultStore.commit`), so its end is a rename.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis import RECORD_FIELDS, TILE_FIELDS
from ..fsio import atomic_path

FORMATS = {".parquet": "parquet", ".jsonl": "jsonl"}
LIST_FIELDS = ("domain_reasons", "advisories", "notes")
JSON_FIELDS = ("provenance", "tiles")  # nested values stored as JSON text (a fixed schema)
FLOAT_FIELDS = ("p_fake", "threshold", "calibrated_p_fake", "uncalibrated_p_fake")
# the predict --json record's keys (analysis.RECORD_FIELDS), plus ``key`` (the input's
# identity) first and ``error`` (unreadable inputs) after the path
ROW_FIELDS = ("key", "path", "error", *RECORD_FIELDS[1:], *TILE_FIELDS)
_PART = re.compile(r"^part-(\d{8})\.(parquet|jsonl)$")


class ResultsError(ValueError):
    """A results path that cannot be used (unknown extension, unreadable file); one sentence."""


def results_format(path: str | os.PathLike) -> str:
    """``parquet`` or ``jsonl`` from the extension; :class:`ResultsError` otherwise."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ResultsError(f"{path}: the results file must end in .parquet or .jsonl.")
    return fmt


def schema() -> Any:
    """The one Arrow schema of a results row."""
    import pyarrow as pa

    types = {"p_fake": pa.float64(), "in_domain": pa.bool_()}
    types.update(dict.fromkeys(FLOAT_FIELDS, pa.float64()))
    types.update(dict.fromkeys(LIST_FIELDS, pa.list_(pa.string())))
    return pa.schema([(f, types.get(f, pa.string())) for f in ROW_FIELDS])


def to_row(key: str, record: dict[str, Any]) -> dict[str, Any]:
    """A results row from a ``predict --json`` record (:meth:`Analysis.to_record`)."""
    row = {f: record.get(f) for f in ROW_FIELDS}
    row["key"] = key
    for f in JSON_FIELDS:
        if row[f] is not None:
            row[f] = json.dumps(row[f], sort_keys=True, ensure_ascii=False)
    for f in FLOAT_FIELDS:
        if row[f] is not None:
            row[f] = float(row[f])
    return row


def key_hash(key: str) -> int:
    """64-bit digest of a key: 8 bytes per done input in memory, whatever the key's length."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                          "little")


def to_table(rows: Sequence[dict[str, Any]]) -> Any:
    """Rows as an Arrow table of the one :func:`schema` (both engines write parts with it)."""
    import pyarrow as pa

    return pa.Table.from_pylist(list(rows), schema=schema())


def warm_up() -> None:
    """Load pyarrow, and the pandas it loads on its first conversion, before the first write
    needs them (~0.7 s, which a background thread spends while the workers start)."""
    to_table([])


def _encode(rows: Sequence[dict[str, Any]], fmt: str) -> Any:
    """Rows as what a file of ``fmt`` holds: an Arrow table, or JSONL text."""
    if fmt == "parquet":
        return to_table(rows)
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _write(data: Any, path: str | os.PathLike, fmt: str) -> None:
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(data, tmp)
        else:
            Path(tmp).write_text(data, encoding="utf-8")


def write_rows(rows: Sequence[dict[str, Any]], path: str | os.PathLike, fmt: str) -> None:
    """Write ``rows`` atomically to ``path`` (``parquet`` or ``jsonl``)."""
    _write(_encode(rows, fmt), path, fmt)


class _Stream:
    """The results of a run that started afresh, appended part by part as they are committed, so
    that finishing is a rename rather than a second pass over every row."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        if fmt == "parquet":
            import pyarrow.parquet as pq

            self.fh: Any = pq.ParquetWriter(path, schema())
        else:
            self.fh = path.open("w", encoding="utf-8")

    def append(self, data: Any) -> None:
        if self.fmt == "parquet":
            self.fh.write_table(data)
        else:
            self.fh.write(data)

    def close_into(self, out: Path) -> None:
        """Close, fsync and rename onto ``out`` (atomic)."""
        from ..fsio import fsync_directory

        self.fh.close()
        with open(self.path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self.path, out)
        fsync_directory(out.parent)

    def abort(self) -> None:
        self.fh.close()
        self.path.unlink(missing_ok=True)


def iter_row_batches(path: str | os.PathLike, columns: Sequence[str] | None = None,
                     batch_size: int = 8192) -> Iterator[list[dict[str, Any]]]:
    """Rows of a results file (or part) in batches, never the whole file in memory."""
    path = Path(path)
    if results_format(path) == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as pf:
            for batch in pf.iter_batches(batch_size=batch_size, columns=list(columns) if columns else None):
                yield batch.to_pylist()
        return
    with path.open(encoding="utf-8") as fh:
        batch: list[dict[str, Any]] = []
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            batch.append({c: row.get(c) for c in columns} if columns else row)
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every row of a results file (tests and small files; large files: :func:`iter_row_batches`)."""
    return [r for b in iter_row_batches(path) for r in b]


def _hashes(path: Path) -> np.ndarray:
    return np.fromiter((key_hash(r["key"]) for b in iter_row_batches(path, ["key"]) for r in b),
                       dtype=np.uint64)


class ResultStore:
    """The results file and its in-progress parts: what is done, where the next part goes."""

    def __init__(self, out: str | os.PathLike) -> None:
        self.out = Path(out).expanduser().resolve()
        self.fmt = results_format(self.out)
        self.parts = self.out.with_name(self.out.name + ".parts")
        self._next = 0  # number of the next part handed out
        self._fresh = False  # no results and no parts at open: the results are streamed
        self._stream: _Stream | None = None  # made at the first commit (pyarrow loaded by then)
        self._waiting: dict[int, Any] = {}  # committed out of order, not yet appended
        self._streamed = 0  # parts appended to the stream so far (numbered from 0)

    def _part_files(self) -> list[tuple[int, Path]]:
        if not self.parts.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.parts.iterdir()
                 if (m := _PART.match(p.name)) and m.group(2) == self.fmt]
        return sorted(found)

    def open(self) -> np.ndarray:
        """Prepare a run: remove stray temporary files; the sorted key hashes already written."""
        self.parts.mkdir(parents=True, exist_ok=True)
        for tmp in self.parts.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        parts = self._part_files()
        self._next = parts[-1][0] + 1 if parts else 0
        self._fresh = not parts and not self.out.is_file()
        done = [_hashes(p) for _, p in parts]
        if self.out.is_file():
            done.append(_hashes(self.out))
        return np.unique(np.concatenate(done)) if done else np.zeros(0, np.uint64)

    def next_part(self) -> Path:
        """Path of the next part file (numbered in the order parts are handed out)."""
        path = self.parts / f"part-{self._next:08d}.{self.fmt}"
        self._next += 1
        return path

    def commit(self, rows: Sequence[dict[str, Any]], part: Path) -> None:
        """Write one chunk's rows to its part file (atomically: the parts are what resume
        reads) and, on a run that started afresh, append them to the results in part order."""
        data = _encode(rows, self.fmt)
        _write(data, part, self.fmt)
        if not self._fresh:
            return
        if self._stream is None:
            self._stream = _Stream(self.parts / ".results.tmp", self.fmt)
        m = _PART.match(part.name)
        assert m is not None
        self._waiting[int(m.group(1))] = data
        while self._streamed in self._waiting:
            self._stream.append(self._waiting.pop(self._streamed))
            self._streamed += 1

    def finish(self) -> Path:
        """``RESULTS`` from the previous results and the parts (atomic), then drop the parts: a
        rename when this run streamed every part it handed out, else a merge of the files."""
        stream, self._stream = self._stream, None
        if stream is not None:
            if not self._waiting and self._streamed == self._next:
                stream.close_into(self.out)
                shutil.rmtree(self.parts, ignore_errors=True)
                return self.out
            stream.abort()  # a part went missing: the files decide
        parts = [p for _, p in self._part_files()]
        if not parts and self.out.is_file():
            shutil.rmtree(self.parts, ignore_errors=True)
            return self.out
        old = _hashes(self.out) if self.out.is_file() else np.zeros(0, np.uint64)
        old.sort()
        sources = ([self.out] if self.out.is_file() else []) + parts
        with atomic_path(self.out) as tmp:
            self._merge(sources, tmp, old)
        shutil.rmtree(self.parts, ignore_errors=True)
        return self.out

    def _merge(self, sources: list[Path], tmp: Path, old: np.ndarray) -> None:
        """Stream ``sources`` into ``tmp`` as they are (Arrow record batches, or JSONL bytes),
        dropping from the parts only the rows whose key ``old`` (the previous results) holds:
        no row becomes Python objects unless it must be checked."""
        def checked(src: Path) -> bool:
            """Whether rows of ``src`` may repeat the previous results (a part, after a crash)."""
            return src != self.out and len(old) > 0

        def fresh(keys: Sequence[str]) -> np.ndarray:
            """Mask of the rows whose key the previous results do not hold."""
            h = np.fromiter((key_hash(k) for k in keys), np.uint64, len(keys))
            pos = np.minimum(np.searchsorted(old, h), len(old) - 1)
            return old[pos] != h

        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            target = schema()
            with pq.ParquetWriter(tmp, target) as w:
                for src in sources:
                    with pq.ParquetFile(src) as pf:
                        for batch in pf.iter_batches(batch_size=8192):
                            if batch.schema != target:
                                batch = batch.select(target.names).cast(target)
                            if checked(src):
                                batch = batch.filter(pa.array(fresh(batch.column("key").to_pylist())))
                            if batch.num_rows:
                                w.write_batch(batch)
            return
        with open(tmp, "wb") as out:
            for src in sources:
                with src.open("rb") as fh:
                    for lines in iter(lambda fh=fh: fh.readlines(1 << 20), []):
                        lines = [ln for ln in lines if ln.strip()]
                        if checked(src):
                            keep = fresh([json.loads(ln)["key"] for ln in lines])
                            lines = [ln for ln, k in zip(lines, keep, strict=True) if k]
                        out.writelines(ln if ln.endswith(b"\n") else ln + b"\n" for ln in lines)


def summary_counts(path: str | os.PathLike) -> dict[str, int]:
    """Counts by conclusion and errors over a whole results file (streamed)."""
    from ..analysis import summarize

    total: dict[str, int] = {}
    for rows in iter_row_batches(path, ["conclusion", "error"]):
        for k, v in summarize(rows).items():
            total[k] = total.get(k, 0) + v
    return total or summarize([])
