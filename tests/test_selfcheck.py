"""Control run: bundled known-truth set, binomial pass mark, pass/fail, saved runs, report section, CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from synthcheck.bands import DEFAULT_THRESHOLD, decide
from synthcheck.checkpoint import atomic_torch_save, build_checkpoint
from synthcheck.cli import main as cli_main
from synthcheck.evaluation.selfcheck import (
    SELFCHECK_DIR,
    allowed_errors,
    binomial_tail,
    control_run_section,
    latest_selfcheck,
    load_manifest,
    run_selfcheck,
)
from synthcheck.inference import Detector
from synthcheck.models import create_model

from .conftest import DEFAULT_CHECKPOINT


def test_bundled_set_matches_its_manifest() -> None:
    manifest = load_manifest()
    images = manifest["images"]
    assert len(images) == 48 and sum(i["label"] == "REAL" for i in images) == 24
    assert len({i["source"] for i in images}) == 48 and len({i["sha256"] for i in images}) == 48
    for item in images:
        data = (SELFCHECK_DIR / item["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == item["sha256"]
        assert item["file"].startswith(item["label"] + "/") and item["source"].startswith("test/" + item["label"])
        assert data[:2] == b"\xff\xd8" and len(data) < 8200  # small CIFAKE JPEGs
    assert (SELFCHECK_DIR / "README.md").read_text().count("MIT") >= 1


def test_binomial_pass_mark() -> None:
    k = allowed_errors(48, 0.978)
    assert k == 5  # 43/48 = 89.6% still passes a model recorded at 97.8%
    assert binomial_tail(48, 0.022, k) <= 0.001 < binomial_tail(48, 0.022, k - 1)
    assert allowed_errors(48, 1.0) == 0 and allowed_errors(48, 0.5) > 24
    assert binomial_tail(4, 0.5, -1) == pytest.approx(1.0) and binomial_tail(4, 0.5, 4) == 0.0


def test_default_model_passes_and_the_run_is_saved(home: Path, default_detector) -> None:
    result = run_selfcheck(default_detector)
    assert result["ok"], result["problems"]
    assert result["n_images"] == 48 and result["accuracy"] >= result["min_accuracy"]
    assert result["expected_from"] == "test_no_train_twin" and 0.95 < result["expected_accuracy"] < 1
    assert result["model_sha256"] == hashlib.sha256(DEFAULT_CHECKPOINT.read_bytes()).hexdigest()
    assert result["when_utc"].endswith("Z") and result["code_version"]
    assert len(result["details"]) == 48
    for d in result["details"]:  # the verdict is the analysis's, at the default threshold
        assert d["verdict"] == decide(d["p_fake"], DEFAULT_THRESHOLD)
        assert d["correct"] == (d["verdict"] == d["label"])
    assert latest_selfcheck() == json.loads(json.dumps(result))
    run_selfcheck(default_detector)
    history = (home / "selfcheck" / "history.jsonl").read_text().splitlines()
    assert len(history) == 2 and "details" not in json.loads(history[0])
    section = control_run_section(default_detector, result["when_utc"])
    assert section["status"] == "passed" and section["current"] and "But" not in section["sentence"]


def test_untrained_model_claiming_good_figures_fails(home: Path, default_detector) -> None:
    model = create_model("synthcnn_small")
    ckpt = build_checkpoint(model)
    ckpt["metrics"] = default_detector.meta["metrics"]  # claims 97.8% it cannot deliver
    result = run_selfcheck(Detector(model, ckpt))
    assert not result["ok"] and result["n_correct"] < 48 - result["allowed_errors"]
    assert "known images wrong" in result["problems"][0]
    assert latest_selfcheck()["ok"] is False


def test_checkpoint_without_figures_fails(home: Path, tiny_detector) -> None:
    result = run_selfcheck(tiny_detector, save=False)
    assert not result["ok"] and result["expected_accuracy"] is None
    assert "records no test accuracy" in result["problems"][0]
    assert latest_selfcheck() is None  # save=False wrote nothing


def test_changed_bundled_image_fails(home: Path, tmp_path: Path, default_detector) -> None:
    copy = tmp_path / "set"
    shutil.copytree(SELFCHECK_DIR, copy)
    victim = copy / load_manifest()["images"][3]["file"]
    data = bytearray(victim.read_bytes())
    data[-3] ^= 0xFF
    victim.write_bytes(bytes(data))
    (copy / load_manifest()["images"][7]["file"]).unlink()
    result = run_selfcheck(default_detector, images_dir=copy, save=False)
    assert not result["ok"] and result["n_correct"] <= 46
    assert any("differs from the manifest" in p for p in result["problems"])
    assert any("missing" in p for p in result["problems"])


def test_report_section_says_when_the_run_is_stale(default_detector, tiny_detector) -> None:
    none = control_run_section(default_detector, "2025-03-04T05:06:07Z", home=Path("/nonexistent"))
    assert none["status"] == "none" and "No control run" in none["sentence"]
    run = {"ok": True, "when_utc": "2025-03-03T23:59:59Z", "n_images": 48, "n_correct": 47, "accuracy": 0.979,
           "expected_accuracy": 0.978, "min_accuracy": 0.896, "model_sha256": default_detector.checkpoint_sha256}
    other_day = control_run_section(default_detector, "2025-03-04T05:06:07Z", run=run)
    assert other_day["status"] == "passed" and not other_day["current"] and "not run on the day" in other_day["sentence"]
    other_model = control_run_section(tiny_detector, "2025-03-03T10:00:00Z", run=run)
    assert not other_model["current"] and "no checkpoint file hash" in other_model["sentence"]
    run2 = {**run, "model_sha256": "00" * 32}
    assert "different model" in control_run_section(default_detector, "2025-03-03T10:00:00Z", run=run2)["sentence"]
    failed = control_run_section(default_detector, "2025-03-03T10:00:00Z",
                                 run={**run, "ok": False, "problems": ["9 of 48 known images wrong"]})
    assert failed["status"] == "failed" and "NOT" in failed["sentence"] and "9 of 48" in failed["sentence"]
    partial = control_run_section(default_detector, "2025-03-03T10:00:00Z",
                                  run={"ok": None, "when_utc": "2025-03-03T09:00:00Z", "problems": ["boom"]})
    assert partial["status"] == "unavailable" and "did not complete" in partial["sentence"]


def test_selfcheck_command(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["selfcheck", "--checkpoint", str(DEFAULT_CHECKPOINT), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["n_images"] == 48
    assert cli_main(["selfcheck", "--checkpoint", str(DEFAULT_CHECKPOINT)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("PASS  ") and "pass mark" in text and str(home) in text
    ckpt = tmp_path / "tiny.pt"
    atomic_torch_save(build_checkpoint(create_model("synthcnn_small")), ckpt)
    assert cli_main(["selfcheck", "--checkpoint", str(ckpt)]) == 1
    assert capsys.readouterr().out.startswith("FAIL  ")
