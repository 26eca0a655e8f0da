"""The ONNX fast path gives the torch Detector's verdicts, and only for its own checkpoint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np

from synthcheck.checkpoint import atomic_torch_save, build_checkpoint
from synthcheck.inference import Detector
from synthcheck.models import create_model
from synthcheck.onnx_fast import OnnxDetector, export_onnx
from tests.conftest import DEFAULT_CHECKPOINT, image_bytes


def test_shipped_onnx_matches_shipped_checkpoint(default_detector):
    fast = OnnxDetector.for_checkpoint(DEFAULT_CHECKPOINT)
    assert fast is not None, "run: synthcheck export-onnx models/synthcheck-default.pt"
    arrays = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    a = [v.p_fake for v in fast.predict_arrays(arrays)]
    b = [v.p_fake for v in default_detector.predict_arrays(arrays)]
    assert np.allclose(a, b, atol=1e-4)
    assert fast.describe() == default_detector.describe()


def test_stale_onnx_is_ignored(tmp_path):
    ckpt = tmp_path / "m.pt"
    atomic_torch_save(build_checkpoint(create_model("synthcnn_small")), ckpt)
    export_onnx(ckpt)
    assert OnnxDetector.for_checkpoint(ckpt) is not None
    atomic_torch_save(build_checkpoint(create_model("synthcnn_small", drop_rate=0.2)), ckpt)
    assert OnnxDetector.for_checkpoint(ckpt) is None  # different .pt now: torch path decides
    det = Detector.from_checkpoint(ckpt)
    assert det.predict([np.zeros((32, 32, 3), np.uint8)])[0].verdict in ("REAL", "FAKE")


def test_cli_predict_does_not_import_torch_when_onnx_matches(tmp_path):
    img = tmp_path / "a.png"
    img.write_bytes(image_bytes(np.full((32, 32, 3), 90, np.uint8)))
    ckpt = tmp_path / "default.pt"
    shutil.copy(DEFAULT_CHECKPOINT, ckpt)
    shutil.copy(DEFAULT_CHECKPOINT.with_suffix(".onnx"), ckpt.with_suffix(".onnx"))
    code = ("import sys, json; from synthcheck.cli import main; "
            f"rc = main(['predict', {str(img)!r}, '--json', '--checkpoint', {str(ckpt)!r}]); "
            "print(json.dumps({'torch': 'torch' in sys.modules, 'rc': rc}))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = res.stdout.strip().splitlines()
    status = json.loads(lines[-1])
    assert status == {"torch": False, "rc": 0}, res.stderr
    torch_p = Detector.from_checkpoint(ckpt).predict([img])[0].p_fake
    assert abs(json.loads("\n".join(lines[:-1]))[0]["p_fake"] - torch_p) < 1e-4
