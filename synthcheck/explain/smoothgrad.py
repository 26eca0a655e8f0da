"""SmoothGrad (Smilkov et al. 2017): captum ``NoiseTunnel`` over ``Saliency``.

Gradients of the target's calibrated log-odds are averaged over ``nt_samples`` copies of the
image with Gaussian noise of ``noise_level`` times the input's value range (the paper's 10-20%);
the map is the absolute averaged gradient summed over colour channels (unsigned, as in the
paper's figures). The noise is drawn from the seeded torch generator.
"""

from __future__ import annotations

import numpy as np

from .base import AttributionContext, Explainer


class SmoothGradExplainer(Explainer):
    """captum ``NoiseTunnel(Saliency)`` with ``nt_type="smoothgrad"``."""

    name = "smoothgrad"
    signed = False
    stochastic = True
    defaults = {"nt_samples": 16, "noise_level": 0.15, "nt_samples_batch_size": 64}
    description = "SmoothGrad (captum NoiseTunnel over Saliency), 15% noise"
    requires = ("captum.attr",)

    def _attribute(self, ctx: AttributionContext) -> np.ndarray:
        from captum.attr import NoiseTunnel, Saliency

        p = ctx.params
        # the value range of a [0, 1] pixel after the detector's normalisation, per channel
        span = float(np.mean(1.0 / np.asarray(ctx.detector.std, np.float64)))
        nt = NoiseTunnel(Saliency(ctx.forward("log_odds")))
        attr = nt.attribute(ctx.inputs, nt_type="smoothgrad", nt_samples=int(p["nt_samples"]),
                            nt_samples_batch_size=int(p["nt_samples_batch_size"]),
                            stdevs=float(p["noise_level"]) * span, target=ctx.targets, abs=False)
        return attr.abs().sum(1).detach().cpu().numpy()
