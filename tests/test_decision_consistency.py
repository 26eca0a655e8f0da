"""One decision, every face: at thresholds 0.3 and 0.7 the verdict, the class the explanation
argues for and the printed threshold agree in the CLI, the API, the Analyze and Cases pages, a
case export and the HTML/PDF reports.

The borderline bundled fake (p_fake ~0.36) is FAKE at 0.3 and REAL at 0.7: a face that decided
at another threshold (a detector's, or a hard-coded 0.5) explains or prints the wrong class.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthcheck.analysis import AnalysisOptions, analyze, analyze_one
from synthcheck.bands import decide

ROOT = Path(__file__).resolve().parents[1]
BORDERLINE = ROOT / "synthcheck" / "selfcheck_images" / "FAKE" / "475_2.jpg"
THRESHOLDS = (0.3, 0.7)
EXPECTED = {0.3: "FAKE", 0.7: "REAL"}


@pytest.fixture(scope="module")
def p_fake(default_detector) -> float:
    p = analyze_one(str(BORDERLINE), default_detector).p_fake
    assert 0.3 <= p < 0.7, p  # the image the thresholds decide
    return p


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_api_explains_its_verdict_and_prints_the_threshold(threshold, p_fake, default_detector) -> None:
    from fastapi.testclient import TestClient

    from synthcheck.api.config import Settings
    from synthcheck.api.main import create_app

    with TestClient(create_app(Settings(), detector=default_detector)) as client:
        res = client.post(f"/v1/verify?threshold={threshold}&explain=gradcam",
                          files=[("files", (BORDERLINE.name, BORDERLINE.read_bytes(), "image/jpeg"))])
    assert res.status_code == 200, res.text
    (row,) = res.json()
    assert row["threshold"] == threshold and row["verdict"] == EXPECTED[threshold]
    assert row["explanation"]["target"] == row["verdict"]
    assert row["explanation"]["trust_sentence"].startswith("gradcam ")  # trust beside the map


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_cli_explain_targets_the_verdict(threshold, p_fake, capsys) -> None:
    from synthcheck.cli import main

    assert main(["explain", str(BORDERLINE), "--methods", "gradcam", "--threshold", str(threshold),
                 "--no-metrics", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["threshold"] == threshold and out["verdict"] == EXPECTED[threshold]
    assert out["target"] == out["verdict"]
    assert f"at threshold {threshold:g}" in out["score_label"]


def _pdf_text(pdf: Path) -> str:
    assert shutil.which("pdftotext"), "poppler-utils: scripts/ensure_system.sh installs it"
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_cli_report_html_and_pdf(threshold, p_fake, tmp_path, capsys) -> None:
    from synthcheck.cli import main

    assert main(["report", str(BORDERLINE), "--out", str(tmp_path), "--no-sign", "--control-run",
                 "never", "--methods", "gradcam", "--threshold", str(threshold), "--json"]) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "report.json").read_text())
    im = report["images"][0]
    assert report["settings"]["threshold"] == report["model"]["threshold"] == threshold
    assert im["verdict"]["verdict"] == EXPECTED[threshold] == im["explanations"]["target"]
    assert im["explanations"]["methods"]["gradcam"]["trust"]["sentence"]
    html = (tmp_path / "report.html").read_text()
    assert f"p_fake ≥ {threshold:g} → FAKE" in html and "p_fake ≥ 0.5" not in html
    assert f"for the class {EXPECTED[threshold]}" in html
    pdf = re.sub(r"\s+", " ", _pdf_text(tmp_path / "report.pdf"))
    assert f"p_fake >= {threshold:g} -> FAKE" in pdf and "p_fake >= 0.5 " not in pdf
    assert f"for the class {EXPECTED[threshold]}" in pdf


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_case_export_at_the_stored_threshold(threshold, p_fake, default_detector, tmp_path) -> None:
    from synthcheck.cases import add_images, analyze_case, create_case, export_case

    case = create_case("decision", home=tmp_path)
    add_images(case["id"], [str(BORDERLINE)], home=tmp_path)
    analyze_case(case["id"], default_detector, threshold=threshold, control=False, home=tmp_path)
    exp = export_case(case["id"], tmp_path / "out", default_detector, methods=["gradcam"], home=tmp_path)
    report = json.loads(Path(exp["paths"]["json"]).read_text())
    im = report["images"][0]
    assert report["model"]["threshold"] == im["verdict"]["threshold"] == threshold
    assert im["verdict"]["verdict"] == EXPECTED[threshold] == im["explanations"]["target"]
    html = Path(exp["paths"]["html"]).read_text()
    assert f"p_fake ≥ {threshold:g} → FAKE" in html


def _app(threshold: float):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    at.sidebar.slider(key="threshold").set_value(threshold)
    return at


def _image_captions(at) -> list[str]:
    return [x.caption for i in at.get("image") for x in i.proto.imgs]


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_analyze_page_map_argues_for_its_verdict(threshold, p_fake) -> None:
    at = _app(threshold)
    at.switch_page("pages/analyze.py")
    at.file_uploader(key="analyze_files").set_value(
        [(BORDERLINE.name, BORDERLINE.read_bytes(), "image/jpeg")]).run()
    assert not at.exception
    captions = "\n".join(c.value for c in at.caption)
    assert f"raw call {EXPECTED[threshold]} at threshold {threshold:g}" in captions
    assert f"Grad-CAM: evidence for {EXPECTED[threshold]} (red = strong)" in _image_captions(at)
    assert re.search(r"Grad-CAM (beats|is) [^\n]*random", captions), captions


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(threshold=st.floats(0.0, 1.0), low=st.floats(0.0, 1.0), width=st.floats(0.0, 1.0))
def test_every_threshold_and_band_edges_give_one_decision(default_detector, threshold, low, width) -> None:
    """Over random thresholds and band edges: the verdict is the one rule at the printed
    threshold, the explanation explains it, and the band does not depend on the threshold."""
    high = min(1.0, low + width)
    opts = AnalysisOptions(threshold=threshold, band_edges=(low, high), explain=("gradcam",),
                           with_metrics=False)
    images = [str(BORDERLINE), str(ROOT / "synthcheck" / "selfcheck_images" / "FAKE" / "0_10.jpg")]
    for a in analyze(images, default_detector, opts):
        rec = a.to_record()
        assert rec["threshold"] == threshold and rec["verdict"] == decide(rec["p_fake"], threshold)
        assert a.explanations.target == a.verdict
        assert f"at threshold {threshold:g}" in a.score_label
        plain = analyze_one(a.name, default_detector, AnalysisOptions(band_edges=(low, high)))
        assert (plain.band, plain.conclusion) == (a.band, a.conclusion)
