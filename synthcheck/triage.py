"""Batch triage: take in many images (uploads, a ZIP, a folder) and export the scored table.

Scoring is :func:`synthcheck.analysis.iter_analyze`, like every face; this module only takes
inputs in and writes rows out.

ZIPs and folders are taken in by :mod:`synthcheck.intake` (the same rules as cases: ZIPs read in
memory, never extracted; unsafe names, symbolic links, encrypted or nested archives, oversize
entries and ZIP bombs refused), under the triage limits below. Every bad input becomes a row
with an ``error``, never an exception.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from .analysis import ROW_FIELDS
from .imageio import display_name, png_base64
from .intake import (
    Candidate,
    IntakeError,
    IntakeLimits,
    Rejection,
    iter_intake,
    open_zip,
)

MAX_FILES = 2000
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed size above this => suspected ZIP bomb
RECORD_FIELDS = ROW_FIELDS  # one table row per input: synthcheck.analysis.Analysis.to_row


class TriageError(ValueError):
    """An intake that cannot be used at all (not a ZIP, not a folder); one clear sentence."""


@dataclass
class Intake:
    """Named image bytes to score, plus entries refused on the way in (name, reason)."""

    items: list[tuple[str, bytes]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def _limits(max_files: int = MAX_FILES, max_file_bytes: int = MAX_FILE_BYTES,
            max_total_bytes: int = MAX_TOTAL_BYTES, max_ratio: float = MAX_RATIO) -> IntakeLimits:
    return IntakeLimits(max_files=max_files, max_file_bytes=max_file_bytes,
                        max_total_bytes=max_total_bytes, max_ratio=max_ratio)


def _collect(items: Iterable[Candidate | Rejection], shown: dict[str, str] | None = None) -> Intake:
    """An :class:`Intake` from intake items; ``shown`` maps a resolved path to the name to show."""
    intake = Intake()
    for item in items:
        kind, _, where = item.source.partition(":")
        name = item.name
        if shown and where in shown:
            name = shown[where] if kind == "file" else f"{shown[where]}/{item.name}"
        if isinstance(item, Candidate):
            intake.items.append((name, item.data))
        else:
            intake.rejected.append((name, item.reason))
    return intake


def read_zip(source: bytes | bytearray | str | os.PathLike | BinaryIO, *, max_files: int = MAX_FILES,
             max_file_bytes: int = MAX_FILE_BYTES, max_total_bytes: int = MAX_TOTAL_BYTES,
             max_ratio: float = MAX_RATIO) -> Intake:
    """Image entries of a ZIP as (safe name, bytes), in memory; never writes to disk.

    :class:`TriageError` when the archive cannot be used at all.
    """
    limits = _limits(max_files, max_file_bytes, max_total_bytes, max_ratio)
    try:
        zf = open_zip(source, limits)
    except IntakeError as exc:
        raise TriageError(f"The upload was refused: {exc}") from exc
    with zf:
        return _collect(iter_intake([zf], limits))


def read_paths(paths: Iterable[str | os.PathLike], max_file_bytes: int = MAX_FILE_BYTES) -> Intake:
    """Bytes of files on disk as an :class:`Intake` (unreadable or oversize files rejected),
    named as given; taken in by :func:`synthcheck.intake.iter_intake` under the triage limits."""
    paths = [Path(p) for p in paths]
    shown = {display_name(p.expanduser().resolve()): str(p) for p in paths}
    return _collect(iter_intake(paths, _limits(max_file_bytes=max_file_bytes)), shown)


def rejected_records(rejected: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Table rows for inputs refused before scoring."""
    rows = []
    for name, reason in rejected:
        rec: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
        rec.update(name=name, error=reason)
        rows.append(rec)
    return rows


def thumbnail_uri(image: Image.Image, size: int = 64) -> str:
    """A small PNG of ``image`` as a ``data:`` URI (nearest-neighbour when enlarging)."""
    img = image.convert("RGB")
    scale = size / max(img.size)
    new = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    img = img.resize(new, Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS)
    return "data:image/png;base64," + png_base64(np.asarray(img), optimize=True)


def _cell(value: Any) -> Any:
    """A CSV cell: lists joined, and text that a spreadsheet would run as a formula defused."""
    if isinstance(value, (list, tuple)):
        value = " | ".join(str(v) for v in value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(records: Sequence[dict[str, Any]], fields: Sequence[str] = RECORD_FIELDS) -> str:
    """Records as CSV text (header row first)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for rec in records:
        w.writerow({k: _cell(rec.get(k)) for k in fields})
    return buf.getvalue()


def to_json(records: Sequence[dict[str, Any]], fields: Sequence[str] = RECORD_FIELDS) -> str:
    """Records as a JSON array (only ``fields``), UTF-8 safe."""
    return json.dumps([{k: rec.get(k) for k in fields} for rec in records], indent=1, default=str)
