"""EXIF signals: generator names, Stable Diffusion parameters, editor software and camera
make/model from the few EXIF fields that carry provenance (read with Pillow).

Two EXIF readers remain on purpose: this one reads a handful of fields as text from the raw EXIF
block the container scan found (any format, bounded, errors as sentences), while
:func:`synthcheck.metadata.read_exif` dumps every tag JSON-friendly for display and reports. The
rules they share live once, in :mod:`synthcheck.metadata` (``gps_position``).
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from ..metadata import gps_position
from .container import Found
from .known import EDIT_RE, GEN_RE, looks_like_a1111, match_tool
from .signal import cap, make_signal


def _exif_text(value: Any) -> str:
    """An EXIF string/bytes/UserComment value as clean text ('' when binary)."""
    if isinstance(value, str):
        return value.replace("\x00", "").strip()
    if not isinstance(value, (bytes, bytearray)):
        return ""
    raw = bytes(value)
    head, body = raw[:8], raw[8:]
    if head == b"UNICODE\x00":
        cands = [body.decode(enc, "ignore") for enc in ("utf-16-be", "utf-16-le")]
        text = max(cands, key=lambda t: sum(c.isascii() and c.isprintable() for c in t))
    elif head in (b"ASCII\x00\x00\x00", b"\x00" * 8):
        text = body.decode("latin-1")
    else:
        text = raw.decode("utf-8", "ignore")
    text = text.replace("\x00", "").strip()
    printable = sum(c.isprintable() or c in "\n\t" for c in text)
    return text if text and printable >= 0.9 * len(text) else ""


def _xp_text(value: Any) -> str:
    """A Windows XP* tag (UTF-16LE bytes or a list of byte values) as text."""
    try:
        raw = bytes(value) if not isinstance(value, str) else value.encode("utf-16-le")
        return raw.decode("utf-16-le", "ignore").replace("\x00", "").strip()
    except (TypeError, ValueError):
        return ""


def exif_fields(data: bytes, found: Found) -> dict[str, str]:
    """The few EXIF fields that carry provenance, as text (``GPSPosition`` only when the GPS
    block holds a real position)."""
    from PIL import Image, UnidentifiedImageError

    tags = {0x010F: "Make", 0x0110: "Model", 0x0131: "Software", 0x013B: "Artist",
            0x010E: "ImageDescription", 0x9C9C: "XPComment", 0x9C9D: "XPAuthor"}
    sub_tags = {0x9286: "UserComment", 0xA434: "LensModel", 0x9003: "DateTimeOriginal",
                0x829A: "ExposureTime"}
    out: dict[str, str] = {}
    if found.exif is None and found.fmt != "unknown":
        return out  # a known container without an EXIF block: nothing to read
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if found.exif is not None:
                exif = Image.Exif()
                exif.load(found.exif)
            elif found.fmt == "unknown":
                exif = Image.open(io.BytesIO(data)).getexif()
            else:
                return out
            for tag, name in tags.items():
                value = exif.get(tag)
                text = _xp_text(value) if name.startswith("XP") else _exif_text(value)
                if text:
                    out[name] = text
            sub = exif.get_ifd(0x8769)
            for tag, name in sub_tags.items():
                value = sub.get(tag)
                if name == "ExposureTime" and value is not None:
                    out[name] = str(value)
                elif (text := _exif_text(value)):
                    out[name] = text
            position = gps_position(exif.get_ifd(0x8825))
            if position is not None:
                out["GPSPosition"] = f"{position[0]:.6f}, {position[1]:.6f}"
        except UnidentifiedImageError:  # not an image Pillow knows: no EXIF to read
            pass
        except Exception as exc:  # PIL raises many types on hostile EXIF
            found.errors.append(f"the EXIF block is malformed ({type(exc).__name__}).")
    return out


def exif_signals(fields: dict[str, str]) -> list[dict[str, Any]]:
    """Generator, editor and camera evidence from EXIF text fields."""
    out: list[dict[str, Any]] = []
    synthetic_named = False
    for name in ("Software", "Artist", "XPAuthor", "ImageDescription", "XPComment", "UserComment",
                 "Make", "Model"):
        text = fields.get(name)
        if not text:
            continue
        if name in ("UserComment", "ImageDescription", "XPComment") and looks_like_a1111(text):
            out.append(make_signal("exif", name, text, (
                f"EXIF {name} holds Stable Diffusion generation parameters (prompt, steps, "
                "sampler, seed), as written by AUTOMATIC1111-style front-ends; metadata like "
                "this is easy to add or strip."), "moderate", "synthetic"))
            synthetic_named = True
            continue
        gen = match_tool(text, GEN_RE)
        if gen is not None:
            out.append(make_signal("exif", name, text, (
                f"EXIF {name} names {gen}, an AI image generator; EXIF is easy to edit, so "
                "this supports but does not prove a generated image."), "moderate", "synthetic"))
            synthetic_named = True
            continue
        if name == "Software":
            editor = match_tool(text, EDIT_RE)
            if editor is not None:
                out.append(make_signal("exif", name, text, (
                    f"EXIF Software names {editor}, an image editor: the file was saved by it, "
                    "which says nothing about how the image was first made."), "weak", "edited"))
            else:
                out.append(make_signal("exif", name, text,
                                   "EXIF Software names a program that is not a known generator "
                                   "or editor (often camera firmware).", "info", "neutral"))
    make, model = fields.get("Make", ""), fields.get("Model", "")
    if (make or model) and not synthetic_named:
        camera = model if make and model.lower().startswith(make.lower().split()[0]) else \
            " ".join(x for x in (make, model) if x)
        extra = [k for k in ("LensModel", "DateTimeOriginal", "ExposureTime", "GPSPosition")
                 if fields.get(k)]
        detail = f" with {', '.join(extra)}" if extra else ""
        out.append(make_signal("exif", "Make/Model", camera, (
            f"EXIF names a camera ({cap(camera, 80)}){detail}, as a photograph would have; "
            "camera EXIF is trivially copied or forged, so this is weak evidence."),
            "weak", "camera"))
    return out
