"""Trust metrics for explanations: faithfulness, agreement between methods, sanity checks."""

from .agreement import agreement, spearman, topk_iou
from .faithfulness import (
    auc,
    baseline_image,
    detector_score_fn,
    evaluate_faithfulness,
    faithfulness,
    perturbation_images,
    pixel_order,
)
from .sanity import SanityResult, last_layers, model_randomisation_check, randomised_detector

__all__ = [
    "SanityResult", "agreement", "auc", "baseline_image", "detector_score_fn", "evaluate_faithfulness",
    "faithfulness", "last_layers", "model_randomisation_check", "perturbation_images", "pixel_order",
    "randomised_detector", "spearman", "topk_iou",
]
