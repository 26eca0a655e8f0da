"""The Compare methods page (AppTest, no browser): a saved explain-eval run rendered as a
leaderboard with intervals and tie groups, an image's maps opened from it under the dashboard's
folder rule, and a run on a server folder that the rule allows (and one it refuses)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from synthcheck.evaluation.explanations import BenchConfig, MetricSettings, evaluate

ROOT = Path(__file__).resolve().parents[1]
CONTROL = ROOT / "synthcheck" / "selfcheck_images"
METHODS = ("gradcam", "gradcam_plus_plus")


@pytest.fixture(autouse=True)
def _no_warmup(monkeypatch) -> None:
    monkeypatch.setenv("SYNTHCHECK_DASHBOARD_WARMUP", "0")


@pytest.fixture
def saved_run(tmp_path: Path, default_detector) -> tuple[dict, Path]:
    """A real explain-eval result over 4 control images copied under ``tmp_path/allowed``."""
    data = tmp_path / "allowed" / "data"
    for label in ("REAL", "FAKE"):
        shutil.copytree(CONTROL / label, data / label)
    cfg = BenchConfig(METHODS, settings=MetricSettings(n_random=4, n_steps=4, road_percentiles=(50,)),
                      sanity_images=0)
    result, _ = evaluate(default_detector, data, cfg, n=4, cache_dir=tmp_path / "cache")
    return json.loads(json.dumps(result)), data


def _page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120).run()
    return at.switch_page("pages/compare.py").run()


def _upload(at: AppTest, result: dict) -> AppTest:
    return at.file_uploader(key="compare_json").set_value(
        ("explain_eval.json", json.dumps(result).encode(), "application/json")).run()


def test_saved_run_leaderboard_tie_groups_and_maps(saved_run, tmp_path: Path, monkeypatch) -> None:
    result, data = saved_run
    monkeypatch.setenv("SYNTHCHECK_SCAN_ROOTS", str(tmp_path / "allowed"))
    at = _upload(_page(), result)
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert sorted(table.index) == sorted(METHODS)
    br = result["methods"][table.index[0]]["beats_random"]
    assert table.iloc[0]["beats_random"].startswith(f"{br['rate']:.3f} [{br['ci95'][0]:.3f}, {br['ci95'][1]:.3f}]")
    tie_text = next(m.value for m in at.markdown if m.value.startswith("- deletion_auc"))
    assert "insertion_auc_logit: {" in tie_text
    assert len(at.get("image")) == 2  # the rates and agreement plots
    # open image 1's maps: input + one overlay per method, towards the run's target for it
    at.selectbox(key="compare_image").set_value(1).run()
    at.toggle(key="compare_show").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    captions = [c for i in at.get("image") for c in i.captions]
    assert captions[-3:] == ["input", *METHODS]
    assert any(f"Explaining {result['images'][1]['verdict']}" in c.value for c in at.caption)


def test_maps_outside_the_folder_rule_are_refused(saved_run, tmp_path: Path, monkeypatch) -> None:
    result, _ = saved_run
    monkeypatch.setenv("SYNTHCHECK_SCAN_ROOTS", str(tmp_path / "elsewhere"))
    monkeypatch.delenv("SYNTHCHECK_DATA", raising=False)
    at = _upload(_page(), result)
    at.toggle(key="compare_show").set_value(True).run()
    assert any("outside the folders this server may read" in e.value for e in at.error)
    bad = at.file_uploader(key="compare_json").set_value(("x.json", b'{"a": 1}', "application/json")).run()
    assert any("not an explain-eval result" in e.value for e in bad.error)


def test_run_on_a_server_folder_under_the_rule(tmp_path: Path, monkeypatch) -> None:
    allowed = tmp_path / "allowed"
    for label in ("REAL", "FAKE"):
        shutil.copytree(CONTROL / label, allowed / "data" / label)
    monkeypatch.setenv("SYNTHCHECK_SCAN_ROOTS", str(allowed))
    monkeypatch.delenv("SYNTHCHECK_DATA", raising=False)
    at = _page()
    at.segmented_control(key="compare_source").set_value("Server folder").run()
    at.text_input(key="compare_folder").set_value(str(tmp_path)).run()  # the parent: outside the roots
    assert any("outside the folders this server may read" in e.value for e in at.error)
    at.text_input(key="compare_folder").set_value(str(allowed / "data")).run()
    at.number_input(key="compare_n").set_value(2)
    at.number_input(key="compare_k").set_value(2)
    at.number_input(key="compare_sanity").set_value(0)
    at.multiselect(key="compare_methods").set_value(list(METHODS))
    at.button(key="compare_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert sorted(at.dataframe[0].value.index) == sorted(METHODS)
    assert any("Leaderboard: 2 images, 2 methods" in s.value for s in at.subheader)
