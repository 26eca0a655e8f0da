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
from pathlib import Path
from typing import Any

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
from .data.dataset import load_split, train_val_split, twins_mask
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


def _fit(cfg: TrainConfig, ddp: _Dist) -> dict[str, Any]:
    device = ddp.device
    out = Path(cfg.out)
    if ddp.main:
        check_output_dir(out)
        save_config(cfg, out / "config.yaml")
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)

    model_kwargs = {"freeze_backbone": cfg.freeze_backbone or None, "drop_rate": cfg.drop_rate}
    model = create_model(cfg.model, pretrained=cfg.pretrained, **model_kwargs)
    mcfg = model.synthcheck_cfg
    mean, std = tuple(mcfg.mean), tuple(mcfg.std)
    if cfg.init_from:  # fine-tune: same architecture, weights from an earlier checkpoint
        init = load_checkpoint(cfg.init_from)
        if init.get("model_name") != cfg.model:
            raise ValueError(f"{cfg.init_from} holds {init.get('model_name')}, not {cfg.model}")
        model.load_state_dict(init["state_dict"])

    train_split = load_split(cfg.data, "train", mcfg.input_size, cfg.cache_dir, progress=ddp.main and cfg.progress)
    tr_idx, va_idx = train_val_split(train_split.labels, cfg.val_fraction, cfg.seed)
    if cfg.max_train_images:
        rng = np.random.default_rng(cfg.seed + 1)
        tr_idx = np.sort(rng.choice(tr_idx, min(cfg.max_train_images, len(tr_idx)), replace=False))
    on_gpu = device.type == "cuda"
    x_train = torch.from_numpy(np.ascontiguousarray(train_split.images[tr_idx])).to(device)
    y_train = torch.from_numpy(train_split.labels[tr_idx]).to(device)
    x_val = np.ascontiguousarray(train_split.images[va_idx])
    y_val = train_split.labels[va_idx]
    if ddp.main:
        log.info("train %d / val %d images (%d unreadable skipped), device %s",
                 len(tr_idx), len(va_idx), train_split.n_skipped, device)

    model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = _make_optimizer(cfg, model)
    steps_per_epoch = math.ceil(len(tr_idx) / (cfg.batch_size * ddp.world))
    sched = _make_scheduler(cfg, opt, steps_per_epoch)
    teacher = _teacher(cfg, device, mcfg.input_size)

    start_epoch, history, best_val, bad_epochs, train_seconds = 0, [], float("inf"), 0, 0.0
    best_score = -float("inf")
    if cfg.select not in ("val_loss", "val_acc"):
        raise ValueError(f"unknown select {cfg.select!r} (val_loss | val_acc)")
    finished = False
    resume_rng: dict[str, Any] | None = None
    last_path, best_path = out / "last.pt", out / "best.pt"
    if cfg.resume and last_path.exists():
        state = safe_load(last_path, map_location="cpu")
        if state.get("model_name") != cfg.model:
            raise ValueError(f"{last_path} was trained as {state.get('model_name')}, not {cfg.model}")
        model.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        t = state["train_state"]
        start_epoch, best_val, bad_epochs = t["epoch"] + 1, t["best_val_loss"], t["bad_epochs"]
        best_score = t["best_score"]
        train_seconds, finished, history = t["train_seconds"], t["finished"], list(state["history"])
        saved_rng = state.get("rng_states") or []
        if len(saved_rng) == ddp.world:
            resume_rng = saved_rng[ddp.rank]
        elif ddp.main:
            log.warning("%s holds no random state for %d process(es): the epochs after the resume "
                        "will not repeat an uninterrupted run exactly", last_path, ddp.world)
        if ddp.main:
            log.info("resumed from %s after epoch %d", last_path, t["epoch"] + 1)

    net: nn.Module = model
    if ddp.world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if on_gpu else None)
    if cfg.compile:
        net = torch.compile(net)
    aug = AugmentCfg(cfg.hflip, cfg.crop_padding, cfg.rotate_degrees)
    robust = RobustAugmentCfg.from_train_config(cfg)
    bank, p_bank = None, 0.0
    if robust.enabled and cfg.aug_bank:
        from .data.bank import any_op_probability, build_bank

        t_bank = time.perf_counter()
        bank = torch.from_numpy(build_bank(x_train.cpu().numpy(), robust, seed=cfg.seed)).to(device)
        p_bank = any_op_probability(robust)
        if ddp.main:
            log.info("perturbation bank: %d copies in %.1f s, used with p=%.2f", len(bank),
                     time.perf_counter() - t_bank, p_bank)
    amp_ctx = (torch.autocast("cuda", dtype=torch.bfloat16) if on_gpu and cfg.amp else nullcontext())
    if resume_rng is not None:  # last: nothing above may draw from the restored streams
        set_rng_state(resume_rng, device)

    for epoch in range(start_epoch, cfg.epochs):
        if finished:
            break
        model.train()
        if cfg.freeze_bn:  # running statistics stay those of the starting checkpoint
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        perm = torch.randperm(len(tr_idx), generator=g)[ddp.rank::ddp.world].to(device)
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = 0
        batches = range(0, len(perm), cfg.batch_size)
        bar = None
        if ddp.main and cfg.progress:
            from tqdm import tqdm

            bar = tqdm(total=len(perm) * ddp.world, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                       unit="img", unit_scale=True, leave=False)
        for s in batches:
            idx = perm[s:s + cfg.batch_size]
            y = y_train[idx]
            clean_u8 = x_train[idx]
            if bank is not None:  # swap in the pre-made upload-style copies
                swap = (torch.rand(len(idx), generator=g) < p_bank).to(device)
                x_u8 = torch.where(swap[:, None, None, None], bank[idx], clean_u8)
            else:
                x_u8 = robust_apply(clean_u8, robust, g) if robust.enabled else clean_u8
            x = augment_batch(normalize(x_u8, mean, std), aug, g)
            if robust.adv != "none":
                x = mix_adversarial(model, x, y, robust, mean, std, g)
            with amp_ctx:
                logits = net(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
                if teacher is not None:
                    tmodel, tmean, tstd = teacher
                    if cfg.distill_clean and robust.enabled:  # target: the clean image's scores
                        xt = augment_batch(normalize(clean_u8, tmean, tstd), aug, g)
                    else:
                        xt = x if (tmean, tstd) == (mean, std) else _renorm(x, mean, std, tmean, tstd)
                    with torch.no_grad():
                        t_logits = tmodel(xt).float()
                    temp = cfg.distill_temperature
                    kd = F.kl_div(F.log_softmax(logits.float() / temp, 1), F.softmax(t_logits / temp, 1),
                                  reduction="batchmean") * temp * temp
                    loss = (1 - cfg.distill_alpha) * loss + cfg.distill_alpha * kd
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
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
        epoch_s = time.perf_counter() - t0
        train_seconds += epoch_s

        val_logits = predict_logits(model, x_val, mean, std, device)
        val_loss = float(F.cross_entropy(torch.as_tensor(val_logits), torch.as_tensor(y_val)))
        vm = compute_metrics(y_val, softmax_p_fake(val_logits))
        row = {"epoch": epoch + 1, "train_loss": float(loss_sum) / seen, "train_acc": float(correct) / seen,
               "val_loss": val_loss, "val_acc": vm["accuracy"], "val_roc_auc": vm["roc_auc"],
               "lr": opt.param_groups[0]["lr"], "epoch_seconds": round(epoch_s, 3),
               "images_per_second": round(seen * ddp.world / epoch_s, 1)}
        history.append(row)
        if val_loss < best_val:  # early stopping watches the validation loss
            best_val, bad_epochs = val_loss, 0
        else:
            bad_epochs += 1
        score = -val_loss if cfg.select == "val_loss" else vm["accuracy"]
        improved = score > best_score  # which epoch becomes best.pt / model.pt
        if improved:
            best_score = score
        stop = (cfg.patience and bad_epochs >= cfg.patience) or (
            cfg.time_limit_min and train_seconds >= cfg.time_limit_min * 60)
        finished = bool(stop) or epoch + 1 == cfg.epochs
        rng_states = _gather_rng_states(ddp)  # after everything this epoch drew
        if ddp.main:
            log.info("epoch %d: train_loss %.4f val_loss %.4f val_acc %.4f auc %.5f %.0f img/s",
                     epoch + 1, row["train_loss"], val_loss, vm["accuracy"], vm["roc_auc"] or 0,
                     row["images_per_second"])
            meta = {"history": history, "config": cfg.to_dict(),
                    "data": {"fingerprint": train_split.fingerprint, "root": train_split.root}}
            if improved:
                atomic_torch_save(build_checkpoint(model, extra=meta), best_path)
            resume_state = build_checkpoint(model, extra={
                **meta, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "rng_states": rng_states,
                "train_state": {"epoch": epoch, "best_val_loss": best_val, "bad_epochs": bad_epochs,
                                "best_score": best_score, "train_seconds": train_seconds, "finished": finished}})
            atomic_torch_save(resume_state, last_path)
            _write_history(out, history)
        if stop:
            break

    if not ddp.main:
        return {}
    return finalize(cfg, out, train_split, va_idx, tr_idx, device, train_seconds, ddp.world)


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
