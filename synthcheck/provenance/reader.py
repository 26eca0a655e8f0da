"""Read one file's provenance: get its bytes, find its metadata blocks, run each source's reader
and wrap the signals, summary and errors in a :class:`Provenance`; never raises on hostile input.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..imageio import DEFAULT_MAX_BYTES
from .c2pa import c2pa_signals
from .container import Found, scan
from .exif import exif_fields, exif_signals
from .png_text import text_signals
from .signal import MAX_SIGNALS, Provenance
from .summary import provenance_summary
from .xmp import xmp_fields, xmp_signals


def _read_bytes(source: Any, name: str) -> tuple[bytes | None, str | None]:
    """The file's bytes (capped at the loader's size limit) or a one-sentence reason."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            if path.stat().st_size > DEFAULT_MAX_BYTES:
                return None, f"{name}: file is over the {DEFAULT_MAX_BYTES >> 20} MB limit; provenance not read."
            with path.open("rb") as fh:
                return fh.read(DEFAULT_MAX_BYTES + 1), None
        except OSError as exc:
            return None, f"{name}: cannot be read ({exc.strerror or type(exc).__name__})."
    return None, f"{name}: provenance needs the original file bytes or a path, not {type(source).__name__}."


def read_provenance(source: bytes | str | os.PathLike, name: str | None = None,
                    conclusion: str | None = None, p_fake: float | None = None) -> Provenance:
    """Provenance signals of one file (bytes or path); never raises on hostile input. Given the
    analysis's ``conclusion`` (and ``p_fake``), the summary says whether the metadata agrees."""
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "<bytes>")
    data, problem = _read_bytes(source, label)
    if data is None:
        errors = [problem or f"{label}: could not be read."]
        return Provenance([], provenance_summary([], conclusion, p_fake), errors)
    signals: list[dict[str, Any]] = []
    errors = []
    try:
        found = scan(data)
        errors.extend(f"{label}: {e}" for e in found.errors)
        if found.c2pa:
            signals += c2pa_signals(data, found.fmt, errors, label)
        xmp_errors: list[str] = []
        for packet in found.xmp[:4]:
            signals += xmp_signals(xmp_fields(packet, xmp_errors))
        errors.extend(f"{label}: {e}" for e in dict.fromkeys(xmp_errors))
        signals += text_signals(found.texts[:64])
        exif_errors: list[str] = []
        signals += exif_signals(exif_fields(data, Found(found.fmt, found.exif, errors=exif_errors)))
        errors.extend(f"{label}: {e}" for e in exif_errors)
    except Exception as exc:  # last line of defence: provenance must never break an analysis
        errors.append(f"{label}: provenance could not be fully read ({type(exc).__name__}).")
    signals = signals[:MAX_SIGNALS]
    return Provenance(signals, provenance_summary(signals, conclusion, p_fake), errors)


def empty_provenance(reason: str) -> Provenance:
    """A Provenance with no signals, for inputs that are pixels rather than a file."""
    return Provenance([], "No provenance metadata could be read: " + reason, [])
