"""Grad-CAM and Guided Grad-CAM via captum, on the layer the model registry names.

Both attribute the calibrated log-odds of the target class. Grad-CAM is batched over images in
one forward/backward pass; its 8 x 8 map (default model) is upsampled bilinearly with
``LayerAttribution.interpolate``.
"""

from __future__ import annotations

import warnings

import numpy as np

from .base import AttributionContext, Explainer


def cam_layer(ctx: AttributionContext):
    """The module Grad-CAM hooks: ``detector.cam_layer`` from the checkpoint / registry."""
    det = ctx.detector
    if not det.cam_layer:
        raise RuntimeError(f"model {det.model_name!r} declares no cam_layer for Grad-CAM")
    return det.model.get_submodule(det.cam_layer)


class GradCamExplainer(Explainer):
    """captum ``LayerGradCam`` (ReLU'd, unsigned) upsampled to the input size."""

    name = "gradcam"
    signed = False
    defaults = {"interpolate_mode": "bilinear", "relu_attributions": True}
    description = "Grad-CAM (captum LayerGradCam) on the registry's CAM layer"
    requires = ("captum.attr",)

    def _attribute(self, ctx: AttributionContext) -> np.ndarray:
        from captum.attr import LayerAttribution, LayerGradCam

        p = ctx.params
        layer = cam_layer(ctx)
        gc = LayerGradCam(ctx.forward("log_odds"), layer)
        attr = gc.attribute(ctx.inputs, target=ctx.targets, relu_attributions=bool(p["relu_attributions"]))
        up = LayerAttribution.interpolate(attr, tuple(ctx.inputs.shape[2:]), interpolate_mode=p["interpolate_mode"])
        ctx.params["layer"] = ctx.detector.cam_layer
        ctx.params["layer_resolution"] = list(attr.shape[2:])
        return up[:, 0].detach().cpu().numpy()


class GuidedGradCamExplainer(Explainer):
    """captum ``GuidedGradCam``: Grad-CAM times guided backprop, summed over colour channels."""

    name = "guided_gradcam"
    signed = True
    defaults = {"interpolate_mode": "nearest"}
    description = "Guided Grad-CAM (captum GuidedGradCam), pixel-level detail"
    requires = ("captum.attr",)

    def _attribute(self, ctx: AttributionContext) -> np.ndarray:
        from captum.attr import GuidedGradCam

        ggc = GuidedGradCam(ctx.forward("log_odds"), cam_layer(ctx))
        x = ctx.inputs.detach().requires_grad_(True)
        with warnings.catch_warnings():  # captum announces its temporary ReLU hooks on every call
            warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU", category=UserWarning)
            attr = ggc.attribute(x, target=ctx.targets, interpolate_mode=ctx.params["interpolate_mode"])
        ctx.params["layer"] = ctx.detector.cam_layer
        return attr.sum(1).detach().cpu().numpy()
