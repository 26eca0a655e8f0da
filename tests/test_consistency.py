"""One analysis, every face: the same images at a non-default threshold give the same conclusion,
raw verdict, p_fake and band in the CLI JSON, the API, the Analyze, Batch and Forensics pages, a
case analysis and the signed case report.

The images: an in-domain CIFAKE photo and fake (the control-run images shipped in the package),
a borderline fake whose raw call the threshold decides, a full-size photograph (scikit-image's
astronaut, out of domain) and a greyscale CIFAKE-like
photo (in domain, with the greyscale advisory).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image
from skimage import data as skdata

from synthcheck.analysis import AnalysisOptions, records

THRESHOLD = 0.3  # not the checkpoint's 0.5: every face must apply the one it is given
ROOT = Path(__file__).resolve().parents[1]
SELF = ROOT / "synthcheck" / "selfcheck_images"
LABEL_TO_ID = {"Likely real": "likely_real", "Uncertain": "uncertain",
               "Likely synthetic": "likely_synthetic", "Cannot assess": "cannot_assess"}
BAND_LABEL_TO_ID = {"Likely real": "likely_real", "Uncertain": "uncertain",
                    "Likely synthetic": "likely_synthetic", "Out of domain": "out_of_domain"}


def _jpeg(img: Image.Image, quality: int = 75) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[tuple[str, bytes]]:
    real = sorted((SELF / "REAL").glob("*.jpg"))[0].read_bytes()
    fake = (SELF / "FAKE" / "0_10.jpg").read_bytes()
    borderline = (SELF / "FAKE" / "475_2.jpg").read_bytes()  # p_fake ~0.36: the threshold decides
    photo = _jpeg(Image.fromarray(skdata.astronaut()), quality=90)
    grey_src = Image.open(sorted((SELF / "REAL").glob("*.jpg"))[1]).convert("L").convert("RGB")
    grey = _jpeg(grey_src)
    return [("real.jpg", real), ("fake.jpg", fake), ("borderline.jpg", borderline), ("photo.jpg", photo),
            ("grey.jpg", grey)]


@pytest.fixture(scope="module")
def files(images, tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("consistency")
    out = []
    for name, data in images:
        (d / name).write_bytes(data)
        out.append(d / name)
    return out


@pytest.fixture(scope="module")
def expected(images, default_detector) -> list[dict]:
    recs = records(images, default_detector, AnalysisOptions(threshold=THRESHOLD),
                   names=[n for n, _ in images])
    by = {r["path"]: r for r in recs}
    # the set covers what the consistency must hold for
    assert by["photo.jpg"]["conclusion"] == "cannot_assess" and by["photo.jpg"]["band"] == "out_of_domain"
    assert by["real.jpg"]["in_domain"] and by["fake.jpg"]["in_domain"] and by["grey.jpg"]["in_domain"]
    assert by["grey.jpg"]["advisories"], "the greyscale image should carry the greyscale note"
    assert by["real.jpg"]["conclusion"] != by["fake.jpg"]["conclusion"]
    assert all(r["threshold"] == THRESHOLD for r in recs)
    # a face that ignored the threshold it was given (0.5 instead of 0.3) would call this REAL
    assert THRESHOLD <= by["borderline.jpg"]["p_fake"] < 0.5 and by["borderline.jpg"]["verdict"] == "FAKE"
    return recs


def _key(rec: dict, digits: int = 5) -> tuple:
    return rec["conclusion"], rec["verdict"], round(rec["p_fake"], digits), rec["band"]


def _keys(recs: list[dict], digits: int = 5) -> list[tuple]:
    return [_key(r, digits) for r in recs]


def test_cli_json(files, expected, capsys) -> None:
    from synthcheck.cli import main

    rc = main(["predict", *map(str, files), "--json", "--threshold", str(THRESHOLD)])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    # the CLI may take the ONNX twin of the checkpoint: same arithmetic to ~1e-6
    assert _keys(out, 4) == _keys(expected, 4)
    assert [r["advisories"] for r in out] == [r["advisories"] for r in expected]


def test_api(images, expected, default_detector) -> None:
    from fastapi.testclient import TestClient

    from synthcheck.api.config import Settings
    from synthcheck.api.main import create_app

    with TestClient(create_app(Settings(), detector=default_detector)) as client:
        res = client.post(f"/v1/verify?threshold={THRESHOLD}",
                          files=[("files", (n, d, "image/jpeg")) for n, d in images])
    assert res.status_code == 200, res.text
    got = res.json()
    assert _keys(got) == _keys(expected)
    assert [r["conclusion_reason"] for r in got] == [r["conclusion_reason"] for r in expected]


def _app():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    at.sidebar.slider(key="threshold").set_value(THRESHOLD)
    return at


def _page_keys(at) -> list[tuple]:
    """(conclusion, raw call, p_fake to 3 places, band) per analysed image on a page."""
    heads = [LABEL_TO_ID[m.value.split("[", 1)[1].rstrip("]")] for m in at.markdown
             if m.value.startswith("### :")]
    scores = [re.search(r"p_fake ([0-9.]+) \((?:calibrated; )?raw call (REAL|FAKE) at threshold ([0-9.]+)",
                        c.value) for c in at.caption]
    scores = [s for s in scores if s]
    assert all(float(s.group(3)) == THRESHOLD for s in scores)
    bands = [BAND_LABEL_TO_ID[m.group(1)] for m in
             (re.search(r"\*\*Band\*\* (.+)$", md.value) for md in at.markdown) if m]
    return [(h, s.group(2), float(s.group(1)), b) for h, s, b in zip(heads, scores, bands, strict=True)] \
        if bands else [(h, s.group(2), float(s.group(1))) for h, s in zip(heads, scores, strict=True)]


def test_analyze_page(images, expected) -> None:
    at = _app()
    at.switch_page("pages/analyze.py")
    at.file_uploader(key="analyze_files").set_value([(n, d, "image/jpeg") for n, d in images]).run()
    assert not at.exception
    assert _page_keys(at) == _keys(expected, 3)


def test_batch_page(images, expected) -> None:
    at = _app()
    at.switch_page("pages/batch.py").run()
    at.file_uploader(key="batch_files").set_value([(n, d, "image/jpeg") for n, d in images]).run()
    assert not at.exception
    df = at.dataframe[0].value.set_index("name")
    got = [(LABEL_TO_ID[df.loc[r["path"], "conclusion_label"]], df.loc[r["path"], "verdict"],
            round(float(df.loc[r["path"], "p_fake"]), 5), BAND_LABEL_TO_ID[df.loc[r["path"], "band_label"]])
           for r in expected]
    assert got == _keys(expected)


def test_forensics_page(images, expected) -> None:
    at = _app()
    at.switch_page("pages/forensics.py").run()
    for (name, data), rec in zip(images, expected, strict=True):
        at.file_uploader(key="forensics_file").set_value((name, data, "image/jpeg")).run()
        assert not at.exception
        assert _page_keys(at) == [_key(rec, 3)[:3]]


def test_case_analysis_and_signed_report(files, expected, default_detector, tmp_path) -> None:
    from synthcheck.cases import add_images, analyze_case, create_case, export_case
    from synthcheck.reporting.signing import verify_report

    case = create_case("consistency", home=tmp_path)
    add_images(case["id"], [str(f) for f in files], home=tmp_path)
    res = analyze_case(case["id"], default_detector, threshold=THRESHOLD, control=False, home=tmp_path)
    by_sha = {r["sha256"]: r for r in res["records"]}
    want = {r["sha256"]: _key(r) for r in expected}
    assert {sha: _key(r) for sha, r in by_sha.items()} == want
    assert res["n_cannot_assess"] == 1 and res["n_analysed"] == 5

    exp = export_case(case["id"], tmp_path / "out", default_detector, methods=[], home=tmp_path)
    report = json.loads(Path(exp["paths"]["json"]).read_text())
    assert verify_report(Path(exp["paths"]["json"])).status == "incomplete"  # (no images given)
    assert {im["input"]["sha256"]: _key(im["record"]) for im in report["images"]} == want
    assert {im["input"]["sha256"]: im["conclusion"]["conclusion"] for im in report["images"]} == {
        sha: k[0] for sha, k in want.items()}
    assert report["summary"]["n_cannot_assess"] == 1


def test_faithfulness_figures_are_the_same_in_the_cli_and_the_report(files, default_detector, capsys) -> None:
    """Same image, same seed: the CLI's `explain` and the case report give the same numbers."""
    from synthcheck.cli import main
    from synthcheck.reporting.build import build_report

    path = str(files[1])
    assert main(["explain", path, "--methods", "gradcam,lime", "--seed", "7", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    cli = (out[0] if isinstance(out, list) else out)["methods"]  # one input: one object
    report = build_report([path], default_detector, seed=7, methods=["gradcam", "lime"])
    rep = report["images"][0]["explanations"]["methods"]
    keys = ("deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc")
    for method in ("gradcam", "lime"):
        assert {k: round(cli[method][k], 5) for k in keys} == \
            {k: round(rep[method]["faithfulness"][k], 5) for k in keys}, method
