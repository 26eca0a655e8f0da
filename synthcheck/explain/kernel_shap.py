"""KernelSHAP on SLIC superpixels: captum ``KernelShap`` with a superpixel ``feature_mask``.

A removed superpixel takes the blurred image's pixels. All coalitions of one image are
evaluated in one batch (``perturbations_per_eval`` >= ``n_samples``). The explained output is
the calibrated log-odds of the target (additive, and not flattened by a saturated softmax);
16 superpixels keep the regression well-posed at 128 samples (two-seed Spearman ~0.8, see
benchmarks/bench_explain.py).
"""

from __future__ import annotations

import numpy as np
import torch

from .base import AttributionContext, Explainer, blurred, segment_each


class KernelShapExplainer(Explainer):
    """captum ``KernelShap`` over superpixels; one value per superpixel, spread to its pixels."""

    name = "kernel_shap"
    signed = True
    stochastic = True
    defaults = {"n_samples": 128, "n_segments": 16, "compactness": 10.0, "blur_sigma": 2.0,
                "perturbations_per_eval": 256, "output": "log_odds"}
    description = "SHAP (captum KernelShap) on SLIC superpixels, blurred-image baseline"
    requires = ("captum.attr", "skimage.segmentation", "scipy.ndimage")

    def _attribute(self, ctx: AttributionContext) -> np.ndarray:
        from captum.attr import KernelShap

        p = ctx.params
        ks = KernelShap(ctx.forward(p["output"]))
        blur = blurred(ctx.arrays, float(p["blur_sigma"]))
        maps = []
        segments = segment_each(ctx, int(p["n_segments"]), float(p["compactness"]))
        for i, (target, seg) in enumerate(zip(ctx.targets, segments, strict=True)):
            if seg is None:
                maps.append(np.zeros(ctx.arrays[i].shape[:2], np.float32))
                continue
            mask = torch.as_tensor(seg, device=ctx.inputs.device)[None, None]
            attr = ks.attribute(ctx.inputs[i:i + 1], baselines=ctx.to_tensor(blur[i:i + 1]), target=target,
                                feature_mask=mask, n_samples=int(p["n_samples"]),
                                perturbations_per_eval=int(p["perturbations_per_eval"]),
                                return_input_shape=True)
            maps.append(attr[0, 0].detach().cpu().numpy())
        return np.stack(maps)
