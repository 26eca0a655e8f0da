"""``synthcheck explain``: JSON contract, PNG outputs and exit codes (in-process and a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthcheck.cli import main

REPO = Path(__file__).resolve().parent.parent
CHECKPOINT = REPO / "models" / "synthcheck-default.pt"
METHOD_KEYS = {"seconds", "model_evals", "deletion_auc", "insertion_auc", "random_deletion_auc",
               "random_insertion_auc", "png"}


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:40] / 48
    img = np.stack([x, y, x * y], 2) * 200 + rng.normal(0, 10, (48, 40, 3))
    path = tmp_path / "photo one.png"
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, object, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_json_contract_and_pngs(capsys, image_file: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, res, err = run_json(capsys, ["explain", str(image_file), "--json", "--out", str(out_dir),
                                       "--methods", "gradcam,shap,lime", "--seed", "3",
                                       "--checkpoint", str(CHECKPOINT)])
    assert code == 0, err
    assert isinstance(res, dict)  # a single IMAGE prints one object
    r = res
    assert r["path"] == str(image_file) and r["verdict"] in ("REAL", "FAKE")
    assert 0.0 <= r["p_fake"] <= 1.0 and r["seed"] == 3 and r["target"] == r["verdict"]
    assert list(r["methods"]) == ["gradcam", "gradient_shap", "lime"]
    for name, row in r["methods"].items():
        assert set(row) >= METHOD_KEYS
        assert row["model_evals"] >= 1 and row["seconds"] > 0
        for key in ("deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc"):
            assert 0.0 <= row[key] <= 1.0
        png = Path(row["png"])
        assert png.parent == out_dir and png.name.endswith(f"_{name}.png")
        with Image.open(png) as im:
            assert im.size == (256, 256)
    assert Path(r["side_by_side_png"]).read_bytes()[:4] == b"\x89PNG"
    assert set(r["agreement"]) >= {"spearman", "topk_iou"}
    assert set(r["agreement"]["spearman"]["gradcam"]) == {"gradient_shap", "lime"}


def test_bad_input_gives_error_object_and_exit_2(capsys, image_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    missing = tmp_path / "missing.png"
    code, res, err = run_json(capsys, ["explain", str(bad), str(image_file), str(missing), "--json",
                                       "--methods", "gradcam", "--no-metrics", "--checkpoint", str(CHECKPOINT)])
    assert code == 2
    assert res[0] == {"path": str(bad), "error": res[0]["error"]} and "not a recognised image" in res[0]["error"]
    assert set(res[2]) == {"path", "error"} and "no such file" in res[2]["error"]
    row = res[1]["methods"]["gradcam"]
    assert row["png"] is None and row["deletion_auc"] is None and res[1]["side_by_side_png"] is None
    assert "Traceback" not in err


def test_usage_errors_are_one_line(capsys, image_file: Path) -> None:
    code = main(["explain", str(image_file), "--methods", "xrai", "--checkpoint", str(CHECKPOINT)])
    err = capsys.readouterr().err
    assert code == 1 and "unknown explanation method" in err and "Traceback" not in err
    code = main(["explain", str(image_file), "--target", "maybe", "--checkpoint", str(CHECKPOINT)])
    assert code == 1 and "target" in capsys.readouterr().err


def test_text_output_and_target(capsys, image_file: Path) -> None:
    code = main(["explain", str(image_file), "--methods", "gradcam", "--target", "REAL",
                 "--checkpoint", str(CHECKPOINT)])
    out = capsys.readouterr().out
    assert code == 0 and "target=REAL" in out and "gradcam" in out and "deletion" in out


def test_subprocess_end_to_end(image_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "empty.png"
    bad.write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "synthcheck", "explain", str(image_file), str(bad), "--json",
                           "--methods", "gradcam", "--checkpoint", str(CHECKPOINT)],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    res = json.loads(proc.stdout)
    assert res[0]["methods"]["gradcam"]["deletion_auc"] is not None
    assert res[1]["path"] == str(bad) and "empty" in res[1]["error"]
    assert "Traceback" not in proc.stderr


def test_json_has_curves_and_sentences_and_out_writes_a_curves_png(capsys, image_file: Path,
                                                                     tmp_path: Path) -> None:
    from synthcheck.explain.metrics.verdicts import CALLS, faithfulness_sentence

    out_dir = tmp_path / "out"
    code, r, err = run_json(capsys, ["explain", str(image_file), "--json", "--out", str(out_dir),
                                     "--methods", "gradcam,lime", "--checkpoint", str(CHECKPOINT)])
    assert code == 0, err
    for name, row in r["methods"].items():
        curves = row["curves"]
        assert set(curves) == {"fractions", "deletion", "insertion", "random_deletion", "random_insertion"}
        assert len({len(v) for v in curves.values()}) == 1 and curves["fractions"][-1] == 1.0
        assert row["faithfulness_call"] in CALLS
        assert row["faithfulness_sentence"] == faithfulness_sentence(name, row)  # the one wording
    assert "agree at" in r["agreement_sentence"]
    with Image.open(r["curves_png"]) as im:
        assert im.format == "PNG" and im.width > 300
    code = main(["explain", str(image_file), "--methods", "gradcam,lime", "--checkpoint", str(CHECKPOINT)])
    text = capsys.readouterr().out
    assert code == 0 and r["methods"]["lime"]["faithfulness_sentence"] in text
    assert f"agreement: {r['agreement_sentence']}" in text
