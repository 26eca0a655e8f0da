"""EXIF reading: JSON-friendly, robust to malformed blocks."""

import io
import json

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from synthcheck.metadata import gps_position, read_exif, summary
from synthcheck.provenance import read_provenance
from tests import provenance_fixtures as F


def _jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (16, 16), (120, 30, 60))
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "EOS 5D"  # Model
    exif[0x0131] = "=cmd|' /C calc'!A0"  # Software (hostile text stays text)
    exif[0x0132] = "2024:01:02 03:04:05"
    sub = exif.get_ifd(0x8769)
    sub[0x829A] = (1, 0)  # ExposureTime with a zero denominator
    sub[0x927C] = b"\x00\x01\x02" * 100  # MakerNote blob
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 31.0, 12.5)
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 0.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_reads_tags_and_is_json_serialisable() -> None:
    out = read_exif(_jpeg_with_exif())
    json.dumps(out)
    assert out["Make"] == "Canon" and out["Model"] == "EOS 5D"
    assert out["GPS"]["GPSLatitudeRef"] == "N"
    assert out["GPS"]["GPSLatitude"] == [52.0, 31.0, 12.5]
    assert "MakerNote" in out and out["MakerNote"].startswith("<300 bytes")
    s = summary(out)
    assert s["Make"] == "Canon" and s["GPS"] == "present"


def test_no_exif_gives_empty_dict() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    assert read_exif(buf.getvalue()) == {}


def test_malformed_exif_never_raises() -> None:
    good = _jpeg_with_exif()
    i = good.find(b"Exif\x00\x00")
    assert i > 0
    broken = bytearray(good)
    broken[i + 6:i + 40] = b"\xff" * 34  # garbage TIFF header and first IFD offset
    out = read_exif(bytes(broken))
    json.dumps(out)
    assert isinstance(out, dict)


def test_not_an_image() -> None:
    out = read_exif(b"definitely not an image")
    assert "_error" in out


def test_random_corruption_of_exif_never_raises() -> None:
    import random

    good = _jpeg_with_exif()
    start = good.find(b"Exif\x00\x00") + 6
    rng = random.Random(0)
    for _ in range(60):
        b = bytearray(good)
        for _ in range(8):
            b[rng.randrange(start, start + 200)] = rng.randrange(256)
        json.dumps(read_exif(bytes(b)))


def test_value_conversion() -> None:
    from PIL.TiffImagePlugin import IFDRational

    from synthcheck.metadata import _jsonable

    assert _jsonable(IFDRational(1, 0)) is None
    assert _jsonable(IFDRational(1, 4)) == 0.25
    assert _jsonable(float("nan")) is None
    assert _jsonable(b"abc\x00") == "abc"
    assert _jsonable((1, (2, b"\xff"))) == [1, [2, "<1 bytes: ff>"]]


VOID = IFDRational(0, 0)  # the 0/0 rational some cameras (Leica T) write when they have no fix
CAMERA = {0x010F: "Leica Camera AG", 0x0110: "LEICA T (Typ 701)"}
SYDNEY = {1: "S", 2: (33.0, 51.0, 54.0), 3: "E", 4: (151.0, 12.0, 36.0)}


@pytest.mark.parametrize(("gps", "position"), [
    ({0: b"\x02\x02\x00\x00"}, None),  # a GPS block with only GPSVersionID
    ({0: b"\x02\x02\x00\x00", 1: "N", 2: (VOID,) * 3, 3: "E", 4: (VOID,) * 3}, None),
    ({2: SYDNEY[2], 4: SYDNEY[4]}, None),  # coordinates without N/S and E/W references
    ({**SYDNEY, 3: "X"}, None),
    ({**SYDNEY, 2: (95.0, 0.0, 0.0)}, None),  # beyond the pole
    ({1: "S", 2: SYDNEY[2]}, None),  # latitude only
    (SYDNEY, (-33.865, 151.21)),
])
def test_gps_is_shown_only_for_a_position(gps: dict, position: tuple | None) -> None:
    data = F.jpeg_with_exif(CAMERA, gps=gps)
    exif = read_exif(data)
    assert "GPS" in exif  # the block itself is still listed in full
    assert ("GPS" in summary(exif)) is (position is not None)
    raw = gps_position(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825))
    assert raw == pytest.approx(position) if position else raw is None
    assert gps_position(exif["GPS"]) == raw  # the same rule on the display reader's names
    camera = next(s for s in read_provenance(data).signals if s["field"] == "Make/Model")
    assert ("GPSPosition" in camera["meaning"]) is (position is not None)
