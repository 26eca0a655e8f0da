"""Open and validate images: the one place where untrusted bytes become RGB pixels.

Every face (CLI, dashboard, API, training data) goes through :func:`load_image`, so size
limits, mode conversion, EXIF orientation and error wording are the same everywhere.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import SynthCheckError

# Refuse images larger than this many pixels *before* decoding them (decompression bombs).
DEFAULT_MAX_PIXELS = int(os.environ.get("SYNTHCHECK_MAX_PIXELS", 64_000_000))
# Refuse files larger than this many bytes before reading them into memory.
DEFAULT_MAX_BYTES = int(os.environ.get("SYNTHCHECK_MAX_BYTES", 64 * 1024 * 1024))

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never silently grey
# We enforce our own pixel limit; keep PIL's bomb check as a second line of defence above it.
Image.MAX_IMAGE_PIXELS = max(DEFAULT_MAX_PIXELS, Image.MAX_IMAGE_PIXELS or 0)

ImageSource = str | os.PathLike | bytes | bytearray | BinaryIO | Image.Image | np.ndarray


class ImageError(SynthCheckError):
    """An input that cannot be analysed; the message is one sentence meant for the user."""


@dataclass
class LoadedImage:
    """An input decoded to RGB, with what an investigator needs to know about the original."""

    image: Image.Image  # RGB, EXIF orientation applied, first frame only
    name: str  # path or a label for in-memory inputs
    sha256: str | None  # of the original bytes (None for in-memory pixel inputs)
    n_bytes: int | None
    format: str | None  # JPEG, PNG, ... as detected from content, not the file name
    mode: str  # original PIL mode, e.g. "CMYK", "I;16", "P"
    width: int  # after EXIF orientation
    height: int
    n_frames: int = 1
    notes: list[str] = field(default_factory=list)  # conversions applied, in plain words
    # The original file bytes (None for pixel inputs), kept so provenance metadata (C2PA, EXIF,
    # XMP, PNG text) can be read from the file the verdict is about without reading it twice.
    raw: bytes | None = field(default=None, repr=False, compare=False)

    def info(self) -> dict[str, Any]:
        """JSON-friendly description of the original file."""
        return {
            "name": self.name,
            "sha256": self.sha256,
            "bytes": self.n_bytes,
            "format": self.format,
            "mode": self.mode,
            "width": self.width,
            "height": self.height,
            "frames": self.n_frames,
            "notes": list(self.notes),
        }


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_source(source: Any, max_bytes: int, label: str | None = None) -> tuple[bytes, str]:
    """Read raw bytes from a path, bytes or file object, refusing oversize files early."""
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), label or "<bytes>"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = label or str(path)
        if not path.exists():
            raise ImageError(f"{name}: no such file.")
        if path.is_dir():
            raise ImageError(f"{name}: is a directory, not an image file.")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageError(
                f"{name}: file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit."
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"{name}: cannot be read ({exc.strerror or exc}).") from exc
    elif hasattr(source, "read"):
        name = label or str(getattr(source, "name", "<upload>"))
        data = source.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ImageError(f"{name}: file is over the {max_bytes / 2**20:.0f} MB limit.")
    else:
        raise ImageError(f"Unsupported input type {type(source).__name__}.")
    if len(data) == 0:
        raise ImageError(f"{name}: file is empty (0 bytes).")
    return data, name


def _to_rgb(img: Image.Image, notes: list[str]) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB the way the training data is stored."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        if mode == "F" and arr.max(initial=0) <= 1.0:
            top = 1.0
        arr8 = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        notes.append(f"{mode} high-bit-depth image scaled to 8 bits")
        return Image.fromarray(arr8, "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            notes.append("transparency flattened onto a white background")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
    elif mode in ("L", "1"):
        notes.append("grayscale converted to RGB")
    return img.convert("RGB")


def load_image(
    source: ImageSource,
    *,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> LoadedImage:
    """Open ``source`` as RGB or raise :class:`ImageError` with one clear sentence.

    Accepts a path, raw bytes, a binary file object, a PIL image or an HxW[xC] uint8 array.
    The pixel limit is checked from the header, before any pixel is decoded.
    """
    if isinstance(source, np.ndarray):
        return _from_array(source, name or "<array>")
    if isinstance(source, Image.Image):
        notes: list[str] = []
        rgb = _to_rgb(source, notes)
        return LoadedImage(rgb, name or "<image>", None, None, source.format, source.mode,
                           rgb.width, rgb.height, 1, notes)

    data, name = _read_source(source, max_bytes, name)
    digest = sha256_bytes(data)
    notes = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > max_pixels:
                raise ImageError(
                    f"{name}: {width}x{height} pixels is over the limit of {max_pixels:,} pixels "
                    "(possible decompression bomb); refused before decoding."
                )
            if width < 1 or height < 1:
                raise ImageError(f"{name}: image has no pixels ({width}x{height}).")
            fmt, mode = img.format, img.mode
            n_frames = int(getattr(img, "n_frames", 1) or 1)
            if n_frames > 1:
                img.seek(0)
                notes.append(f"animated/multi-frame {fmt}: first of {n_frames} frames analysed")
            img.load()
            try:
                orientation = img.getexif().get(0x0112, 1)
                if orientation not in (1, None):
                    img = ImageOps.exif_transpose(img)
                    notes.append(f"EXIF orientation {orientation} applied")
            except Exception:  # malformed EXIF must not make an image unreadable
                notes.append("EXIF block is malformed; orientation ignored")
            rgb = _to_rgb(img, notes)
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: not a recognised image file.") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name}: image dimensions are over the limit of {max_pixels:,} pixels "
                         "(possible decompression bomb); refused before decoding.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        msg = str(exc).lower()
        if "truncated" in msg or "broken data stream" in msg or isinstance(exc, EOFError):
            raise ImageError(f"{name}: image file is truncated or corrupt.") from exc
        if "decompression bomb" in msg or "exceeds limit" in msg:
            raise ImageError(f"{name}: image is too large to decode safely.") from exc
        raise ImageError(f"{name}: image data is corrupt or unsupported ({exc}).") from exc
    except MemoryError as exc:
        raise ImageError(f"{name}: image is too large to decode in available memory.") from exc
    return LoadedImage(rgb, name, digest, len(data), fmt, mode, rgb.width, rgb.height,
                       n_frames, notes, raw=data)


def _from_array(arr: np.ndarray, name: str) -> LoadedImage:
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageError(f"{name}: array of shape {arr.shape} is not an HxW or HxWxC image.")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if arr.dtype != np.uint8:
        if not np.isfinite(arr).all():
            raise ImageError(f"{name}: array contains NaN or infinite values.")
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
        arr = np.clip(arr.astype(np.float64) * scale + 0.5, 0, 255).astype(np.uint8)
    notes: list[str] = []
    img = Image.fromarray(np.ascontiguousarray(arr), "RGBA" if arr.shape[2] == 4 else "RGB")
    rgb = _to_rgb(img, notes)
    return LoadedImage(rgb, name, None, None, None, img.mode, rgb.width, rgb.height, 1, notes)


def to_model_array(image: Image.Image, size: int) -> np.ndarray:
    """Resize an RGB image to ``size`` x ``size`` (bicubic, antialiased) as HxWx3 uint8."""
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=None)
    return np.asarray(image, dtype=np.uint8)
