"""Score-CAM (Wang et al. 2020) via pytorch-grad-cam: gradient-free channel weights.

Each channel of the CAM layer (64 at 8 x 8 for the default model), upsampled and scaled to
[0, 1], masks the input; the target's calibrated log-odds of the masked images, softmaxed over
channels, weight the channels. One model evaluation per channel per image.
"""

from __future__ import annotations

import numpy as np

from .base import AttributionContext, Explainer
from .library_cam import library_cam


class ScoreCamExplainer(Explainer):
    """``pytorch_grad_cam.ScoreCAM`` towards the target's calibrated log-odds."""

    name = "score_cam"
    signed = False
    defaults = {"batch_size": 128}
    description = "Score-CAM (pytorch-grad-cam) on the registry's CAM layer"
    requires = ("pytorch_grad_cam",)

    def _attribute(self, ctx: AttributionContext) -> np.ndarray:
        from pytorch_grad_cam import ScoreCAM

        return library_cam(ctx, ScoreCAM, batch_size=int(ctx.params["batch_size"]))
