"""The PDF a court reads: the conclusion on page 1, a readable audit head, no mostly blank page.

Pages are rendered with poppler's ``pdftoppm`` and read with ``pdftotext`` (both required: the
test fails, it is not skipped, where they are missing). Notes of different lengths move every
page break, so a layout that leaves a page mostly blank for some length of the case section
(e.g. a new page forced before each image) is caught.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthcheck.analysis import counts_phrase
from synthcheck.reporting.build import build_report
from synthcheck.reporting.pdf import render_pdf

DPI = 30
MIN_INK = 0.05  # share of non-white pixels of a page that is not the last (text pages: ~0.15)
MIN_REACH = 0.6  # ... and how far down the page its content must reach
HEAD = {"seq": 12, "hash": "ab" * 32}
ANCHOR = {"seq": 12, "hash": "ab" * 32, "anchored_utc": "2025-01-02T03:04:05Z", "session": "analysis",
          "actor": "ana", "signature": {"fingerprint": "cd" * 32, "signed_utc": "2025-01-02T03:04:05Z"}}


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} (poppler-utils) is needed to check the PDF layout"
    return path


@pytest.fixture(scope="module")
def base_report(tiny_detector, tmp_path_factory) -> dict:
    rng = np.random.default_rng(0)
    uploads = []
    for i, side in enumerate((32, 200, 48)):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, "PNG")
        uploads.append((f"img{i}.png", buf.getvalue()))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYNTHCHECK_HOME", str(tmp_path_factory.mktemp("home")))
        return build_report(uploads, tiny_detector, methods=["gradcam"],
                            refused=[{"name": "notes.txt", "source": "upload", "bytes": 12,
                                      "reason": "not an image file type (.txt); skipped.",
                                      "refused_utc": "2025-01-02T03:04:05Z"}])


def with_case(report: dict, n_notes: int) -> dict:
    notes = [{"created_utc": "2025-01-02T03:04:05Z", "actor": "ana",
              "text": f"Note {k}: " + "seen on a social network and reposted many times. " * 4}
             for k in range(n_notes)]
    return {**report, "case": {"id": "C-1", "title": "Harbour fire", "created_utc": "2025-01-01T00:00:00Z",
                               "created_by": "ana", "tags": ["press"], "notes": notes,
                               "audit_head": HEAD, "audit_anchor": ANCHOR}}


def pages(pdf: bytes, tmp_path: Path) -> tuple[list[np.ndarray], str]:
    """(greyscale page pictures, text of page 1)."""
    src = tmp_path / "r.pdf"
    src.write_bytes(pdf)
    subprocess.run([_tool("pdftoppm"), "-r", str(DPI), "-png", str(src), str(tmp_path / "p")],
                   check=True, capture_output=True)
    pics = [np.asarray(Image.open(f).convert("L")) for f in sorted(tmp_path.glob("p-*.png"),
                                                                   key=lambda f: int(f.stem[2:]))]
    text = subprocess.run([_tool("pdftotext"), "-f", "1", "-l", "1", "-layout", str(src), "-"],
                          check=True, capture_output=True, text=True).stdout
    return pics, text


def blank_pages(pics: list[np.ndarray]) -> list[str]:
    """Pages (but the last) whose body is mostly white, with what was measured."""
    out = []
    for i, a in enumerate(pics[:-1], start=1):
        body = a[: int(a.shape[0] * 0.94)] < 240  # the footer line is not content
        rows = np.flatnonzero(body.any(axis=1))
        ink, reach = float(body.mean()), (rows.max() / a.shape[0] if len(rows) else 0.0)
        if ink < MIN_INK or reach < MIN_REACH:
            out.append(f"page {i} of {len(pics)}: ink {ink:.3f}, content ends at {reach:.0%}")
    return out


@pytest.mark.parametrize("n_notes", [0, 3, 6, 9, 12])
def test_no_page_is_mostly_blank_and_page_one_leads_with_the_conclusions(base_report, n_notes,
                                                                         tmp_path) -> None:
    report = with_case(base_report, n_notes)
    pics, text = pages(render_pdf(report), tmp_path)
    assert len(pics) >= 3
    assert blank_pages(pics) == []
    flat = re.sub(r"\s+", " ", text)
    assert counts_phrase(report["summary"]) in flat
    first = report["images"][0]
    assert first["conclusion"]["label"] in flat and first["input"]["path"] in flat
    assert "1 file(s) refused at intake" in flat


def test_audit_head_is_a_table_not_a_python_dict(base_report, tmp_path) -> None:
    pdf = render_pdf(with_case(base_report, 0))
    src = tmp_path / "r.pdf"
    src.write_bytes(pdf)
    text = re.sub(r"\s+", " ", subprocess.run([_tool("pdftotext"), str(src), "-"], check=True,
                                               capture_output=True, text=True).stdout)
    assert "{'seq'" not in text and "'hash':" not in text
    assert "Last entry #12" in text and "ab" * 32 in text
    assert "(the same entry: the head is vouched for)" in text
    assert "cdcd cdcd" in text  # the anchor's signing key, grouped
    late = with_case(base_report, 0)
    late["case"]["audit_head"] = {"seq": 15, "hash": "ef" * 32}
    src.write_bytes(render_pdf(late))
    text = re.sub(r"\s+", " ", subprocess.run([_tool("pdftotext"), str(src), "-"], check=True,
                                               capture_output=True, text=True).stdout)
    assert "the head is 3 entries past it" in text


def test_refused_files_are_listed_with_their_reasons(base_report, tmp_path) -> None:
    src = tmp_path / "r.pdf"
    src.write_bytes(render_pdf(base_report))
    text = re.sub(r"\s+", " ", subprocess.run([_tool("pdftotext"), str(src), "-"], check=True,
                                               capture_output=True, text=True).stdout)
    assert "Files refused at intake" in text and "notes.txt" in text
    assert "not an image file type (.txt); skipped." in text and "12 B" in text


def test_an_image_the_model_cannot_judge_gets_neutral_words_in_both_reports(default_detector,
                                                                           tmp_path) -> None:
    """Cannot assess: a grey score bar and explanations headed as unreliable, never
    "evidence for" a class, in the HTML and the PDF alike."""
    from skimage import data as skdata

    from synthcheck.reporting.html import render_html

    buf = io.BytesIO()
    Image.fromarray(skdata.astronaut()).save(buf, "JPEG", quality=90)
    report = build_report([("astronaut.jpg", buf.getvalue())], default_detector, methods=["gradcam"])
    (entry,) = report["images"]
    assert entry["conclusion"]["conclusion"] == "cannot_assess"
    assert entry["explanations"]["heading"].startswith("Explanations of the model's raw call, unreliable")
    html = render_html(report)
    assert '<div class="scorebar" data-conclusion="cannot_assess"' in html
    assert "unreliable here" in html and "evidence for" not in html
    assert "for the class" not in html
    src = tmp_path / "r.pdf"
    src.write_bytes(render_pdf(report))
    text = re.sub(r"\s+", " ", subprocess.run([_tool("pdftotext"), str(src), "-"], check=True,
                                              capture_output=True, text=True).stdout)
    assert "unreliable here" in text and "evidence for" not in text and "for the class" not in text
