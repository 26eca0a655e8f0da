"""How far can the verdict be trusted once an image has been processed or attacked?

``evaluate_robustness`` scores a detector on a labelled set under each perturbation:
JPEG re-compression (quality 90/70/50/30), downscale-upscale, Gaussian blur and noise, and
white-box adversarial attacks (FGSM and PGD from ``captum.robust`` at several L-inf radii,
on the logit margin; PGD: 10 steps of 2.5 eps / 10).
``verdict_stability`` shows how one image's p_fake moves under the same perturbations.

Perturbations are applied to the images at the model's input size (what the model sees);
processed images are rounded back to 8 bits, adversarial ones stay in float (the attacker's
best case). Everything is seeded: the same inputs and seed give the same table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ..data import perturb as ra
from ..inference.base import softmax_p_fake

DEFAULT_EPSILONS = (1 / 255, 2 / 255, 4 / 255, 8 / 255)


@dataclass(frozen=True)
class Perturbation:
    name: str  # machine name, e.g. "jpeg_q70"
    family: str  # clean | jpeg | resize | blur | noise | fgsm | pgd
    param: float
    label: str  # for people, e.g. "JPEG quality 70"

    @property
    def adversarial(self) -> bool:
        return self.family in ("fgsm", "pgd")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


CLEAN = Perturbation("clean", "clean", 0.0, "no change")


def default_perturbations(adversarial: bool = True, epsilons: Sequence[float] = DEFAULT_EPSILONS,
                          ) -> list[Perturbation]:
    """The standard table: JPEG 90/70/50/30, resize x0.5/x0.75, blur, noise, FGSM and PGD."""
    out = [Perturbation(f"jpeg_q{q}", "jpeg", q, f"JPEG quality {q}") for q in (90, 70, 50, 30)]
    out += [Perturbation(f"resize_{s:g}", "resize", s, f"downscale x{s:g} and back") for s in (0.75, 0.5)]
    out += [Perturbation(f"blur_{s:g}", "blur", s, f"Gaussian blur sigma {s:g}px") for s in (0.5, 1.0)]
    out += [Perturbation(f"noise_{s:g}", "noise", s, f"Gaussian noise std {s * 255:.0f}/255") for s in (0.02, 0.05)]
    if adversarial:
        for fam in ("fgsm", "pgd"):
            out += [Perturbation(f"{fam}_{e * 255:g}", fam, e, f"{fam.upper()} eps {e * 255:g}/255")
                    for e in epsilons]
    return out


def parse_perturbations(names: Sequence[str] | None, adversarial: bool = True) -> list[Perturbation]:
    """Select defaults by name or family (``jpeg``, ``pgd_8`` ...); None = all defaults."""
    allp = default_perturbations(adversarial=True)
    if not names:
        return default_perturbations(adversarial=adversarial)
    chosen = [p for p in allp if p.name in names or p.family in names]
    unknown = set(names) - {p.name for p in allp} - {p.family for p in allp}
    if unknown:
        raise ValueError(f"unknown perturbation(s) {sorted(unknown)}; "
                         f"choose from {sorted({p.family for p in allp} | {p.name for p in allp})}")
    return chosen


# -- applying perturbations --------------------------------------------------------------
def _pixel_model(detector: Any, device: torch.device) -> nn.Module:
    """The detector's model taking [0, 1] NCHW images (attacks work in pixel space)."""
    return ra.PixelSpace(detector.model, detector.mean, detector.std).to(device).eval()


def margin_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Best other logit minus the target's (Carlini-Wagner margin), per example.

    Unlike cross-entropy it does not saturate: a very confident verdict (p = 1 - 1e-9 in
    float32 is exactly 1) still has a gradient, so the attack is not fooled by confidence.
    """
    logits = logits.float()
    z_t = logits.gather(1, target.view(-1, 1)).squeeze(1)
    other = logits.clone()
    other.scatter_(1, target.view(-1, 1), float("-inf"))
    return other.max(1).values - z_t


def _attack(detector: Any, p: Perturbation, x01: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """captum's FGSM, or PGD with 10 steps of 2.5 eps / 10, on the logit margin."""
    return ra.linf_attack(_pixel_model(detector, x01.device), x01, target, eps=p.param,
                          steps=1 if p.family == "fgsm" else 10, loss_func=margin_loss)


def perturb_uint8(images: np.ndarray, p: Perturbation, seed: int = 0) -> np.ndarray:
    """A non-adversarial perturbation of uint8 N x H x W x 3 images (same shape and dtype)."""
    x = torch.from_numpy(np.array(images, dtype=np.uint8))  # a writable copy
    if p.family == "clean":
        out = x
    elif p.family == "jpeg":
        out = ra.jpeg(x, int(p.param))
    elif p.family == "resize":
        out = ra.resize_roundtrip(x, p.param, down="area", up="bicubic")
    elif p.family == "blur":
        out = ra.gaussian_blur(x, p.param)
    elif p.family == "noise":
        out = ra.gaussian_noise(x, p.param, torch.Generator().manual_seed(seed))
    else:
        raise ValueError(f"{p.name} is adversarial: use perturbed_logits with a detector")
    return out.numpy()


@torch.no_grad()
def _logits01(detector: Any, x01: torch.Tensor) -> np.ndarray:
    return _pixel_model(detector, x01.device)(x01).float().cpu().numpy()


def perturbed_logits(detector: Any, images: np.ndarray, p: Perturbation, labels: np.ndarray,
                     seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """Logits (N, 2) of the detector on perturbed images; attacks push away from ``labels``."""
    if not p.adversarial:
        return detector.logits_of_arrays(perturb_uint8(images, p, seed), batch_size=batch_size)
    torch.manual_seed(seed)
    out = []
    for s in range(0, len(images), batch_size):
        chunk = torch.from_numpy(np.array(images[s:s + batch_size], dtype=np.uint8)).to(detector.device)
        x01 = chunk.permute(0, 3, 1, 2).float().div(255.0)
        y = torch.as_tensor(labels[s:s + batch_size], dtype=torch.long, device=detector.device)
        adv = _attack(detector, p, x01, y).detach()
        out.append(_logits01(detector, adv))
    return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


# -- evaluation --------------------------------------------------------------------------
def evaluate_robustness(detector: Any, images: np.ndarray, labels: np.ndarray,
                        perturbations: Sequence[Perturbation] | None = None, seed: int = 0,
                        batch_size: int = 256, progress: Callable[[str], None] | None = None,
                        threshold: float | None = None) -> dict[str, Any]:
    """Accuracy and ROC-AUC under each perturbation, plus how many verdicts flip vs. clean
    (raw calls at ``threshold``, by default :data:`synthcheck.bands.DEFAULT_THRESHOLD`).

    ``images``: uint8 N x S x S x 3 at the detector's input size; ``labels``: 0 REAL, 1 FAKE.
    """
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, dtype=np.int64)
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError("need the same, non-zero number of images and labels")
    perturbations = list(perturbations) if perturbations is not None else default_perturbations()
    both = len(np.unique(labels)) == 2
    from ..bands import DEFAULT_THRESHOLD
    from ..options import check_threshold

    thr = check_threshold(DEFAULT_THRESHOLD if threshold is None else threshold)
    rows = []
    clean_p = None
    for p in [CLEAN, *perturbations]:
        if progress:
            progress(p.label)
        t0 = time.perf_counter()
        pf = softmax_p_fake(perturbed_logits(detector, images, p, labels, seed, batch_size), detector.temperature)
        pred = (pf >= thr).astype(np.int64)
        if clean_p is None:
            clean_p = pf
        clean_pred = (clean_p >= thr).astype(np.int64)
        rows.append({**p.to_dict(), "adversarial": p.adversarial,
                     "accuracy": round(float((pred == labels).mean()), 6),
                     "roc_auc": round(float(roc_auc_score(labels, pf)), 6) if both else None,
                     "recall_fake": round(float(pred[labels == 1].mean()), 6) if (labels == 1).any() else None,
                     "recall_real": round(float(1 - pred[labels == 0].mean()), 6) if (labels == 0).any() else None,
                     "flip_rate": round(float((pred != clean_pred).mean()), 6),
                     "mean_abs_dp": round(float(np.abs(pf - clean_p).mean()), 6),
                     "seconds": round(time.perf_counter() - t0, 3)})
    clean = rows[0]
    for r in rows:
        r["delta_accuracy"] = round(r["accuracy"] - clean["accuracy"], 6)
    return {"n_images": int(len(labels)), "n_fake": int(labels.sum()), "seed": int(seed),
            "threshold": thr, "model": detector.describe(), "rows": rows}


def balanced_subset(labels: np.ndarray, limit: int | None, seed: int = 0) -> np.ndarray:
    """Indices of up to ``limit`` images, half per class where possible, seeded and sorted."""
    if not limit or limit >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per = limit // len(classes)
    idx = [rng.permutation(np.flatnonzero(labels == c))[:per] for c in classes]
    chosen = np.concatenate(idx)
    if len(chosen) < limit:  # one class is short: fill from the rest
        rest = np.setdiff1d(np.arange(len(labels)), chosen)
        chosen = np.concatenate([chosen, rng.permutation(rest)[:limit - len(chosen)]])
    return np.sort(chosen)


def robustness_on_folder(detector: Any, data_dir: str | None, split: str = "test", limit: int | None = 2000,
                         perturbations: Sequence[Perturbation] | None = None, seed: int = 0,
                         progress: Callable[[str], None] | None = None,
                         threshold: float | None = None) -> dict[str, Any]:
    """:func:`evaluate_robustness` on a REAL/FAKE folder (a balanced, seeded subset of ``limit``)."""
    from ..data.dataset import load_split

    split_data = load_split(data_dir, split, detector.input_size)
    idx = balanced_subset(split_data.labels, limit, seed)
    report = evaluate_robustness(detector, np.asarray(split_data.images[idx]), split_data.labels[idx],
                                 perturbations, seed=seed, progress=progress, threshold=threshold)
    report.update({"data": str(split_data.root), "split": split, "n_available": int(len(split_data))})
    return report


def verdict_stability(detector: Any, image: Any, perturbations: Sequence[Perturbation] | None = None,
                      seed: int = 0, threshold: float | None = None) -> dict[str, Any]:
    """How one image's p_fake moves under each perturbation (attacks push against its raw call
    at ``threshold``, by default :data:`synthcheck.bands.DEFAULT_THRESHOLD`)."""
    from ..bands import DEFAULT_THRESHOLD, decide
    from ..imageio import LoadedImage, load_image
    from ..options import check_threshold

    thr = check_threshold(DEFAULT_THRESHOLD if threshold is None else threshold)
    loaded = image if isinstance(image, LoadedImage) else load_image(image)
    arr = detector.to_array(loaded)[None]
    perturbations = list(perturbations) if perturbations is not None else default_perturbations()
    clean = softmax_p_fake(detector.logits_of_arrays(arr), detector.temperature)[0]
    predicted = np.array([int(decide(clean, thr) == "FAKE")])
    rows = []
    for p in [CLEAN, *perturbations]:
        pf = float(softmax_p_fake(perturbed_logits(detector, arr, p, predicted, seed), detector.temperature)[0])
        verdict = decide(pf, thr)
        rows.append({**p.to_dict(), "p_fake": round(pf, 6), "verdict": verdict,
                     "delta": round(pf - float(clean), 6), "flipped": verdict != ("FAKE" if predicted[0] else "REAL")})
    return {"name": loaded.name, "sha256": loaded.sha256, "p_fake": round(float(clean), 6),
            "verdict": "FAKE" if predicted[0] else "REAL", "threshold": thr, "rows": rows}


def format_table(report: dict[str, Any]) -> str:
    """The robustness rows as a fixed-width text table."""
    lines = [f"{'condition':28s} {'accuracy':>9s} {'Δacc':>8s} {'ROC-AUC':>8s} {'flips':>7s} {'|Δp|':>7s}"]
    for r in report["rows"]:
        auc = f"{r['roc_auc']:.4f}" if r["roc_auc"] is not None else "–"
        lines.append(f"{r['label']:28s} {r['accuracy']:9.4f} {r['delta_accuracy']:+8.4f} {auc:>8s} "
                     f"{r['flip_rate']:7.3f} {r['mean_abs_dp']:7.3f}")
    return "\n".join(lines)
