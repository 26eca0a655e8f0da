"""The dashboard's batch job registry and Cases workflow, without Streamlit."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from synthcheck import cases
from synthcheck.dashboard import cases as workflow
from synthcheck.dashboard.jobs import JobRegistry
from synthcheck.inference import default_checkpoint
from synthcheck.scan import DetectorSpec
from synthcheck.scan.background import results_path_for, scan_command
from tests.conftest import random_png as png


def test_scan_command_is_the_cli_with_the_specs_settings(tmp_path: Path) -> None:
    spec = DetectorSpec("/m.pt", threshold=0.7, options={"band_edges": (0.2, 0.8), "tiles": True})
    cmd = scan_command(tmp_path, spec, tmp_path / "o.parquet", workers=2, chunk_size=64)
    assert cmd[1:4] == ["-m", "synthcheck", "scan"] and "--progress-jsonl" in cmd
    at = cmd.index("--band-edges")
    assert cmd[at + 1:at + 3] == ["0.2", "0.8"] and "--tiles" in cmd
    assert cmd[cmd.index("--threshold") + 1] == "0.7" and cmd[cmd.index("--workers") + 1] == "2"
    assert cmd[cmd.index("--chunk-size") + 1] == "64"


def test_registry_runs_one_scan_per_results_file_and_keeps_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHCHECK_HOME", str(tmp_path / "home"))
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(6):
        (folder / f"{i}.png").write_bytes(png(i))
    (folder / "broken.png").write_bytes(b"not an image")
    spec = DetectorSpec(str(default_checkpoint()))
    reg = JobRegistry()
    job = reg.start(folder, spec, workers=1)
    assert reg.start(folder, spec, workers=1) is job  # a second ask joins the running scan
    assert reg.get(results_path_for(folder, spec)) is job
    deadline = time.monotonic() + 120
    while job.running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not job.running and job.error is None, job.error
    assert job.total == 7 and job.done == 7 and job.fraction == 1.0
    assert job.summary["counts"]["n_errors"] == 1 and job.summary["n_new"] == 7
    s = job.status()
    assert s["done"] == 7 and s["rate"] > 0 and s["eta_s"] == 0
    again = reg.start(folder, spec, workers=1)  # finished: a new ask starts a new (resumed) scan
    assert again is not job
    while again.running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert again.summary["n_skipped"] == 7 and again.summary["n_new"] == 0


def test_a_scan_that_cannot_start_reports_one_sentence(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHCHECK_HOME", str(tmp_path / "home"))
    (tmp_path / "imgs").mkdir()
    job = JobRegistry().start(tmp_path / "imgs", DetectorSpec(str(tmp_path / "missing.pt")))
    deadline = time.monotonic() + 60
    while job.running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.error and "missing.pt" in job.error and "\n" not in job.error


def test_entry_summary_and_tags_are_words() -> None:
    assert workflow.entry_summary({"name": "a.png", "conclusion": "cannot_assess", "p_fake": 0.91234,
                                   "ok": False, "other": 1}) == \
        "file: a.png; conclusion: Cannot assess; model score: 0.912; result: failed"
    assert workflow.entry_summary({}) == ""
    assert workflow.parse_tags(" web, ,urgent,") == ["web", "urgent"]


def test_differences_and_stored_options() -> None:
    live = {"conclusion": "uncertain", "verdict": "FAKE", "p_fake": 0.5, "band": "uncertain"}
    assert workflow.differences(live, dict(live)) == []
    assert workflow.differences(live, {**live, "p_fake": 0.6, "verdict": "REAL"}) == ["raw call", "model score"]
    opts = workflow.stored_options({"threshold": 0.7}, (0.1, 0.9))
    assert opts.threshold == 0.7 and opts.band_edges == (0.1, 0.9) and not opts.tiles


def test_case_rows_have_labels_and_no_none(home, default_detector) -> None:
    c = cases.create_case("Rows")
    cases.add_images(c["id"], [("a.png", png(1)), ("b.png", b"junk")])
    case = cases.get_case(c["id"])
    rows = workflow.result_rows(case)
    assert rows[0]["Conclusion"] == "Not analysed" and "None" not in json.dumps(rows)
    cases.analyze_case(c["id"], default_detector, control=False)
    case = cases.get_case(c["id"])
    (row,) = workflow.result_rows(case)
    assert row["Conclusion"] in {"Likely real", "Uncertain", "Likely synthetic", "Cannot assess"}
    assert row["Raw call"] in {"REAL", "FAKE"} and 0 <= row["Model score"] <= 1
    (refused,) = workflow.refused_rows(case)
    assert refused["File"] == "b.png" and refused["Why it was refused"]
    timeline = workflow.timeline_rows(cases.audit_entries(c["id"]))
    assert timeline[0]["#"] > timeline[-1]["#"] and "image added" in {t["Action"] for t in timeline}
    assert not any("=" in t["Details"] for t in timeline)
    facts = dict((label, value) for label, value, _ in workflow.header_facts(case))
    assert facts["Images"] == 1 and facts["Refused"] == 1 and facts["Control run"] == "none yet"


def test_export_inputs_change_with_the_evidence_not_with_a_verification(home) -> None:
    c = cases.create_case("Export")
    cases.add_images(c["id"], [("a.png", png(1))])
    before = workflow.export_inputs(cases.get_case(c["id"]))
    cases.verify_case(c["id"])
    assert workflow.export_inputs(cases.get_case(c["id"])) == before
    cases.add_images(c["id"], [("b.png", png(2))])
    assert workflow.export_inputs(cases.get_case(c["id"])) != before


def test_check_uploads_needs_exactly_one_report() -> None:
    res = workflow.check_uploads([("a.png", png(1))])
    assert res["status"] == "unreadable" and "no .json file" in res["summary"]
    res = workflow.check_uploads([("r.json", b"{}"), ("s.json", b"{}")])
    assert "2 .json files" in res["summary"]
    res = workflow.check_uploads([("r.json", b"[not json")])
    assert res["status"] == "unreadable" and res["rows"] == []


@pytest.mark.parametrize("bad", [b"", b"{"])
def test_a_broken_report_is_unreadable_not_an_exception(bad: bytes) -> None:
    assert workflow.check_report("report.json", bad, [])["status"] == "unreadable"
