"""Forensic case report: hashes, sections, reproducibility, HTML self-containment, CLI."""

from __future__ import annotations

import hashlib
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from synthcheck.checkpoint import atomic_torch_save, build_checkpoint
from synthcheck.cli import main as cli_main
from synthcheck.inference import Detector
from synthcheck.models import create_model
from synthcheck.report import build_report, read_exif, render_html, write_html, write_json

FAST = {"gradient_shap": {"n_samples": 8}, "lime": {"num_samples": 64}}
METHODS = ("gradcam", "gradient_shap", "lime")


@pytest.fixture(scope="module")
def detector() -> Detector:
    m = create_model("synthcnn_small")
    return Detector(m, build_checkpoint(m))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("case")
    rng = np.random.default_rng(0)
    jpg = d / "photo.jpg"
    exif = Image.Exif()
    exif[0x010F] = "ACME"  # Make
    exif[0x0110] = "Camera 1"  # Model
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(jpg, quality=85, exif=exif)
    png = d / "render.png"
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(png)
    bad = d / "broken.jpg"
    bad.write_bytes(jpg.read_bytes()[:100])
    return [jpg, png, bad]


@pytest.fixture(scope="module")
def report(files, detector):
    return build_report(files, detector, seed=3, methods=METHODS, explain_options=FAST)


def test_hashes_equal_sha256sum_of_the_files(report, files) -> None:
    for im, path in zip(report["images"][:2], files[:2], strict=True):
        assert im["input"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert im["input"]["bytes"] == path.stat().st_size
    assert report["images"][0]["input"]["format"] == "JPEG"
    assert (report["images"][0]["input"]["width"], report["images"][0]["input"]["height"]) == (64, 48)


def test_every_section_present(report, detector) -> None:
    assert {"report", "settings", "software", "model", "limits", "summary", "images",
            "results_digest"} <= set(report)
    assert report["report"]["created_utc"].endswith("Z")
    assert report["software"]["synthcheck"] and report["software"]["torch"]
    assert report["model"]["name"] == detector.model_name
    assert len(report["limits"]) >= 5 and all(isinstance(s, str) for s in report["limits"])
    assert report["summary"] == {"n_images": 3, "n_analysed": 2, "n_errors": 1,
                                 "n_fake": report["summary"]["n_fake"], "n_real": report["summary"]["n_real"]}
    im = report["images"][0]
    assert im["exif"]["Make"] == "ACME" and im["exif"]["Model"] == "Camera 1"
    assert im["verdict"]["verdict"] in ("REAL", "FAKE") and 0 <= im["verdict"]["p_fake"] <= 1
    assert set(im["explanations"]["methods"]) == set(METHODS)
    for ex in im["explanations"]["methods"].values():
        assert {"deletion_auc", "insertion_auc"} <= set(ex["faithfulness"])
        assert Image.open(io.BytesIO(__import__("base64").b64decode(ex["overlay"]))).format == "PNG"
    assert set(im["forensics"]) == {"ela", "spectrum", "noise"}
    assert "error" in report["images"][2] and "corrupt" in report["images"][2]["error"]


def test_reproducible_with_the_same_seed(report, files, detector) -> None:
    again = build_report(files, detector, seed=3, methods=METHODS, explain_options=FAST)
    assert again["results_digest"] == report["results_digest"]
    strip = lambda r: {k: v for k, v in r.items() if k != "report"}  # noqa: E731 - timestamps aside
    assert json.dumps(strip(again), sort_keys=True) == json.dumps(strip(report), sort_keys=True)


def test_html_is_self_contained(report, tmp_path) -> None:
    html = render_html(report)
    for heading in ("Summary", "Model", "Limits of this analysis", "Software", "EXIF", "Verdict",
                    "Explanations", "Classical forensic views"):
        assert heading in html
    assert report["images"][0]["input"]["sha256"] in html
    assert "data:image/png;base64," in html
    assert not re.search(r"""(src|href)=["'](https?:|//|file:)""", html)  # nothing external
    out = write_html(report, tmp_path / "r.html")
    assert out.read_text(encoding="utf-8") == html
    js = json.loads(write_json(report, tmp_path / "r.json", pictures=False).read_text())
    assert "overlay" not in json.dumps(js) and js["results_digest"] == report["results_digest"]


def test_exif_of_file_without_exif_is_empty() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    assert read_exif(buf.getvalue()) == {}
    assert read_exif(b"not an image") == {}


def test_report_command(files, tmp_path, capsys) -> None:
    m = create_model("synthcnn_small")
    ckpt = tmp_path / "tiny.pt"
    atomic_torch_save(build_checkpoint(m), ckpt)
    out = tmp_path / "out"
    rc = cli_main(["report", str(files[1]), "--out", str(out), "--checkpoint", str(ckpt),
                   "--methods", "gradcam", "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"][0]["sha256"] == hashlib.sha256(files[1].read_bytes()).hexdigest()
    assert (out / "report.html").exists() and (out / "report.json").exists()
    assert cli_main(["report", str(files[2]), "--out", str(out), "--checkpoint", str(ckpt),
                     "--methods", "none"]) == 2
