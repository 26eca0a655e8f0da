"""The Explain page with all five methods, and the Metrics cell picker (AppTest, no browser).

Explain: every map gets a colour bar and a verdict badge, each method's faithfulness sentence
is the package's own wording, the curves come as one chart per method, and the agreement is
put in words. Metrics: the picker's label carries the real cell counts after the threshold moves.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from synthcheck.explain.metrics.verdicts import CALLS, UNTRUSTED

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["gradcam", "guided_gradcam", "gradient_shap", "kernel_shap", "lime"]


@pytest.fixture(autouse=True)
def _no_warmup(monkeypatch) -> None:
    monkeypatch.setenv("SYNTHCHECK_DASHBOARD_WARMUP", "0")


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    arr = np.kron(rng.integers(30, 220, (8, 8, 3), dtype=np.uint8), np.ones((4, 4, 1), np.uint8))
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=75)
    return buf.getvalue()


def test_explain_five_methods_with_colour_bars_sentences_and_curves() -> None:

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    at.switch_page("pages/explain.py")
    at.session_state["explain_shap_n"] = 8
    at.session_state["explain_lime_n"] = 64
    at.session_state["explain_methods"] = METHODS
    at.run()
    at.file_uploader(key="explain_file").set_value(("x.jpg", _jpeg(1), "image/jpeg")).run()
    assert not at.exception, [e.value for e in at.exception]
    images = at.get("image")
    captions = [c for i in images for c in i.captions]
    assert [m for m in METHODS if any(c.startswith(f"{m} ·") for c in captions)] == METHODS
    assert len(images) == 1 + 2 * len(METHODS)  # the input, then each map and its colour bar
    table = at.dataframe[0].value
    assert list(table.index) == METHODS and set(table["against random"]) <= set(CALLS.values())
    bullets = next(m.value for m in at.markdown if m.value.startswith("- gradcam"))
    lines = bullets.splitlines()
    for m in METHODS:  # the page's sentences are the package's: the call and figures of the table
        row = table.loc[m]
        line = next(x for x in lines if x.startswith(f"- {m} "))
        assert f"deletion AUC {row['deletion, log-odds ↓']:.2f} in log-odds" in line
        assert f"insertion AUC {row['insertion, log-odds ↑']:.2f} in log-odds" in line
        call = next(k for k, v in CALLS.items() if v == row["against random"])
        assert line.startswith(f"- {m} beats random: ") == (call == "beats_random")
        assert (UNTRUSTED in line or "should not be trusted" in line) == (
            call in ("worse_than_random", "mixed"))
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert len(badges) == len(METHODS)
    charts = at.get("plotly_chart")
    assert len(charts) == len(METHODS) + 2  # one curves chart per method, two agreement maps
    assert any(m.value.startswith("The methods agree at") for m in at.markdown)
    assert any(m.value.startswith("### :") for m in at.markdown)  # the conclusion headline


def test_metrics_cell_picker_counts_follow_the_threshold(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHCHECK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNTHCHECK_SCAN_ROOTS", str(tmp_path))  # the dashboard reads only under its roots
    for label, off in (("REAL", 0), ("FAKE", 100)):
        d = tmp_path / "data" / "test" / label
        d.mkdir(parents=True)
        for i in range(5):
            (d / f"{i}.jpg").write_bytes(_jpeg(off + i))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    at.switch_page("pages/metrics.py").run()
    at.text_input(key="metrics_data").input(str(tmp_path / "data")).run()
    at.slider(key="metrics_threshold").set_value(0.0).run()  # everything FAKE: FP 5, TP 5
    box = at.selectbox(key="metrics_cell")
    assert box.label == "Show the images in cell (TN 0 · FP 5 · FN 0 · TP 5)"
    assert not any(ch.isdigit() for o in box.options for ch in o)  # no counts in the options
    at.slider(key="metrics_threshold").set_value(0.99).run()
    label = at.selectbox(key="metrics_cell").label
    counts = dict(part.split() for part in label[label.index("(") + 1:-1].split(" · "))
    assert sum(map(int, counts.values())) == 10 and int(counts["FN"]) > 0
    for cell in ("FN", "TN"):  # each cell's gallery holds as many images as its label says
        at.selectbox(key="metrics_cell").set_value(cell).run()
        n = int(counts[cell])
        assert len(at.get("image")) == min(n, 40)
        assert (any(c.value.startswith(f"{n} images in {cell}") for c in at.caption) if n
                else any(i.value == "No images in this cell." for i in at.info))
