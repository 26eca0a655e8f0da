"""A corpus of hostile and broken inputs, generated at test time (no committed binaries).

Each case says whether a correct verdict ("ok") or one clear error sentence ("error") is the
right answer. Every entry point (package, CLI, API, dashboard) is run over the same corpus.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    expect: str  # "ok" | "error"
    phrase: str = ""  # expected words in the error, or in the notes of an ok case


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / w * 200, y / h * 200, (x + y) / (w + h) * 255], 2)
    return np.clip(base + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    # a few KB of zlib that would inflate to 2.7 GB of pixels if anyone decoded it
    comp = zlib.compressobj(9)
    row = b"\0" * (1 + width * 3)
    body = b"".join(comp.compress(row) for _ in range(64)) + comp.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _malformed_exif_jpeg() -> bytes:
    jpg = _save(Image.fromarray(_photo(32, 32)), "JPEG")
    app1 = b"Exif\0\0" + b"MM\0\x2a\0\0\0\x08" + b"\xff\xff" + b"\x13" * 40  # IFD claims 65535 entries
    seg = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    return jpg[:2] + seg + jpg[2:]


def build_corpus(root: Path, large: bool = True) -> list[Case]:
    """Write the corpus under ``root`` and return its cases (in a stable order)."""
    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(name: str, data: bytes | None, expect: str, phrase: str = "", filename: str | None = None) -> None:
        path = root / (filename or name)
        if data is not None:
            path.write_bytes(data)
        cases.append(Case(name, path, expect, phrase))

    rgb = Image.fromarray(_photo(32, 32))
    jpeg = _save(rgb, "JPEG", quality=90)
    png = _save(rgb, "PNG")
    add("zero_bytes.jpg", b"", "error", "empty")
    add("truncated.jpg", jpeg[: len(jpeg) // 2], "error", "truncated")
    add("truncated.png", png[: len(png) // 2], "error", "truncated")
    add("html_named.jpg", b"<!doctype html><html><body>hello</body></html>", "error", "not a recognised image")
    add("bomb.png", _png_bomb(), "error", "decompression bomb")
    if large:
        add("large_6000x4000.jpg", _save(Image.fromarray(_photo(4000, 6000)), "JPEG", quality=85), "ok")
    add("one_pixel.png", _save(Image.fromarray(_photo(1, 1)), "PNG"), "ok")
    add("two_pixels.png", _save(Image.fromarray(_photo(2, 2)), "PNG"), "ok")
    add("cmyk.jpg", _save(rgb.convert("CMYK"), "JPEG"), "ok", "CMYK")
    gray16 = (np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    add("sixteen_bit.png", _save(Image.fromarray(gray16), "PNG"), "ok", "8 bits")
    rgba = np.dstack([_photo(32, 32), np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1))])
    add("rgba.png", _save(Image.fromarray(rgba, "RGBA"), "PNG"), "ok", "transparency")
    pal = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    add("palette_transparent.png", _save(pal, "PNG", transparency=0), "ok")
    frames = [Image.fromarray(_photo(32, 32, s)) for s in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    add("animated.gif", buf.getvalue(), "ok", "first of 3 frames")
    exif = Image.Exif()
    exif[0x0112] = 6
    add("exif_rotated.jpg", _save(Image.fromarray(_photo(20, 40)), "JPEG", exif=exif.tobytes()), "ok", "orientation")
    add("grayscale.jpg", _save(rgb.convert("L"), "JPEG"), "ok", "grayscale")
    add("image.tiff", _save(rgb, "TIFF"), "ok")
    add("image.webp", _save(rgb, "WEBP"), "ok")
    add("malformed_exif.jpg", _malformed_exif_jpeg(), "ok")
    add("spaces ünïcødé 写真.png", png, "ok")
    add("does_not_exist.jpg", None, "error", "no such file")
    (root / "a_directory.jpg").mkdir(exist_ok=True)
    add("a_directory.jpg", None, "error", "directory")
    return cases
