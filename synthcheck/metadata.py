"""EXIF metadata as a JSON-friendly dict; malformed or hostile EXIF never raises.

Read from the *original* bytes (the decoded RGB image in :class:`LoadedImage` has lost it).
Values become str/int/float/bool/None or lists of them; long binary blobs are summarised.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image

MAX_STRING = 200  # characters kept from one text value
MAX_BINARY = 32  # bytes shown (as hex) from one binary value
MAX_ITEMS = 64  # elements kept from one sequence value
_IFDS = {"Exif": ExifTags.IFD.Exif, "GPS": ExifTags.IFD.GPSInfo, "Interop": ExifTags.IFD.Interop}


def _jsonable(value: Any, depth: int = 0) -> Any:
    """Convert one EXIF value to JSON-friendly data."""
    if depth > 4:
        return str(value)[:MAX_STRING]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
        text = raw.rstrip(b"\x00")
        if text and all(32 <= b < 127 or b in (9, 10, 13) for b in text):
            return text.decode("ascii")[:MAX_STRING]
        head = raw[:MAX_BINARY].hex()
        return f"<{len(raw)} bytes: {head}{'...' if len(raw) > MAX_BINARY else ''}>"
    if isinstance(value, str):
        return value.replace("\x00", "").strip()[:MAX_STRING]
    if hasattr(value, "numerator") and hasattr(value, "denominator"):  # IFDRational
        try:
            den = float(value.denominator)
            return None if den == 0 else round(float(value.numerator) / den, 6)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return None
    if isinstance(value, (tuple, list)):
        return [_jsonable(v, depth + 1) for v in list(value)[:MAX_ITEMS]]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
    try:
        return _jsonable(float(value), depth + 1)
    except (TypeError, ValueError, OverflowError):
        return str(value)[:MAX_STRING]


def _named(tags: dict[int, Any], names: dict[int, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tag, value in tags.items():
        if tag in _IFDS.values():
            continue  # pointers to sub-IFDs, expanded separately
        name = names.get(tag, f"Tag0x{int(tag):04X}")
        if name == "MakerNote":
            value = bytes(value) if isinstance(value, (bytes, bytearray)) else value
        try:
            out[name] = _jsonable(value)
        except Exception:  # one bad value must not lose the rest
            out[name] = None
    return out


def read_exif(source: bytes | bytearray | str | os.PathLike | Image.Image) -> dict[str, Any]:
    """EXIF of an image as ``{"TagName": value, "GPS": {...}, ...}``; ``{}`` when absent.

    Malformed EXIF yields whatever could be read plus an ``"_error"`` entry, never an exception.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL warns on every corrupt tag; we report one _error
        return _read_exif(source)


def _read_exif(source: bytes | bytearray | str | os.PathLike | Image.Image) -> dict[str, Any]:
    try:
        if isinstance(source, Image.Image):
            img = source
        elif isinstance(source, (bytes, bytearray)):
            img = Image.open(io.BytesIO(bytes(source)))
        else:
            img = Image.open(Path(source))
    except Exception as exc:
        return {"_error": f"could not open the image to read EXIF ({type(exc).__name__})"}
    out: dict[str, Any] = {}
    try:
        exif = img.getexif()
    except Exception as exc:
        return {"_error": f"EXIF block is malformed ({type(exc).__name__})"}
    try:
        out.update(_named(dict(exif), ExifTags.TAGS))
    except Exception as exc:
        out["_error"] = f"EXIF block is malformed ({type(exc).__name__})"
    for label, ifd in _IFDS.items():
        try:
            sub = exif.get_ifd(ifd)
        except Exception as exc:
            out.setdefault("_error", f"{label} EXIF block is malformed ({type(exc).__name__})")
            continue
        if not sub:
            continue
        names = ExifTags.GPSTAGS if label == "GPS" else ExifTags.TAGS
        try:
            named = _named(dict(sub), names)
        except Exception as exc:
            out.setdefault("_error", f"{label} EXIF block is malformed ({type(exc).__name__})")
            continue
        if label == "Exif":
            out.update(named)
        else:
            out[label] = named
    return out


def _gps_ref(value: Any, allowed: str) -> str | None:
    """A GPS reference ('N'/'S' or 'E'/'W', str or bytes, NUL-padded) or None when not one."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")
    text = value.replace("\x00", "").strip().upper() if isinstance(value, str) else ""
    return text if len(text) == 1 and text in allowed else None


def _gps_degrees(value: Any, limit: float) -> float | None:
    """Degrees from an EXIF (degrees, minutes, seconds) triple, or None when it is void: not three
    finite non-negative numbers (a 0/0 rational reads NaN, or None once made JSON-friendly),
    minutes or seconds of 60 or more, or beyond ``limit``."""
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        return None
    try:
        parts = [float(v) for v in value]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if not all(math.isfinite(v) and v >= 0 for v in parts) or parts[1] >= 60 or parts[2] >= 60:
        return None
    degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
    return degrees if degrees <= limit else None


def gps_position(gps: Mapping[Any, Any] | None) -> tuple[float, float] | None:
    """(latitude, longitude) in signed decimal degrees, or None when the GPS block holds no
    position: latitude and longitude must both be valid rationals with N/S and E/W references.

    The one rule for "has a GPS position", shared by the EXIF display (:func:`summary`) and the
    provenance signals. Takes the GPS IFD keyed by tag number (Pillow, values ``IFDRational``) or
    by tag name (:func:`read_exif`'s ``"GPS"`` dict), because a GPS block with only
    GPSVersionID, or the void 0/0 coordinates some cameras write, is not a location.
    """
    if not isinstance(gps, Mapping):
        return None
    def get(tag: int) -> Any:
        return gps.get(tag, gps.get(ExifTags.GPSTAGS[tag]))
    lat_ref, lon_ref = _gps_ref(get(1), "NS"), _gps_ref(get(3), "EW")
    lat, lon = _gps_degrees(get(2), 90.0), _gps_degrees(get(4), 180.0)
    if lat_ref is None or lon_ref is None or lat is None or lon is None:
        return None
    return (-lat if lat_ref == "S" else lat), (-lon if lon_ref == "W" else lon)


def summary(exif: dict[str, Any]) -> dict[str, Any]:
    """The few fields an investigator looks at first (camera, software, time, GPS present only
    when the GPS block holds a position)."""
    keys = ("Make", "Model", "Software", "DateTimeOriginal", "DateTime", "Artist",
            "ImageDescription", "LensModel")
    out = {k: exif[k] for k in keys if exif.get(k) not in (None, "")}
    if gps_position(exif.get("GPS")) is not None:
        out["GPS"] = "present"
    return out
