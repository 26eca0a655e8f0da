"""Batch triage: take in many images (uploads, a ZIP, a folder), score them, export the table.

ZIP archives are read in memory only (never extracted), with limits on entry count, per-file
and total bytes and compression ratio; entries whose names are absolute or climb out with
``..`` are refused. Every bad input becomes a row with an ``error``, never an exception.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import stat
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from PIL import Image

from .bands import DEFAULT_EDGES, band_for, decide
from .data import IMAGE_EXTENSIONS
from .domain import DomainCheck
from .imageio import ImageError, LoadedImage, load_image
from .inference import Verdict
from .metadata import read_exif
from .results import domain_of

MAX_FILES = 2000
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed size above this => suspected ZIP bomb
RECORD_FIELDS = ("name", "verdict", "p_fake", "band", "in_domain", "domain_reasons", "width",
                 "height", "format", "bytes", "sha256", "notes", "error")


class TriageError(ValueError):
    """An intake that cannot be used at all (not a ZIP, not a folder); one clear sentence."""


@dataclass
class Intake:
    """Named image bytes to score, plus entries refused on the way in (name, reason)."""

    items: list[tuple[str, bytes]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def safe_member_name(name: str) -> str | None:
    """Normalised relative POSIX name of a ZIP entry, or None when it is absolute or climbs out."""
    name = name.replace("\\", "/")
    if not name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def _is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def read_zip(source: bytes | bytearray | str | os.PathLike | BinaryIO, *, max_files: int = MAX_FILES,
             max_file_bytes: int = MAX_FILE_BYTES, max_total_bytes: int = MAX_TOTAL_BYTES,
             max_ratio: float = MAX_RATIO) -> Intake:
    """Image entries of a ZIP as (safe name, bytes), in memory; never writes to disk."""
    fobj = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray)) else source
    try:
        zf = zipfile.ZipFile(fobj)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise TriageError("The upload is not a valid ZIP archive.") from exc
    intake, total = Intake(), 0
    with zf:
        for info in zf.infolist():
            raw = info.filename
            if info.is_dir():
                continue
            name = safe_member_name(raw)
            if name is None:
                intake.rejected.append((raw, "unsafe path inside the ZIP (absolute or '..'); skipped."))
                continue
            base = PurePosixPath(name).name
            if name.startswith("__MACOSX/") or base.startswith("._") or base.startswith("."):
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                intake.rejected.append((name, "symbolic link inside the ZIP; skipped."))
                continue
            if not _is_image_name(name):
                intake.rejected.append((name, "not an image file type; skipped."))
                continue
            if len(intake.items) >= max_files:
                intake.rejected.append((name, f"more than {max_files} images in the ZIP; skipped."))
                continue
            if info.flag_bits & 0x1:
                intake.rejected.append((name, "encrypted ZIP entry; skipped."))
                continue
            if info.file_size > max_file_bytes:
                intake.rejected.append((name, f"{info.file_size / 2**20:.1f} MB is over the "
                                              f"{max_file_bytes / 2**20:.0f} MB per-file limit; skipped."))
                continue
            if info.compress_size and info.file_size / info.compress_size > max_ratio:
                intake.rejected.append((name, "compression ratio is suspiciously high (ZIP bomb?); skipped."))
                continue
            if total + info.file_size > max_total_bytes:
                intake.rejected.append((name, f"total size over {max_total_bytes / 2**20:.0f} MB; skipped."))
                continue
            try:
                with zf.open(info) as member:
                    data = member.read(max_file_bytes + 1)  # never trust the declared size
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError,
                    NotImplementedError) as exc:
                intake.rejected.append((name, f"cannot be read from the ZIP ({type(exc).__name__}); skipped."))
                continue
            if len(data) > max_file_bytes:
                intake.rejected.append((name, "entry is larger than its header says; skipped."))
                continue
            total += len(data)
            intake.items.append((name, data))
    return intake


def allowed_roots_from_env(var: str = "SYNTHCHECK_ALLOWED_FOLDERS") -> list[Path] | None:
    """Folders a server may read, from ``os.pathsep``-separated ``$var``; None = no restriction."""
    raw = os.environ.get(var, "").strip()
    return [Path(r).expanduser().resolve() for r in raw.split(os.pathsep) if r.strip()] if raw else None


def check_folder(path: str | os.PathLike, allowed_roots: Sequence[str | os.PathLike] | None = None) -> Path:
    """Resolved ``path``; :class:`TriageError` unless it is inside one of ``allowed_roots``."""
    resolved = Path(path).expanduser().resolve()
    if allowed_roots is not None:
        roots = [Path(r).expanduser().resolve() for r in allowed_roots]
        if not any(resolved == r or r in resolved.parents for r in roots):
            raise TriageError(f"{path} is outside the folders this server may read.")
    return resolved


def scan_folder(path: str | os.PathLike, *, recursive: bool = True, max_files: int = MAX_FILES,
                allowed_roots: Sequence[str | os.PathLike] | None = None) -> list[Path]:
    """Image files under ``path`` (sorted, symlinked folders not followed), at most ``max_files``.

    With ``allowed_roots``, a folder outside them (after resolving symlinks and ``..``) is refused.
    """
    root = check_folder(path, allowed_roots)
    if not root.is_dir():
        raise TriageError(f"{root} is not a folder.")
    found: list[Path] = []
    if recursive:
        for dirpath, dirnames, files in os.walk(root, followlinks=False):
            dirnames.sort()
            found.extend(Path(dirpath) / f for f in sorted(files) if _is_image_name(f))
    else:
        found = sorted(p for p in root.iterdir() if p.is_file() and _is_image_name(p.name))
    return sorted(found)[:max_files]


@dataclass
class Analysis:
    """Everything the dashboard shows about one input."""

    name: str
    loaded: LoadedImage | None = None
    verdict: Verdict | None = None
    error: str | None = None
    decision: str | None = None  # "REAL" / "FAKE" at the chosen threshold
    band: str | None = None
    domain: DomainCheck | None = None
    exif: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_record(self) -> dict[str, Any]:
        """One flat, JSON-friendly table row."""
        rec: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
        rec["name"] = self.name
        rec["error"] = self.error
        if self.loaded is not None:
            rec.update(width=self.loaded.width, height=self.loaded.height, format=self.loaded.format,
                       bytes=self.loaded.n_bytes, sha256=self.loaded.sha256,
                       notes=list(self.loaded.notes))
        if self.verdict is not None:
            rec.update(verdict=self.decision, p_fake=round(self.verdict.p_fake, 6), band=self.band)
        if self.domain is not None:
            rec.update(in_domain=self.domain.in_domain, domain_reasons=list(self.domain.reasons))
        return rec


def analyze_images(detector: Any, items: Sequence[tuple[str, bytes]], *, threshold: float | None = None,
                   edges: Sequence[float] = DEFAULT_EDGES, with_exif: bool = True,
                   batch_size: int = 64, progress: Callable[[float], None] | None = None) -> list[Analysis]:
    """Load, check and score (name, bytes) inputs in batches; bad files get ``error`` only."""
    thr = detector.threshold if threshold is None else float(threshold)
    results = [Analysis(name) for name, _ in items]
    good: list[int] = []
    for i, (name, data) in enumerate(items):
        try:
            loaded = load_image(data, name=name)
        except ImageError as exc:
            results[i].error = str(exc)
            continue
        results[i].loaded = loaded
        if with_exif:
            results[i].exif = read_exif(data)
        good.append(i)
    for s in range(0, len(good), batch_size):
        chunk = good[s:s + batch_size]
        verdicts = detector.predict([results[i].loaded for i in chunk])
        for i, v in zip(chunk, verdicts, strict=True):
            r = results[i]
            r.verdict, r.decision = v, decide(v.p_fake, thr)
            r.domain = domain_of(r.loaded, v, detector)  # input properties + feature space
            r.band = band_for(v.p_fake, edges, in_domain=r.domain.in_domain if r.domain else True)
        if progress:
            progress(min(1.0, (s + len(chunk)) / max(1, len(good))))
    return results


def read_paths(paths: Iterable[str | os.PathLike], max_file_bytes: int = MAX_FILE_BYTES) -> Intake:
    """Bytes of files on disk as an :class:`Intake` (unreadable or oversize files rejected)."""
    intake = Intake()
    for p in paths:
        path = Path(p)
        try:
            size = path.stat().st_size
            if size > max_file_bytes:
                intake.rejected.append((str(path), f"{size / 2**20:.1f} MB is over the "
                                                   f"{max_file_bytes / 2**20:.0f} MB limit; skipped."))
                continue
            intake.items.append((str(path), path.read_bytes()))
        except OSError as exc:
            intake.rejected.append((str(path), f"cannot be read ({exc.strerror or exc}); skipped."))
    return intake


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
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


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
