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

from .base import AttributionContext, Explainer, blurred, superpixels


class KernelShapExplainer(Explainer):
    """captum ``KernelShap`` over superpixels; one value per superpixel, spread to its pixels."""

    name = "kernel_shap"
    signed = True
    defaults = {"n_samples": 128, "n_segments": 16, "compactness": 10.0, "blur_sigma": 2.0,
                "perturbations_per_eval": 256, "output": "log_odds"}
    description = "SHAP (captum KernelShap) on SLIC superpixels, blurred-image baseline"
    requires = ("captum.attr", "skimage.segmentation", "scipy.ndimage")

    def _attribute(self, ctx: AttributionContext) -> np.ndarray:
        from captum.attr import KernelShap

        p = ctx.params
        ks = KernelShap(ctx.forward(p["output"]))
        blur = blurred(ctx.arrays, float(p["blur_sigma"]))
        maps, n_seg, kinds = [], [], []
        for i, target in enumerate(ctx.targets):
            seg, kind = superpixels(ctx.arrays[i], int(p["n_segments"]), float(p["compactness"]))
            k = int(seg.max()) + 1
            n_seg.append(k)
            kinds.append(kind)
            if k < 2:
                maps.append(np.zeros(seg.shape, np.float32))
                ctx.notes.append("image has a single superpixel (flat image): nothing to attribute, "
                                 "map is uniformly zero")
                continue
            mask = torch.as_tensor(seg, device=ctx.inputs.device)[None, None]
            attr = ks.attribute(ctx.inputs[i:i + 1], baselines=ctx.to_tensor(blur[i:i + 1]), target=target,
                                feature_mask=mask, n_samples=int(p["n_samples"]),
                                perturbations_per_eval=int(p["perturbations_per_eval"]),
                                return_input_shape=True)
            maps.append(attr[0, 0].detach().cpu().numpy())
        ctx.params["segments"] = n_seg if len(n_seg) > 1 else n_seg[0]
        ctx.params["segmentation"] = kinds if len(kinds) > 1 else kinds[0]
        return np.stack(maps)
