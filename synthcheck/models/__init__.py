"""Model registry and the input normalisation checkpoints name.

The registry (and every built-in architecture, registered as a side effect of importing the
zoo modules) loads on first use, so ``synthcheck.models.normalization`` stays importable without
torch for the ONNX Runtime backend.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ModelCfg", "check_model_kwargs", "create_model", "get_model_cfg", "is_model",
           "list_models", "register_model"]


def __getattr__(name: str) -> Any:
    """The registry's names, with every built-in architecture registered first."""
    if name in __all__:
        from . import _registry, small_cnn, timm_zoo, tv_zoo  # noqa: F401  (registration)

        return getattr(_registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
