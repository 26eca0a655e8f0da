"""What metadata text can name: known AI generators, image editors and IPTC digital source
types, with the matchers that look them up. Shared by the C2PA, EXIF, PNG-text and XMP readers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Known AI image generators and front-ends, matched case-insensitively in metadata text.
GENERATORS: tuple[tuple[str, str], ...] = (
    ("Adobe Firefly", r"firefly"),
    ("Midjourney", r"midjourney"),
    ("DALL-E", r"\bdall[\s\-\u00b7._]?e\b"),
    ("OpenAI", r"\bopenai\b|\bgpt-?4o\b|\bgpt-image|\bchatgpt\b|\bsora\b"),
    ("NovelAI", r"\bnovel\s?ai\b"),
    ("ComfyUI", r"\bcomfy\s?ui\b"),
    ("Automatic1111", r"automatic1111|stable[\s-]diffusion[\s-]web[\s-]?ui|\ba1111\b"),
    ("InvokeAI", r"\binvoke\s?ai\b"),
    ("Fooocus", r"\bfooocus\b"),
    ("SwarmUI", r"\bswarm\s?ui\b"),
    ("Stable Diffusion", r"stable[\s_-]?diffusion|\bsdxl\b|\bdreamstudio\b|stability\.?ai"),
    ("FLUX", r"\bflux\.1\b|\bflux[\s-](dev|schnell|pro)\b|black\s?forest\s?labs"),
    ("Google Imagen / Gemini", r"\bimagen\b|\bgemini\b|made with google ai|\bnano[\s-]banana\b"),
    ("Ideogram", r"\bideogram\b"),
    ("Leonardo.Ai", r"\bleonardo[\s.]ai\b"),
    ("Bing Image Creator", r"bing image creator|\bdesigner\.microsoft"),
    ("Runway", r"\brunway\s?ml\b|\brunway gen"),
    ("Krea", r"\bkrea\.?ai\b"),
    ("Playground AI", r"playground\s?(ai|v2)"),
    ("NightCafe", r"nightcafe"),
    ("Craiyon", r"craiyon"),
    ("DiffusionBee", r"diffusionbee"),
    ("Draw Things", r"\bdraw things\b"),
    ("Canva AI", r"\bcanva (ai|magic media|dream lab)"),
    ("generic AI label", r"\bai[\s-]generated\b|\bgenerated (by|with) (an? )?(ai|generative)\b"),
)
# Editing software: evidence that the file was touched, not of how the image was first made.
EDITORS: tuple[tuple[str, str], ...] = (
    ("Adobe Photoshop", r"photoshop"),
    ("Adobe Lightroom", r"lightroom"),
    ("GIMP", r"\bgimp\b"),
    ("Affinity Photo", r"\baffinity\b"),
    ("Pixelmator", r"pixelmator"),
    ("Paint.NET", r"paint\.net"),
    ("Capture One", r"capture one"),
    ("Snapseed", r"snapseed"),
    ("darktable", r"darktable"),
    ("RawTherapee", r"rawtherapee"),
    ("Luminar", r"\bluminar\b"),
    ("Picsart", r"picsart"),
    ("Canva", r"\bcanva\b"),
    ("ACDSee", r"acdsee"),
    ("Krita", r"\bkrita\b"),
    ("Adobe ImageReady", r"imageready"),
)
GEN_RE = [(name, re.compile(rx, re.IGNORECASE)) for name, rx in GENERATORS]
EDIT_RE = [(name, re.compile(rx, re.IGNORECASE)) for name, rx in EDITORS]

# IPTC digital source types: code -> (direction, what a manifest/XMP declaring it says).
DIGITAL_SOURCE_TYPES: dict[str, tuple[str, str]] = {
    "trainedAlgorithmicMedia": ("synthetic", "the image was made by a generative AI model"),
    "compositeWithTrainedAlgorithmicMedia": (
        "synthetic", "the image combines other content with elements made by a generative AI model"),
    "algorithmicMedia": ("synthetic", "the image was made by an algorithm, not captured by a camera"),
    "compositeSynthetic": ("synthetic", "the image is a composite of synthetic elements"),
    "dataDrivenMedia": ("synthetic", "the image was generated from data by software"),
    "digitalCapture": ("camera", "the image was captured by a digital camera"),
    "computationalCapture": ("camera", "the image was captured by a camera with computational processing"),
    "negativeFilm": ("camera", "the image was scanned from a film negative"),
    "positiveFilm": ("camera", "the image was scanned from positive film"),
    "print": ("camera", "the image was scanned from a print"),
    "minorHumanEdits": ("edited", "the image was captured and then lightly edited by a person"),
    "humanEdits": ("edited", "the image was edited by a person"),
    "algorithmicallyEnhanced": ("edited", "the image was enhanced by software"),
    "composite": ("edited", "the image is a composite of several elements"),
    "compositeCapture": ("edited", "the image is a composite of camera captures"),
    "digitalCreation": ("neutral", "the image was made by a person with digital tools"),
    "digitalArt": ("neutral", "the image was made by a person with digital tools"),
    "screenCapture": ("neutral", "the image is a screen capture"),
    "virtualRecording": ("neutral", "the image is a recording of a virtual scene"),
}


def match_tool(text: str, table: Sequence[tuple[str, re.Pattern[str]]]) -> str | None:
    """The first known tool named in ``text`` (only its first few KB are searched)."""
    head = text[:4096]
    for name, rx in table:
        if rx.search(head):
            return name
    return None


def source_type_code(value: str) -> str:
    """The IPTC code at the end of a digital-source-type URI (or the value itself)."""
    return value.strip().rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]



def looks_like_a1111(text: str) -> bool:
    """Whether ``text`` reads like AUTOMATIC1111 generation parameters (Steps plus Sampler/Seed)."""
    return "Steps:" in text and ("Sampler:" in text or "Seed:" in text)
