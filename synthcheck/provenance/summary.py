"""The plain-words provenance summary: which evidence points which way, how far to trust it,
and whether the analysis's conclusion agrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .known import DIGITAL_SOURCE_TYPES, source_type_code
from .signal import RANK

_SOURCE_NAMES = {"png_text": "PNG text", "exif": "EXIF", "xmp": "XMP", "c2pa": "C2PA"}


def _label(sig: dict[str, Any]) -> str:
    """Short name of a signal for the summary, e.g. ``EXIF Software 'Adobe Firefly'``."""
    source = _SOURCE_NAMES.get(str(sig.get("source")), str(sig.get("source", "?")))
    fld = str(sig.get("field", "?"))
    value = sig.get("value")
    if "DigitalSourceType" in fld:
        return f"{source} DigitalSourceType {source_type_code(str(value))}"
    shown = str(value) if isinstance(value, (str, int, float)) else ""
    if shown and len(shown) <= 48 and "\n" not in shown:
        return f"{source} {fld} '{shown}'"
    return f"{source} '{fld}'" if source == "PNG text" else f"{source} {fld}"


def _c2pa_sentence(signals: list[dict[str, Any]]) -> str | None:
    """One sentence on the C2PA manifest (declared source type and how far to trust it), or
    None when there are no C2PA signals."""
    c2 = [s for s in signals if s.get("source") == "c2pa"]
    if not c2:
        return None
    by_field = {s.get("field"): s for s in c2}
    if "manifest" in by_field and len(c2) == 1:
        return "A C2PA manifest is present but could not be read, so it says nothing either way."
    validation = by_field.get("validation", {}).get("value")
    if validation == "trusted":
        tail = ", and it is signed by a trusted signer, which is strong evidence."
    elif validation == "untrusted":
        tail = ", but its signer is not on a trust list, so it is a claim, not proof."
    else:
        tail = (", but the manifest fails validation (the file was changed after signing or the "
                "manifest is damaged), so the claim cannot be relied on.")
    dst = by_field.get("digitalSourceType")
    if dst is not None:
        code = source_type_code(str(dst.get("value", "")))
        says = DIGITAL_SOURCE_TYPES.get(code, ("neutral", f"its source type is {code}"))[1]
        return f"A C2PA manifest declares {says} ({code}){tail}"
    gen = by_field.get("claim_generator", {}).get("value")
    what = f" (written by {gen})" if gen else ""
    return f"A C2PA manifest{what} is present but declares no digital source type{tail}"


def _direction(signals: list[dict[str, Any]]) -> str | None:
    """'synthetic', 'camera', 'mixed' or None, from the strongest directional evidence."""
    best = {d: max((RANK.get(s.get("strength", "info"), 0) for s in signals
                    if s.get("points_to") == d), default=0) for d in ("synthetic", "camera")}
    if best["synthetic"] == best["camera"]:
        return None if best["synthetic"] == 0 else "mixed"
    return "synthetic" if best["synthetic"] > best["camera"] else "camera"


def provenance_summary(signals: Sequence[dict[str, Any]], conclusion: str | None = None,
                       p_fake: float | None = None) -> str:
    """Plain words on which evidence points which way, and whether the analysis's conclusion
    (``likely_real`` / ``uncertain`` / ``likely_synthetic`` / ``cannot_assess``) agrees."""
    signals = [s for s in signals if isinstance(s, dict)]
    parts: list[str] = []
    direction = _direction(signals)
    if not signals:
        parts.append("No provenance metadata found; absence of metadata proves nothing, because "
                     "most upload services strip it.")
    else:
        c2 = _c2pa_sentence(signals)
        if c2:
            parts.append(c2)
        meta = [s for s in signals if s.get("source") != "c2pa"]
        synth = [s for s in meta if s.get("points_to") == "synthetic" and s.get("strength") != "info"]
        camera = [s for s in meta if s.get("points_to") == "camera"]
        edited = [s for s in meta if s.get("points_to") == "edited"]
        if synth:
            parts.append(f"Generator metadata ({'; '.join(_label(s) for s in synth[:3])}) points to "
                         "an AI image generator; such metadata is easy to add or strip, so it "
                         "supports but does not prove it.")
        if camera:
            parts.append(f"Camera metadata ({'; '.join(_label(s) for s in camera[:2])}) points to "
                         "a photograph, but such metadata is trivially copied or forged, so this is "
                         "weak evidence.")
        if edited:
            parts.append(f"Editing software left its mark ({'; '.join(_label(s) for s in edited[:2])}); "
                         "that says nothing about how the image was first made.")
        if not c2 and not (synth or camera or edited):
            parts.append(f"Metadata was found ({'; '.join(_label(s) for s in meta[:2])}) but it "
                         "points neither to a generator nor to a camera.")
        if direction == "mixed":
            parts.append("The provenance signals contradict each other.")
    if conclusion is not None:
        words = conclusion.replace("_", " ")
        shown = f"{words}, p_fake {p_fake:.2f}" if p_fake is not None else words
        expected = {"synthetic": "likely_synthetic", "camera": "likely_real"}.get(direction or "")
        if conclusion == "cannot_assess":
            parts.append("The model cannot assess this image, so here the provenance is the only "
                         "signal; weigh it by its source.")
        elif conclusion == "uncertain":
            parts.append(f"The model's conclusion ({shown}) is undecided"
                         + (", so only the provenance points a way." if expected else "."))
        elif expected is None:
            parts.append(f"The model's conclusion ({shown}) rests on the pixels alone.")
        elif conclusion == expected:
            parts.append(f"The model's conclusion ({shown}) agrees.")
        else:
            parts.append(f"The model's conclusion ({shown}) disagrees; weigh both, and remember the "
                         "provenance is only as good as its source.")
    return " ".join(parts)
