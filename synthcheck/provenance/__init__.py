"""Provenance signals: what the file itself says about where the image came from.

Reads C2PA Content Credentials (``c2pa-python``), generator text in PNG chunks (A1111
``parameters``, ComfyUI ``prompt``/``workflow``, InvokeAI, NovelAI, ...), EXIF
Software/Artist/ImageDescription/UserComment/Make/Model and XMP (IPTC DigitalSourceType,
CreatorTool). Each finding is one signal ``{source, field, value, meaning, strength,
points_to}``; the first five keys are the contract, ``points_to`` ("synthetic", "camera",
"edited", "neutral") is the direction used by :func:`provenance_summary` and the faces.

Signals are evidence shown *beside* the model's verdict and are never folded into p_fake.
Hostile input never raises: the work is bounded (container walks with chunk/segment caps,
capped decompression, XML without DTDs) and any problem becomes one sentence in ``errors``.
The C2PA library is imported and run only when the bytes carry a JUMBF/C2PA block, so files
without one (nearly all) cost a header walk and an EXIF parse.

Modules, one job each: ``reader`` (read_provenance: bytes in, Provenance out), ``container``
(find the raw metadata blocks), ``c2pa``, ``png_text``, ``exif``, ``xmp`` (one signal source
each), ``known`` (generator/editor names, IPTC source types), ``signal`` (the signal record,
caps and the Provenance type) and ``summary`` (the plain-words summary).
"""

from __future__ import annotations

from .known import DIGITAL_SOURCE_TYPES, EDITORS, GENERATORS
from .reader import empty_provenance, read_provenance
from .signal import (
    DIRECTIONS,
    MAX_CHUNKS,
    MAX_SIGNALS,
    MAX_TEXT,
    MAX_VALUE,
    MAX_XMP,
    STRENGTHS,
    Provenance,
)
from .summary import provenance_summary

__all__ = [
    "DIGITAL_SOURCE_TYPES",
    "DIRECTIONS",
    "EDITORS",
    "GENERATORS",
    "MAX_CHUNKS",
    "MAX_SIGNALS",
    "MAX_TEXT",
    "MAX_VALUE",
    "MAX_XMP",
    "STRENGTHS",
    "Provenance",
    "empty_provenance",
    "provenance_summary",
    "read_provenance",
]
