"""Open and validate images: the one place where untrusted bytes become RGB pixels.

Every face (CLI, dashboard, API, training data) goes through :func:`load_image`, so size
limits, mode conversion, EXIF orientation and error wording are the same everywhere.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import SynthCheckError

KEEP_PIXELS = 256 * 256  # LoadedImage.pixels is kept up to this size (beyond, memory matters more)

try:  # libjpeg-turbo without Pillow's per-file Python work: see _fast_jpeg
    import simplejpeg as _simplejpeg
except ImportError:  # optional: Pillow decodes every JPEG without it, 8x slower on small ones
    _simplejpeg = None

# Refuse images larger than this many pixels *before* decoding them (decompression bombs).
DEFAULT_MAX_PIXELS = int(os.environ.get("SYNTHCHECK_MAX_PIXELS", 64_000_000))
# Refuse files larger than this many bytes before reading them into memory.
DEFAULT_MAX_BYTES = int(os.environ.get("SYNTHCHECK_MAX_BYTES", 64 * 1024 * 1024))
READ_CHUNK = 1 << 20
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}  # file types taken from folders

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
    # ``image`` as a read-only uint8 (H, W, 3) array, when the decoder made one anyway (small
    # JPEGs): the model's input and the domain check read it instead of converting again.
    pixels: np.ndarray | None = field(default=None, repr=False, compare=False)

    def with_changes(self, **changes: Any) -> LoadedImage:
        """A shallow copy with ``changes`` applied (``dataclasses.replace`` without its per-call
        field walk: a scan makes two per image); a new ``image`` drops ``pixels``."""
        new = copy.copy(self)
        new.__dict__.update(changes)
        if "image" in changes and changes["image"] is not self.image and "pixels" not in changes:
            new.pixels = None
        return new

    def rgb_array(self) -> np.ndarray:
        """``image`` as a uint8 (H, W, 3) array (``pixels`` when there are)."""
        return self.pixels if self.pixels is not None else np.asarray(self.image, dtype=np.uint8)

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


def display_name(path: str | os.PathLike | bytes) -> str:
    """A path as printable text: bytes that are not valid UTF-8 (``surrogateescape``) are shown
    as ``\\xNN`` escapes, so the name can be printed, stored and sent as JSON like any other."""
    raw = os.fsencode(path) if isinstance(path, (bytes, os.PathLike)) else str(path).encode(
        "utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def file_kind(mode: int) -> str:
    """What a non-regular file is, in plain words, from its ``st_mode``."""
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISLNK, "a symbolic link"))
    return next((word for test, word in kinds if test(mode)), "not a regular file")


def read_regular_file(path: str | os.PathLike | bytes, max_bytes: int, name: str | None = None
                      ) -> bytes:
    """The bytes of a regular file, at most ``max_bytes``; :class:`ImageError` otherwise
    (see :func:`read_bounded`)."""
    out = read_bounded(path, max_bytes)
    if isinstance(out, str):
        raise ImageError(f"{name or display_name(path)}: {out}.")
    return out


def read_bounded(path: str | os.PathLike | bytes, max_bytes: int, *,
                 follow_symlinks: bool = True) -> bytes | str:
    """The bytes of a regular file, or why not (a phrase, no name, no final full stop).

    The type is checked with ``os.stat`` (symbolic links followed; ``os.lstat`` and
    ``O_NOFOLLOW`` with ``follow_symlinks=False``, which refuses any link) before the file is
    opened, so FIFOs, devices and sockets, or links to them, are refused without a read; the
    file is then opened non-blocking, checked again on the open descriptor (it may have been
    swapped), and read in chunks that stop at ``max_bytes`` + 1 bytes.
    """
    try:
        st = os.stat(path) if follow_symlinks else os.lstat(path)
    except FileNotFoundError:
        return "no such file"
    except (OSError, ValueError) as exc:
        return f"cannot be read ({_os_reason(exc)})"
    why = _not_regular(st.st_mode) or _over_limit(st.st_size, max_bytes)
    if why:
        return why
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(
        os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return f"cannot be read ({_os_reason(exc)})"
    chunks, total = [], 0
    try:
        why = _not_regular(os.fstat(fd).st_mode)
        while not why and total <= max_bytes:
            block = os.read(fd, min(READ_CHUNK, max_bytes + 1 - total))
            if not block:
                break
            chunks.append(block)
            total += len(block)
    except OSError as exc:
        why = f"cannot be read ({_os_reason(exc)})"
    finally:
        os.close(fd)
    return why or _over_limit(total, max_bytes) or b"".join(chunks)


def _not_regular(mode: int) -> str | None:
    if stat.S_ISDIR(mode):
        return "is a directory, not an image file"
    if not stat.S_ISREG(mode):
        return f"is {file_kind(mode)}, not a regular file; refused"
    return None


def _os_reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def _over_limit(size: int, max_bytes: int) -> str | None:
    if size > max_bytes >= 2**20:
        return f"file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit"
    if size > max_bytes:  # a small limit (a stored file's recorded size) in bytes
        return f"file is {size:,} bytes, over the limit of {max_bytes:,}"
    return None


def _read_source(source: Any, max_bytes: int, label: str | None = None) -> tuple[bytes, str]:
    """Read raw bytes from a path, bytes or file object, refusing oversize files early."""
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), label or "<bytes>"
    elif isinstance(source, (str, os.PathLike)):
        name = label or display_name(source)
        data = read_regular_file(source, max_bytes, name)
    elif hasattr(source, "read"):
        name = label or display_name(str(getattr(source, "name", "<upload>")))
        try:
            data = source.read(max_bytes + 1)
        except Exception as exc:  # a broken stream is this input's error, not the caller's
            raise ImageError(f"{name}: cannot be read ({_os_reason(exc)}).") from exc
        if not isinstance(data, (bytes, bytearray)):
            raise ImageError(f"{name}: the stream did not give bytes.")
        if len(data) > max_bytes:
            raise ImageError(f"{name}: file is over the {max_bytes / 2**20:.0f} MB limit.")
        data = bytes(data)
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
    The pixel limit is checked from the header, before any pixel is decoded. A path must be a
    regular file (:func:`read_bounded`). Whatever Pillow raises while opening, decoding or
    converting becomes this input's :class:`ImageError`; the sentence is chosen by condition
    (the bomb and memory error types, whether a reader ran out of bytes, whether the bytes
    carry a known signature), never by the wording of Pillow's message. A file too small for
    the pixels its header declares is refused (:func:`_refuse_lies`); a JPEG whose last rows
    are flat decoder grey gets a note. Pixels are decoded at full size: no draft reduction.
    The common JPEG is decoded by :func:`_fast_jpeg` (the same pixels, 8x faster).
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
    fast = _fast_jpeg(data, max_pixels)
    if fast is not None:
        img, notes, pixels = fast
        return LoadedImage(img, name, digest, len(data), "JPEG", "RGB", img.width, img.height, 1,
                           notes, raw=data, pixels=pixels if pixels.size <= KEEP_PIXELS * 3 else None)
    try:
        rgb, fmt, mode, n_frames, notes = _decode(data, name, max_pixels, io.BytesIO(data))
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{name}: image dimensions are over the limit of {max_pixels:,} pixels "
                         "(possible decompression bomb); refused before decoding.") from exc
    except MemoryError as exc:
        raise ImageError(f"{name}: image is too large to decode in available memory.") from exc
    except Exception as exc:  # any decoder failure is this input's error, never the caller's
        raise ImageError(_failure_sentence(data, name, max_pixels, exc)) from exc
    return LoadedImage(rgb, name, digest, len(data), fmt, mode, rgb.width, rgb.height,
                       n_frames, notes, raw=data)


def _plain_jpeg_frame(data: bytes) -> int | None:
    """The SOF marker of a JPEG with nothing that makes Pillow decode it differently from plain
    libjpeg (an EXIF block, whose orientation Pillow applies; an MPO index, which makes it
    multi-frame; an Adobe marker, which may mean RGB or CMYK), or None."""
    frame = None
    for marker, i in jpeg_segments(data):
        if marker == 0xDA:
            return frame
        if marker == 0xD9:
            return None
        head = data[i + 4:i + 10]
        if (marker == 0xE1 and head.startswith(b"Exif")) or marker == 0xEE or (
                marker == 0xE2 and head.startswith(b"MPF\x00")):
            return None
        if marker in _JPEG_FRAMES:
            if frame is not None:
                return None  # a second frame header: hierarchical, or damaged
            frame = marker
    return None


def _fast_jpeg(data: bytes, max_pixels: int) -> tuple[Image.Image, list[str], np.ndarray] | None:
    """(RGB image, notes, its read-only pixels) of the common JPEG: Huffman-coded (baseline or
    progressive), 3-component YCbCr, no EXIF, MPO or Adobe marker, within the limits, decoded by
    libjpeg-turbo without a single warning (``strict``). simplejpeg drives the same libjpeg-turbo with the same settings
    as Pillow (accurate integer DCT, fancy upsampling), so the pixels are Pillow's (a test
    compares them, and all 20,000 CIFAKE test JPEGs matched) at 16 us where Pillow took 124 us.
    None for anything else: Pillow then decodes it, or refuses it with its one sentence."""
    if _simplejpeg is None or not data.startswith(b"\xff\xd8\xff"):
        return None
    frame = _plain_jpeg_frame(data)
    if frame not in (0xC0, 0xC1, 0xC2):
        return None
    try:
        height, width, colorspace, _ = _simplejpeg.decode_jpeg_header(data)
        if colorspace != "YCbCr" or not 0 < width * height <= max_pixels or \
                _too_few_bytes("JPEG", width, height, 24, data, frame):
            return None
        pixels = _simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
    except (ValueError, MemoryError):  # any warning, damage or oddity: Pillow decides
        return None
    img = Image.frombytes("RGB", (width, height), pixels.tobytes())  # fromarray: 2x the time
    pixels.setflags(write=False)
    notes: list[str] = []
    _note_grey_fill(img, notes, "JPEG")
    return img, notes, pixels


def _decode(data: bytes, name: str, max_pixels: int, reader: io.BytesIO
            ) -> tuple[Image.Image, str | None, str, int, list[str]]:
    """(RGB image, format, original mode, frames, notes) of ``data`` read through ``reader``;
    raises whatever Pillow raises (``reader`` may be a :class:`_Reader` that tells why)."""
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's format warnings are not the user's concern
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img = Image.open(reader)
        if isinstance(reader, _Reader):
            reader.fmt = img.format
        fmt, mode = img.format, img.mode
        width, height = img.size
        if width * height > max_pixels:
            raise ImageError(
                f"{name}: {width}x{height} pixels is over the limit of {max_pixels:,} pixels "
                "(possible decompression bomb); refused before decoding."
            )
        if width < 1 or height < 1:
            raise ImageError(f"{name}: image has no pixels ({width}x{height}).")
        _refuse_lies(img, data, name)
        n_frames = int(getattr(img, "n_frames", 1) or 1)
        if n_frames > 1:
            img.seek(0)
            notes.append(f"animated/multi-frame {fmt}: first of {n_frames} frames analysed")
        img.load()
        _note_grey_fill(img, notes)
        try:
            orientation = img.getexif().get(0x0112, 1)
            if orientation not in (1, None):
                img = ImageOps.exif_transpose(img)
                notes.append(f"EXIF orientation {orientation} applied")
        except Exception:  # malformed EXIF must not make an image unreadable
            notes.append("EXIF block is malformed; orientation ignored")
        return _to_rgb(img, notes), fmt, mode, n_frames, notes


def _failure_sentence(data: bytes, name: str, max_pixels: int, exc: BaseException) -> str:
    """The one sentence for a file Pillow could not decode: the decode is run again through a
    :class:`_Reader` that notes whether Pillow asked for more bytes than the file had (the fast
    path reads through a plain buffer; decoding is deterministic, so it fails the same way)."""
    reader = _Reader(data)
    try:
        _decode(data, name, max_pixels, reader)
    except Exception as again:  # the same failure, now with the reader's account of it
        exc = again
    return _decode_failure(name, reader.fmt, exc, reader)


class _Reader(io.BytesIO):
    """The input's bytes, remembering whether a reader asked for more than was left."""

    ran_out = False
    fmt: str | None = None  # the format Pillow recognised, once it did

    def read(self, size: int | None = -1) -> bytes:
        out = super().read(size)
        if (len(out) < size) if size is not None and size > 0 else (not out and size != 0):
            self.ran_out = True
        return out

    def readinto(self, buffer: Any) -> int:
        n = super().readinto(buffer)
        if n < memoryview(buffer).nbytes:
            self.ran_out = True
        return n


def _decode_failure(name: str, fmt: str | None, exc: BaseException, reader: _Reader) -> str:
    """The one sentence for a file Pillow could not decode (chosen by condition, not message)."""
    if fmt is None:
        fmt = _claimed_format(reader.getbuffer())
        if fmt is None and isinstance(exc, UnidentifiedImageError):
            return f"{name}: not a recognised image file."  # no format's signature matches
    if reader.ran_out:  # a reader asked for more bytes than the file had left
        return f"{name}: image file is truncated or corrupt."
    return f"{name}: {fmt + ' ' if fmt else ''}image data is corrupt or uses an unsupported feature."


def _claimed_format(data: Any) -> str | None:
    """The format whose signature the bytes start with (Pillow's own ``accept`` tests), or None."""
    prefix = bytes(data[:16])
    Image.init()
    for fmt in Image.ID:
        accept = Image.OPEN[fmt][1]
        try:
            if accept is not None and accept(prefix):
                return fmt
        except Exception:  # a plugin's signature test failing means "not this format"
            continue
    return None


# Arithmetic-coded JPEG frames (SOF9-11, SOF13-15): no lower bound on bits per block.
_JPEG_ARITHMETIC = frozenset((0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))


# Frame headers (SOFn): every C0-CF marker but DHT (C4), JPG (C8) and DAC (CC).
_JPEG_FRAMES = frozenset(m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC))


def jpeg_segments(data: bytes) -> Iterator[tuple[int, int]]:
    """(marker, offset) of each JPEG segment up to the first scan (SOS) or the end of image
    (EOI), both yielded; fill bytes and stand-alone markers skipped, and the walk stops at a
    segment length below 2 (a damaged header). The one JPEG segment walker (decoding's fast
    path and size bounds, the provenance reader)."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # stand-alone markers
            i += 2
            continue
        yield marker, i
        if marker in (0xD9, 0xDA):
            return
        length = (data[i + 2] << 8) | data[i + 3]
        if length < 2:
            return
        i += 2 + length


def _jpeg_frame_marker(data: bytes) -> int | None:
    """The SOFn marker of a JPEG (walking the segments before the first scan), or None."""
    for marker, _ in jpeg_segments(data):
        if marker in _JPEG_FRAMES:
            return marker
    return None


def _refuse_lies(img: Image.Image, data: bytes, name: str) -> None:
    """Refuse a file too small to encode the pixels its header declares (checked before decoding).

    Decoders fill what is missing with grey (JPEG) or black (PNG) without an error, so a 7999x7999
    header over 32x32 of real data would be analysed as a 64-megapixel grey picture. The bounds
    are what the format itself can reach, so no genuine file is refused: a Huffman-coded JPEG spends
    at least one bit per 8x8 block of its full-resolution component, and deflate (PNG) cannot
    shrink data more than 1032:1.
    """
    width, height = img.size
    bits = 1 if img.mode in ("1", "P") else 8 * len(img.getbands())
    needed = _too_few_bytes(img.format, width, height, bits, data)
    if needed:
        raise ImageError(f"{name}: the {img.format} header declares {width}x{height} pixels but the "
                         f"file holds {len(data):,} bytes, too few to encode them (at least "
                         f"{needed:,}); refused.")


def _too_few_bytes(fmt: str | None, width: int, height: int, bits: int, data: bytes,
                   frame: int | None = None) -> int:
    """The least bytes that can encode ``width`` x ``height`` pixels of ``bits`` bits of ``fmt``
    when ``data`` holds fewer (see :func:`_refuse_lies`), else 0; ``frame``: a JPEG's SOF marker
    when the caller has already found it."""
    if fmt in ("JPEG", "MPO"):
        marker = frame if frame is not None else _jpeg_frame_marker(data)
        if marker is None or marker in _JPEG_ARITHMETIC:
            return 0
        needed = -(-width // 8) * -(-height // 8) // 8
    elif fmt == "PNG":
        needed = height * -(-width * bits // 8) // 1032
    else:
        return 0
    return needed if len(data) < needed else 0


def _note_grey_fill(img: Image.Image, notes: list[str], fmt: str | None = None) -> None:
    """Note a JPEG whose last block row is flat mid-grey: what libjpeg puts where data is missing."""
    if (fmt or img.format) not in ("JPEG", "MPO") or img.height < 16:
        return
    last = img.getpixel((img.width - 1, img.height - 1))  # the whole test needs this pixel grey
    if any(v != 128 for v in (last if isinstance(last, tuple) else (last,))):
        return
    tail = np.asarray(img.crop((0, img.height - 8, img.width, img.height)))
    if tail.size and bool((tail == 128).all()):
        notes.append("the last rows are flat mid-grey, what a JPEG decoder fills in where data is "
                     "missing: the file may be truncated or padded")


def as_loaded(image: Any) -> LoadedImage:
    """A :class:`LoadedImage` as it is, or anything :func:`load_image` accepts, loaded."""
    return image if isinstance(image, LoadedImage) else load_image(image)


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


def png_base64(rgb: np.ndarray, optimize: bool = False) -> str:
    """uint8 HxW[x3] -> base64 PNG text (deterministic bytes for the same pixels): the one
    encoder of the pictures that reports, the API and tables embed."""
    import base64

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", optimize=optimize)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def upscale_nearest(arr: np.ndarray, factor: int) -> np.ndarray:
    """Repeat each pixel ``factor`` x ``factor`` times (keeps pixels crisp); the one enlarger
    of forensic views, explanation overlays and pages."""
    if factor <= 1:
        return arr
    return np.repeat(np.repeat(arr, factor, axis=0), factor, axis=1)
