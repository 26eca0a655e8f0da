"""Self-describing checkpoints: weights plus everything needed to use them, loaded safely.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(..., weights_only=True)``; anything that would need pickle to run code is refused.
Writes are atomic (temporary file, fsync, rename): a crash never leaves a half-written file.
The metadata checks (:func:`check_meta`) are torch-free, so the ONNX Runtime loader shares them
without importing torch; torch is imported only by the functions that load or build weights.
"""

from __future__ import annotations

import math
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import CheckpointError
from .fsio import atomic_write
from .version import code_version

if TYPE_CHECKING:
    import torch
    import torch.nn as nn

FORMAT = "synthcheck-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("format", "format_version", "model_name", "model_kwargs", "state_dict",
                 "input_size", "mean", "std", "class_names")
# Parameters a checkpoint's architecture may have (counted on the meta device, before any real
# memory is allocated); the registry's largest model, EfficientNet-B0, has 4M.
MAX_PARAMS = int(os.environ.get("SYNTHCHECK_MAX_PARAMS", 50_000_000))
MAX_INPUT_SIZE = 1024  # model input side in pixels; the registry's models use 32 or 64


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through :func:`synthcheck.fsio.atomic_write` (temporary file, fsync, rename)."""
    import torch

    atomic_write(path, lambda f: torch.save(obj, f))


def safe_load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True`` and every loader failure turned into one sentence.

    torch's unpickler raises whatever a malformed file provokes (``IndexError: pop from empty
    list`` on some random bytes, ``KeyError``, ``struct.error``, ...), so any exception that is
    not an unsafe-pickle refusal reads as "not a readable checkpoint"."""
    import torch

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
    except Exception as exc:  # RuntimeError, EOFError, BadZipFile, IndexError, KeyError, ...
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}).") from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not a SynthCheck checkpoint (holds {type(obj).__name__}).")
    return obj


def validate(ckpt: dict[str, Any], where: str = "checkpoint") -> None:
    """Check the metadata is complete, well-typed and sane (see :func:`synthcheck.checkpoint.check_meta`)."""
    try:
        _validate(ckpt, where)
    except CheckpointError:
        raise
    except Exception as exc:  # a value of the wrong type: still one sentence
        raise CheckpointError(f"{where}: checkpoint metadata is malformed "
                              f"({type(exc).__name__}); refused.") from exc


def _validate(ckpt: dict[str, Any], where: str) -> None:
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
    if not isinstance(ckpt["model_name"], str):
        raise CheckpointError(f"{where}: model name must be text, got {type(ckpt['model_name']).__name__}.")
    if not isinstance(ckpt["model_kwargs"], dict) or not isinstance(ckpt["state_dict"], dict):
        raise CheckpointError(f"{where}: model_kwargs and state_dict must be dictionaries.")
    check_meta(ckpt, where)


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
    """Rebuild the registry model and load its weights, naming any mismatch.

    Everything is checked before real memory is allocated: the metadata (:func:`validate`), the
    architecture arguments (:func:`synthcheck.models.check_model_kwargs`), then the model is built
    on the meta device to count its parameters (at most :data:`MAX_PARAMS`) and to compare every
    weight's name and shape; weights must be finite. Any failure is a :class:`CheckpointError`.
    """
    import torch

    from .models import check_model_kwargs, create_model, is_model

    validate(ckpt, where)
    name = ckpt["model_name"]
    if not is_model(name):
        raise CheckpointError(f"{where}: unknown model architecture {name!r}.")
    kwargs = {k: v for k, v in dict(ckpt["model_kwargs"]).items() if k != "pretrained"}
    try:
        check_model_kwargs(name, kwargs)
    except ValueError as exc:
        raise CheckpointError(f"{where}: {exc}") from exc

    def build(device: str) -> nn.Module:
        try:
            with torch.device(device):
                return create_model(name, pretrained=False, num_classes=len(ckpt["class_names"]),
                                    **kwargs)
        except Exception as exc:  # an argument the architecture rejects, however it says so
            raise CheckpointError(f"{where}: model arguments do not fit {name} "
                                  f"({type(exc).__name__}).") from exc

    shell = build("meta")
    n_params = sum(p.numel() for p in shell.parameters())
    if n_params > MAX_PARAMS:
        raise CheckpointError(f"{where}: {name} with these arguments has {n_params:,} parameters, "
                              f"over the limit of {MAX_PARAMS:,}; refused before building it.")
    cfg_size = shell.synthcheck_cfg.input_size
    if int(ckpt["input_size"]) != cfg_size:
        raise CheckpointError(f"{where}: input size {ckpt['input_size']} does not match "
                              f"{name}'s {cfg_size}.")
    _check_weights(shell.state_dict(), ckpt["state_dict"], name, where)
    model = build("cpu")
    try:
        model.load_state_dict(ckpt["state_dict"])
    except Exception as exc:
        raise CheckpointError(f"{where}: weights do not load into {name} "
                              f"({type(exc).__name__}).") from exc
    model.synthcheck_kwargs = kwargs
    return model


def _check_weights(expected: dict[str, torch.Tensor], state: dict[str, Any], name: str,
                   where: str) -> None:
    """Every tensor the model needs, with its shape, finite; nothing else."""
    import torch

    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{where}: weights do not fit {name}: missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]}.")
    for k, v in expected.items():
        t = state[k]
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"{where}: weight {k} is a {type(t).__name__}, not a tensor.")
        if tuple(t.shape) != tuple(v.shape):
            raise CheckpointError(f"{where}: tensor {k} has shape {tuple(t.shape)}, "
                                  f"{name} needs {tuple(v.shape)}.")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{where}: weight {k} holds NaN or infinite values.")


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and validate a checkpoint file (weights_only); raises :class:`CheckpointError`."""
    ckpt = safe_load(path, map_location)
    validate(ckpt, str(path))
    return ckpt


def check_meta(meta: dict[str, Any], where: str) -> None:
    """Refuse preprocessing metadata that would give meaningless verdicts (torch-free, shared by
    the checkpoint and ONNX loaders): input size an int in [1, 1024], mean/std three finite
    numbers with std > 0, temperature finite and > 0, every number of the fitted domain check
    finite. Raises ``CheckpointError`` (one sentence)."""

    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"{where}: {what}; refused.")

    size = meta.get("input_size")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_INPUT_SIZE:
        raise bad(f"input size must be a whole number from 1 to {MAX_INPUT_SIZE}, got {size!r}")
    for key in ("mean", "std"):
        vals = meta.get(key)
        if not isinstance(vals, (list, tuple)) or len(vals) != 3 or not all(
                _is_number(v) and math.isfinite(v) for v in vals):
            raise bad(f"{key} must be three finite numbers, got {vals!r}")
    if min(meta["std"]) <= 0:
        raise bad(f"std must be above 0, got {list(meta['std'])}")
    temp = meta.get("temperature", 1.0)
    if not (_is_number(temp) and math.isfinite(temp) and temp > 0):
        raise bad(f"temperature must be a finite number above 0, got {temp!r}")
    dom = meta.get("feature_domain")
    if dom is not None and not (isinstance(dom, dict) and all_finite(dom)):
        raise bad("the fitted domain check holds values that are not finite numbers")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def all_finite(v: Any, depth: int = 0) -> bool:
    """True when every number under ``v`` (dicts, lists, arrays, tensors) is finite."""
    if depth > 8:
        return False
    if v is None or isinstance(v, (bool, str)):
        return True
    if isinstance(v, (int, float)):
        return math.isfinite(v)
    if isinstance(v, dict):
        return all(all_finite(x, depth + 1) for x in v.values())
    if isinstance(v, (list, tuple)):
        return all(all_finite(x, depth + 1) for x in v)
    if hasattr(v, "dtype") and hasattr(v, "shape"):  # numpy array or CPU tensor
        try:
            return bool(np.isfinite(np.asarray(v, dtype=np.float64)).all())
        except (TypeError, ValueError):
            return False
    return False
