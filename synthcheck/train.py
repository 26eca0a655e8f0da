"""Training engine: ``fit(cfg)`` on CPU, one GPU, or many through torchrun (DDP).

The decoded dataset lives in memory as one uint8 tensor (on the GPU when training there);
each step gathers a batch, normalises and augments it in a few tensor ops. Every epoch
writes ``last.pt`` atomically, so ``--resume`` loses at most the epoch in progress.

Exact resume: ``last.pt`` also holds every global random state training draws from (Python
``random``, NumPy, torch CPU and, on a GPU, CUDA; one set per DDP rank), restored just before
the next epoch. The data order, the augmentations and the robustness perturbations draw from a
generator reseeded from ``(seed, epoch)`` at the start of each epoch, and checkpoints are only
written between epochs, so that generator needs no saving. A run killed after epoch k and
resumed ends with the same weights, bit for bit, as an uninterrupted one (on CPU; GPU kernels
may themselves be non-deterministic).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import platform
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import (
    atomic_torch_save,
    build_checkpoint,
    load_checkpoint,
    model_from_checkpoint,
    safe_load,
)
from .config import TrainConfig, save_config
from .data.augment import AugmentCfg, augment_batch
from .data.dataset import DecodedSplit, load_split, train_val_split, twins_mask
from .data.perturb import RobustAugmentCfg, mix_adversarial
from .data.perturb import apply as robust_apply
from .domain.features import domain_share, fit_feature_domain, jpeg_profile_for
from .evaluation.metrics import compute_metrics, fit_temperature, predict_logits
from .inference.base import softmax_p_fake
from .models import create_model
from .models.normalization import normalize
from .timestamps import utc_now

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but no CUDA GPU is available")
    return dev


def hardware_description(device: torch.device, world_size: int = 1) -> str:
    if device.type == "cuda":
        return f"{world_size}x {torch.cuda.get_device_name(device)}"
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def check_output_dir(out: Path) -> None:
    """Fail before training if the output folder cannot be written (permissions, full disk)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"\0" * 65536)
        probe.unlink()
    except OSError as exc:
        raise RuntimeError(f"output folder {out} is not writable: {exc.strerror or exc}") from exc


class _Dist:
    """Process-group facts; a single process is rank 0 of 1."""

    def __init__(self, device_name: str) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if self.world > 1:
            use_cuda = device_name != "cpu" and torch.cuda.is_available()
            if use_cuda:
                torch.cuda.set_device(self.local_rank)
            dist.init_process_group("nccl" if use_cuda else "gloo")
            self.device = torch.device(f"cuda:{self.local_rank}" if use_cuda else "cpu")
        else:
            self.device = resolve_device(device_name)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def rng_state(device: torch.device) -> dict[str, Any]:
    """Every global random state of this process (plain tensors, numbers and tuples only)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(), "torch": torch.get_rng_state(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    """Put back what :func:`rng_state` saved."""
    version, internal, gauss = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def _gather_rng_states(ddp: _Dist) -> list[dict[str, Any]]:
    """The random states of every rank, in rank order (a collective: all ranks call it)."""
    mine = rng_state(ddp.device)
    if ddp.world == 1:
        return [mine]
    every: list[Any] = [None] * ddp.world
    dist.all_gather_object(every, mine)
    return every


def _make_scheduler(cfg: TrainConfig, opt: torch.optim.Optimizer, steps_per_epoch: int):
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total,
                                                   pct_start=0.15, div_factor=25, final_div_factor=1e3)
    if cfg.schedule == "cosine":
        warm = int(cfg.warmup_epochs * steps_per_epoch)

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

        return torch.optim.lr_scheduler.LambdaLR(opt, factor)
    raise ValueError(f"unknown schedule {cfg.schedule!r} (onecycle | cosine)")


def _make_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True,
                               weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r} (adamw | sgd)")


def _write_history(out: Path, history: list[dict[str, Any]]) -> None:
    (out / "history.json").write_text(json.dumps(history, indent=1))
    if history:
        with open(out / "history.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(history[0]))
            w.writeheader()
            w.writerows(history)


def _teacher(cfg: TrainConfig, device: torch.device, input_size: int):
    if not cfg.teacher:
        return None
    ckpt = load_checkpoint(cfg.teacher)
    if int(ckpt["input_size"]) != input_size:
        raise ValueError("the teacher must use the student's input size")
    with torch.random.fork_rng(devices=[]):  # building it must not move the student's random stream
        teacher = model_from_checkpoint(ckpt, cfg.teacher).to(device).eval()
    if cfg.channels_last:
        teacher = teacher.to(memory_format=torch.channels_last)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher, tuple(ckpt["mean"]), tuple(ckpt["std"])


def fit(cfg: TrainConfig) -> dict[str, Any]:
    """Train ``cfg.model`` on ``cfg.data``; returns the final metrics and checkpoint path."""
    ddp = _Dist(cfg.device)
    try:
        return _fit(cfg, ddp)
    finally:
        ddp.close()


@dataclass
class _TrainState:
    """What changes from epoch to epoch; ``last.pt`` keeps it (``train_state`` and ``history``)."""

    epoch: int = -1  # the last finished epoch, 0-based (-1: none yet)
    best_val: float = float("inf")  # lowest validation loss so far: early stopping watches it
    bad_epochs: int = 0  # epochs since the validation loss last went down
    best_score: float = -float("inf")  # best cfg.select score so far: that epoch is best.pt
    train_seconds: float = 0.0
    finished: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint's ``train_state`` (the history is saved beside it)."""
        return {"epoch": self.epoch, "best_val_loss": self.best_val, "bad_epochs": self.bad_epochs,
                "best_score": self.best_score, "train_seconds": self.train_seconds,
                "finished": self.finished}

    @classmethod
    def from_dict(cls, t: dict[str, Any], history: list[dict[str, Any]]) -> _TrainState:
        """Back from :meth:`to_dict` and the checkpoint's history."""
        return cls(t["epoch"], t["best_val_loss"], t["bad_epochs"], t["best_score"],
                   t["train_seconds"], t["finished"], list(history))

    def record(self, cfg: TrainConfig, epoch: int, row: dict[str, Any], seconds: float) -> tuple[bool, bool]:
        """Add one finished epoch; returns (improved: it becomes best.pt, stop: patience or time is up)."""
        self.epoch = epoch
        self.train_seconds += seconds
        self.history.append(row)
        if row["val_loss"] < self.best_val:  # early stopping watches the validation loss
            self.best_val, self.bad_epochs = row["val_loss"], 0
        else:
            self.bad_epochs += 1
        score = -row["val_loss"] if cfg.select == "val_loss" else row["val_acc"]
        improved = score > self.best_score  # which epoch becomes best.pt / model.pt
        if improved:
            self.best_score = score
        stop = bool((cfg.patience and self.bad_epochs >= cfg.patience) or (
            cfg.time_limit_min and self.train_seconds >= cfg.time_limit_min * 60))
        self.finished = stop or epoch + 1 == cfg.epochs
        return improved, stop


@dataclass
class _Data:
    """The training split and the part of it this run trains and validates on."""

    split: DecodedSplit
    tr_idx: np.ndarray
    va_idx: np.ndarray
    x_train: torch.Tensor  # uint8 N x S x S x 3, on the training device
    y_train: torch.Tensor
    x_val: np.ndarray
    y_val: np.ndarray


@dataclass
class _Run:
    """The fixed parts every epoch uses, built once by :func:`_fit`."""

    cfg: TrainConfig
    ddp: _Dist
    model: nn.Module  # the bare model: checkpoints, validation, adversarial examples
    net: nn.Module  # what the training forward pass calls: the model or its DDP / compiled wrapper
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    teacher: tuple[nn.Module, tuple[float, ...], tuple[float, ...]] | None
    data: _Data
    aug: AugmentCfg
    robust: RobustAugmentCfg
    bank: torch.Tensor | None  # pre-made perturbed copies of x_train (or None)
    p_bank: float  # chance a training image is swapped for its bank copy
    amp_ctx: Any  # bfloat16 autocast on CUDA, else a no-op
    mean: tuple[float, ...]
    std: tuple[float, ...]


class _EpochStats(NamedTuple):
    """One epoch's training totals over all ranks."""

    loss_sum: torch.Tensor
    correct: torch.Tensor
    seen: int
    seconds: float


def _fit(cfg: TrainConfig, ddp: _Dist) -> dict[str, Any]:
    """:func:`fit`'s steps. Their order is the order of the random draws, which exact resume repeats."""
    device, out = ddp.device, Path(cfg.out)
    if ddp.main:
        check_output_dir(out)
        save_config(cfg, out / "config.yaml")
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    model = _build_model(cfg)
    mcfg = model.synthcheck_cfg
    data = _load_data(cfg, ddp, mcfg.input_size, device)
    model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = _make_optimizer(cfg, model)
    sched = _make_scheduler(cfg, opt, math.ceil(len(data.tr_idx) / (cfg.batch_size * ddp.world)))
    teacher = _teacher(cfg, device, mcfg.input_size)
    if cfg.select not in ("val_loss", "val_acc"):
        raise ValueError(f"unknown select {cfg.select!r} (val_loss | val_acc)")
    state, resume_rng = _resume(cfg, ddp, model, opt, sched, out / "last.pt")
    net = _wrap(model, cfg, ddp, device)
    aug = AugmentCfg(cfg.hflip, cfg.crop_padding, cfg.rotate_degrees)
    robust = RobustAugmentCfg.from_train_config(cfg)
    bank, p_bank = _make_bank(cfg, ddp, robust, data.x_train)
    amp_ctx = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and cfg.amp
               else nullcontext())
    run = _Run(cfg, ddp, model, net, opt, sched, teacher, data, aug, robust, bank, p_bank, amp_ctx,
               tuple(mcfg.mean), tuple(mcfg.std))
    if resume_rng is not None:  # last: nothing above may draw from the restored streams
        set_rng_state(resume_rng, device)

    for epoch in range(state.epoch + 1, cfg.epochs):
        if state.finished:
            break
        if _run_epoch(run, state, epoch):
            break

    if not ddp.main:
        return {}
    return finalize(cfg, out, data.split, data.va_idx, data.tr_idx, device, state.train_seconds, ddp.world)


def _build_model(cfg: TrainConfig) -> nn.Module:
    """A fresh ``cfg.model``; with ``init_from`` (fine-tuning) it takes that checkpoint's weights."""
    model_kwargs = {"freeze_backbone": cfg.freeze_backbone or None, "drop_rate": cfg.drop_rate}
    model = create_model(cfg.model, pretrained=cfg.pretrained, **model_kwargs)
    if cfg.init_from:  # fine-tune: same architecture, weights from an earlier checkpoint
        init = load_checkpoint(cfg.init_from)
        if init.get("model_name") != cfg.model:
            raise ValueError(f"{cfg.init_from} holds {init.get('model_name')}, not {cfg.model}")
        model.load_state_dict(init["state_dict"])
    return model


def _load_data(cfg: TrainConfig, ddp: _Dist, input_size: int, device: torch.device) -> _Data:
    """Decode the train split, hold out the seeded validation share, put the training part on ``device``."""
    split = load_split(cfg.data, "train", input_size, cfg.cache_dir, progress=ddp.main and cfg.progress)
    tr_idx, va_idx = train_val_split(split.labels, cfg.val_fraction, cfg.seed)
    if cfg.max_train_images:
        rng = np.random.default_rng(cfg.seed + 1)
        tr_idx = np.sort(rng.choice(tr_idx, min(cfg.max_train_images, len(tr_idx)), replace=False))
    x_train = torch.from_numpy(np.ascontiguousarray(split.images[tr_idx])).to(device)
    y_train = torch.from_numpy(split.labels[tr_idx]).to(device)
    x_val = np.ascontiguousarray(split.images[va_idx])
    y_val = split.labels[va_idx]
    if ddp.main:
        log.info("train %d / val %d images (%d unreadable skipped), device %s",
                 len(tr_idx), len(va_idx), split.n_skipped, device)
    return _Data(split, tr_idx, va_idx, x_train, y_train, x_val, y_val)


def _resume(cfg: TrainConfig, ddp: _Dist, model: nn.Module, opt: torch.optim.Optimizer,
            sched: torch.optim.lr_scheduler.LRScheduler, last_path: Path) -> tuple[_TrainState, dict[str, Any] | None]:
    """With ``--resume`` and a ``last.pt``: load the weights, optimiser and schedule in place.

    Returns the training state to go on from (a fresh one otherwise) and this rank's saved random
    state, which the caller restores last, just before the first epoch."""
    if not (cfg.resume and last_path.exists()):
        return _TrainState(), None
    saved = safe_load(last_path, map_location="cpu")
    if saved.get("model_name") != cfg.model:
        raise ValueError(f"{last_path} was trained as {saved.get('model_name')}, not {cfg.model}")
    model.load_state_dict(saved["state_dict"])
    opt.load_state_dict(saved["optimizer"])
    sched.load_state_dict(saved["scheduler"])
    state = _TrainState.from_dict(saved["train_state"], saved["history"])
    resume_rng = None
    saved_rng = saved.get("rng_states") or []
    if len(saved_rng) == ddp.world:
        resume_rng = saved_rng[ddp.rank]
    elif ddp.main:
        log.warning("%s holds no random state for %d process(es): the epochs after the resume "
                    "will not repeat an uninterrupted run exactly", last_path, ddp.world)
    if ddp.main:
        log.info("resumed from %s after epoch %d", last_path, state.epoch + 1)
    return state, resume_rng


def _wrap(model: nn.Module, cfg: TrainConfig, ddp: _Dist, device: torch.device) -> nn.Module:
    """What the training forward pass calls: DDP across processes, then ``torch.compile`` if asked."""
    net: nn.Module = model
    if ddp.world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        net = torch.compile(net)
    return net


def _make_bank(cfg: TrainConfig, ddp: _Dist, robust: RobustAugmentCfg,
               x_train: torch.Tensor) -> tuple[torch.Tensor | None, float]:
    """One perturbed copy per training image, made up front (``aug_bank``), and the chance of using it.

    Returns (None, 0.0) when robustness augmentation is off or drawn per batch instead."""
    if not (robust.enabled and cfg.aug_bank):
        return None, 0.0
    from .data.bank import any_op_probability, build_bank

    t_bank = time.perf_counter()
    bank = torch.from_numpy(build_bank(x_train.cpu().numpy(), robust, seed=cfg.seed)).to(ddp.device)
    p_bank = any_op_probability(robust)
    if ddp.main:
        log.info("perturbation bank: %d copies in %.1f s, used with p=%.2f", len(bank),
                 time.perf_counter() - t_bank, p_bank)
    return bank, p_bank


def _run_epoch(run: _Run, state: _TrainState, epoch: int) -> bool:
    """Train one epoch, validate, update ``state``, checkpoint; returns whether to stop early."""
    stats = _train_epoch(run, epoch)
    row = _evaluate(run, epoch, stats)
    improved, stop = state.record(run.cfg, epoch, row, stats.seconds)
    rng_states = _gather_rng_states(run.ddp)  # after everything this epoch drew
    if run.ddp.main:
        log.info("epoch %d: train_loss %.4f val_loss %.4f val_acc %.4f auc %.5f %.0f img/s",
                 row["epoch"], row["train_loss"], row["val_loss"], row["val_acc"],
                 row["val_roc_auc"] or 0, row["images_per_second"])
        _checkpoint(run, state, improved, rng_states)
    return stop


def _train_mode(model: nn.Module, freeze_bn: bool) -> None:
    """Training mode; with ``freeze_bn`` BatchNorm keeps the starting checkpoint's running statistics."""
    model.train()
    if freeze_bn:
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()


def _progress_bar(cfg: TrainConfig, ddp: _Dist, total: int, epoch: int) -> Any:
    """A tqdm bar over the epoch's images on the main process when ``progress`` is on, else None.

    Beside :class:`synthcheck.progress.Progress` on purpose: training shows the running loss as
    the bar's postfix, scales the image count (k/M) and leaves no bar behind after each epoch."""
    if not (ddp.main and cfg.progress):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="img", unit_scale=True,
                leave=False)


def _train_epoch(run: _Run, epoch: int) -> _EpochStats:
    """One pass over this rank's share of the training data, totals summed over the ranks.

    The generator ``g``, reseeded from (seed, epoch), orders the data and drives every augmentation
    and perturbation; checkpoints fall between epochs, so it needs no saving."""
    cfg, ddp, device = run.cfg, run.ddp, run.ddp.device
    _train_mode(run.model, cfg.freeze_bn)
    g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    perm = torch.randperm(len(run.data.tr_idx), generator=g)[ddp.rank::ddp.world].to(device)
    t0 = time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    seen = 0
    bar = _progress_bar(cfg, ddp, len(perm) * ddp.world, epoch)
    for s in range(0, len(perm), cfg.batch_size):
        idx = perm[s:s + cfg.batch_size]
        logits, y, loss = _train_step(run, idx, g)
        loss_sum += loss.detach() * len(idx)
        correct += (logits.argmax(1) == y).sum()
        seen += len(idx)
        if bar is not None:
            bar.update(len(idx) * ddp.world)
            if (s // cfg.batch_size) % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
    if bar is not None:
        bar.close()
    if ddp.world > 1:
        stats = torch.stack([loss_sum, correct, torch.tensor(float(seen), device=device)])
        dist.all_reduce(stats)
        loss_sum, correct, seen = stats[0], stats[1], int(stats[2].item())
    return _EpochStats(loss_sum, correct, seen, time.perf_counter() - t0)


def _train_step(run: _Run, idx: torch.Tensor, g: torch.Generator,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One optimiser and scheduler step on the training images ``idx``; returns (logits, labels, loss)."""
    y = run.data.y_train[idx]
    clean_u8 = run.data.x_train[idx]
    x = _student_input(run, idx, clean_u8, y, g)
    with run.amp_ctx:
        logits = run.net(x)
        loss = _loss(run, logits, x, y, clean_u8, g)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    run.opt.step()
    run.sched.step()
    return logits, y, loss


def _student_input(run: _Run, idx: torch.Tensor, clean_u8: torch.Tensor, y: torch.Tensor,
                   g: torch.Generator) -> torch.Tensor:
    """The normalised batch the student trains on: perturbed (bank copy or per batch), augmented,
    part of it replaced by adversarial examples when ``adv_train`` asks for them."""
    if run.bank is not None:  # swap in the pre-made upload-style copies
        swap = (torch.rand(len(idx), generator=g) < run.p_bank).to(run.ddp.device)
        x_u8 = torch.where(swap[:, None, None, None], run.bank[idx], clean_u8)
    else:
        x_u8 = robust_apply(clean_u8, run.robust, g) if run.robust.enabled else clean_u8
    x = augment_batch(normalize(x_u8, run.mean, run.std), run.aug, g)
    if run.robust.adv != "none":
        x = mix_adversarial(run.model, x, y, run.robust, run.mean, run.std, g)
    return x


def _loss(run: _Run, logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor, clean_u8: torch.Tensor,
          g: torch.Generator) -> torch.Tensor:
    """Cross-entropy on the labels; with a teacher, blended (``distill_alpha``) with the KL divergence
    to its scores softened by ``distill_temperature``."""
    cfg = run.cfg
    loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
    if run.teacher is None:
        return loss
    tmodel, tmean, tstd = run.teacher
    if cfg.distill_clean and run.robust.enabled:  # target: the clean image's scores
        xt = augment_batch(normalize(clean_u8, tmean, tstd), run.aug, g)
    else:
        xt = x if (tmean, tstd) == (run.mean, run.std) else _renorm(x, run.mean, run.std, tmean, tstd)
    with torch.no_grad():
        t_logits = tmodel(xt).float()
    temp = cfg.distill_temperature
    kd = F.kl_div(F.log_softmax(logits.float() / temp, 1), F.softmax(t_logits / temp, 1),
                  reduction="batchmean") * temp * temp
    return (1 - cfg.distill_alpha) * loss + cfg.distill_alpha * kd


def _evaluate(run: _Run, epoch: int, stats: _EpochStats) -> dict[str, Any]:
    """Validation loss and metrics after an epoch; returns the epoch's history row."""
    data = run.data
    val_logits = predict_logits(run.model, data.x_val, run.mean, run.std, run.ddp.device)
    val_loss = float(F.cross_entropy(torch.as_tensor(val_logits), torch.as_tensor(data.y_val)))
    vm = compute_metrics(data.y_val, softmax_p_fake(val_logits))
    return {"epoch": epoch + 1, "train_loss": float(stats.loss_sum) / stats.seen,
            "train_acc": float(stats.correct) / stats.seen, "val_loss": val_loss,
            "val_acc": vm["accuracy"], "val_roc_auc": vm["roc_auc"], "lr": run.opt.param_groups[0]["lr"],
            "epoch_seconds": round(stats.seconds, 3),
            "images_per_second": round(stats.seen * run.ddp.world / stats.seconds, 1)}


def _checkpoint(run: _Run, state: _TrainState, improved: bool, rng_states: list[dict[str, Any]]) -> None:
    """Write ``best.pt`` if this epoch is the best so far, always ``last.pt`` (everything ``--resume``
    needs, random states included) and the history files; main process only."""
    cfg, out, split = run.cfg, Path(run.cfg.out), run.data.split
    meta = {"history": state.history, "config": cfg.to_dict(),
            "data": {"fingerprint": split.fingerprint, "root": split.root}}
    if improved:
        atomic_torch_save(build_checkpoint(run.model, extra=meta), out / "best.pt")
    resume_state = build_checkpoint(run.model, extra={
        **meta, "optimizer": run.opt.state_dict(), "scheduler": run.sched.state_dict(),
        "rng_states": rng_states, "train_state": state.to_dict()})
    atomic_torch_save(resume_state, out / "last.pt")
    _write_history(out, state.history)


def _renorm(x, mean, std, tmean, tstd):
    dev, dt = x.device, x.dtype
    m, s = (torch.tensor(v, device=dev, dtype=dt)[None, :, None, None] for v in (mean, std))
    tm, ts = (torch.tensor(v, device=dev, dtype=dt)[None, :, None, None] for v in (tmean, tstd))
    return ((x * s + m) - tm) / ts


def finalize(cfg: TrainConfig, out: Path, train_split, va_idx, tr_idx, device: torch.device,
             train_seconds: float, world: int) -> dict[str, Any]:
    """Best weights + temperature fitted on validation + val/test metrics -> ``model.pt``."""
    best = load_checkpoint(out / "best.pt")
    model = model_from_checkpoint(best, str(out / "best.pt")).to(device)
    mean, std = tuple(best["mean"]), tuple(best["std"])
    x_val, y_val = np.ascontiguousarray(train_split.images[va_idx]), train_split.labels[va_idx]
    val_logits = predict_logits(model, x_val, mean, std, device)
    temperature = fit_temperature(val_logits, y_val)
    profile = jpeg_profile_for(cfg.to_dict(), train_split, tr_idx)
    domain = fit_feature_domain(model, train_split.images[tr_idx], train_split.labels[tr_idx], x_val,
                                mean, std, device, seed=cfg.seed, layer=best.get("cam_layer"), jpeg_profile=profile)
    metrics: dict[str, Any] = {"val": compute_metrics(y_val, softmax_p_fake(val_logits, temperature))}
    metrics["val"]["ece_uncalibrated"] = compute_metrics(y_val, softmax_p_fake(val_logits))["ece"]
    data_meta = {"fingerprint": train_split.fingerprint, "root": train_split.root,
                 "n_train": int(len(tr_idx)), "n_val": int(len(va_idx)),
                 "n_skipped": train_split.n_skipped, "image_size": int(best["input_size"])}
    if cfg.eval_test:
        try:
            test = load_split(cfg.data, "test", int(best["input_size"]), cfg.cache_dir)
        except Exception as exc:  # no test split: say so, claim nothing
            log.warning("no test split evaluated: %s", exc)
        else:
            logits = predict_logits(model, test.images, mean, std, device)
            p = softmax_p_fake(logits, temperature)
            twins = twins_mask(test, train_split)
            metrics["test"] = compute_metrics(test.labels, p)
            metrics["test_no_train_twin"] = compute_metrics(test.labels[~twins], p[~twins])
            metrics["test"]["in_domain_share"] = domain_share(model, test.images, mean, std, device, domain)
            data_meta["test_fingerprint"] = test.fingerprint
            data_meta["n_test_twins_of_train"] = int(twins.sum())
    history = json.loads((out / "history.json").read_text())
    extra = {
        "metrics": metrics, "history": history, "config": cfg.to_dict(), "data": data_meta,
        "temperature": temperature,
        "feature_domain": domain,
        "training": {"seconds": round(train_seconds, 1), "epochs_run": len(history),
                     "hardware": hardware_description(device, world), "torch": str(torch.__version__),
                     "finished_utc": utc_now()},
    }
    final = {**best, **extra}
    atomic_torch_save(final, out / "model.pt")
    summary = {k: v for k, v in extra.items() if k not in ("history", "feature_domain")}
    summary["feature_domain"] = {k: domain.get(k) for k in ("method", "layer", "threshold", "val_kept", "n_fit")}
    summary["feature_domain"]["jpeg"] = domain.get("jpeg")
    (out / "metrics.json").write_text(json.dumps(summary, indent=1))
    return {"checkpoint": str(out / "model.pt"), "metrics": metrics, "temperature": temperature,
            "train_seconds": train_seconds}
