"""What a scan reads: folders (recursively), ZIP archives and manifests, as a stream of items.

Each :class:`ScanItem` has a ``key`` (the input's identity: resolved path + size + mtime, or
archive + member + size + CRC) that resume uses to skip what is already written. Folders are
walked by :func:`synthcheck.intake.scan_folder` and ZIP archives read by
:func:`synthcheck.intake.iter_intake` (the intake rules: unsafe names, links, encrypted or nested
archives, ZIP bombs refused). A refused input is an item with ``error`` set, never an exception.
Nothing is held in memory beyond the item being yielded (ZIP members: their bytes).
"""

from __future__ import annotations

import csv
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..imageio import DEFAULT_MAX_BYTES, display_name
from ..intake import (
    IntakeLimits,
    Rejection,
    count_folder,
    is_image_name,
    iter_intake,
    scan_folder,
)

MANIFEST_SUFFIXES = (".txt", ".csv", ".lst", ".manifest")
# a scan has no count or total-size limit; each ZIP entry keeps the per-file and ratio limits
SCAN_LIMITS = IntakeLimits(max_files=sys.maxsize, max_total_bytes=sys.maxsize,
                           max_file_bytes=DEFAULT_MAX_BYTES)


class SourceError(ValueError):
    """A scan source that cannot be used at all (missing, unreadable manifest); one sentence."""


@dataclass(frozen=True)
class ScanItem:
    """One input of a scan: a file path, or a ZIP member's bytes, or why it was refused."""

    key: str  # identity for resume
    name: str  # the record's ``path``
    path: str | None = None  # read by the worker
    data: bytes | None = None  # ZIP members, read here
    error: str | None = None  # refused before scoring

    def source(self) -> str | tuple[str, bytes]:
        """What :func:`synthcheck.analysis.iter_analyze` takes for this item."""
        return (self.name, self.data) if self.data is not None else str(self.path)


def _file_key(path: Path) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{path}|{st.st_size}|{st.st_mtime_ns}"


def _refused(path: Path, reason: str) -> ScanItem:
    name = display_name(path)
    return ScanItem(key=_file_key(path) or f"{name}|refused", name=name, error=f"{name}: {reason}")


def _file_item(path: Path) -> ScanItem:
    key = _file_key(path)
    if key is None:
        return _refused(path, "cannot be read (it vanished or is not accessible); skipped.")
    return ScanItem(key=key, name=display_name(path), path=str(path))


def _zip_items(path: Path) -> Iterator[ScanItem]:
    where = display_name(path)
    for item in iter_intake([path], SCAN_LIMITS):
        whole = isinstance(item, Rejection) and item.name == item.source.split(":", 1)[-1]
        member = where if whole else f"{where}!{item.name}"
        if isinstance(item, Rejection):
            yield ScanItem(key=f"{member}|refused", name=member, error=f"{member}: {item.reason}")
        else:
            key = f"{member}|{len(item.data)}|{item.meta.get('zip_crc32', '')}"
            yield ScanItem(key=key, name=member, data=item.data)


def _folder_items(root: Path) -> Iterator[ScanItem]:
    for e in scan_folder(root):
        if e.why == "":
            continue  # hidden: skipped quietly
        if e.why:
            yield _refused(Path(e.path), e.why)
        elif e.is_zip:
            yield from _zip_items(Path(e.path))
        else:  # a regular file (not a link): its lstat is its stat
            assert e.stat is not None
            yield ScanItem(key=f"{e.path}|{e.stat.st_size}|{e.stat.st_mtime_ns}",
                           name=display_name(e.path), path=e.path)


def is_manifest(path: Path) -> bool:
    return path.suffix.lower() in MANIFEST_SUFFIXES and path.is_file()


def manifest_paths(path: Path) -> Iterator[Path]:
    """Paths listed by a manifest: one per line (blank lines and ``#`` comments skipped), or a
    CSV with a ``path`` column; relative paths are taken from the manifest's folder."""
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"{display_name(path)}: the manifest cannot be read "
                          f"({exc.strerror or type(exc).__name__}).") from exc
    with fh:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(fh)
            column = next((c for c in reader.fieldnames or [] if c.strip().lower() == "path"), None)
            if column is None:
                raise SourceError(f"{display_name(path)}: the CSV manifest has no 'path' column.")
            lines: Iterable[str] = (row.get(column) or "" for row in reader)
        else:
            lines = fh
        for line in lines:
            text = line.strip()
            if text and not text.startswith("#"):
                p = Path(text).expanduser()
                yield (p if p.is_absolute() else path.parent / p).resolve()


def _scan_path_items(path: Path, from_manifest: bool) -> Iterator[ScanItem]:
    """The scan items of one named source. Beside :func:`synthcheck.intake._path_items` on
    purpose: both classify a named path the same way, but intake reads each file's bytes within
    an upload budget, while a scan only lists items (workers read them) and follows manifests;
    folders go through the one walker (:func:`synthcheck.intake.scan_folder`) in both."""
    try:
        mode = path.stat().st_mode
    except OSError:
        yield _refused(path, "no such file or folder.")
        return
    if stat.S_ISDIR(mode):
        yield from _folder_items(path)
    elif not stat.S_ISREG(mode):
        yield _refused(path, "not a regular file; skipped.")
    elif path.suffix.lower() == ".zip":
        yield from _zip_items(path)
    elif not from_manifest and is_manifest(path):
        for listed in manifest_paths(path):
            yield from _scan_path_items(listed, from_manifest=True)
    elif not is_image_name(path.name):
        yield _refused(path, f"not an image file type ({path.suffix or 'no extension'}); skipped.")
    else:
        yield _file_item(path)


def check_sources(sources: Iterable[str | os.PathLike]) -> list[Path]:
    """The sources resolved, each once; :class:`SourceError` for one that does not exist."""
    out: list[Path] = []
    for s in sources:
        p = Path(s).expanduser()
        if not p.exists():
            raise SourceError(f"{s}: no such file or folder.")
        p = p.resolve()
        if p not in out:
            out.append(p)
    if not out:
        raise SourceError("no sources given: name folders, ZIP archives or manifests to scan.")
    return out


def iter_items(sources: Iterable[str | os.PathLike]) -> Iterator[ScanItem]:
    """Every input under ``sources`` (folders, ZIPs, manifests, image files), in a stable order."""
    for root in check_sources(sources):
        yield from _scan_path_items(root, from_manifest=False)


def count_items(sources: Iterable[str | os.PathLike]) -> int:
    """How many items :func:`iter_items` will yield, without reading any image (for an ETA);
    a ZIP counts its file entries."""
    import zipfile

    def members(p: str | Path) -> int:
        try:
            with zipfile.ZipFile(p) as zf:
                return sum(1 for i in zf.infolist() if not i.is_dir())
        except (OSError, zipfile.BadZipFile, ValueError):
            return 1

    def one(p: Path, top: bool) -> int:
        if p.is_dir() and not p.is_symlink():
            return count_folder(p, members)
        if p.suffix.lower() == ".zip":
            return members(p)
        if top and is_manifest(p):
            return sum(one(q, False) for q in manifest_paths(p))
        return 1

    return sum(one(root, True) for root in check_sources(sources))
