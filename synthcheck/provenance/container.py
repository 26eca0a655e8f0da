"""Find the raw metadata blocks in a file (EXIF, XMP packets, PNG text chunks, JPEG comments,
the C2PA/JUMBF marker) by walking JPEG segments, PNG chunks or WebP RIFF chunks, bounded by
:data:`MAX_CHUNKS` and :data:`MAX_TEXT`, before any of it is interpreted.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from itertools import islice

from ..imageio import jpeg_segments
from .signal import MAX_CHUNKS, MAX_TEXT, MAX_XMP

_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Found:
    """Raw metadata pulled out of the container before it is interpreted."""

    fmt: str = "unknown"
    exif: bytes | None = None
    xmp: list[bytes] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)  # PNG text chunks / JPEG comments
    c2pa: bool = False  # a JUMBF / C2PA block is present
    errors: list[str] = field(default_factory=list)


def decode_text(raw: bytes) -> str:
    """Bytes from a text field as str (UTF-8 if valid, else Latin-1)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def inflate(data: bytes) -> bytes:
    """zlib-decompress at most :data:`MAX_TEXT` bytes (a zip bomb stops there)."""
    return zlib.decompressobj().decompress(data, MAX_TEXT)


def _walk_jpeg(data: bytes, found: Found) -> None:
    """APP1 EXIF/XMP, APP11 JUMBF and COM segments, up to the first scan (at most
    ``MAX_CHUNKS`` segments, walked by :func:`synthcheck.imageio.jpeg_segments`)."""
    for marker, i in islice(jpeg_segments(data), MAX_CHUNKS):
        if marker not in (0xE1, 0xEB, 0xFE):  # tables, frame headers, other APPn, SOS/EOI
            continue
        length = (data[i + 2] << 8) | data[i + 3]
        seg = data[i + 4:i + 2 + length]
        if marker == 0xE1 and seg.startswith(b"Exif\x00\x00") and found.exif is None:
            found.exif = seg
        elif marker == 0xE1 and seg.startswith(_XMP_HEADER):
            found.xmp.append(seg[len(_XMP_HEADER):])
        elif marker == 0xEB and seg.startswith(b"JP"):
            found.c2pa = True
        elif marker == 0xFE and seg.strip(b"\x00 "):
            found.texts.append(("Comment", decode_text(seg[:MAX_TEXT])))


def _walk_png(data: bytes, found: Found) -> None:
    """tEXt/zTXt/iTXt text, eXIf and caBX (C2PA) chunks."""
    i, n, count = 8, len(data), 0
    while i + 8 <= n and count < MAX_CHUNKS:
        count += 1
        length, ctype = struct.unpack(">I4s", data[i:i + 8])
        body = data[i + 8:i + 8 + length]
        i += 12 + length
        try:
            if ctype == b"IEND":
                return
            if ctype == b"tEXt":
                key, _, text = body.partition(b"\x00")
                found.texts.append((key.decode("latin-1"), text[:MAX_TEXT].decode("latin-1")))
            elif ctype == b"zTXt":
                key, _, rest = body.partition(b"\x00")
                found.texts.append((key.decode("latin-1"), inflate(rest[1:]).decode("latin-1")))
            elif ctype == b"iTXt":
                key, _, rest = body.partition(b"\x00")
                compressed = rest[:1] == b"\x01"
                rest = rest[2:]
                _lang, _, rest = rest.partition(b"\x00")
                _translated, _, text = rest.partition(b"\x00")
                raw = inflate(text) if compressed else text[:MAX_TEXT]
                name = key.decode("latin-1")
                if name == "XML:com.adobe.xmp":
                    found.xmp.append(raw)
                else:
                    found.texts.append((name, decode_text(raw)))
            elif ctype == b"eXIf" and found.exif is None:
                found.exif = body
            elif ctype == b"caBX":
                found.c2pa = True
        except (zlib.error, ValueError):
            found.errors.append(f"a PNG {ctype.decode('latin-1')} text chunk is damaged and was skipped.")


def _walk_riff(data: bytes, found: Found) -> None:
    """WebP ``EXIF``, ``XMP `` and ``C2PA`` chunks."""
    i, n, count = 12, len(data), 0
    while i + 8 <= n and count < MAX_CHUNKS:
        count += 1
        fourcc, size = data[i:i + 4], struct.unpack("<I", data[i + 4:i + 8])[0]
        body = data[i + 8:i + 8 + size]
        i += 8 + size + (size & 1)
        if fourcc == b"EXIF" and found.exif is None:
            found.exif = body
        elif fourcc == b"XMP ":
            found.xmp.append(body)
        elif fourcc == b"C2PA":
            found.c2pa = True


def _scan_other(data: bytes, found: Found) -> None:
    """Other formats (TIFF, GIF, HEIF, ...): XMP by its wrapper, C2PA by its box labels."""
    start = data.find(b"<x:xmpmeta")
    if start >= 0:
        end = data.find(b"</x:xmpmeta>", start, start + MAX_XMP + 16)
        found.xmp.append(data[start:end + 12] if end >= 0 else data[start:start + MAX_XMP + 1])
    found.c2pa = b"jumb" in data and b"c2pa" in data


def scan(data: bytes) -> Found:
    """Pull EXIF, XMP, text and the C2PA marker out of the container, bounded."""
    found = Found()
    try:
        if data.startswith(b"\xff\xd8"):
            found.fmt = "jpeg"
            _walk_jpeg(data, found)
        elif data.startswith(_PNG_SIG):
            found.fmt = "png"
            _walk_png(data, found)
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            found.fmt = "webp"
            _walk_riff(data, found)
        else:
            _scan_other(data, found)
    except (struct.error, IndexError, ValueError) as exc:  # damaged container: keep what we have
        found.errors.append(f"the file's metadata blocks are damaged ({type(exc).__name__}).")
    return found
