"""Distillation in ``fit``: the student learns the teacher's scores, weighted by distill_alpha.

The teacher is a synthcnn_small checkpoint whose classifier is zeroed and biased, so it gives
the same known logits for every image (a "constant FAKE" teacher that ignores the labels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

import synthcheck.train as train_mod
from synthcheck.checkpoint import (
    atomic_torch_save,
    build_checkpoint,
    load_checkpoint,
    model_from_checkpoint,
)
from synthcheck.config import TrainConfig
from synthcheck.domain.features import last_linear
from synthcheck.evaluation.metrics import predict_logits
from synthcheck.models import create_model
from synthcheck.models.normalization import normalize
from synthcheck.train import fit
from tests.conftest import make_dataset

TEACHER_LOGITS = (-3.0, 3.0)  # P(FAKE) = 0.9975 at T=1, 0.818 at T=4, whatever the image


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("distill") / "d", n_per_class=16, splits=("train",))


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> str:
    torch.manual_seed(123)
    model = create_model("synthcnn_small")
    head = last_linear(model)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor(TEACHER_LOGITS))
    path = tmp_path_factory.mktemp("teacher") / "teacher.pt"
    atomic_torch_save(build_checkpoint(model), path)
    return str(path)


def _cfg(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(data=str(data), out=str(out), model="synthcnn_small", epochs=4, batch_size=8,
                lr=1e-2, val_fraction=0.25, progress=False, patience=0, device="cpu",
                eval_test=False, cache_dir=str(out.parent / "cache"))
    base.update(kw)
    return TrainConfig(**base)


def _train_images(data: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("RGB"))
                     for p in sorted((data / "train").rglob("*.png"))])


def _logits(model: nn.Module, images: np.ndarray) -> torch.Tensor:
    cfg = model.synthcheck_cfg
    return torch.as_tensor(predict_logits(model, images, tuple(cfg.mean), tuple(cfg.std)))


def _final_student(out: Path) -> nn.Module:
    """The weights after the last epoch (``last.pt``; ``model.pt`` is the best-val-acc epoch)."""
    return model_from_checkpoint(load_checkpoint(out / "last.pt"), str(out / "last.pt"))


def _kl_to_teacher(logits: torch.Tensor, temp: float) -> float:
    """Mean KL(teacher || student) of the temperature-softened distributions."""
    target = F.softmax(torch.tensor(TEACHER_LOGITS).expand_as(logits) / temp, 1)
    return float(F.kl_div(F.log_softmax(logits / temp, 1), target, reduction="batchmean"))


def test_teacher_fixture_gives_its_fixed_logits(data: Path, teacher: str) -> None:
    model = model_from_checkpoint(load_checkpoint(teacher))
    got = _logits(model, _train_images(data))
    assert torch.allclose(got, torch.tensor(TEACHER_LOGITS).expand_as(got), atol=1e-5)


def test_alpha_one_student_moves_to_the_teacher_alpha_zero_does_not(data: Path, teacher: str,
                                                                   tmp_path: Path) -> None:
    images = _train_images(data)
    labels = np.array([0 if "REAL" in str(p.parent.name) else 1
                       for p in sorted((data / "train").rglob("*.png"))])
    temp = 4.0
    torch.manual_seed(0)  # fit seeds with cfg.seed=0 before create_model: the same initial student
    untrained = _kl_to_teacher(_logits(create_model("synthcnn_small"), images), temp)

    fit(_cfg(data, tmp_path / "a1", teacher=teacher, distill_alpha=1.0, distill_temperature=temp))
    fit(_cfg(data, tmp_path / "a0", teacher=teacher, distill_alpha=0.0, distill_temperature=temp))
    s1 = _logits(_final_student(tmp_path / "a1"), images)
    s0 = _logits(_final_student(tmp_path / "a0"), images)
    kl1, kl0 = _kl_to_teacher(s1, temp), _kl_to_teacher(s0, temp)
    assert kl1 < 0.25 * untrained, (kl1, untrained)
    assert kl1 < 0.25 * kl0, (kl1, kl0)
    # the alpha=1 student follows the constant-FAKE teacher even on REAL images ...
    p1 = F.softmax(s1, 1)[:, 1].numpy()
    assert p1[labels == 0].mean() > 0.7
    # ... the alpha=0 student learns the labels instead
    p0 = F.softmax(s0, 1)[:, 1].numpy()
    assert p0[labels == 0].mean() < p0[labels == 1].mean()


def test_distillation_loss_is_kl_to_the_softened_teacher(data: Path, teacher: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[torch.Tensor, torch.Tensor, str]] = []
    real_kl = F.kl_div

    def spy(input, target, *args, reduction="mean", **kw):  # noqa: A002 - torch's own names
        calls.append((input.detach().clone(), target.detach().clone(), reduction))
        return real_kl(input, target, *args, reduction=reduction, **kw)

    monkeypatch.setattr(train_mod.F, "kl_div", spy)
    temp = 4.0
    fit(_cfg(data, tmp_path / "s", epochs=2, teacher=teacher, distill_alpha=0.7,
             distill_temperature=temp))
    n_train = 24  # 32 images, val_fraction 0.25
    assert len(calls) == 2 * -(-n_train // 8)  # once per training batch
    want = F.softmax(torch.tensor(TEACHER_LOGITS) / temp, 0)
    for inp, target, reduction in calls:
        assert reduction == "batchmean"
        assert torch.allclose(target, want.expand_as(target), atol=1e-5)  # the teacher at T
        assert torch.allclose(inp.exp().sum(1), torch.ones(len(inp)), atol=1e-5)  # log-probs

    calls.clear()
    fit(_cfg(data, tmp_path / "none", epochs=1))
    assert calls == []  # no teacher: no distillation term


def test_alpha_zero_teacher_changes_nothing(data: Path, teacher: str, tmp_path: Path) -> None:
    """distill_alpha is the weight: at 0 the teacher contributes nothing to the update."""
    # no dropout: loading the teacher draws from torch's global RNG, which dropout also uses
    fit(_cfg(data, tmp_path / "plain", epochs=2, drop_rate=0.0))
    fit(_cfg(data, tmp_path / "a0", epochs=2, drop_rate=0.0, teacher=teacher, distill_alpha=0.0))
    fit(_cfg(data, tmp_path / "a5", epochs=2, drop_rate=0.0, teacher=teacher, distill_alpha=0.5))
    plain = load_checkpoint(tmp_path / "plain" / "last.pt")["state_dict"]
    a0 = load_checkpoint(tmp_path / "a0" / "last.pt")["state_dict"]
    a5 = load_checkpoint(tmp_path / "a5" / "last.pt")["state_dict"]
    floats = [k for k in plain if plain[k].is_floating_point()]
    assert all(torch.allclose(plain[k], a0[k], atol=1e-6) for k in floats)
    assert not all(torch.allclose(plain[k], a5[k], atol=1e-4) for k in floats)


class _Recorder(nn.Module):
    def __init__(self, inner: nn.Module, seen: list[torch.Tensor]) -> None:
        super().__init__()
        self.inner, self.seen = inner, seen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return self.inner(x)


@pytest.mark.parametrize("clean", [True, False])
def test_distill_clean_shows_the_teacher_the_unperturbed_image(
        data: Path, teacher: str, tmp_path: Path, clean: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[torch.Tensor] = []
    real_teacher = train_mod._teacher

    def recording_teacher(*args, **kw):
        tmodel, tmean, tstd = real_teacher(*args, **kw)
        return _Recorder(tmodel, seen), tmean, tstd

    monkeypatch.setattr(train_mod, "_teacher", recording_teacher)
    # every training image is JPEG-perturbed; no flips or crops, so inputs are comparable
    fit(_cfg(data, tmp_path / "s", epochs=1, teacher=teacher, distill_clean=clean,
             aug_jpeg_p=1.0, hflip=False, crop_padding=0))
    cfg = create_model("synthcnn_small").synthcheck_cfg
    clean_x = normalize(torch.from_numpy(_train_images(data)), tuple(cfg.mean), tuple(cfg.std))
    rows = torch.cat(seen)
    assert len(rows) == 24
    # largest pixel difference of each teacher input to its nearest clean training image
    nearest = (rows[:, None] - clean_x[None]).abs().flatten(2).amax(2).min(1).values
    if clean:
        assert nearest.max() < 1e-5
    else:  # without distill_clean the teacher sees the student's perturbed input
        assert nearest.min() > 1e-2
