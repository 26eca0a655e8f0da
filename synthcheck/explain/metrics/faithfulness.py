"""Deletion and insertion curves (Petsiuk et al. 2018) with a random-map baseline.

Deletion replaces pixels with a baseline image in order of decreasing attribution and tracks
p(target); a faithful map makes it fall fast (low AUC). Insertion starts from the baseline and
restores pixels in the same order; a faithful map makes p(target) rise fast (high AUC). The
same curves for seeded random orderings say what chance looks like. All perturbed images of all
maps go through the model in one batched call.

Every random draw has its own stream keyed by the seed and what it is for (the random baseline;
each map's tie-breaking by the map's name), so the numbers for a method do not depend on which
other methods ran with it, or in what order.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...inference.base import softmax_p_fake

if TYPE_CHECKING:
    from ...inference import Detector

# uint8 N x H x W x 3 -> p(target) per image, or (log-odds of the target, p(target))
ScoreFn = Callable[[np.ndarray], "np.ndarray | tuple[np.ndarray, np.ndarray]"]
RANDOM_MAPS = 20  # K seeded random maps per image: the per-image rule and the bench use the same K


def auc(scores: np.ndarray, fractions: np.ndarray | None = None) -> float:
    """Area under a curve sampled at ``fractions`` (default: evenly over [0, 1]), trapezoid rule."""
    scores = np.asarray(scores, dtype=np.float64)
    x = np.linspace(0.0, 1.0, len(scores)) if fractions is None else np.asarray(fractions, np.float64)
    return float(np.trapezoid(scores, x))


def stream(seed: int, purpose: str) -> np.random.Generator:
    """The random stream for one ``purpose`` under ``seed`` (independent of every other purpose)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(purpose.encode())]))


def pixel_order(attribution: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flat pixel indices by decreasing attribution; ties are broken randomly (seeded)."""
    a = np.asarray(attribution, dtype=np.float64).ravel()
    return np.lexsort((rng.random(a.size), -a))


def perturbation_images(image: np.ndarray, baseline: np.ndarray, order: np.ndarray,
                        counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion images (len(counts) x H x W x 3) for a pixel ``order``."""
    h, w = image.shape[:2]
    rank = np.empty(h * w, np.int64)
    rank[order] = np.arange(h * w)
    top = (rank[None, :] < np.asarray(counts)[:, None]).reshape(len(counts), h, w, 1)  # first k pixels
    deletion = np.where(top, baseline[None], image[None])
    insertion = np.where(top, image[None], baseline[None])
    return deletion, insertion


def faithfulness(score_fn: ScoreFn, image: np.ndarray, maps: Mapping[str, np.ndarray],
                 baseline: np.ndarray, *, n_steps: int = 16, n_random: int = RANDOM_MAPS,
                 seed: int = 0) -> dict[str, dict[str, Any]]:
    """Deletion/insertion AUCs for each map and for ``n_random`` random maps (averaged).

    Returns ``{name: {"deletion_auc", "insertion_auc", "random_deletion_auc",
    "random_insertion_auc", "fractions", "deletion_curve", "insertion_curve",
    "random_deletion_curve", "random_insertion_curve"}}``. When ``score_fn`` also returns the
    target's log-odds, each entry adds ``deletion_auc_logit``, ``insertion_auc_logit`` and the K
    random maps' own log-odds AUCs (``random_deletion_aucs_logit``,
    ``random_insertion_aucs_logit``): what :func:`.verdicts.faithfulness_call` judges by (the
    bench's per-image rule, :mod:`.random_baseline`).
    """
    image = np.asarray(image, np.uint8)
    baseline = np.asarray(baseline, np.uint8)
    if image.shape != baseline.shape or image.ndim != 3:
        raise ValueError(f"image {image.shape} and baseline {baseline.shape} must both be H x W x 3")
    if n_steps < 1 or n_random < 1:
        raise ValueError("n_steps and n_random must be >= 1")
    h, w = image.shape[:2]
    for name, m in maps.items():
        if np.shape(m) != (h, w):
            raise ValueError(f"map {name!r} has shape {np.shape(m)}, expected {(h, w)}")
    fractions = np.linspace(0.0, 1.0, n_steps + 1)
    counts = np.round(fractions * h * w).astype(np.int64)
    interior = counts[1:-1]
    orders = [pixel_order(m, stream(seed, f"ties:{name}")) for name, m in maps.items()]
    rand = stream(seed, "random-baseline")
    orders += [rand.permutation(h * w) for _ in range(n_random)]
    batch = [image[None], baseline[None]]  # the curves' shared end points
    for order in orders:
        d, i = perturbation_images(image, baseline, order, interior)
        batch += [d, i]
    scored = score_fn(np.concatenate(batch))
    logit, p = scored if isinstance(scored, tuple) else (None, scored)
    deletion, insertion = curves_from_scores(np.asarray(p, dtype=np.float64), len(orders), len(interior))
    rand_del, rand_ins = deletion[len(maps):].mean(0), insertion[len(maps):].mean(0)
    common: dict[str, Any] = {
        "random_deletion_auc": auc(rand_del, fractions), "random_insertion_auc": auc(rand_ins, fractions),
        "fractions": fractions.tolist(), "random_deletion_curve": rand_del.tolist(),
        "random_insertion_curve": rand_ins.tolist()}
    out = {name: {"deletion_auc": auc(deletion[j], fractions), "insertion_auc": auc(insertion[j], fractions),
                  **common, "deletion_curve": deletion[j].tolist(), "insertion_curve": insertion[j].tolist()}
           for j, name in enumerate(maps)}
    if logit is not None:
        d_lo, i_lo = curves_from_scores(np.asarray(logit, dtype=np.float64), len(orders), len(interior))
        rand = {"random_deletion_aucs_logit": [auc(c, fractions) for c in d_lo[len(maps):]],
                "random_insertion_aucs_logit": [auc(c, fractions) for c in i_lo[len(maps):]]}
        for j, name in enumerate(maps):
            out[name].update(deletion_auc_logit=auc(d_lo[j], fractions),
                             insertion_auc_logit=auc(i_lo[j], fractions), **rand)
    return out


def curves_from_scores(scores: np.ndarray, n_orders: int, n_interior: int) -> tuple[np.ndarray, np.ndarray]:
    """(deletion, insertion) curves, n_orders x (n_interior + 2), from one batch's scores laid
    out as [full image, baseline, then each order's deletion and insertion images]."""
    full, base, rest = scores[0], scores[1], scores[2:].reshape(n_orders, 2, n_interior)
    ones = np.ones((n_orders, 1))
    return (np.concatenate([full * ones, rest[:, 0], base * ones], 1),
            np.concatenate([base * ones, rest[:, 1], full * ones], 1))


def target_scores(detector: Detector, arrays: np.ndarray, target_index: int,
                  batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated log-odds (z_t - z_other) / T, calibrated p(target)) of uint8 images, under
    the detector's lock; p through the one :func:`softmax_p_fake`. ``target_index`` 1 is FAKE."""
    if target_index not in (0, 1):
        raise ValueError(f"target_index must be 0 (REAL) or 1 (FAKE), not {target_index!r}")
    out = []
    with detector.lock, torch.inference_mode():
        for s in range(0, len(arrays), batch_size):
            x = detector.to_tensor(np.ascontiguousarray(arrays[s:s + batch_size]))
            out.append(detector.model(x).float().cpu().numpy().astype(np.float64))
    z = np.concatenate(out) if out else np.zeros((0, 2))
    lo, p_fake = (z[:, 1] - z[:, 0]) / float(detector.temperature), softmax_p_fake(z, detector.temperature)
    return (lo, p_fake) if target_index == 1 else (-lo, 1.0 - p_fake)


def detector_score_fn(detector: Detector, target_index: int, batch_size: int = 512,
                      with_logit: bool = False) -> ScoreFn:
    """p(target) (temperature-calibrated) for uint8 images, or (log-odds, p) with
    ``with_logit`` (:func:`target_scores`); ``target_index`` 1 is FAKE, 0 is REAL."""
    if target_index not in (0, 1):
        raise ValueError(f"target_index must be 0 (REAL) or 1 (FAKE), not {target_index!r}")

    def score(arrays: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        lo, p = target_scores(detector, arrays, target_index, batch_size)
        return (lo, p) if with_logit else p

    return score


def baseline_image(detector: Detector, image: np.ndarray, kind: str = "blur", sigma: float = 2.0) -> np.ndarray:
    """The 'removed pixel' image: ``blur`` (Gaussian-blurred copy) or ``mean`` (dataset mean colour)."""
    from ..base import blurred, mean_colour

    if kind == "blur":
        return blurred(image[None], sigma)[0]
    if kind == "mean":
        return mean_colour(detector, 1)[0]
    raise ValueError(f"baseline must be 'blur' or 'mean', not {kind!r}")


def evaluate_faithfulness(detector: Detector, image: np.ndarray, maps: Mapping[str, np.ndarray],
                          target_index: int, *, baseline: str = "blur", n_steps: int = 16,
                          n_random: int = RANDOM_MAPS, seed: int = 0) -> dict[str, dict[str, Any]]:
    """:func:`faithfulness` with the detector's p(target) and log-odds, and a blurred (or mean)
    baseline: the figures the per-image trust call judges by."""
    return faithfulness(detector_score_fn(detector, target_index, with_logit=True), image, maps,
                        baseline_image(detector, image, baseline), n_steps=n_steps,
                        n_random=n_random, seed=seed)
