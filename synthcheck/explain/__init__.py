"""Explanations you can check: CAMs, gradients, SHAP, LIME, occlusion behind one interface, with trust metrics.

``explain(detector, image, method)`` returns an :class:`Explanation` (an H x W float32 map at the
model's input resolution plus parameters, seed, model evaluations and time);
``explain_all`` runs several methods on one image and adds deletion/insertion faithfulness
(against a random map) and agreement between methods. Methods live in one small file each and
are registered by name in :mod:`.registry`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import CLASS_NAMES, Explainer, Explanation, as_loaded, check_seed, resolve_target
from .gradcam import GradCamExplainer, GuidedGradCamExplainer
from .gradcam_plus_plus import GradCamPlusPlusExplainer
from .gradient_shap import GradientShapExplainer
from .integrated_gradients import IntegratedGradientsExplainer
from .kernel_shap import KernelShapExplainer
from .lime import LimeExplainer
from .metrics.faithfulness import RANDOM_MAPS
from .occlusion import OcclusionExplainer
from .registry import (
    ALIASES,
    DEFAULT_METHODS,
    canonical_method,
    get_explainer,
    list_methods,
    register_explainer,
)
from .score_cam import ScoreCamExplainer
from .smoothgrad import SmoothGradExplainer

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from ..inference import Detector, Scores

def explain(detector: Detector, image: Any, method: str = "gradcam", *, target: str | int,
            seed: int = 0, **options: Any) -> Explanation:
    """Explain one image with one method towards ``target`` (the analysis's verdict, or a class
    the caller names); same image + same seed gives the identical map."""
    return get_explainer(method, detector).explain(image, target=target, seed=seed, **options)


def explain_batch(detector: Detector, images: Sequence[Any], method: str = "gradcam", *,
                  target: str | int | Sequence[str | int], seed: int = 0,
                  **options: Any) -> list[Explanation]:
    """Explain many images in one call (Grad-CAM/SHAP gradients batched on the model)."""
    return get_explainer(method, detector).explain_batch(images, target=target, seed=seed, **options)


@dataclass
class ExplainReport:
    """Several methods on one image, with faithfulness and agreement numbers."""

    image: np.ndarray  # uint8 H x W x 3 at the model's input size
    scores: Scores  # the model's scores of ``image`` (no verdict: that is the analysis's)
    target: str
    target_index: int
    explanations: dict[str, Explanation]
    faithfulness: dict[str, dict[str, Any]] = field(default_factory=dict)
    agreement: dict[str, Any] = field(default_factory=dict)
    sanity: dict[str, dict[str, Any]] = field(default_factory=dict)
    seed: int = 0
    seconds: float = 0.0  # whole call, metrics included
    metrics_seconds: float = 0.0

    def to_dict(self, curves: bool = False) -> dict[str, Any]:
        """JSON-friendly summary (maps left out; curves only when ``curves``)."""
        faith = {m: {k: (round(v, 6) if isinstance(v, float) else v) for k, v in f.items()
                     if curves or not isinstance(v, list)} for m, f in self.faithfulness.items()}
        return {"p_fake": round(self.scores.p_fake, 6),
                "target": self.target, "target_index": self.target_index, "seed": self.seed,
                "explanations": {m: e.to_dict() for m, e in self.explanations.items()},
                "faithfulness": faith, "agreement": _round(self.agreement), "sanity": self.sanity,
                "seconds": round(self.seconds, 6), "metrics_seconds": round(self.metrics_seconds, 6)}


def _round(obj: Any, nd: int = 6) -> Any:
    if isinstance(obj, dict):
        return {k: _round(v, nd) for k, v in obj.items()}
    return round(obj, nd) if isinstance(obj, float) else obj


def explain_all(detector: Detector, image: Any, methods: Iterable[str] = DEFAULT_METHODS, *,
                target: str | int, seed: int = 0, with_metrics: bool = True,
                options: Mapping[str, Mapping[str, Any]] | None = None, with_sanity: bool = False,
                n_steps: int = 16, n_random: int = RANDOM_MAPS, baseline: str = "blur", topk: float = 0.1) -> ExplainReport:
    """Run ``methods`` on one image towards ``target`` (the analysis's verdict, or a class the
    caller names); add faithfulness/agreement (and sanity)."""
    from .metrics import agreement, evaluate_faithfulness, model_randomisation_check

    t0 = time.perf_counter()
    seed = check_seed(seed)
    names = list(dict.fromkeys(canonical_method(m) for m in methods))
    if not names:
        raise ValueError("no explanation method given")
    options = {canonical_method(k): dict(v) for k, v in (options or {}).items()}
    arr = np.array(detector.to_array(as_loaded(image)))  # writable copy
    t_idx = resolve_target(target)
    with detector.lock:
        scores = detector.predict_arrays(arr[None])[0]
    exps = {m: get_explainer(m, detector).explain_arrays(arr[None], target=t_idx, seed=seed,
                                                         **options.get(m, {}))[0] for m in names}
    report = ExplainReport(arr, scores, CLASS_NAMES[t_idx], t_idx, exps, seed=seed)
    t1 = time.perf_counter()
    if with_metrics:
        maps = {m: e.map for m, e in exps.items()}
        report.faithfulness = evaluate_faithfulness(detector, arr, maps, t_idx, baseline=baseline,
                                                    n_steps=n_steps, n_random=n_random, seed=seed)
        report.agreement = agreement(maps, topk) if len(maps) > 1 else {}
    if with_sanity:
        report.sanity = {m: model_randomisation_check(detector, arr, m, seed=seed, explanation=e,
                                                      **options.get(m, {})).to_dict()
                         for m, e in exps.items()}
    report.metrics_seconds = time.perf_counter() - t1
    report.seconds = time.perf_counter() - t0
    return report


__all__ = [
    "ALIASES", "CLASS_NAMES", "DEFAULT_METHODS", "ExplainReport", "Explainer", "Explanation",
    "GradCamExplainer", "GradCamPlusPlusExplainer", "GradientShapExplainer", "GuidedGradCamExplainer",
    "IntegratedGradientsExplainer", "KernelShapExplainer", "LimeExplainer", "OcclusionExplainer",
    "ScoreCamExplainer", "SmoothGradExplainer", "canonical_method", "explain", "explain_all", "explain_batch", "get_explainer",
    "list_methods", "register_explainer",
]
