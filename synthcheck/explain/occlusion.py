"""Occlusion (Zeiler and Fergus 2014): captum ``Occlusion`` with a blurred-image patch.

A 4 x 4 window slides with stride 2 (225 positions at 32 x 32); each position replaces the
window with the blurred image's pixels and records the drop in the target's calibrated
log-odds. A pixel's value is the mean drop over the windows that cover it. Deterministic.
"""

from __future__ import annotations

import numpy as np

from .base import AttributionContext, Explainer, blurred


class OcclusionExplainer(Explainer):
    """captum ``Occlusion``; the map is the mean over colour channels (all equal per window)."""

    name = "occlusion"
    signed = True
    defaults = {"window": 4, "stride": 2, "blur_sigma": 2.0, "perturbations_per_eval": 256}
    description = "Occlusion (captum), 4 x 4 blurred patches, stride 2"
    requires = ("captum.attr", "scipy.ndimage")

    def _attribute(self, ctx: AttributionContext) -> np.ndarray:
        from captum.attr import Occlusion

        p = ctx.params
        w, s = int(p["window"]), int(p["stride"])
        if not 1 <= s <= w <= ctx.inputs.shape[-1]:
            raise ValueError(f"occlusion needs 1 <= stride <= window <= {ctx.inputs.shape[-1]}, not {s}, {w}")
        occ = Occlusion(ctx.forward("log_odds"))
        base = ctx.to_tensor(blurred(ctx.arrays, float(p["blur_sigma"])))
        attr = occ.attribute(ctx.inputs, sliding_window_shapes=(3, w, w), strides=(3, s, s), baselines=base,
                             target=ctx.targets, perturbations_per_eval=int(p["perturbations_per_eval"]))
        return attr.mean(1).detach().cpu().numpy()
