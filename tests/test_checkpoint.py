"""Checkpoints: round trip, weights_only loading, refusal of code-running pickles and mismatches."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from synthcheck.checkpoint import (
    CheckpointError,
    atomic_torch_save,
    build_checkpoint,
    load_checkpoint,
    model_from_checkpoint,
    safe_load,
)
from synthcheck.inference import Detector
from synthcheck.models import create_model


def _model():
    torch.manual_seed(0)
    return create_model("synthcnn_small")


def test_round_trip_keeps_weights_and_metadata(tmp_path):
    model = _model()
    path = tmp_path / "m.pt"
    atomic_torch_save(build_checkpoint(model, extra={"metrics": {"val": {"accuracy": 0.5}}}), path)
    ckpt = load_checkpoint(path)
    assert ckpt["model_name"] == "synthcnn_small" and ckpt["class_names"] == ["REAL", "FAKE"]
    rebuilt = model_from_checkpoint(ckpt).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), model.eval()(x))
    det = Detector.from_checkpoint(path)
    assert det.meta["metrics"]["val"]["accuracy"] == 0.5 and len(det.checkpoint_sha256) == 64


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch " + os.environ["EVIL_MARKER"],))


def test_pickle_that_runs_code_is_refused(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EVIL_MARKER", str(marker))
    path = tmp_path / "evil.pt"
    ckpt = build_checkpoint(_model())
    ckpt["payload"] = _Evil()
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="could run code"):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04garbage"])
def test_non_checkpoint_files_are_refused(tmp_path, content):
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="x.pt"):
        load_checkpoint(path)


def test_plain_state_dict_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "sd.pt"
    torch.save(_model().state_dict(), path)
    with pytest.raises(CheckpointError, match="not a SynthCheck checkpoint"):
        load_checkpoint(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    with pytest.raises(CheckpointError, match="directory"):
        load_checkpoint(tmp_path)


def test_metadata_that_does_not_match_tensors_is_named(tmp_path):
    ckpt = build_checkpoint(_model())
    wrong_size = dict(ckpt, input_size=64)
    with pytest.raises(CheckpointError, match="input size 64"):
        model_from_checkpoint(wrong_size)
    three_class = create_model("synthcnn_small", num_classes=3)
    bad = dict(ckpt, state_dict=three_class.state_dict())
    with pytest.raises(CheckpointError, match=r"fc.weight has shape \(3, 128\)"):
        model_from_checkpoint(bad)
    with pytest.raises(CheckpointError, match="class order"):
        model_from_checkpoint(dict(ckpt, class_names=["FAKE", "REAL"]))
    with pytest.raises(CheckpointError, match="unknown model"):
        model_from_checkpoint(dict(ckpt, model_name="gpt"))


def test_atomic_save_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "m.pt"
    atomic_torch_save({"a": torch.ones(1)}, path)

    class Unsaveable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_torch_save({"x": Unsaveable()}, path)
    assert torch.load(path, weights_only=True)["a"].item() == 1.0
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def _nan_bank(ckpt):
    return {"method": "knn", "bank": torch.full((4, 8), float("nan")), "k": 2, "threshold": 0.1}


BAD_METADATA = [
    ("temperature", float("nan"), "temperature"), ("temperature", 0.0, "temperature"),
    ("temperature", -2.0, "temperature"), ("temperature", float("inf"), "temperature"),
    ("temperature", "hot", "temperature"), ("mean", [0.5, float("nan"), 0.5], "mean"),
    ("std", [0.25, 0.0, 0.25], "std"), ("std", [0.25, -1.0, 0.25], "std"),
    ("std", [0.25, float("inf"), 0.25], "std"), ("input_size", 0, "input size"),
    ("input_size", 10**6, "input size"), ("input_size", "32", "input size"),
    ("input_size", True, "input size"), ("feature_domain", _nan_bank, "domain check"),
    ("class_names", 7, "malformed"), ("model_kwargs", ["x"], "dictionaries"),
    ("model_kwargs", {"checkpoint_path": "/etc/passwd"}, "checkpoint_path"),
    ("model_kwargs", {"drop_rate": 5.0}, "drop_rate must be"),
    ("model_kwargs", {"filters": 10**9}, "filters must be"),
]


@pytest.mark.parametrize("key, value, phrase", BAD_METADATA,
                         ids=[f"{k}={v if not callable(v) else 'nan-bank'}" for k, v, _ in BAD_METADATA])
def test_bad_metadata_is_refused_in_one_sentence(tmp_path, key, value, phrase):
    ckpt = build_checkpoint(_model())
    ckpt[key] = value(ckpt) if callable(value) else value
    path = tmp_path / "evil.pt"
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=phrase) as err:
        Detector.from_checkpoint(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and "\n" not in msg


def test_weights_that_are_not_finite_or_not_tensors_are_refused():
    ckpt = build_checkpoint(_model())
    state = dict(ckpt["state_dict"])
    state["fc.bias"] = torch.tensor([float("nan"), 0.0])
    with pytest.raises(CheckpointError, match="fc.bias holds NaN"):
        model_from_checkpoint(dict(ckpt, state_dict=state))
    state["fc.bias"] = [0.0, 0.0]
    with pytest.raises(CheckpointError, match="fc.bias is a list"):
        model_from_checkpoint(dict(ckpt, state_dict=state))


def test_parameter_count_is_checked_on_the_meta_device_first(monkeypatch):
    import synthcheck.checkpoint as ck
    from synthcheck import models

    built = []
    original = models.create_model

    def spy(name, **kw):
        built.append(torch.empty(0).device.type)  # the device the model is being built on
        return original(name, **kw)

    monkeypatch.setattr(models, "create_model", spy)
    monkeypatch.setattr(ck, "MAX_PARAMS", 1000)
    ckpt = build_checkpoint(_model())
    with pytest.raises(CheckpointError, match="over the limit of 1,000"):
        model_from_checkpoint(ckpt)
    assert built == ["meta"]  # never built for real
    monkeypatch.setattr(ck, "MAX_PARAMS", 50_000_000)
    built.clear()
    model_from_checkpoint(ckpt)
    assert built == ["meta", "cpu"]


def test_serve_with_a_bad_checkpoint_prints_one_line(tmp_path, capsys, monkeypatch):
    import uvicorn

    from synthcheck.cli import main

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("server started"))
    ckpt = build_checkpoint(_model())
    ckpt["temperature"] = float("nan")
    evil = tmp_path / "evil.pt"
    torch.save(ckpt, evil)
    for path in (evil, tmp_path / "missing.pt"):
        code = main(["serve", "--checkpoint", str(path)])
        err = capsys.readouterr().err
        assert code != 0 and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1 and str(path) in err
    code = main(["serve", "--checkpoint", str(evil), "--threshold", "nan"])
    err = capsys.readouterr().err
    assert code != 0 and "threshold" in err and len(err.strip().splitlines()) == 1


def test_random_bytes_are_always_a_one_sentence_refusal(tmp_path):
    """torch's unpickler raises whatever a malformed file provokes (IndexError: pop from empty
    list on about 1 in 40 random files, KeyError, struct.error, ...): never a traceback."""
    rng = np.random.default_rng(7)
    path = tmp_path / "random.pt"
    for i in range(200):
        head = b"\x80\x02" if i % 2 else b"PK\x03\x04"  # a pickle or a zip header, then noise
        path.write_bytes(head + rng.integers(0, 256, int(rng.integers(0, 600)), dtype=np.uint8).tobytes())
        with pytest.raises(CheckpointError) as err:
            safe_load(path)
        assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_a_stray_threshold_in_a_checkpoint_decides_nothing(tmp_path):
    """Checkpoints carry no decision threshold: the analysis applies bands.DEFAULT_THRESHOLD
    (or the face's choice), so a 'threshold' key left in a checkpoint changes no verdict."""
    from synthcheck.analysis import AnalysisOptions

    ckpt = build_checkpoint(_model())
    ckpt["threshold"] = 0.9
    path = tmp_path / "with-threshold.pt"
    torch.save(ckpt, path)
    det = Detector.from_checkpoint(path)
    assert not hasattr(det, "threshold")
    assert AnalysisOptions().resolved().threshold == 0.5
