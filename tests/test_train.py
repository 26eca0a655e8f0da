"""Training engine: loss goes down, config checks, resume after SIGKILL, DDP with gloo."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from synthcheck.checkpoint import atomic_torch_save, build_checkpoint, load_checkpoint
from synthcheck.config import TrainConfig, load_config
from synthcheck.models import create_model
from synthcheck.models.normalization import normalize
from synthcheck.train import check_output_dir, fit
from tests.conftest import REPO, make_dataset


def _cfg(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(data=str(data), out=str(out), model="synthcnn_small", epochs=3, batch_size=16,
                lr=3e-3, val_fraction=0.25, progress=False, patience=0, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


def test_short_training_lowers_loss_and_writes_everything(tmp_path):
    data = make_dataset(tmp_path / "d", n_per_class=48)
    result = fit(_cfg(data, tmp_path / "run", epochs=4))
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 4 and history[-1]["train_loss"] < history[0]["train_loss"]
    assert (tmp_path / "run" / "history.csv").read_text().startswith("epoch,train_loss")
    ckpt = load_checkpoint(result["checkpoint"])
    assert set(ckpt["metrics"]) == {"val", "test", "test_no_train_twin"}
    assert ckpt["metrics"]["test"]["n_images"] == 96
    assert ckpt["data"]["fingerprint"] and ckpt["temperature"] > 0
    assert ckpt["training"]["epochs_run"] == 4 and "config" in ckpt
    assert (tmp_path / "run" / "config.yaml").exists()


def test_config_rejects_unknown_keys_and_wrong_types(tmp_path):
    with pytest.raises(ValueError, match="unknown config key"):
        load_config(overrides={"learning_rate": 1.0})
    with pytest.raises(ValueError, match="must be int"):
        load_config(overrides={"epochs": "ten"})
    yml = tmp_path / "c.yaml"
    yml.write_text("epochs: 7\nlr: 1\nmodel: synthcnn_small\n")
    cfg = load_config(yml, {"epochs": 9, "seed": None})
    assert (cfg.epochs, cfg.lr, cfg.model) == (9, 1.0, "synthcnn_small")


def test_unwritable_output_dir_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RuntimeError, match="not writable"):
        check_output_dir(blocker / "run")


def _train_cmd(data: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    return [sys.executable, str(REPO / "train.py"), "--data", str(data), "--out", str(out),
            "--model", "synthcnn_small", "--epochs", str(epochs), "--batch-size", "8",
            "--val-fraction", "0.25", "--no-progress", "--patience", "0", "--device", "cpu",
            "--no-eval-test", *extra]


def test_resume_after_sigkill_loses_no_finished_epoch(tmp_path):
    data = make_dataset(tmp_path / "d", n_per_class=64, splits=("train",))
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_train_cmd(data, out, 40), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            hist = out / "history.json"
            if hist.exists() and len(json.loads(hist.read_text() or "[]")) >= 3:
                break
            time.sleep(0.05)
        else:
            pytest.fail("training did not reach epoch 3")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = load_checkpoint(out / "last.pt")  # never half-written: loads cleanly
    done = before["train_state"]["epoch"] + 1
    assert 3 <= done < 40
    prior = before["history"]
    subprocess.run(_train_cmd(data, out, 40, "--resume"), env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    after = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in after] == list(range(1, 41))
    assert after[:done] == prior[:done]  # finished epochs kept exactly
    assert load_checkpoint(out / "model.pt")["training"]["epochs_run"] == 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_processes_on_cpu_gloo(tmp_path):
    data = make_dataset(tmp_path / "d", n_per_class=24, splits=("train",))
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           f"--master_port={_free_port()}", *_train_cmd(data, out, 2)[1:]]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    ckpt = load_checkpoint(out / "model.pt")
    assert ckpt["training"]["hardware"].startswith("CPU") and len(ckpt["history"]) == 2
    # both ranks saw half the data each: the epoch covered all 36 training images once
    assert ckpt["data"]["n_train"] == 36


def test_fine_tune_from_checkpoint_keeps_weights_and_frozen_bn(tmp_path):
    """init_from loads the weights, freeze_bn keeps BatchNorm statistics (distillation itself:
    tests/test_distill.py)."""
    data = make_dataset(tmp_path / "d", n_per_class=16, splits=("train",))
    torch.manual_seed(7)
    start_model = create_model("synthcnn_small")
    teacher = str(tmp_path / "start.pt")
    atomic_torch_save(build_checkpoint(start_model), teacher)
    # robust fine-tuning: start from the teacher's weights, distil its scores on the clean images
    ft = fit(_cfg(data, tmp_path / "ft", epochs=1, eval_test=False, lr=1e-12, init_from=teacher,
                  teacher=teacher, distill_clean=True, aug_resize_p=0.5, aug_jpeg_p=0.5,
                  freeze_bn=True))
    start = load_checkpoint(teacher)["state_dict"]
    tuned = load_checkpoint(ft["checkpoint"])["state_dict"]
    torch.manual_seed(0)  # what fit would start from without init_from (cfg.seed = 0)
    fresh = create_model("synthcnn_small").state_dict()
    convs = [k for k in start if k.endswith("weight") and start[k].ndim == 4]
    assert convs and all(torch.allclose(start[k], tuned[k], atol=1e-6) for k in convs)
    assert not all(torch.allclose(fresh[k], tuned[k], atol=1e-3) for k in convs)
    stats = [k for k in start if k.endswith("running_mean") or k.endswith("running_var")]
    assert stats and all(torch.equal(start[k], tuned[k]) for k in stats)  # frozen BatchNorm
    moved = fit(_cfg(data, tmp_path / "nofreeze", epochs=1, eval_test=False, lr=1e-12,
                     init_from=teacher))  # without freeze_bn the statistics do move
    moved_sd = load_checkpoint(moved["checkpoint"])["state_dict"]
    assert not all(torch.equal(start[k], moved_sd[k]) for k in stats)
    with pytest.raises(ValueError, match="holds"):
        fit(_cfg(data, tmp_path / "wrong", epochs=1, model="synthcnn", init_from=teacher))


def test_robust_and_adversarial_training_options_run(tmp_path, monkeypatch):
    """The perturbation bank feeds the student perturbed copies; FGSM replaces half of each
    batch with copies within adv_eps (in pixel units) of the input."""
    import synthcheck.data.bank as bank_mod
    import synthcheck.train as train_mod

    data = make_dataset(tmp_path / "d", n_per_class=16, splits=("train",))
    banks, adv_calls = [], []
    real_bank, real_mix = bank_mod.build_bank, train_mod.mix_adversarial

    def spy_bank(images, cfg, *a, **kw):
        out = real_bank(images, cfg, *a, **kw)
        banks.append((images.copy(), cfg, out))
        return out

    def spy_mix(model, x, y, cfg, mean, std, g=None):
        out = real_mix(model, x, y, cfg, mean, std, g)
        adv_calls.append((x.detach().clone(), out.detach().clone(), cfg, std))
        return out

    monkeypatch.setattr(bank_mod, "build_bank", spy_bank)
    monkeypatch.setattr(train_mod, "mix_adversarial", spy_mix)
    cfg = _cfg(data, tmp_path / "r", epochs=1, eval_test=False, aug_jpeg_p=0.5, aug_resize_p=0.5,
               aug_blur_p=0.3, aug_noise_p=0.3, adv_train="fgsm", hflip=False, crop_padding=0)
    ckpt = load_checkpoint(fit(cfg)["checkpoint"])
    assert ckpt["config"]["aug_jpeg_p"] == 0.5 and ckpt["config"]["adv_train"] == "fgsm"
    assert len(banks) == 1
    clean, rcfg, bank = banks[0]
    assert (rcfg.jpeg_p, rcfg.resize_p, rcfg.blur_p, rcfg.noise_p) == (0.5, 0.5, 0.3, 0.3)
    assert bank.shape == clean.shape and (bank != clean).any(axis=(1, 2, 3)).all()
    assert len(adv_calls) == 2  # 24 training images, batches of 16
    mean, std = ckpt["mean"], ckpt["std"]
    clean_x = normalize(torch.from_numpy(clean), mean, std)
    for x, out, rc, s in adv_calls:
        assert rc.adv == "fgsm"
        # the student's inputs are mostly bank copies, not the clean training images
        nearest = (x[:, None] - clean_x[None]).abs().flatten(2).amax(2).min(1).values
        assert (nearest > 1e-2).sum() >= len(x) // 2
        changed = (out != x).flatten(1).any(1)
        assert changed.sum() == round(len(x) * cfg.adv_fraction)  # half the batch
        step = ((out - x) * torch.tensor(s)[None, :, None, None]).abs().amax()  # pixel units
        assert 0 < step <= cfg.adv_eps + 1e-5
    with pytest.raises(ValueError):
        fit(_cfg(data, tmp_path / "bad", aug_jpeg_p=1.5))


def test_resume_after_a_crash_ends_bit_identical_to_an_uninterrupted_run(tmp_path, monkeypatch):
    """Killed after epoch 1 and resumed: every weight equals the uninterrupted run's, bit for bit.

    Dropout draws from the global torch RNG, the data order and augmentations from the per-epoch
    generator; the resumed process starts with other RNG states (as a new process would).
    """
    import random

    import numpy as np

    import synthcheck.train as train_mod

    data = make_dataset(tmp_path / "d", n_per_class=12, splits=("train",))
    kw = dict(epochs=3, batch_size=8, eval_test=False, drop_rate=0.5, rotate_degrees=5.0)
    fit(_cfg(data, tmp_path / "full", **kw))
    want = load_checkpoint(tmp_path / "full" / "last.pt")

    real_write = train_mod._write_history

    def crash_after_first_epoch(out, history):
        real_write(out, history)
        if len(history) == 1:
            raise KeyboardInterrupt("simulated kill -9 after epoch 1's checkpoint")

    monkeypatch.setattr(train_mod, "_write_history", crash_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        fit(_cfg(data, tmp_path / "cut", **kw))
    monkeypatch.setattr(train_mod, "_write_history", real_write)
    random.seed(123)  # a fresh process: none of the RNGs where the killed one left them
    np.random.seed(123)
    torch.manual_seed(123)
    fit(_cfg(data, tmp_path / "cut", resume=True, **kw))
    got = load_checkpoint(tmp_path / "cut" / "last.pt")
    assert [r["epoch"] for r in got["history"]] == [1, 2, 3]
    assert got["state_dict"].keys() == want["state_dict"].keys()
    for name, tensor in want["state_dict"].items():
        assert torch.equal(got["state_dict"][name], tensor), name
    for a, b in zip(got["history"], want["history"], strict=True):
        assert a["train_loss"] == b["train_loss"] and a["val_loss"] == b["val_loss"]
    final_got = load_checkpoint(tmp_path / "cut" / "model.pt")["state_dict"]
    final_want = load_checkpoint(tmp_path / "full" / "model.pt")["state_dict"]
    assert all(torch.equal(final_got[k], v) for k, v in final_want.items())
