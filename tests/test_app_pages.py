"""Every dashboard page under ``streamlit.testing.v1.AppTest`` (no browser, no real data).

The app runs against the shipped checkpoint (models/), uploads are generated here with Pillow,
and the Metrics/Explain data folder is a tiny REAL/FAKE tree in a temporary directory.
AppTest resets Streamlit's "pages/ folder" flag before every run, so each rerun here starts
like a fresh server's first deep link and also exercises ``synthcheck.dashboard.app.frame``.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
PAGES = ["pages/analyze.py", "pages/explain.py", "pages/metrics.py", "pages/compare.py", "pages/batch.py", "pages/cases.py",
         "pages/forensics.py", "pages/robustness.py", "pages/model_card.py"]
TIMEOUT = 90


@pytest.fixture(autouse=True)
def _no_warmup(monkeypatch) -> None:
    """No background explanation warm-up thread competing for the 2 cores during tests."""
    monkeypatch.setenv("SYNTHCHECK_DASHBOARD_WARMUP", "0")


def _img(seed: int = 0, size: tuple[int, int] = (32, 32)) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (size[1] // 4 + 1, size[0] // 4 + 1, 3), dtype=np.uint8)
    big = np.kron(base, np.ones((4, 4, 1), np.uint8))[: size[1], : size[0]]
    noise = rng.integers(-12, 12, big.shape)
    return Image.fromarray(np.clip(big.astype(int) + noise, 0, 255).astype(np.uint8))


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


HEADLINES = ("Likely real", "Uncertain", "Likely synthetic", "Cannot assess")


def _verdicts(at: AppTest) -> list[str]:
    """The conclusion headlines on the page (``synthcheck.dashboard.render.headline``), in order."""
    return [h for m in at.markdown if m.value.startswith("### :")
            for h in HEADLINES if m.value.endswith(f"[{h}]")]


def _score_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if "p_fake" in c.value and "raw call" in c.value]


def _gradcam_captions(at: AppTest) -> list[str]:
    return [c for i in at.get("image") for c in i.captions if c.startswith("Grad-CAM")]


@pytest.fixture()
def data_dir(tmp_path, monkeypatch) -> Path:
    """test/{REAL,FAKE} with 6 images each; decoded-cache under tmp."""
    monkeypatch.setenv("SYNTHCHECK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNTHCHECK_SCAN_ROOTS", str(tmp_path))
    root = tmp_path / "data"
    for label, off in (("REAL", 0), ("FAKE", 100)):
        d = root / "test" / label
        d.mkdir(parents=True)
        for i in range(6):
            _img(off + i).save(d / f"{i}.png")
    return root


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(page: str) -> None:
    at = _app().run()
    _no_exception(at)
    at.switch_page(page).run()
    _no_exception(at)
    assert at.sidebar.slider(key="threshold").value == 0.5
    assert not _errors(at)


def test_analyze_all_formats_give_verdicts_and_bad_file_only_fails_itself() -> None:
    img = _img(1)
    files = [("a.jpg", _encode(img, "JPEG", quality=90), "image/jpeg"),
             ("b.png", _encode(img, "PNG"), "image/png"),
             ("c.webp", _encode(img, "WEBP"), "image/webp"),
             ("d.bmp", _encode(img, "BMP"), "image/bmp"),
             ("e.gif", _encode(img.convert("P"), "GIF"), "image/gif"),
             ("f.tiff", _encode(img, "TIFF"), "image/tiff"),
             ("broken.png", _encode(img, "PNG")[:60], "image/png"),
             ("text.jpg", b"this is not an image", "image/jpeg")]
    at = _app().run()
    at.file_uploader(key="analyze_files").set_value(files).run()
    _no_exception(at)
    assert len(_verdicts(at)) == 6
    assert len(_gradcam_captions(at)) == 6  # a broken Grad-CAM shows an error and fails here
    errs = _errors(at)
    assert len(errs) == 2
    assert "truncated or corrupt" in errs[0] or "corrupt" in errs[0]
    assert "not a recognised image" in errs[1]
    text = " ".join(m.value for m in at.markdown)
    assert "SHA-256" in text and "Format** JPEG" in text and "Format** TIFF" in text


def test_corrupt_upload_alone_shows_error_not_exception() -> None:
    at = _app().run()
    at.file_uploader(key="analyze_files").set_value(("x.png", b"\x89PNG\r\n\x1a\nbroken", "image/png")).run()
    _no_exception(at)
    assert len(_errors(at)) == 1 and not _verdicts(at)


def test_threshold_changes_the_verdict() -> None:
    from synthcheck.inference import Detector

    data = _encode(_img(2), "JPEG", quality=75)  # CIFAKE's own compression: in the model's domain
    p = Detector.from_checkpoint().predict([data])[0].p_fake
    below, above = math.floor(p * 100) / 100, math.ceil(p * 100 + 1e-9) / 100
    assert below <= p < above
    at = _app().run()
    at.file_uploader(key="analyze_files").set_value(("x.jpg", data, "image/jpeg"))
    at.sidebar.slider(key="threshold").set_value(below).run()
    headline = _verdicts(at)
    assert len(headline) == 1 and headline != ["Cannot assess"]  # follows the band edges only
    assert [f"raw call FAKE at threshold {below:g}" in c for c in _score_captions(at)] == [True]
    assert _gradcam_captions(at) == ["Grad-CAM: evidence for FAKE (red = strong)"]
    at.sidebar.slider(key="threshold").set_value(above).run()
    _no_exception(at)
    assert _verdicts(at) == headline
    assert [f"raw call REAL at threshold {above:g}" in c for c in _score_captions(at)] == [True]
    assert _gradcam_captions(at) == ["Grad-CAM: evidence for REAL (red = strong)"]


def test_out_of_domain_warning_exif_and_gradcam() -> None:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    big = _encode(_img(3, (400, 300)), "JPEG", exif=exif)
    at = _app().run()
    at.file_uploader(key="analyze_files").set_value(("big.jpg", big, "image/jpeg")).run()
    _no_exception(at)
    assert _verdicts(at) == ["Cannot assess"]  # never a FAKE/REAL headline out of domain
    # the score bar is grey and the map's caption neutral: no "evidence for" a call it cannot make
    bars = [h.proto.body for h in at.get("html") if "sc-score-bar" in h.proto.body]
    assert len(bars) == 1 and 'data-colour="gray"' in bars[0]
    assert _gradcam_captions(at) == ["Grad-CAM of the model's raw call, unreliable here: the model "
                                     "cannot judge this image"]
    assert not at.get("progress")
    warn = " ".join(w.value for w in at.warning)
    assert warn.startswith("The model cannot judge this image.") and "much larger" in warn
    assert any("unreliable for this image" in c for c in _score_captions(at))
    assert any("Out of domain" in m.value for m in at.markdown)
    assert any(j.value == {"Make": "TestCam"} or "TestCam" in str(j.value) for j in at.json)
    assert len(_gradcam_captions(at)) == 1 and not _errors(at)


def test_greyscale_upload_shows_the_known_bias_note_and_colour_does_not() -> None:
    at = _app().run()
    at.file_uploader(key="analyze_files").set_value(
        [("grey.png", _encode(_img(6).convert("L"), "PNG"), "image/png"),
         ("colour.png", _encode(_img(6), "PNG"), "image/png")]).run()
    _no_exception(at)
    notes = [i.value for i in at.info if "Known bias" in i.value]
    assert len(notes) == 1 and "greyscale" in notes[0] and "synthetic images" in notes[0]


def test_large_image_shows_native_tile_grid_and_small_one_does_not() -> None:
    big = _encode(_img(4, (320, 200)), "PNG")
    at = _app().run()
    at.file_uploader(key="analyze_files").set_value(
        [("big.png", big, "image/png"), ("small.png", _encode(_img(5), "PNG"), "image/png")]).run()
    _no_exception(at)
    grids = [e for e in at.expander if e.label.startswith("Tile grid")]
    assert len(grids) == 1 and "6 x 10 patches" in grids[0].label  # 200 x 320 px: 6 x 10 patches
    captions = [c for i in at.get("image") for c in i.captions if "patch taken" in c]
    assert len(captions) == 1 and "Mean" in captions[0]


def test_analyze_shows_provenance_signals_beside_the_verdict() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a harbour on fire\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, "
                                "Model: v1-5-pruned")
    tagged = _encode(_img(6), "PNG", pnginfo=info)
    at = _app().run()
    at.file_uploader(key="analyze_files").set_value(("sd.png", tagged, "image/png")).run()
    _no_exception(at)
    exp = [e for e in at.expander if e.label.startswith("Provenance")]
    assert len(exp) == 1 and "signal" in exp[0].label
    assert len(at.dataframe) >= 1 and "png_text" in at.dataframe[0].value.to_string()


def test_bad_checkpoint_path_shows_error() -> None:
    at = _app().run()
    at.sidebar.selectbox(key="ckpt_choice").set_value("Other path…")
    at.run()
    at.sidebar.text_input(key="ckpt_path").input("/nonexistent/model.pt").run()
    _no_exception(at)
    assert any("Cannot load the checkpoint" in e for e in _errors(at))


def test_switching_pages_does_not_reload_the_model() -> None:
    import sys

    at = _app().run()
    first = [c.value for c in at.sidebar.caption if "load #" in c.value]
    ui = sys.modules["synthcheck.dashboard.model"]
    loads = ui.LOAD_COUNT[0]
    no_model = {"pages/compare.py"}  # a saved run (its default source) needs no model
    for page in PAGES + PAGES:
        at.switch_page(page).run()
        _no_exception(at)
        shown = [c.value for c in at.sidebar.caption if "load #" in c.value]
        assert shown == ([] if page in no_model else first), page
    assert first and ui.LOAD_COUNT[0] == loads  # st.cache_resource: one load for everything


def test_explain_upload_runs_all_three_methods() -> None:
    at = _app().run()
    at.switch_page("pages/explain.py")
    at.session_state["explain_shap_n"] = 8
    at.session_state["explain_lime_n"] = 64
    at.run()
    at.file_uploader(key="explain_file").set_value(("x.png", _encode(_img(4), "PNG"), "image/png")).run()
    _no_exception(at)
    assert not _errors(at)
    frames = at.dataframe
    assert frames and set(frames[0].value.index) == {"gradcam", "gradient_shap", "lime"}
    assert frames[0].value["deletion AUC ↓"].notna().all()
    at.selectbox(key="explain_target").set_value("REAL").run()
    _no_exception(at)
    assert any("explaining **REAL**" in m.value for m in at.markdown)


def test_explain_corrupt_upload_and_data_folder(data_dir: Path) -> None:
    at = _app().run()
    at.switch_page("pages/explain.py").run()
    at.file_uploader(key="explain_file").set_value(("x.png", b"nope", "image/png")).run()
    _no_exception(at)
    assert any("Cannot analyse" in e for e in _errors(at))
    at.session_state["explain_source"] = "From a data folder"
    at.session_state["explain_lime_n"] = 64
    at.session_state["explain_shap_n"] = 8
    at.session_state["explain_methods"] = ["gradcam", "gradient_shap"]
    at.session_state["explain_data"] = str(data_dir)
    at.run()
    _no_exception(at)
    assert not _errors(at)
    assert any("1 of 6" in c.value for c in at.caption)


def test_metrics_on_a_data_folder_and_threshold_slider(data_dir: Path) -> None:
    at = _app().run()
    at.switch_page("pages/metrics.py").run()
    at.text_input(key="metrics_data").input(str(data_dir)).run()
    _no_exception(at)
    assert not _errors(at)
    labels = {m.label: m.value for m in at.metric}
    assert {"Accuracy", "Precision (FAKE)", "Recall (FAKE)", "F1 (FAKE)", "ROC-AUC"} <= set(labels)
    assert any("12 of 12 images" in c.value for c in at.caption)
    at.slider(key="metrics_threshold").set_value(0.0).run()  # everything FAKE
    assert {m.label: m.value for m in at.metric}["Accuracy"] == "0.500"
    assert {m.label: m.value for m in at.metric}["Recall (FAKE)"] == "1.000"
    at.selectbox(key="metrics_cell").set_value("FP").run()
    _no_exception(at)
    assert len(at.get("image")) == 6  # the 6 REAL images judged FAKE


def test_metrics_refuses_a_folder_the_policy_does_not_allow(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SYNTHCHECK_SCAN_ROOTS", raising=False)
    monkeypatch.delenv("SYNTHCHECK_DATA", raising=False)
    at = _app().run()
    at.switch_page("pages/metrics.py").run()
    at.text_input(key="metrics_data").input(str(tmp_path)).run()
    _no_exception(at)
    assert any("Reading folders on the server is off" in e and "SYNTHCHECK_SCAN_ROOTS" in e
               and "SYNTHCHECK_DATA" in e for e in _errors(at))
    monkeypatch.setenv("SYNTHCHECK_SCAN_ROOTS", str(tmp_path / "allowed"))
    at.text_input(key="metrics_data").input(str(tmp_path / "other")).run()
    assert any("outside the folders this server may read" in e and "SYNTHCHECK_SCAN_ROOTS" in e
               for e in _errors(at))
    at.text_input(key="metrics_data").input(str(tmp_path / "allowed" / "missing")).run()
    _no_exception(at)
    assert any("is not a folder" in e for e in _errors(at))


def test_robustness_refuses_a_folder_the_policy_does_not_allow(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHCHECK_SCAN_ROOTS", str(tmp_path / "allowed"))
    monkeypatch.delenv("SYNTHCHECK_DATA", raising=False)
    at = _app().run()
    at.switch_page("pages/robustness.py").run()
    at.text_input(key="robust_data").input(str(tmp_path / "other"))
    at.button(key="robust_run").click().run()
    _no_exception(at)
    assert any("outside the folders this server may read" in e and "SYNTHCHECK_SCAN_ROOTS" in e
               for e in _errors(at))


def test_explain_refuses_a_data_folder_the_policy_does_not_allow(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("SYNTHCHECK_SCAN_ROOTS", raising=False)
    monkeypatch.delenv("SYNTHCHECK_DATA", raising=False)
    at = _app().run()
    at.switch_page("pages/explain.py")
    at.session_state["explain_source"] = "From a data folder"
    at.session_state["explain_data"] = str(tmp_path)
    at.run()
    _no_exception(at)
    assert any("Reading folders on the server is off" in e and "SYNTHCHECK_SCAN_ROOTS" in e
               for e in _errors(at))


def test_model_card_shows_metadata() -> None:
    at = _app().run()
    at.switch_page("pages/model_card.py").run()
    _no_exception(at)
    text = " ".join(m.value for m in at.markdown)
    assert "Stable Diffusion 1.4" in text and "CIFAKE" in text
    assert at.dataframe and "Test, full split" in list(at.dataframe[0].value.index)
