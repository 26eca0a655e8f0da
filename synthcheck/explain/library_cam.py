"""pytorch-grad-cam's own CAMs on the registry's CAM layer: a shared runner.

The methods (:mod:`.gradcam_plus_plus`, :mod:`.score_cam`) hand a CAM class to
:func:`library_cam`; it wraps the model so the target output is the calibrated log-odds (the
quantity every gradient method here attributes), releases the library's hooks after the call,
and silences Score-CAM's per-image progress bars. The library scales each map to [0, 1] and
resizes it to the input (bilinear).
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from .base import AttributionContext
from .gradcam import cam_layer


def library_cam(ctx: AttributionContext, cam_class: Any, **attrs: Any) -> np.ndarray:
    """N x H x W maps from a ``pytorch_grad_cam`` CAM class for ``ctx.targets``."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    targets = [ClassifierOutputTarget(t) for t in ctx.targets]
    with cam_class(model=ctx.forward("log_odds"), target_layers=[cam_layer(ctx)]) as cam:
        cam.compute_input_gradient = True  # parameters are frozen: the graph needs a leaf
        for key, value in attrs.items():
            setattr(cam, key, value)
        with contextlib.redirect_stderr(io.StringIO()):  # Score-CAM draws a tqdm bar per image
            maps = cam(input_tensor=ctx.inputs.detach().clone(), targets=targets)
    ctx.params["layer"] = ctx.detector.cam_layer
    return np.asarray(maps, np.float32)
