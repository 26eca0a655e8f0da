"""SHAP by expected gradients: captum ``GradientShap`` against two 'no evidence' baselines.

Baselines are the image blurred (removes the fine detail a forensic model looks at) and the
dataset mean colour (the checkpoint's normalisation mean). All samples of one image go through
the model in a single forward/backward batch.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import AttributionContext, Explainer, blurred, mean_colour


class GradientShapExplainer(Explainer):
    """captum ``GradientShap``; the map is the attribution summed over colour channels."""

    name = "gradient_shap"
    signed = True
    stochastic = True
    defaults = {"n_samples": 32, "stdevs": 0.1, "blur_sigma": 2.0, "baselines": ("blur", "mean")}
    description = "SHAP (captum GradientShap), baselines: blurred image and dataset mean"
    requires = ("captum.attr", "scipy.ndimage")

    def _attribute(self, ctx: AttributionContext) -> np.ndarray:
        from captum.attr import GradientShap

        p = ctx.params
        kinds = tuple(p["baselines"])
        if not kinds or set(kinds) - {"blur", "mean"}:
            raise ValueError(f"gradient_shap baselines must be a subset of ('blur', 'mean'), not {kinds!r}")
        gs = GradientShap(ctx.forward("log_odds"))
        blur = blurred(ctx.arrays, float(p["blur_sigma"])) if "blur" in kinds else None
        mean = ctx.to_tensor(mean_colour(ctx.detector, 1)) if "mean" in kinds else None
        maps = []
        for i, target in enumerate(ctx.targets):  # baselines differ per image
            parts = ([ctx.to_tensor(blur[i:i + 1])] if blur is not None else []) + ([mean] if mean is not None else [])
            attr = gs.attribute(ctx.inputs[i:i + 1], baselines=torch.cat(parts), n_samples=int(p["n_samples"]),
                                stdevs=float(p["stdevs"]), target=target)
            maps.append(attr.sum(1)[0].detach().cpu().numpy())
        return np.stack(maps)
