"""Intake: turn files, folders, ZIP archives and uploads into candidate images.

The one set of intake rules, shared by cases (:mod:`synthcheck.cases`) and batch triage
(:mod:`synthcheck.triage`). Nothing here touches a database or scores anything:
:func:`iter_intake` yields a :class:`Candidate` (name, source, bytes) per image to take or a
:class:`Rejection` with a one-sentence reason, and never raises for one bad input. ZIP archives are read in memory, never extracted; each entry is
checked for an unsafe name (absolute, drive letter, ``..``), symbolic links, encryption, nested
archives, declared and actual size, compression ratio (ZIP bombs) and the count and total-size
limits of the intake. Folders are walked recursively (:func:`walk_folder`), hidden files and
folders skipped, symbolic links refused (they may point outside the folder).
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from .imageio import DEFAULT_MAX_BYTES, IMAGE_EXTENSIONS, display_name, file_kind, read_bounded
from .timestamps import utc_from_timestamp

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
READ_CHUNK = 1 << 20

Source = str | os.PathLike | tuple[str, bytes] | zipfile.ZipFile


@dataclass
class IntakeLimits:
    """Limits of one intake (all sources together)."""

    max_files: int = 10_000  # images taken in one intake
    max_file_bytes: int = DEFAULT_MAX_BYTES  # per image (also per ZIP entry, uncompressed)
    max_total_bytes: int = 4 * 1024**3  # all images of the intake, uncompressed
    max_ratio: float = 100.0  # uncompressed / compressed size of a ZIP entry above this: a bomb
    max_zip_members: int = 100_000  # entries a ZIP may list before it is refused outright


@dataclass
class Candidate:
    """An input that may be an image: stored if :func:`synthcheck.imageio.load_image` accepts it."""

    name: str  # original name: path inside the folder or ZIP, or the file's own name
    source: str  # where it came from: file:/..., folder:/..., zip:/..., upload:...
    data: bytes
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rejection:
    """An input refused at intake and why (one sentence)."""

    name: str
    source: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "source": self.source, "reason": self.reason}


@dataclass
class _Budget:
    """Running totals of one intake, shared by all its sources."""

    limits: IntakeLimits
    files: int = 0
    bytes: int = 0
    over_count: int = 0  # inputs refused because the file-count limit was reached
    hidden: int = 0  # hidden files skipped
    quiet: bool = False  # the last refusal repeats the count limit: summarised at the end

    def refuse(self, size: int) -> str | None:
        """Why an input of ``size`` bytes cannot be taken now, or None (then it is counted)."""
        lim = self.limits
        self.quiet = False
        if self.files >= lim.max_files:
            self.over_count += 1
            self.quiet = self.over_count > 1
            return f"over the limit of {lim.max_files} files per intake; skipped."
        if size > lim.max_file_bytes:
            return (f"{size / 2**20:.1f} MB is over the {lim.max_file_bytes / 2**20:g} MB "
                    "per-file limit; skipped.")
        if self.bytes + size > lim.max_total_bytes:
            return f"the intake would exceed {lim.max_total_bytes / 2**20:g} MB in total; skipped."
        self.files += 1
        self.bytes += size
        return None


def unsafe_name_reason(raw: str) -> str | None:
    """Why a ZIP entry name is unsafe (absolute, drive letter, UNC, ``..``, NUL), or None."""
    name = raw.replace("\\", "/")
    if "\x00" in name:
        return "name contains a NUL byte"
    if name.startswith("/"):
        return "absolute path"
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        return "drive-letter path"
    if any(part == ".." for part in name.split("/")):
        return "path climbs out of the archive with '..'"
    if not clean_name(name):
        return "empty name"
    return None


def clean_name(name: str) -> str:
    """A ZIP name as a normalised relative POSIX path (no ``.`` or empty parts)."""
    return "/".join(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".", "/"))


def _is_hidden(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") for p in parts) or (bool(parts) and parts[0] == "__MACOSX")


def _suffix(name: str) -> str:
    """The extension of the last part of ``name``, lower-cased (``PurePosixPath.suffix``'s rule,
    without building a path: a scan asks this once per file)."""
    last = name.rstrip("/").rpartition("/")[2]
    dot = last.rfind(".")
    return last[dot:].lower() if 0 < dot < len(last) - 1 else ""


def is_image_name(name: str) -> bool:
    return _suffix(name) in IMAGE_EXTENSIONS


def is_zip_name(name: str) -> bool:
    return _suffix(name) == ".zip"


def _utc(ts: float) -> str:
    return utc_from_timestamp(ts)


# -- ZIP archives -------------------------------------------------------------------------
def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: IntakeLimits) -> bytes | str:
    """The entry's bytes, or why not: reads in chunks and stops as soon as a limit is passed."""
    cap = min(limits.max_file_bytes, int(max(info.compress_size, 1) * limits.max_ratio))
    out = bytearray()
    try:
        with zf.open(info) as member:
            while block := member.read(READ_CHUNK):
                out += block
                if len(out) > info.file_size:
                    return "decompresses to more bytes than its header declares (ZIP bomb?); skipped."
                if len(out) > cap:
                    return "decompresses past the size or compression-ratio limit (ZIP bomb?); skipped."
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError, NotImplementedError) as exc:
        detail = str(exc) or type(exc).__name__
        return f"cannot be read from the ZIP ({detail}); skipped."
    return bytes(out)


class IntakeError(ValueError):
    """A whole archive that cannot be used (one sentence, no capital: it follows a name)."""


def open_zip(archive: bytes | str | os.PathLike | BinaryIO,
             limits: IntakeLimits | None = None) -> zipfile.ZipFile:
    """The archive opened for reading in memory; :class:`IntakeError` when it is not a valid ZIP
    or lists more entries than ``limits.max_zip_members``."""
    limits = limits or IntakeLimits()
    fobj = io.BytesIO(archive) if isinstance(archive, (bytes, bytearray)) else archive
    try:
        zf = zipfile.ZipFile(fobj)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise IntakeError(f"not a valid ZIP archive ({exc or type(exc).__name__}); "
                          "nothing taken from it.") from exc
    n = len(zf.infolist())
    if n > limits.max_zip_members:
        zf.close()
        raise IntakeError(f"the ZIP lists {n:,} entries, over the limit of "
                          f"{limits.max_zip_members:,}; nothing taken from it.")
    return zf


def iter_zip(archive: bytes | str | os.PathLike | BinaryIO | zipfile.ZipFile, source: str,
             budget: _Budget) -> Iterator[Candidate | Rejection]:
    """Candidates and rejections for the entries of one ZIP archive (or an already opened one)."""
    limits = budget.limits
    if isinstance(archive, zipfile.ZipFile):
        zf = archive
    else:
        try:
            zf = open_zip(archive, limits)
        except IntakeError as exc:
            yield Rejection(source.split(":", 1)[-1], source, str(exc))
            return
    with zf:
        for info in zf.infolist():
            raw = info.filename
            if info.is_dir():
                continue
            why = unsafe_name_reason(raw)
            if why:
                yield Rejection(raw, source, f"unsafe path inside the ZIP ({why}); skipped.")
                continue
            name = clean_name(raw)
            if _is_hidden(name):
                budget.hidden += 1
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                yield Rejection(name, source, "symbolic link inside the ZIP; skipped.")
                continue
            if info.flag_bits & 0x1:
                yield Rejection(name, source, "encrypted ZIP entry; skipped.")
                continue
            if is_zip_name(name):
                yield Rejection(name, source, "ZIP archive inside the ZIP; extract it and add it "
                                              "on its own.")
                continue
            if not is_image_name(name):
                yield Rejection(name, source, f"not an image file type "
                                              f"({PurePosixPath(name).suffix or 'no extension'}); skipped.")
                continue
            ratio = info.file_size / info.compress_size if info.compress_size else (
                float("inf") if info.file_size else 0.0)
            if ratio > limits.max_ratio:
                yield Rejection(name, source, f"compression ratio {ratio:.0f}:1 is over the limit of "
                                              f"{limits.max_ratio:g}:1 (ZIP bomb?); skipped.")
                continue
            why = budget.refuse(info.file_size)
            if why:
                if not budget.quiet:
                    yield Rejection(name, source, why)
                continue
            data = _read_member(zf, info, limits)
            if isinstance(data, str):
                yield Rejection(name, source, data)
                continue
            y, mo, d, h, mi, sec = info.date_time
            yield Candidate(name, source, data, {"zip_date": f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{sec:02d}",
                                                 "zip_crc32": f"{info.CRC:08x}"})


# -- files and folders --------------------------------------------------------------------
def _file_candidate(path: Path, name: str, source: str, budget: _Budget
                    ) -> Candidate | Rejection | None:
    """The file's bytes, a rejection, or None (refused quietly: past the count limit again).

    Only regular files are read (checked by type before any read, links followed), and the read
    stops one byte past the per-file limit, so a FIFO, a device or a growing file cannot hang
    or flood the intake.
    """
    try:
        st = path.stat()
    except (OSError, ValueError) as exc:
        return Rejection(name, source, f"cannot be read ({_reason(exc)}); skipped.")
    if not stat.S_ISREG(st.st_mode):
        return Rejection(name, source, f"{file_kind(st.st_mode)}, not a regular file; skipped.")
    why = budget.refuse(st.st_size)
    if why:
        return None if budget.quiet else Rejection(name, source, why)
    data = read_bounded(path, budget.limits.max_file_bytes)
    if isinstance(data, str):
        return Rejection(name, source, f"{data}; skipped.")
    return Candidate(name, source, data, {"mtime_utc": _utc(st.st_mtime), "size": len(data)})


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


@dataclass(frozen=True)
class FolderEntry:
    """One entry under a walked folder: its path, its name relative to the root, why it is
    refused (None: an image or ZIP to take; ``""``: hidden, skipped quietly) and its ``lstat``."""

    path: str
    rel: str
    why: str | None
    stat: os.stat_result | None = None
    is_zip: bool = False  # a ZIP archive to open (``why`` None), not an image


def scan_folder(root: str | os.PathLike, recursive: bool = True) -> Iterator[FolderEntry]:
    """Every entry under ``root``, sorted, in the order of :func:`walk_folder` (per folder: its
    hidden or linked sub-folders, then its files, then each kept sub-folder in turn).

    ``os.scandir`` with plain strings and one ``lstat`` per file (kept in ``stat``): a scan of a
    million files spends no time in ``pathlib`` and stats each file once. Unreadable sub-folders
    are skipped, as ``os.walk`` skips them.
    """
    base = os.path.realpath(os.fspath(root))
    stack = [(base, "")]
    while stack:
        here, prefix = stack.pop()
        try:
            with os.scandir(here) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        dirs, files = [], []
        for e in entries:
            try:
                (dirs if e.is_dir() else files).append(e)  # follows links, as os.walk does
            except OSError:
                files.append(e)
        keep = []
        for d in dirs:
            rel = display_name(prefix + d.name)
            if d.name.startswith("."):
                yield FolderEntry(d.path, rel, "")
            elif d.is_symlink():
                yield FolderEntry(d.path, rel, "symbolic link to a folder; not followed.")
            else:
                keep.append((d.path, prefix + d.name + "/"))
        for f in files:
            name, rel = f.name, display_name(prefix + f.name)
            try:
                st: os.stat_result | None = f.stat(follow_symlinks=False)
            except (OSError, ValueError):
                st = None
            if name.startswith("."):
                yield FolderEntry(f.path, rel, "", st)
            elif st is None:
                yield FolderEntry(f.path, rel, "cannot be read (it vanished or is not accessible); skipped.")
            elif stat.S_ISLNK(st.st_mode):
                yield FolderEntry(f.path, rel, "symbolic link; not followed (it may point outside "
                                  "the folder).", st)
            elif not stat.S_ISREG(st.st_mode):
                yield FolderEntry(f.path, rel, f"{file_kind(st.st_mode)}, not a regular file; skipped.", st)
            elif (suffix := _suffix(name)) == ".zip":
                yield FolderEntry(f.path, rel, None, st, is_zip=True)
            elif suffix in IMAGE_EXTENSIONS:
                yield FolderEntry(f.path, rel, None, st)
            else:
                ext = os.path.splitext(name)[1]
                yield FolderEntry(f.path, rel, f"not an image file type ({ext or 'no extension'}); "
                                  "skipped.", st)
        if recursive:
            stack.extend(reversed(keep))


def count_folder(root: str | os.PathLike, count_zip: Callable[[str], int]) -> int:
    """How many non-hidden entries :func:`scan_folder` yields under ``root`` (refused ones
    included), a regular ``.zip`` file counting ``count_zip(path)``; from directory entry types
    alone, without a ``stat`` per file (a progress bar's total for a million files)."""
    total, stack = 0, [os.path.realpath(os.fspath(root))]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                entries = list(it)
        except OSError:
            continue
        for e in entries:
            if e.name.startswith("."):
                continue
            try:
                is_dir, is_link = e.is_dir(), e.is_symlink()
            except OSError:
                is_dir = is_link = False
            if is_dir and not is_link:
                stack.append(e.path)
            elif not is_dir and _suffix(e.name) == ".zip" and e.is_file(follow_symlinks=False):
                total += count_zip(e.path)
            else:
                total += 1
    return total


def walk_folder(root: Path, recursive: bool = True) -> Iterator[tuple[Path, str, str | None]]:
    """``(path, name relative to root, why refused)`` per entry under ``root``, sorted.

    ``why`` is None for an image or ZIP file to take, ``""`` for a hidden file or folder (skipped
    quietly) and a sentence otherwise (symbolic links are refused, never followed; FIFOs, sockets
    and devices are refused by type, never opened; other file types are refused). Sub-folders are
    walked only when ``recursive``. Names that are not valid UTF-8 are given escaped
    (:func:`synthcheck.imageio.display_name`); the path itself stays usable.
    """
    for e in scan_folder(root, recursive):
        yield Path(e.path), e.rel, e.why


def iter_folder(root: Path, budget: _Budget) -> Iterator[Candidate | Rejection]:
    """Images under ``root`` (recursively, sorted, hidden entries skipped, links refused)."""
    source = f"folder:{display_name(root.resolve())}"
    for path, rel, why in walk_folder(root):
        if why == "":
            budget.hidden += 1
        elif why:
            yield Rejection(rel, source, why)
        elif is_zip_name(path.name):
            yield from iter_zip(path, f"zip:{path}", budget)
        elif (item := _file_candidate(path, rel, source, budget)) is not None:
            yield item


def _path_items(path: Path, budget: _Budget) -> Iterator[Candidate | Rejection]:
    shown = display_name(path)
    try:
        mode = path.stat().st_mode  # links followed: a link given by name is taken for its target
    except (OSError, ValueError):
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        yield from iter_folder(path, budget)
    elif mode is None:
        yield Rejection(shown, f"file:{shown}", "no such file or folder.")
    elif not stat.S_ISREG(mode):  # FIFO, socket, device: refused before any read
        yield Rejection(shown, f"file:{shown}", f"{file_kind(mode)}, not a regular file; skipped.")
    elif is_zip_name(path.name) or _starts_with_zip_magic(path):
        yield from iter_zip(path, f"zip:{display_name(path.resolve())}", budget)
    elif (item := _file_candidate(path, display_name(path.name),
                                  f"file:{display_name(path.resolve())}", budget)) is not None:
        yield item


def _starts_with_zip_magic(path: Path) -> bool:
    """Whether a regular file starts like a ZIP (opened non-blocking: it may have been swapped)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return False
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode) and os.read(fd, 4) in ZIP_MAGIC
    except OSError:
        return False
    finally:
        os.close(fd)


def _upload_items(name: str, data: bytes, budget: _Budget) -> Iterator[Candidate | Rejection]:
    if is_zip_name(name) or data[:4] in ZIP_MAGIC:
        yield from iter_zip(bytes(data), f"upload:{name}", budget)
        return
    why = budget.refuse(len(data))
    if why:
        if not budget.quiet:
            yield Rejection(name, "upload", why)
    else:
        yield Candidate(PurePosixPath(name.replace("\\", "/")).name or "upload", "upload", bytes(data),
                        {"size": len(data)})


@dataclass
class IntakeStats:
    """What was skipped without a per-file rejection row (hidden files, files past the limit)."""

    hidden_skipped: int = 0
    over_limit: int = 0


def iter_intake(sources: Iterable[Source], limits: IntakeLimits | None = None,
                stats: IntakeStats | None = None) -> Iterator[Candidate | Rejection]:
    """Candidates and rejections for paths (files, folders, ZIPs), ``(name, bytes)`` uploads and
    ZIP archives already opened (:func:`open_zip`).

    ``stats`` (optional) is filled with the counts that have no row of their own.
    """
    budget = _Budget(limits or IntakeLimits())
    for src in sources:
        if isinstance(src, tuple):
            yield from _upload_items(str(src[0]), src[1], budget)
        elif isinstance(src, zipfile.ZipFile):
            yield from iter_zip(src, f"zip:{src.filename or 'upload'}", budget)
        else:  # a bytes path (not valid UTF-8) becomes a surrogate-escaped str path
            path = Path(os.fsdecode(src) if isinstance(src, bytes) else src)
            yield from _path_items(path.expanduser(), budget)
    if budget.over_count > 1:
        yield Rejection(f"({budget.over_count - 1} more)", "intake",
                        f"{budget.over_count} inputs in all were over the limit of "
                        f"{budget.limits.max_files} files per intake; skipped.")
    if stats is not None:
        stats.hidden_skipped, stats.over_limit = budget.hidden, budget.over_count
