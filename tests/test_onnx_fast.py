"""The ONNX fast path gives the torch Detector's verdicts, and only for its own checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

from synthcheck.bands import decide
from synthcheck.checkpoint import atomic_torch_save, build_checkpoint
from synthcheck.cli import main
from synthcheck.inference import Detector
from synthcheck.inference.onnx_backend import OnnxDetector, export_onnx
from synthcheck.models import create_model
from tests.conftest import DEFAULT_CHECKPOINT, image_bytes, synthetic_image

P_TOL = 1e-5  # the two backends differ by float32 rounding only (~1e-7 measured)


def _test_images() -> list[bytes]:
    """Several kinds of input, made here: photo-like REAL/FAKE toys at odd sizes, noise, a JPEG
    (so jpeg_residual is not trivial) and a flat graphic."""
    rng = np.random.default_rng(1)
    return [image_bytes(synthetic_image(0, rng, 48)),
            image_bytes(synthetic_image(1, rng, 32)),
            image_bytes(rng.integers(0, 256, (40, 64, 3), dtype=np.uint8)),
            image_bytes(synthetic_image(0, rng, 96), "JPEG", quality=75),
            image_bytes(synthetic_image(1, rng, 57)[:, :33], "JPEG", quality=90),
            image_bytes(np.full((32, 32, 3), 90, np.uint8))]


def _assert_same_verdicts(fast, slow) -> None:
    """Both backends give the same scores (the analysis then decides the same)."""
    assert len(fast) == len(slow)
    for f, t in zip(fast, slow, strict=True):
        assert not hasattr(f, "verdict") and not hasattr(t, "verdict")  # scores only
        assert abs(f.p_fake - t.p_fake) < P_TOL and abs(f.p_fake_raw - t.p_fake_raw) < P_TOL
        assert np.allclose(f.logits, t.logits, atol=1e-4)
        assert (f.width, f.height) == (t.width, t.height)
        for key in ("feature_distance", "jpeg_residual"):
            a, b = getattr(f, key), getattr(t, key)
            assert (a is None) == (b is None), key
            if a is not None:
                assert abs(a - b) < 1e-5, (key, a, b)


def test_shipped_onnx_matches_shipped_checkpoint(default_detector):
    fast = OnnxDetector.for_checkpoint(DEFAULT_CHECKPOINT)
    assert fast is not None, "run: synthcheck export-onnx models/synthcheck-default.pt"
    arrays = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    a = [v.p_fake for v in fast.predict_arrays(arrays)]
    b = [v.p_fake for v in default_detector.predict_arrays(arrays)]
    assert np.allclose(a, b, atol=P_TOL)
    assert fast.describe() == default_detector.describe()
    images = _test_images()
    slow = default_detector.predict(images)
    _assert_same_verdicts(fast.predict(images), slow)
    # the shipped model has a fitted domain check: both scores are really compared above
    assert all(v.feature_distance is not None and v.jpeg_residual is not None for v in slow)
    assert min(v.p_fake for v in slow) < 0.5 <= max(v.p_fake for v in slow)  # both sides scored


def test_stale_onnx_is_ignored(tmp_path, capsys):
    images = _test_images()
    ckpt = tmp_path / "m.pt"
    torch.manual_seed(1)
    atomic_torch_save(build_checkpoint(create_model("synthcnn_small")), ckpt)
    export_onnx(ckpt)
    fast = OnnxDetector.for_checkpoint(ckpt)
    assert fast is not None
    old = fast.predict(images)
    _assert_same_verdicts(old, Detector.from_checkpoint(ckpt).predict(images))  # fresh export
    torch.manual_seed(2)
    atomic_torch_save(build_checkpoint(create_model("synthcnn_small", drop_rate=0.2)), ckpt)
    assert OnnxDetector.for_checkpoint(ckpt) is None  # different .pt now: torch path decides
    new = Detector.from_checkpoint(ckpt).predict(images)
    assert max(abs(a.p_fake - b.p_fake) for a, b in zip(old, new, strict=True)) > 1e-3
    # the CLI answers with the new weights, not the stale ONNX file beside them
    img = tmp_path / "a.png"
    img.write_bytes(images[0])
    assert main(["predict", str(img), "--json", "--checkpoint", str(ckpt)]) == 0
    got = json.loads(capsys.readouterr().out)[0]["p_fake"]
    assert abs(got - new[0].p_fake) < P_TOL and abs(got - old[0].p_fake) > 1e-4


def _cli_predict(paths: list[str], ckpt, env: dict[str, str] | None = None) -> tuple[dict, list]:
    code = ("import sys, json; from synthcheck.cli import main; "
            f"rc = main(['predict', *{paths!r}, '--json', '--checkpoint', {str(ckpt)!r}]); "
            "print(json.dumps({'torch': 'torch' in sys.modules, 'rc': rc}))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **(env or {})})
    lines = res.stdout.strip().splitlines()
    assert lines, res.stderr
    return json.loads(lines[-1]), json.loads("\n".join(lines[:-1]))


def test_cli_predict_does_not_import_torch_when_onnx_matches(tmp_path):
    paths = []
    for i, data in enumerate(_test_images()):
        paths.append(tmp_path / f"img{i}.png")
        paths[-1].write_bytes(data)
    ckpt = tmp_path / "default.pt"
    shutil.copy(DEFAULT_CHECKPOINT, ckpt)
    shutil.copy(DEFAULT_CHECKPOINT.with_suffix(".onnx"), ckpt.with_suffix(".onnx"))
    status, records = _cli_predict([str(p) for p in paths], ckpt)
    assert status == {"torch": False, "rc": 0}
    torch_v = Detector.from_checkpoint(ckpt).predict(paths)
    assert [r["path"] for r in records] == [str(p) for p in paths]
    for rec, v in zip(records, torch_v, strict=True):
        if abs(v.p_fake - rec["threshold"]) > P_TOL:  # at the threshold rounding may pick either
            assert rec["verdict"] == decide(v.p_fake, rec["threshold"])
        assert abs(rec["p_fake"] - v.p_fake) < P_TOL  # JSON rounds to 6 decimals
        assert abs(rec["uncalibrated_p_fake"] - v.p_fake_raw) < P_TOL
    # the same command on the torch path prints the same records
    status_t, records_t = _cli_predict([str(p) for p in paths], ckpt, {"SYNTHCHECK_NO_ONNX": "1"})
    assert status_t == {"torch": True, "rc": 0}
    for fast, slow in zip(records, records_t, strict=True):
        assert abs(fast.pop("p_fake") - slow.pop("p_fake")) < P_TOL
        assert abs(fast.pop("calibrated_p_fake") - slow.pop("calibrated_p_fake")) < P_TOL
        assert abs(fast.pop("uncalibrated_p_fake") - slow.pop("uncalibrated_p_fake")) < P_TOL
        assert fast == slow
