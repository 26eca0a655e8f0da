"""Batch triage: ZIP intake limits, path-traversal safety, folder scan, records, export."""

import csv
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from synthcheck.analysis import AnalysisOptions, OptionsError, analyze
from synthcheck.checkpoint import build_checkpoint
from synthcheck.inference import Detector
from synthcheck.intake import clean_name, unsafe_name_reason
from synthcheck.models import create_model
from synthcheck.triage import (
    RECORD_FIELDS,
    TriageError,
    read_paths,
    read_zip,
    rejected_records,
    thumbnail_uri,
    to_csv,
    to_json,
)


def _png(seed: int = 0, size: int = 32) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def detector() -> Detector:
    m = create_model("synthcnn_small")
    return Detector(m, build_checkpoint(m))


@pytest.mark.parametrize(("name", "safe"), [("a.png", "a.png"), ("dir/./b.jpg", "dir/b.jpg"),
                                            ("../evil.png", None), ("a/../../evil.png", None),
                                            ("/etc/passwd", None), ("C:/x.png", None),
                                            ("..\\evil.png", None), ("", None)])
def test_safe_member_name(name: str, safe: str | None) -> None:
    assert (None if unsafe_name_reason(name) else clean_name(name)) == safe


def test_read_zip_filters_and_rejects() -> None:
    data = _zip({"ok/a.png": _png(0), "../evil.png": _png(1), "/abs.png": _png(2),
                 "notes.txt": b"hello", "__MACOSX/ok/._a.png": b"junk", "ok/b.jpg": b"corrupt"})
    intake = read_zip(data)
    names = [n for n, _ in intake.items]
    assert names == ["ok/a.png", "ok/b.jpg"]  # corrupt image is scored later and reported there
    rejected = dict(intake.rejected)
    assert "unsafe path" in rejected["../evil.png"] and "unsafe path" in rejected["/abs.png"]
    assert "not an image" in rejected["notes.txt"]


def test_read_zip_limits() -> None:
    big = b"\x00" * 200_000  # compresses ~1000:1
    intake = read_zip(_zip({"bomb.png": big}))
    assert not intake.items and "compression ratio" in intake.rejected[0][1]
    intake = read_zip(_zip({f"{i}.png": _png(i) for i in range(5)}), max_files=3)
    assert len(intake.items) == 3 and len(intake.rejected) == 2
    intake = read_zip(_zip({"a.png": _png(0)}), max_file_bytes=100)
    assert not intake.items and "limit" in intake.rejected[0][1]


def test_read_zip_not_a_zip() -> None:
    with pytest.raises(TriageError, match="not a valid ZIP"):
        read_zip(b"PK\x03\x04 nope")


def test_read_paths(tmp_path) -> None:
    (tmp_path / "a.PNG").write_bytes(_png(0))
    intake = read_paths([tmp_path / "a.PNG", tmp_path / "nope.png"])
    assert len(intake.items) == 1 and len(intake.rejected) == 1


def test_analyze_images_and_export(detector: Detector) -> None:
    items = [("a.png", _png(0)), ("bad.png", b"not an image"), ("big.png", _png(2, 200))]
    seen: list[float] = []
    opts = AnalysisOptions(threshold=0.0, band_edges=(0.2, 0.8))
    res = analyze(items, detector, opts, names=[n for n, _ in items], progress=seen.append)
    assert res[0].ok and res[0].verdict == "FAKE"  # threshold 0 => everything FAKE
    assert not res[1].ok and "not a recognised image" in res[1].error
    assert res[2].band == "out_of_domain" and res[2].conclusion == "cannot_assess"
    assert seen[-1] == 3
    res_hi = analyze(items[:1], detector, AnalysisOptions(threshold=1.0), names=["a.png"])
    assert res_hi[0].verdict == ("FAKE" if res_hi[0].p_fake >= 1.0 else "REAL")
    with pytest.raises(OptionsError):
        analyze(items[:1], detector, AnalysisOptions(threshold=1.0 + 1e-9))
    records = [r.to_row() for r in res] + rejected_records([("=evil.png", "unsafe")])
    assert set(records[0]) == set(RECORD_FIELDS)
    assert len(records[0]["sha256"]) == 64
    parsed = list(csv.DictReader(io.StringIO(to_csv(records))))
    assert [r["name"] for r in parsed] == ["a.png", "bad.png", "big.png", "'=evil.png"]
    assert parsed[1]["error"] and parsed[2]["domain_reasons"]
    js = json.loads(to_json(records))
    assert js[0]["p_fake"] == records[0]["p_fake"] and isinstance(js[2]["domain_reasons"], list)


def test_thumbnail_uri() -> None:
    uri = thumbnail_uri(Image.new("RGB", (32, 16), (1, 2, 3)), size=64)
    assert uri.startswith("data:image/png;base64,")
    import base64

    img = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert img.size == (64, 32)
