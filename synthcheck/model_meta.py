"""Is a checkpoint's self-description sane? Checked before any model is built or any input is
scored (torch-free: the torch and ONNX Runtime loaders share it)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_INPUT_SIZE = 1024  # model input side in pixels; the registry's models use 32 or 64


def check_meta(meta: dict[str, Any], where: str) -> None:
    """Refuse preprocessing metadata that would give meaningless verdicts (torch-free, shared by
    the checkpoint and ONNX loaders): input size an int in [1, 1024], mean/std three finite
    numbers with std > 0, temperature finite and > 0, threshold (when present) finite in [0, 1],
    every number of the fitted domain check finite. Raises ``CheckpointError`` (one sentence)."""
    from .errors import CheckpointError

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
    thr = meta.get("threshold", 0.5)
    if not (_is_number(thr) and math.isfinite(thr) and 0.0 <= thr <= 1.0):
        raise bad(f"threshold must be a finite number in [0, 1], got {thr!r}")
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
