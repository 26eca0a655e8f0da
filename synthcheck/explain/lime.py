"""LIME via the ``lime`` package's image explainer, on SLIC superpixels sized for 32 x 32 inputs.

``lime_image`` builds each perturbed image in a Python loop with a progress bar; the subclass
below only vectorises that step (same random draws, same images, one batched model call per
``batch_size``). Sampling, kernel and the ridge fit stay the library's. A flat image with a
single superpixel gives a uniform zero map and a note instead of an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import AttributionContext, Explainer, segment_each


def _batched_lime_explainer(random_state: int, kernel_width: float) -> Any:
    """A ``LimeImageExplainer`` whose neighbourhood generation is vectorised and silent."""
    from lime import lime_image

    class BatchedLimeImageExplainer(lime_image.LimeImageExplainer):
        """Same neighbourhood as ``LimeImageExplainer.data_labels``, built with numpy."""

        def data_labels(self, image: np.ndarray, fudged_image: np.ndarray, segments: np.ndarray,
                        classifier_fn: Any, num_samples: int, batch_size: int = 10) -> tuple[np.ndarray, np.ndarray]:
            n_features = np.unique(segments).shape[0]
            data = self.random_state.randint(0, 2, num_samples * n_features).reshape((num_samples, n_features))
            data[0, :] = 1
            keep = data[:, segments].astype(bool)[..., None]  # num_samples x H x W x 1
            imgs = np.where(keep, image[None], fudged_image[None])
            labels = [classifier_fn(imgs[s:s + batch_size]) for s in range(0, num_samples, batch_size)]
            return data, np.concatenate(labels)

    return BatchedLimeImageExplainer(kernel_width=kernel_width, feature_selection="none",
                                     random_state=random_state)


class LimeExplainer(Explainer):
    """``lime_image.LimeImageExplainer``: one ridge weight per superpixel, spread to its pixels."""

    name = "lime"
    signed = True
    stochastic = True
    defaults = {"num_samples": 256, "n_segments": 25, "compactness": 10.0, "kernel_width": 0.25,
                "batch_size": 256, "hide_color": None}
    description = "LIME (lime_image) on SLIC superpixels"
    requires = ("lime.lime_image", "skimage.segmentation")

    def _attribute(self, ctx: AttributionContext) -> np.ndarray:
        p = ctx.params
        maps = []
        segments = segment_each(ctx, int(p["n_segments"]), float(p["compactness"]))
        for i, (target, seg) in enumerate(zip(ctx.targets, segments, strict=True)):
            image = ctx.arrays[i]
            if seg is None:
                maps.append(np.zeros(image.shape[:2], np.float32))
                continue
            k = int(seg.max()) + 1
            explainer = _batched_lime_explainer(ctx.seed, float(p["kernel_width"]))
            exp = explainer.explain_instance(
                image, lambda a: ctx.proba_of_arrays(a), labels=(target,), hide_color=p["hide_color"],
                top_labels=None, num_features=k, num_samples=int(p["num_samples"]),
                batch_size=int(p["batch_size"]), segmentation_fn=lambda _img, s=seg: s, random_seed=ctx.seed)
            weights = np.zeros(k, np.float32)
            for s, w in exp.local_exp[target]:
                weights[s] = w
            maps.append(weights[seg])
        return np.stack(maps)
