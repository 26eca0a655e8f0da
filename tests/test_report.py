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
from synthcheck.metadata import read_exif
from synthcheck.models import create_model
from synthcheck.reporting.build import build_report, write_json
from synthcheck.reporting.html import render_html, write_html

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
def report(files, detector, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # no control run on record in a fresh home
        mp.setenv("SYNTHCHECK_HOME", str(tmp_path_factory.mktemp("home")))
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
    summ = report["summary"]
    assert {k: summ[k] for k in ("n_images", "n_analysed", "n_errors")} == {
        "n_images": 3, "n_analysed": 2, "n_errors": 1}
    by_conclusion = [im["conclusion"]["conclusion"] for im in report["images"][:2]]
    for c in ("likely_real", "uncertain", "likely_synthetic", "cannot_assess"):
        assert summ[f"n_{c}"] == by_conclusion.count(c)  # cannot-assess counted on its own
    assert "n_fake" not in summ and "n_real" not in summ
    im = report["images"][0]
    assert im["exif"]["Make"] == "ACME" and im["exif"]["Model"] == "Camera 1"
    assert im["verdict"]["verdict"] in ("REAL", "FAKE") and 0 <= im["verdict"]["p_fake"] <= 1
    assert set(im["explanations"]["methods"]) == set(METHODS)
    for ex in im["explanations"]["methods"].values():
        assert {"deletion_auc", "insertion_auc"} <= set(ex["faithfulness"])
        assert Image.open(io.BytesIO(__import__("base64").b64decode(ex["overlay"]))).format == "PNG"
    assert {"ela", "spectrum", "noise"} <= set(im["forensics"])  # (and any views added since)
    assert "error" in report["images"][2] and "corrupt" in report["images"][2]["error"]


def test_reproducible_with_the_same_seed(report, files, detector, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SYNTHCHECK_HOME", str(tmp_path))
    again = build_report(files, detector, seed=3, methods=METHODS, explain_options=FAST)
    assert again["results_digest"] == report["results_digest"]
    strip = lambda r: {k: v for k, v in r.items() if k != "report"}  # noqa: E731 - timestamps aside
    assert json.dumps(strip(again), sort_keys=True) == json.dumps(strip(report), sort_keys=True)


def test_html_is_self_contained(report, tmp_path) -> None:
    html = render_html(report)
    for heading in ("Summary", "Model", "Limits of this analysis", "Software", "EXIF", "Conclusion",
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
    assert set(read_exif(b"not an image")) == {"_error"}  # the one EXIF reader never raises


def test_report_command(files, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHCHECK_HOME", str(tmp_path / "home"))
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


def test_provenance_tiles_and_control_run_sections(report, files) -> None:
    photo, small = report["images"][0], report["images"][1]
    assert photo["tiles"]["rows"] == 1 and photo["tiles"]["cols"] == 2  # 64x48: two 32-px patches
    assert small["tiles"] is None  # a 32x32 image is one patch: no grid
    from synthcheck.provenance import read_provenance

    for im, path in ((photo, files[0]), (small, files[1])):
        assert im["provenance"]["signals"] == read_provenance(path.read_bytes(), name=str(path)).signals
        assert im["provenance"]["summary"] == im["record"]["provenance_summary"]
        assert isinstance(im["provenance"]["signals"], list) and im["provenance"]["summary"]
    assert "provenance" not in report["images"][2]  # unreadable file: error entry only
    assert report["control_run"]["status"] == "none" and not report["control_run"]["current"]
    html = render_html(report)
    for text in ("Control run", "No control run on record", "Provenance signals", 'class="tiles"',
                 "Tile grid"):
        assert text in html
    case_html = render_html({**report, "case": {"id": "C-9", "title": "Dock <photos>", "tags": ["x"],
                                                "notes": [{"actor": "ana", "text": "n1"}]}})
    assert "C-9: Dock &lt;photos&gt;" in case_html and "ana: n1" in case_html


def test_signed_report_and_verify_end_to_end(files, tmp_path, capsys, monkeypatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SYNTHCHECK_HOME", str(home))
    m = create_model("synthcnn_small")
    ckpt = tmp_path / "tiny.pt"
    atomic_torch_save(build_checkpoint(m), ckpt)
    out, imgs = tmp_path / "out", tmp_path / "evidence"
    imgs.mkdir()
    for f in files[:2]:
        (imgs / f"copy-of-{f.name}").write_bytes(f.read_bytes())
    rc = cli_main(["report", str(files[0]), str(files[1]), "--out", str(out), "--checkpoint", str(ckpt),
                   "--methods", "none", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0 and summary["signed"] and len(summary["fingerprint"]) == 64
    assert summary["control_run"]["status"] == "failed"  # auto control run: untrained model, no figures
    assert (home / "keys").is_dir() and (home / "selfcheck" / "latest.json").is_file()
    js = out / "report.json"
    signed = json.loads(js.read_text(encoding="utf-8"))
    assert signed["signature"]["fingerprint"] == summary["fingerprint"]
    assert signed["control_run"]["status"] == "failed"
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert hashlib.sha256(js.read_bytes()).hexdigest() in html and "Signed report" in html

    fp = summary["fingerprint"]
    assert cli_main(["report", "verify", str(js)]) == 3  # signature valid, images not given
    assert capsys.readouterr().out.startswith("INCOMPLETE")
    assert cli_main(["report", "verify", str(js), "--images", str(imgs), "--fingerprint", fp, "--json"]) == 0
    check = json.loads(capsys.readouterr().out)
    assert check["status"] == "verified" and [r["status"] for r in check["images"]] == ["match", "match"]
    assert cli_main(["report", "verify", str(js), "--fingerprint", "ab" * 32]) == 1
    assert "not by the trusted key" in capsys.readouterr().out
    (imgs / f"copy-of-{files[1].name}").unlink()
    assert cli_main(["report", "verify", str(js), "--images", str(imgs)]) == 3  # a subset: incomplete
    assert "1 of 2 images checked and match; 1 not supplied" in capsys.readouterr().out

    raw = js.read_bytes()
    js.write_bytes(raw.replace(b'"n_images": 2', b'"n_images": 3', 1))
    assert cli_main(["report", "verify", str(js)]) == 1  # failed outranks the images not given
    assert "changed after signing" in capsys.readouterr().out
    js.write_bytes(raw[:-40])
    assert cli_main(["report", "verify", str(js)]) == 2
    assert "not a JSON report" in capsys.readouterr().err
    assert cli_main(["report", "verify", str(tmp_path / "missing.json")]) == 2
    assert cli_main(["report", "verify"]) == 2
    assert cli_main(["report", str(files[1]), "--out", str(out), "--images", str(imgs)]) == 2

    assert cli_main(["report", str(files[1]), "--out", str(tmp_path / "plain"), "--checkpoint", str(ckpt),
                     "--methods", "none", "--no-sign", "--control-run", "never"]) == 0
    capsys.readouterr()
    assert cli_main(["report", "verify", str(tmp_path / "plain" / "report.json")]) == 1
    assert "not signed" in capsys.readouterr().out
