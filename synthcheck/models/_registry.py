"""One model registry: every backbone (ours, torchvision, timm) is built by ``create_model``.

Each entrypoint declares its own preprocessing (input size, mean/std) and the layer Grad-CAM
should hook, so nothing about a model is repeated in the faces.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch.nn as nn


@dataclass(frozen=True)
class ModelCfg:
    """What a checkpoint needs to know to feed and explain a model."""

    input_size: int = 32
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    cam_layer: str = ""  # dotted module path for Grad-CAM (spatial map wider than 1x1 at input)
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_ENTRYPOINTS: dict[str, Callable[..., nn.Module]] = {}
_CFGS: dict[str, ModelCfg] = {}


def register_model(cfg: ModelCfg) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register ``fn`` under its ``__name__`` with its preprocessing ``cfg``."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = fn.__name__
        if name in _ENTRYPOINTS:
            raise ValueError(f"model {name!r} is already registered")
        _ENTRYPOINTS[name] = fn
        _CFGS[name] = cfg
        return fn

    return wrap


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style wildcard, sorted."""
    return sorted(n for n in _ENTRYPOINTS if fnmatch.fnmatch(n, pattern))


def is_model(name: str) -> bool:
    return name in _ENTRYPOINTS


def get_model_cfg(name: str) -> ModelCfg:
    if name not in _CFGS:
        raise RuntimeError(f"unknown model {name!r}; known: {', '.join(list_models())}")
    return _CFGS[name]


# The architecture arguments a checkpoint may carry (``model_kwargs``), each with its test: anything
# else could reach a constructor that reads files or allocates at will (timm's
# ``checkpoint_path``, ``pretrained_cfg_overlay``, ...), so it is refused before building.
_KWARG_RULES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "drop_rate": ("a number in [0, 1]",
                  lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1),
    "freeze_backbone": ("true or false", lambda v: isinstance(v, bool)),
    "stem_stride": ("a whole number from 1 to 4",
                    lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4),
    "filters": ("a whole number from 1 to 1024",
                lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1024),
    "hidden": ("a whole number from 1 to 65536",
               lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65536),
}


def check_model_kwargs(name: str, kwargs: dict[str, Any]) -> None:
    """Refuse architecture arguments outside the known set or range (``ValueError``, one
    sentence); whether ``name`` accepts them is left to its constructor."""
    for key, value in kwargs.items():
        if value is None:
            continue
        rule = _KWARG_RULES.get(key) if isinstance(key, str) else None
        if rule is None:
            raise ValueError(f"model argument {key!r} is not one a {name} checkpoint may set; "
                             "refused.")
        if not rule[1](value):
            raise ValueError(f"model argument {key} must be {rule[0]}, got {value!r}; refused.")


def create_model(name: str, pretrained: bool = False, num_classes: int = 2, **kwargs: Any) -> nn.Module:
    """Build a registered model. ``None`` kwargs are dropped so unset CLI flags keep defaults.

    The returned module carries ``synthcheck_cfg`` (a :class:`ModelCfg`) and ``synthcheck_name``.
    """
    if name not in _ENTRYPOINTS:
        raise RuntimeError(f"unknown model {name!r}; known: {', '.join(list_models())}")
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    model = _ENTRYPOINTS[name](pretrained=pretrained, num_classes=num_classes, **kwargs)
    model.synthcheck_cfg = _CFGS[name]
    model.synthcheck_name = name
    model.synthcheck_kwargs = dict(kwargs)  # recorded in checkpoints to rebuild the model
    return model


def get_submodule(model: nn.Module, path: str) -> nn.Module:
    """Resolve a dotted module path such as ``features.12`` (used for CAM layers)."""
    return model.get_submodule(path)
