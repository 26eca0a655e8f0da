"""The CLI contract: JSON shapes, exit codes, no tracebacks for bad input."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from synthcheck.checkpoint import atomic_torch_save, build_checkpoint
from synthcheck.cli import main
from synthcheck.models import create_model
from tests.conftest import DEFAULT_CHECKPOINT, image_bytes, make_dataset


@pytest.fixture
def files(tmp_path):
    good = tmp_path / "good image.png"
    good.write_bytes(image_bytes(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)))
    bad = tmp_path / "bad.jpg"
    bad.write_text("<html>no</html>")
    return good, bad, tmp_path / "missing.png"


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_predict_json_contract_and_exit_codes(capsys, files):
    good, bad, missing = files
    code, out, err = _run(capsys, "predict", str(good), str(bad), str(missing), "--json")
    assert code == 2 and "Traceback" not in err
    rows = json.loads(out)
    assert [r["path"] for r in rows] == [str(good), str(bad), str(missing)]
    ok = rows[0]
    assert {"path", "sha256", "verdict", "p_fake", "model"} <= set(ok)
    assert {"band", "calibrated_p_fake", "in_domain", "domain_reasons", "advisories"} <= set(ok)
    assert ok["band"] in ("likely_real", "uncertain", "likely_synthetic", "out_of_domain")
    assert isinstance(ok["in_domain"], bool) and isinstance(ok["domain_reasons"], list)
    assert ok["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()
    assert ok["verdict"] in ("REAL", "FAKE") and 0.0 <= ok["p_fake"] <= 1.0
    assert ok["model"] == "synthcnn"
    assert set(rows[1]) == {"path", "error"} and "not a recognised image" in rows[1]["error"]
    assert "no such file" in rows[2]["error"]
    code, out, _ = _run(capsys, "predict", str(good), "--json")
    assert code == 0 and len(json.loads(out)) == 1


def test_threshold_flips_the_verdict(capsys, files):
    good = files[0]
    _, out, _ = _run(capsys, "predict", str(good), "--json")
    p = json.loads(out)[0]["p_fake"]
    _, low, _ = _run(capsys, "predict", str(good), "--json", "--threshold", str(max(p - 1e-3, 0)))
    _, high, _ = _run(capsys, "predict", str(good), "--json", "--threshold", str(min(p + 1e-3, 1)))
    assert json.loads(low)[0]["verdict"] == "FAKE" and json.loads(high)[0]["verdict"] == "REAL"


def test_bad_checkpoint_is_one_line_error(capsys, files, tmp_path):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"nope")
    code, out, err = _run(capsys, "predict", str(files[0]), "--checkpoint", str(bogus))
    assert code == 1 and out == "" and "bogus.pt" in err and "Traceback" not in err


def test_evaluate_json_keys(capsys, tmp_path):
    data = make_dataset(tmp_path / "d", n_per_class=8)
    ckpt = tmp_path / "tiny.pt"
    atomic_torch_save(build_checkpoint(create_model("synthcnn_small")), ckpt)
    scores = tmp_path / "scores.csv"
    code, out, _ = _run(capsys, "evaluate", "--data", str(data), "--checkpoint", str(ckpt),
                        "--json", "--csv", str(scores))
    report = json.loads(out)
    assert code == 0
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "confusion_matrix", "n_images"):
        assert key in report
    assert report["n_images"] == 16 and report["no_train_twin"]["n_images"] == 16
    assert len(scores.read_text().splitlines()) == 17


def test_models_lists_registry(capsys):
    code, out, _ = _run(capsys, "models", "--json")
    assert code == 0 and "synthcnn" in {r["name"] for r in json.loads(out)}


def test_console_entry_point_subprocess(files):
    res = subprocess.run([sys.executable, "-m", "synthcheck", "predict", str(files[0]), "--json",
                          "--checkpoint", str(DEFAULT_CHECKPOINT)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]["model"] == "synthcnn"
    res = subprocess.run([sys.executable, "-m", "synthcheck", "predict", str(files[1])],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "bad.jpg" in res.stderr


def test_predict_flags_out_of_domain_and_tiles(capsys, tmp_path):
    big = tmp_path / "big.png"
    rng = np.random.default_rng(0)
    big.write_bytes(image_bytes(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)))
    code, out, _ = _run(capsys, "predict", str(big), "--json", "--tiles")
    row = json.loads(out)[0]
    assert code == 0 and row["in_domain"] is False and row["band"] == "out_of_domain"
    assert any("much larger" in r for r in row["domain_reasons"])
    assert row["tiles"]["rows"] == 9 and row["tiles"]["cols"] == 12


def test_help_imports_no_numpy_torch_or_analysis() -> None:
    """Every subcommand module is imported to build the parser: none may import heavy code at
    module level, so `synthcheck --help` (and a typo) answers at once."""
    import subprocess
    import sys

    code = ("import sys; from synthcheck.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('numpy', 'torch', 'PIL', 'synthcheck.analysis') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
