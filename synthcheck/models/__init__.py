"""Model registry; importing this package registers every built-in architecture."""

from . import small_cnn, timm_zoo, tv_zoo  # noqa: F401  (registration side effects)
from ._registry import (
    ModelCfg,
    check_model_kwargs,
    create_model,
    get_model_cfg,
    is_model,
    list_models,
    register_model,
)

__all__ = ["ModelCfg", "check_model_kwargs", "create_model", "get_model_cfg", "is_model",
           "list_models", "register_model"]
