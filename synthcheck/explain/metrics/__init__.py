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
from .random_baseline import beats_random, random_bounds
from .road import road
from .sanity import (
    CascadeResult,
    SanityResult,
    cascade_detectors,
    cascade_stages,
    cascading_randomisation_check,
    last_layers,
    model_randomisation_check,
    randomised_detector,
)

__all__ = [
    "CascadeResult", "SanityResult", "agreement", "auc", "baseline_image", "beats_random", "cascade_detectors",
    "cascade_stages", "cascading_randomisation_check", "detector_score_fn", "evaluate_faithfulness",
    "faithfulness", "last_layers", "model_randomisation_check", "perturbation_images", "pixel_order",
    "random_bounds", "randomised_detector", "road", "spearman", "topk_iou",
]
