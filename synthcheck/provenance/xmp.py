"""XMP signals: IPTC DigitalSourceType, CreatorTool, Credit, history software agents and remote
manifest links, parsed with defusedxml (no DTDs or entities, size-capped).
"""

from __future__ import annotations

import re
from typing import Any

from .known import DIGITAL_SOURCE_TYPES, EDIT_RE, GEN_RE, match_tool, source_type_code
from .signal import MAX_XMP, make_signal


def xmp_fields(packet: bytes, errors: list[str]) -> list[tuple[str, str]]:
    """(local name, value) for the XMP properties that carry provenance."""
    wanted = {"DigitalSourceType", "CreatorTool", "Credit", "softwareAgent", "provenance"}
    if len(packet) > MAX_XMP:
        errors.append(f"the XMP packet is {len(packet) // 1024} KB, over the "
                      f"{MAX_XMP // 1024} KB limit, so it was not read.")
        return []
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    text = packet.strip(b"\x00 \r\n\t")
    if b"<!DOCTYPE" in text or b"<!ENTITY" in text:  # XMP never needs these; bombs do
        errors.append("the XMP packet declares a DTD or entities (as XML bombs do), so it was "
                      "not read.")
        return []
    start = text.find(b"<x:xmpmeta")
    if start < 0:
        start = text.find(b"<rdf:RDF")
    if start > 0:
        end = text.rfind(b"</x:xmpmeta>")
        text = text[start:end + 12] if end > start else text[start:]
    out: list[tuple[str, str]] = []
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SyntaxError, ValueError) as exc:  # ParseError is a SyntaxError
        kind = "uses forbidden DTD/entity declarations" if isinstance(exc, DefusedXmlException) \
            else "is not well-formed XML"
        errors.append(f"the XMP packet {kind}, so it was not read.")
        m = re.search(rb"DigitalSourceType[^>]{0,40}?[\">]\s*(https?://[^\"<\s]{1,200})",
                      text[:MAX_XMP])
        if m and not isinstance(exc, DefusedXmlException):
            out.append(("DigitalSourceType", m.group(1).decode("latin-1")))
        return out
    rdf_resource = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}resource"
    for i, el in enumerate(root.iter()):
        if i > 20000 or len(out) > 64:
            break
        for attr, value in el.attrib.items():
            local = attr.rsplit("}", 1)[-1]
            if local in wanted:
                out.append((local, value))
        tag = el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""
        if tag in wanted:
            value = (el.text or "").strip() or el.attrib.get(rdf_resource, "")
            if not value:  # rdf:Alt / rdf:Seq wrapper: take the first li
                value = next(((li.text or "").strip() for li in el.iter() if li is not el
                              and (li.text or "").strip()), "")
            if value:
                out.append((tag, value))
    return out


def xmp_signals(fields: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Signals from XMP DigitalSourceType, CreatorTool, Credit, history and provenance link."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for name, value in fields:
        if (name, value) in seen:
            continue
        seen.add((name, value))
        if name == "DigitalSourceType":
            code = source_type_code(value)
            direction, says = DIGITAL_SOURCE_TYPES.get(code, ("neutral", f"its source type is {code}"))
            strength = "moderate" if direction == "synthetic" else "weak"
            out.append(make_signal("xmp", "Iptc4xmpExt:DigitalSourceType", value, (
                f"XMP (IPTC) declares {says} ({code}); unsigned XMP is easy to edit, so this is "
                "a claim, not proof."), strength, direction))
        elif name in ("CreatorTool", "softwareAgent", "Credit"):
            label = {"CreatorTool": "xmp:CreatorTool", "softwareAgent": "xmpMM:History softwareAgent",
                     "Credit": "photoshop:Credit"}[name]
            gen = match_tool(value, GEN_RE)
            editor = match_tool(value, EDIT_RE) if gen is None else None
            if gen is not None:
                out.append(make_signal("xmp", label, value, (
                    f"XMP {label} names {gen}, an AI image generator; XMP is easy to edit, so "
                    "this supports but does not prove a generated image."), "moderate",
                    "synthetic"))
            elif editor is not None:
                out.append(make_signal("xmp", label, value, (
                    f"XMP {label} names {editor}, an image editor: the file was worked on with "
                    "it, which says nothing about how the image was first made."), "weak",
                    "edited"))
            elif name == "CreatorTool":
                out.append(make_signal("xmp", label, value, "XMP CreatorTool names a program that "
                                   "is not a known generator or editor.", "info", "neutral"))
        elif name == "provenance" and value.startswith(("http://", "https://")):
            out.append(make_signal("xmp", "dcterms:provenance", value, (
                "XMP points to a C2PA manifest stored elsewhere; SynthCheck does not fetch remote "
                "manifests, so it was not checked."), "info", "neutral"))
    return out
