"""ROAD: remove and debias (Rong et al. 2022), via pytorch-grad-cam's noisy linear imputation.

Removed pixels are not painted with a fixed colour (whose edges leak the removal mask to the
model); they are filled by solving for each missing pixel as the weighted mean of its
neighbours, plus a little Gaussian noise (pytorch-grad-cam's ``NoisyLinearImputer``, in the
detector's normalised input space). MoRF removes the most relevant pixels first (a faithful map
makes p(target) fall: lower is better); LeRF removes the least relevant first (p(target) should
hold: higher is better). Each figure is the mean calibrated p(target) over the removal
``percentiles`` (the library's 10..90%).

The library builds each equation system in a Python ``lil_matrix`` loop (about 37 ms per
imputation here, 7 s per image for 11 maps); :class:`FastNoisyLinearImputer` builds the same
system with vectorised COO indices and draws the noise the same way, so it gives the library's
images (``tests/test_explain_reference.py`` checks this) at a fraction of the cost.

Pixel ties in a map are broken by the same seeded stream as the deletion curves (``ties:NAME``):
the map is turned into distinct ranks before the library thresholds it, so a Grad-CAM map that
is zero on half the image does not remove that half at once. The imputation noise of each map
comes from its own seeded torch stream, so one method's figure does not depend on which others
ran. The perturbation step is the library's (:class:`RemoveMostRelevantFirst` /
:class:`RemoveLeastRelevantFirst`); only the model call is batched over maps and percentiles.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...inference.base import softmax_p_fake
from .faithfulness import pixel_order, stream

if TYPE_CHECKING:
    from ...inference import Detector

PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)  # pytorch-grad-cam's ROAD defaults
NOISE = 0.01  # the library's default, absolute, in normalised input units


NEIGHBOURS = (((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12),
              ((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6))  # the library's


class FastNoisyLinearImputer:
    """pytorch-grad-cam's ``NoisyLinearImputer`` (same equations, same noise draw), vectorised.

    Called as ``imputer(img, mask)`` with ``img`` C x H x W and ``mask`` H x W (1 = keep, 0 =
    impute), like the library's, so the library's removal classes can use it.
    """

    def __init__(self, noise: float = NOISE) -> None:
        self.noise = float(noise)

    def __call__(self, img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        from scipy.sparse import coo_matrix
        from scipy.sparse.linalg import spsolve

        c, h, w = img.shape
        keep = mask.reshape(-1).numpy() > 0.5
        flat = img.reshape(c, -1)
        missing = np.flatnonzero(~keep)
        if missing.size == 0:
            return img.clone()
        var = np.zeros(h * w, np.int64)
        var[missing] = np.arange(missing.size)
        rows0, cols0 = missing // w, missing % w
        values = flat.numpy().astype(np.float64)
        b = np.zeros((missing.size, c))
        diag = np.ones(missing.size)
        rows, cols, data = [], [], []
        for (dr, dc), weight in NEIGHBOURS:
            r, q = rows0 + dr, cols0 + dc
            valid = (r >= 0) & (q >= 0) & (r < h) & (q < w)
            diag[~valid] -= weight
            ids, nb = np.flatnonzero(valid), (r * w + q)[valid]
            known = keep[nb]
            b[ids[known]] -= weight * values[:, nb[known]].T
            rows.append(ids[~known])
            cols.append(var[nb[~known]])
            data.append(np.full(int((~known).sum()), weight))
        rows.append(np.arange(missing.size))
        cols.append(np.arange(missing.size))
        data.append(-diag)
        a = coo_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(missing.size, missing.size)).tocsc()
        res = torch.tensor(np.asarray(spsolve(a, b)).reshape(missing.size, c), dtype=torch.float)
        out = flat.clone()
        out[:, torch.from_numpy(missing)] = res.t() + self.noise * torch.randn_like(res.t())
        return out.reshape_as(img)


def rank_map(attribution: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The map as distinct ranks in [0, 1] (1 = most relevant), ties broken by ``rng``."""
    a = np.asarray(attribution)
    order = pixel_order(a, rng)  # most relevant first
    ranks = np.empty(a.size, np.float32)
    ranks[order] = np.linspace(1.0, 0.0, a.size, dtype=np.float32)
    return ranks.reshape(a.shape)


def torch_seed(seed: int, purpose: str) -> int:
    """A torch seed for one ``purpose`` under ``seed`` (the imputation noise of one map)."""
    return int(np.random.SeedSequence([int(seed), zlib.crc32(purpose.encode())]).generate_state(1)[0])


def imputed_inputs(x: torch.Tensor, cam: np.ndarray, order: str, percentiles: Sequence[float],
                   seed: int, noise: float = NOISE, imputer: Any = None) -> torch.Tensor:
    """The library's ROAD inputs (len(percentiles) x C x H x W) for one normalised image ``x``
    (C x H x W, CPU) and one map with distinct values; ``order`` is "morf" or "lerf".
    ``imputer`` defaults to :class:`FastNoisyLinearImputer`."""
    from pytorch_grad_cam.metrics.perturbation_confidence import (
        RemoveLeastRelevantFirst,
        RemoveMostRelevantFirst,
    )

    remove = {"morf": RemoveMostRelevantFirst, "lerf": RemoveLeastRelevantFirst}[order]
    out = []
    mask = torch.from_numpy(np.ascontiguousarray(cam, np.float32))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for p in percentiles:
            out.append(remove(p, imputer or FastNoisyLinearImputer(noise))(x, mask))
    return torch.stack(out)


def road(detector: Detector, image: np.ndarray, maps: Mapping[str, np.ndarray], target_index: int, *,
         percentiles: Sequence[float] = PERCENTILES, seed: int = 0, noise: float = NOISE) -> dict[str, dict[str, Any]]:
    """``{name: {"morf", "lerf", "morf_logit", "lerf_logit", "percentiles", "morf_curve",
    "lerf_curve"}}`` for each map on one uint8 H x W x 3 ``image`` (p in [0, 1]; the logit
    figures are the mean calibrated log-odds of the target)."""
    if target_index not in (0, 1):
        raise ValueError(f"target_index must be 0 (REAL) or 1 (FAKE), not {target_index!r}")
    x = detector.to_tensor(np.ascontiguousarray(image[None], np.uint8))[0].detach().cpu().float()
    names, batch = list(maps), []
    for name in names:
        cam = rank_map(maps[name], stream(seed, f"ties:{name}"))
        for order in ("morf", "lerf"):
            batch.append(imputed_inputs(x, cam, order, percentiles, torch_seed(seed, f"road-{order}:{name}"), noise))
    if not batch:
        return {}
    with detector.lock, torch.inference_mode():
        z = detector.model(torch.cat(batch).to(detector.device)).float().cpu().numpy().astype(np.float64)
    lo, p = (z[:, 1] - z[:, 0]) / float(detector.temperature), softmax_p_fake(z, detector.temperature)
    if target_index == 0:
        lo, p = -lo, 1.0 - p
    lo, p = lo.reshape(len(names), 2, len(percentiles)), p.reshape(len(names), 2, len(percentiles))
    return {name: {"morf": float(p[j, 0].mean()), "lerf": float(p[j, 1].mean()),
                   "morf_logit": float(lo[j, 0].mean()), "lerf_logit": float(lo[j, 1].mean()),
                   "percentiles": list(percentiles), "morf_curve": p[j, 0].tolist(), "lerf_curve": p[j, 1].tolist()}
            for j, name in enumerate(names)}
