"""Image loading: every odd mode converts, every broken input gets one clear sentence."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from synthcheck.imageio import ImageError, load_image, to_model_array
from tests.conftest import image_bytes

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)


def test_rgb_png_roundtrip_and_hash():
    data = image_bytes(RGB)
    img = load_image(data)
    assert img.format == "PNG" and img.mode == "RGB" and (img.width, img.height) == (30, 20)
    assert np.array_equal(np.asarray(img.image), RGB)
    import hashlib

    assert img.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16", "1", "LA"])
def test_modes_convert_to_rgb(mode):
    src = Image.fromarray(RGB)
    if mode == "I;16":
        arr16 = (np.asarray(src.convert("L"), dtype=np.uint16) * 257)
        im = Image.fromarray(arr16)
        assert im.mode.startswith("I;16")
    else:
        im = src.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    loaded = load_image(_save(im, fmt))
    assert loaded.image.mode == "RGB"
    assert loaded.image.size == (30, 20)
    if mode == "I;16":  # 16-bit scaled to 8 bits, not clipped to white
        assert np.allclose(np.asarray(loaded.image)[..., 0], np.asarray(src.convert("L")), atol=1)


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def test_transparency_is_flattened_on_white():
    arr = np.zeros((8, 8, 4), np.uint8)
    loaded = load_image(_save(Image.fromarray(arr, "RGBA"), "PNG"))
    assert np.all(np.asarray(loaded.image) == 255)
    assert any("transparency" in n for n in loaded.notes)


def test_exif_orientation_applied():
    im = Image.fromarray(RGB)  # 30 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    loaded = load_image(_save(im, "JPEG", exif=exif.tobytes()))
    assert (loaded.width, loaded.height) == (20, 30)
    assert any("orientation" in n for n in loaded.notes)


def test_animated_gif_first_frame_noted():
    frames = [Image.fromarray(np.full((10, 10, 3), v, np.uint8)) for v in (0, 255)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    loaded = load_image(buf.getvalue())
    assert loaded.n_frames == 2 and np.asarray(loaded.image).max() < 10
    assert any("first of 2 frames" in n for n in loaded.notes)


@pytest.mark.parametrize("fmt", ["WEBP", "TIFF", "BMP"])
def test_other_formats(fmt):
    assert load_image(_save(Image.fromarray(RGB), fmt)).format == fmt


def test_tiny_images():
    for side in (1, 2):
        loaded = load_image(image_bytes(RGB[:side, :side]))
        assert to_model_array(loaded.image, 32).shape == (32, 32, 3)


@pytest.mark.parametrize(
    "data, phrase",
    [
        (b"", "empty"),
        (b"<html><body>not an image</body></html>", "not a recognised image"),
        (image_bytes(RGB, "JPEG")[:200], "truncated or corrupt"),
        (image_bytes(RGB, "PNG")[:-30], "truncated or corrupt"),
    ],
)
def test_broken_bytes_give_one_sentence(data, phrase):
    with pytest.raises(ImageError, match=phrase) as err:
        load_image(data, name="x.jpg")
    assert str(err.value).startswith("x.jpg: ") and "\n" not in str(err.value)


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR claiming a huge size (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat_data = zlib.compress(b"\0" * 64)
    idat = struct.pack(">I", len(idat_data)) + b"IDAT" + idat_data + struct.pack(">I", zlib.crc32(b"IDAT" + idat_data))
    return b"\x89PNG\r\n\x1a\n" + chunk + idat


def test_decompression_bomb_refused_before_decoding():
    with pytest.raises(ImageError, match="over the limit"):
        load_image(_png_header_only(30000, 30000), name="bomb.png")


def test_size_limit_on_bytes(tmp_path):
    p = tmp_path / "big.png"
    p.write_bytes(image_bytes(RGB))
    with pytest.raises(ImageError, match="over the"):
        load_image(p, max_bytes=10)


def test_non_ascii_name_with_spaces(tmp_path):
    p = tmp_path / "photo ünïcödé 写真.png"
    p.write_bytes(image_bytes(RGB))
    assert load_image(p).name == str(p)


def test_arrays_and_float_arrays():
    assert load_image(RGB).image.size == (30, 20)
    assert load_image(RGB[..., 0]).image.mode == "RGB"
    f = load_image(RGB.astype(np.float32) / 255.0)
    assert np.abs(np.asarray(f.image).astype(int) - RGB).max() <= 1
    with pytest.raises(ImageError):
        load_image(np.zeros((2, 2, 5)))
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.full((2, 2, 3), np.nan))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=2048))
def test_random_bytes_never_crash(data):
    try:
        img = load_image(data)
    except ImageError as exc:
        assert str(exc)
    else:
        assert img.image.mode == "RGB"


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 4]), st.integers(0, 2**31))
def test_random_arrays_load(h, w, c, seed):
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)
    assert load_image(arr).image.size == (w, h)


def _lying_jpeg(side: int) -> bytes:
    """32x32 of real JPEG data under a frame header that declares ``side`` x ``side``."""
    data = bytearray(image_bytes(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8), "JPEG", quality=90))
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", side, side)
    return bytes(data)


def test_jpeg_declaring_far_more_pixels_than_its_data_is_refused_before_decoding():
    import time

    start = time.monotonic()
    with pytest.raises(ImageError, match="declares 7999x7999 pixels") as err:
        load_image(_lying_jpeg(7999), name="lie.jpg")
    assert time.monotonic() - start < 0.5  # refused from the header, 64 MP never decoded
    assert str(err.value).startswith("lie.jpg: ") and "too few" in str(err.value)


def test_jpeg_with_a_modest_lie_carries_a_note():
    loaded = load_image(_lying_jpeg(256))
    assert (loaded.width, loaded.height) == (256, 256)
    assert any("mid-grey" in n for n in loaded.notes)
    genuine = load_image(image_bytes(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8), "JPEG"))
    assert not genuine.notes


def test_png_declaring_far_more_rows_than_its_data_is_refused():
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    w = h = 4000
    rows = b"".join(b"\0" + bytes(RNG.integers(0, 256, w * 3, dtype=np.uint8)) for _ in range(2))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    with pytest.raises(ImageError, match="too few to encode them"):
        load_image(png)


def test_large_genuine_images_pass_the_size_bounds():
    flat = np.full((2000, 3000, 3), 200, np.uint8)  # compresses as well as anything can
    for fmt, kw in (("JPEG", {"quality": 10, "optimize": True}), ("JPEG", {"progressive": True}),
                    ("PNG", {"optimize": True})):
        loaded = load_image(image_bytes(flat, fmt, **kw))
        assert (loaded.width, loaded.height) == (3000, 2000)


@pytest.mark.parametrize("exc", [struct.error("unpack requires a buffer of 4 bytes"),
                                 TypeError("Missing dimensions"), IndexError("index out of range"),
                                 RuntimeError("Failed to decode image"), MemoryError(),
                                 ZeroDivisionError("division by zero")])
def test_any_decoder_exception_becomes_one_sentence(monkeypatch, exc):
    def broken_load(self):
        raise exc

    data = image_bytes(RGB)
    monkeypatch.setattr(Image.Image, "load", broken_load)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", broken_load)
    with pytest.raises(ImageError) as err:
        load_image(data, name="x.png")
    msg = str(err.value)
    assert msg.startswith("x.png: ") and msg.endswith(".") and "\n" not in msg
    assert str(exc) not in msg or not str(exc)


def _jpeg(arr: np.ndarray, mode: str = "RGB", **save: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buf, "JPEG", **save)
    return buf.getvalue()


def _pillow_decode(data: bytes):
    from synthcheck.imageio import DEFAULT_MAX_PIXELS, _decode

    return _decode(data, "x", DEFAULT_MAX_PIXELS, io.BytesIO(data))


def _fast_cases() -> dict[str, bytes]:
    from skimage import data as skdata

    photo = skdata.astronaut()
    noise = RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    return {
        "photo-420": _jpeg(photo, quality=90),
        "photo-444-q100": _jpeg(photo, quality=100, subsampling=0),
        "photo-422-progressive": _jpeg(photo, quality=75, subsampling=1, progressive=True),
        "coffee-optimised-q20": _jpeg(skdata.coffee(), quality=20, optimize=True),
        "noise-odd-size": _jpeg(noise, quality=85),
        "one-pixel": _jpeg(noise[:1, :1], quality=95),
        "thin-strip": _jpeg(noise[:1, :], quality=95, subsampling=0),
        "cifake-size": _jpeg(noise[:32, :32], quality=75),
    }


@pytest.mark.parametrize("name", list(_fast_cases()))
def test_fast_jpeg_path_gives_pillows_pixels_and_facts(name: str) -> None:
    """The common JPEG goes through libjpeg-turbo directly (simplejpeg) and must give exactly
    what Pillow gives: pixels, format, mode, frames and notes."""
    from synthcheck.imageio import DEFAULT_MAX_PIXELS, _fast_jpeg

    data = _fast_cases()[name]
    assert _fast_jpeg(data, DEFAULT_MAX_PIXELS) is not None  # the fast path was taken
    got = load_image(data)
    rgb, fmt, mode, n_frames, notes = _pillow_decode(data)
    assert np.array_equal(np.asarray(got.image), np.asarray(rgb))
    assert (got.format, got.mode, got.n_frames, got.notes, got.width, got.height) == (
        fmt, mode, n_frames, notes, rgb.width, rgb.height)


def test_jpegs_pillow_reads_differently_take_the_pillow_path() -> None:
    """Greyscale, CMYK, EXIF-rotated and damaged JPEGs are left to Pillow (its modes, notes,
    orientation and one-sentence errors)."""
    from synthcheck.imageio import DEFAULT_MAX_PIXELS, _fast_jpeg

    arr = RNG.integers(0, 256, (40, 24, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = _jpeg(arr, exif=exif.tobytes())
    cases = {"L": _jpeg(arr, "L"), "CMYK": _jpeg(arr, "CMYK"), "rotated": rotated,
             "truncated": _jpeg(arr)[:-40]}
    for name, data in cases.items():
        assert _fast_jpeg(data, DEFAULT_MAX_PIXELS) is None, name
    assert load_image(cases["L"]).mode == "L"
    assert load_image(cases["CMYK"]).notes == ["CMYK converted to RGB"]
    assert (load_image(rotated).width, load_image(rotated).height) == (40, 24)  # turned upright
    assert _fast_jpeg(_jpeg(arr), 100) is None  # over the pixel limit: Pillow refuses it
