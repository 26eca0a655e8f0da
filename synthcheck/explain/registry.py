"""The explanation methods by name: one registry that every caller (explain_all, the sanity
check, the faces) looks methods up in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Explainer
from .gradcam import GradCamExplainer, GuidedGradCamExplainer
from .gradcam_plus_plus import GradCamPlusPlusExplainer
from .gradient_shap import GradientShapExplainer
from .integrated_gradients import IntegratedGradientsExplainer
from .kernel_shap import KernelShapExplainer
from .lime import LimeExplainer
from .occlusion import OcclusionExplainer
from .score_cam import ScoreCamExplainer
from .smoothgrad import SmoothGradExplainer

if TYPE_CHECKING:
    from ..inference import Detector

_REGISTRY: dict[str, type[Explainer]] = {}
ALIASES = {"shap": "gradient_shap", "grad_cam": "gradcam", "guided": "guided_gradcam",
           "kernelshap": "kernel_shap", "gradientshap": "gradient_shap", "ig": "integrated_gradients",
           "gradcam++": "gradcam_plus_plus", "gradcampp": "gradcam_plus_plus", "scorecam": "score_cam",
           "smooth_grad": "smoothgrad"}
DEFAULT_METHODS = ("gradcam", "gradient_shap", "lime")


def register_explainer(cls: type[Explainer]) -> type[Explainer]:
    """Register an :class:`Explainer` subclass under ``cls.name`` (usable as a decorator)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


for _cls in (GradCamExplainer, GuidedGradCamExplainer, GradientShapExplainer, KernelShapExplainer, LimeExplainer,
             IntegratedGradientsExplainer, OcclusionExplainer, SmoothGradExplainer, GradCamPlusPlusExplainer,
             ScoreCamExplainer):
    register_explainer(_cls)


def list_methods() -> list[str]:
    """Registered method names (aliases such as ``shap`` are accepted too)."""
    return list(_REGISTRY)


def canonical_method(method: str) -> str:
    """Resolve aliases (``shap`` -> ``gradient_shap``); raise ValueError for unknown names."""
    key = method.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise ValueError(f"unknown explanation method {method!r}; known: {', '.join(list_methods())} "
                         f"(aliases: {', '.join(sorted(ALIASES))})")
    return key


def get_explainer(method: str | type[Explainer], detector: Detector) -> Explainer:
    """An explainer instance for ``method`` (a registered name/alias or an Explainer subclass)."""
    cls = method if isinstance(method, type) else _REGISTRY[canonical_method(method)]
    return cls(detector)
