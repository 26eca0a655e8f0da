"""Self-describing checkpoints: weights plus everything needed to use them, loaded safely.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(..., weights_only=True)``; anything that would need pickle to run code is refused.
Writes are atomic (temporary file, fsync, rename): a crash never leaves a half-written file.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from .detector_base import file_sha256  # noqa: F401  (re-exported)
from .errors import CheckpointError

FORMAT = "synthcheck-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("format", "format_version", "model_name", "model_kwargs", "state_dict",
                 "input_size", "mean", "std", "class_names")


def code_version() -> str:
    from . import __version__

    return __version__


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """Save ``obj`` to ``path`` via a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True`` and errors turned into one clear sentence."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint file does not exist.")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file.")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused, the file holds Python objects beyond plain tensors and data "
            "(loading it could run code)."
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}).") from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not a SynthCheck checkpoint (holds {type(obj).__name__}).")
    return obj


def validate(ckpt: dict[str, Any], where: str = "checkpoint") -> None:
    """Check the metadata is complete and consistent with itself."""
    if ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{where}: not a SynthCheck checkpoint (no '{FORMAT}' marker).")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(f"{where}: checkpoint is missing {', '.join(missing)}.")
    if int(ckpt["format_version"]) > FORMAT_VERSION:
        raise CheckpointError(f"{where}: checkpoint format {ckpt['format_version']} is newer than "
                              f"this SynthCheck understands ({FORMAT_VERSION}).")
    names = ckpt["class_names"]
    if list(names) != ["REAL", "FAKE"]:
        raise CheckpointError(f"{where}: class order must be ['REAL', 'FAKE'], found {names}.")
    if len(ckpt["mean"]) != 3 or len(ckpt["std"]) != 3:
        raise CheckpointError(f"{where}: mean/std must have 3 channels.")


def build_checkpoint(model: nn.Module, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Assemble a checkpoint dict for a registry model (weights on CPU, metadata from cfg)."""
    cfg = model.synthcheck_cfg
    state = {k: v.detach().cpu().clone() for k, v in _unwrap(model).state_dict().items()}
    ckpt = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_name": model.synthcheck_name,
        "model_kwargs": dict(getattr(model, "synthcheck_kwargs", {})),
        "state_dict": state,
        "input_size": int(cfg.input_size),
        "mean": [float(v) for v in cfg.mean],
        "std": [float(v) for v in cfg.std],
        "cam_layer": cfg.cam_layer,
        "class_names": ["REAL", "FAKE"],
        "temperature": 1.0,
        "code_version": code_version(),
    }
    ckpt.update(extra or {})
    return ckpt


def _unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)


def model_from_checkpoint(ckpt: dict[str, Any], where: str = "checkpoint") -> nn.Module:
    """Rebuild the registry model and load its weights, naming any mismatch."""
    from .models import create_model, is_model

    validate(ckpt, where)
    name = ckpt["model_name"]
    if not is_model(name):
        raise CheckpointError(f"{where}: unknown model architecture {name!r}.")
    kwargs = {k: v for k, v in dict(ckpt["model_kwargs"]).items() if k != "pretrained"}
    try:
        model = create_model(name, pretrained=False, num_classes=len(ckpt["class_names"]), **kwargs)
    except TypeError as exc:
        raise CheckpointError(f"{where}: model arguments do not fit {name} ({exc}).") from exc
    cfg_size = model.synthcheck_cfg.input_size
    if int(ckpt["input_size"]) != cfg_size:
        raise CheckpointError(f"{where}: input size {ckpt['input_size']} does not match "
                              f"{name}'s {cfg_size}.")
    expected = model.state_dict()
    state = ckpt["state_dict"]
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{where}: weights do not fit {name}: missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]}.")
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise CheckpointError(f"{where}: tensor {k} has shape {tuple(state[k].shape)}, "
                                  f"{name} needs {tuple(v.shape)}.")
    model.load_state_dict(state)
    model.synthcheck_kwargs = kwargs
    return model


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and validate a checkpoint file (weights_only); raises :class:`CheckpointError`."""
    ckpt = safe_load(path, map_location)
    validate(ckpt, str(path))
    return ckpt
