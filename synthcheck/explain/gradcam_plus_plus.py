"""Grad-CAM++ (Chattopadhay et al. 2018) via pytorch-grad-cam, on the registry's CAM layer."""

from __future__ import annotations

import numpy as np

from .base import AttributionContext, Explainer
from .library_cam import library_cam


class GradCamPlusPlusExplainer(Explainer):
    """``pytorch_grad_cam.GradCAMPlusPlus`` towards the target's calibrated log-odds."""

    name = "gradcam_plus_plus"
    signed = False
    defaults: dict = {}
    description = "Grad-CAM++ (pytorch-grad-cam) on the registry's CAM layer"
    requires = ("pytorch_grad_cam",)

    def _attribute(self, ctx: AttributionContext) -> np.ndarray:
        from pytorch_grad_cam import GradCAMPlusPlus

        return library_cam(ctx, GradCAMPlusPlus)
