"""Atomic file writes: the one temporary-file + fsync + rename used everywhere.

A reader sees either the old file or the whole new one, never half of it, and a crash leaves
at most a hidden ``.<name>.*.tmp`` behind (removed when the write fails in-process).
``atomic_path`` is the primitive for writers that need a file name (``torch.onnx.export``);
``atomic_write`` hands an open binary file to a callback (``torch.save``, ``np.save``);
``atomic_write_bytes`` / ``atomic_write_text`` cover the rest. ``atomic_directory`` does the
same for a folder that must appear whole (a decoded-data cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


def fsync_directory(folder: str | os.PathLike) -> None:
    """Make a rename inside ``folder`` durable (best effort; a no-op where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temp_name(path: Path) -> Path:
    """A new empty file next to ``path``, created like an ordinary file (0o666 less the umask)."""
    while True:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is fsynced and renamed onto it.

    ``mode`` (e.g. ``0o444``) is applied before the rename. On any exception the temporary
    file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object], *,
                 mode: int | None = None) -> Path:
    """Call ``write(f)`` on a binary file that atomically becomes ``path``; returns ``path``."""
    with atomic_path(path, mode=mode) as tmp, open(tmp, "wb") as f:
        write(f)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    return atomic_write(path, lambda f: f.write(data), mode=mode)


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8",
                      mode: int | None = None) -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    return atomic_write_bytes(path, text.encode(encoding), mode=mode)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``path``; on success it replaces ``path`` whole.

    An existing ``path`` is removed just before the rename (a folder cannot be renamed onto a
    non-empty one), so a concurrent reader may briefly find no folder, but never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    fsync_directory(path.parent)


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in ``chunk``-sized blocks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
