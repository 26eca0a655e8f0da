"""The signal record shared by every provenance source: its builder, strength and direction
vocabularies, the size caps that bound the work, and the :class:`Provenance` result type.

A signal is ``{source, field, value, meaning, strength, points_to}``; the first five keys are the
public contract, ``points_to`` is the direction that :mod:`.summary` weighs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_VALUE = 400  # characters kept from one signal value
MAX_SIGNALS = 32  # signals kept per image
MAX_TEXT = 1 << 20  # bytes kept from one (decompressed) text chunk
MAX_XMP = 512 * 1024  # an XMP packet over this size is not parsed
MAX_CHUNKS = 65536  # container entries walked before giving up
STRENGTHS = ("strong", "moderate", "weak", "info")
DIRECTIONS = ("synthetic", "camera", "edited", "neutral")
RANK = {"strong": 3, "moderate": 2, "weak": 1, "info": 0}


@dataclass
class Provenance:
    """The provenance signals of one file, a plain-words summary and what could not be read."""

    signals: list[dict[str, Any]] = field(default_factory=list)
    summary: str = ""
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly copy: ``{"signals", "summary", "errors"}``."""
        return {"signals": [dict(s) for s in self.signals], "summary": self.summary,
                "errors": list(self.errors)}


def cap(value: Any, limit: int = MAX_VALUE) -> str:
    """One metadata value as a clean, length-capped string."""
    text = value if isinstance(value, str) else str(value)
    text = "".join(ch for ch in text[: limit * 2] if ch >= " " or ch in "\n\t").strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def make_signal(source: str, field_: str, value: Any, meaning: str, strength: str,
                points_to: str) -> dict[str, Any]:
    """One signal dict: the five contract keys plus ``points_to``.

    ``value`` is cleaned and capped (:func:`cap`); a list/tuple keeps its first 12 items,
    each capped at 120 characters; numbers and booleans are kept as they are.
    """
    if isinstance(value, (list, tuple)):
        value = [cap(v, 120) for v in list(value)[:12]]
    elif not isinstance(value, (int, float, bool)):
        value = cap(value)
    return {"source": source, "field": field_, "value": value, "meaning": meaning,
            "strength": strength, "points_to": points_to}
