"""Domain check fitted on training data: kNN feature distance plus the training JPEG trace.

Two tests, fitted at training end (or by ``synthcheck fit-domain``) and stored in the checkpoint
under ``feature_domain``:

- *features*: cosine distance to the k-th nearest of a bank of training images, on the
  mean+std pooled activations of the model's Grad-CAM layer (mid-level texture features, where
  photos that merely look like CIFAR differ most). Chosen over the earlier Mahalanobis distance
  on penultimate features because at the same 99% validation keep rate it flags about twice as
  many out-of-CIFAKE photos on which the model is confidently wrong.
- *JPEG trace*: when the training files share one JPEG setting (CIFAKE: quality 75) and
  training did not also show the model resized or re-encoded copies, the grid residual of the
  input (:mod:`synthcheck.domain.jpeg_trace`).

The two thresholds are set together: the same validation quantile for both, raised until
their union keeps ``keep`` (99%) of the validation images in domain.

The fit also records each class's share of greyscale training images (``greyscale``), which
:mod:`synthcheck.domain.greyscale` turns into a note on greyscale inputs; it is no domain test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ..models.normalization import normalize
from .greyscale import fit_greyscale_bias
from .jpeg_trace import grid_residual
from .knn import DEFAULT_KEEP, feature_score

PENULTIMATE = "penultimate"


_TRACE_BREAKING = ("aug_resize_p", "aug_jpeg_p", "aug_blur_p", "aug_noise_p")


def trained_without_trace(config: dict[str, Any]) -> bool:
    """True when training also showed the model resized, re-encoded, blurred, noisy or
    adversarial copies: images without the JPEG trace are then part of its domain, and the
    trace test would wrongly flag exactly the inputs such a model was made for."""
    return (any(float(config.get(k) or 0) > 0 for k in _TRACE_BREAKING)
            or str(config.get("adv_train") or "none") != "none")


def jpeg_profile_for(config: dict[str, Any], split: Any, idx: np.ndarray) -> dict[str, Any] | None:
    """The JPEG trace to test for: the shared setting of the training files ``split.paths[idx]``,
    or None when training also used trace-breaking augmentations."""
    if trained_without_trace(config):
        return None
    from pathlib import Path

    from .jpeg_trace import training_jpeg_profile

    root = Path(split.root)
    return training_jpeg_profile([root / split.paths[i] for i in idx], seed=int(config.get("seed") or 0))


def last_linear(model: nn.Module) -> nn.Linear:
    """The classifier layer whose input is the penultimate feature vector."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("model has no nn.Linear classifier")
    return linears[-1]


def mean_std_pool(fmap: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, 2C): per-channel mean and (population) standard deviation.

    As E[x^2] - E[x]^2 from two means: ``torch.var_mean`` took 43 us on one image's 64x8x8 map
    on a 2-core CPU, the two means 8 us each; float32 rounding (~1e-7) stays far below the
    distances the check compares.
    """
    mean = fmap.mean(dim=(2, 3))
    var = (fmap * fmap).mean(dim=(2, 3)) - mean * mean
    return torch.cat([mean, var.clamp(min=0).sqrt()], dim=1)


def default_layer(model: nn.Module) -> str:
    """The layer the domain check reads: the model's Grad-CAM layer, else the penultimate."""
    cfg = getattr(model, "synthcheck_cfg", None)
    return getattr(cfg, "cam_layer", None) or PENULTIMATE


class FeatureTap:
    """Collects the domain features of ``layer`` while the model runs (a context manager).

    ``penultimate``: the classifier's input (a pre-hook on the last ``nn.Linear``); any other
    name: the mean+std pooled output of that module.
    """

    def __init__(self, model: nn.Module, layer: str = PENULTIMATE, classifier: nn.Module | None = None) -> None:
        self.model, self.layer, self.classifier = model, layer, classifier
        self.grabbed: list[torch.Tensor] = []
        self._handle = None

    def __enter__(self) -> FeatureTap:
        if self.layer == PENULTIMATE:
            target = self.classifier if self.classifier is not None else last_linear(self.model)
            self._handle = target.register_forward_pre_hook(lambda m, args: self.grabbed.append(args[0]))
        else:
            target = self.model.get_submodule(self.layer)
            self._handle = target.register_forward_hook(lambda m, a, out: self.grabbed.append(mean_std_pool(out)))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.remove()


@torch.inference_mode()
def logits_and_features(model: nn.Module, arrays: np.ndarray, mean, std,
                        device: str | torch.device = "cpu", batch_size: int = 1024,
                        classifier: nn.Module | None = None,
                        layer: str = PENULTIMATE) -> tuple[np.ndarray, np.ndarray]:
    """(logits, domain features of ``layer``) for uint8 NHWC images; the model is put in eval mode."""
    if model.training:  # a Detector's model is in eval mode already; eval() walks every module
        model.eval()
    logits = []
    with FeatureTap(model, layer, classifier) as tap:
        for s in range(0, len(arrays), batch_size):
            x = normalize(torch.from_numpy(np.array(arrays[s:s + batch_size], copy=True)).to(device), mean, std)
            logits.append(model(x).float().cpu())
    feats = torch.cat([g.detach().float().cpu() for g in tap.grabbed]) if tap.grabbed else torch.zeros(0)
    return torch.cat(logits).numpy(), feats.numpy()


def domain_scores(model: nn.Module, images: np.ndarray, mean, std, device,
                  domain: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """(feature distance, JPEG grid residual or None) for uint8 NHWC images."""
    _, feats = logits_and_features(model, images, mean, std, device, layer=domain.get("layer", PENULTIMATE))
    jpeg = domain.get("jpeg")
    residual = (grid_residual(images, jpeg["luma_table"]) if jpeg else None)
    return feature_score(feats, domain), residual


def in_domain_mask(distance: np.ndarray, residual: np.ndarray | None, domain: dict[str, Any]) -> np.ndarray:
    """True where both fitted tests pass."""
    keep = np.asarray(distance) <= float(domain["threshold"])
    jpeg = domain.get("jpeg")
    if jpeg and residual is not None:
        keep &= np.asarray(residual) <= float(jpeg["threshold"])
    return keep


def joint_thresholds(scores: Sequence[np.ndarray], keep: float) -> tuple[list[float], float]:
    """One validation quantile for every score, the smallest whose union keeps ``keep``.

    Returns (thresholds, share of validation kept).
    """
    lo, hi = keep, 1.0
    for _ in range(40):  # bisection on the quantile
        mid = (lo + hi) / 2
        thr = [float(np.quantile(s, mid, method="higher")) for s in scores]
        kept = np.all([s <= t for s, t in zip(scores, thr, strict=True)], axis=0).mean()
        lo, hi = (lo, mid) if kept >= keep else (mid, hi)
    thr = [float(np.quantile(s, hi, method="higher")) for s in scores]
    kept = float(np.all([s <= t for s, t in zip(scores, thr, strict=True)], axis=0).mean())
    return thr, kept


def fit_feature_domain(model: nn.Module, train_images: np.ndarray, train_labels: np.ndarray,
                       val_images: np.ndarray, mean, std, device: str | torch.device = "cpu",
                       keep: float = DEFAULT_KEEP, bank_size: int = 1000, k: int = 10, seed: int = 0,
                       layer: str | None = None, jpeg_profile: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit the kNN bank (``bank_size`` training images) and, given the training data's
    ``jpeg_profile``, the JPEG-trace test; thresholds keep ``keep`` of ``val_images``."""
    layer = layer or default_layer(model)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(train_images), min(bank_size, len(train_images)), replace=False))
    _, feats = logits_and_features(model, train_images[idx], mean, std, device, layer=layer)
    bank = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-8)
    domain: dict[str, Any] = {"method": "knn", "layer": layer,
                              "bank": torch.tensor(bank, dtype=torch.float16), "k": int(min(k, len(idx))),
                              "keep": float(keep), "n_fit": int(len(idx))}
    dist, _ = domain_scores(model, val_images, mean, std, device, domain)
    scores = [dist]
    if jpeg_profile:
        scores.append(grid_residual(val_images, jpeg_profile["luma_table"]))
    thresholds, kept = joint_thresholds(scores, keep)
    domain["threshold"] = thresholds[0]
    if jpeg_profile:
        domain["jpeg"] = {**jpeg_profile, "threshold": thresholds[1],
                          "val_median": float(np.median(scores[1]))}
    domain["val_kept"] = kept
    domain["greyscale"] = fit_greyscale_bias(train_images, train_labels)
    return domain


def domain_share(model: nn.Module, images: np.ndarray, mean, std, device, domain: dict[str, Any]) -> float:
    """Share of ``images`` that pass the fitted domain tests."""
    return float(in_domain_mask(*domain_scores(model, images, mean, std, device, domain), domain).mean())


def fit_checkpoint_domain(checkpoint: str, data_dir: str | None, keep: float = DEFAULT_KEEP,
                          device: str = "cpu") -> dict[str, Any]:
    """Fit the domain check for an existing checkpoint on its own train/val split.

    The split is rebuilt from the checkpoint's recorded seed and validation fraction; the
    checkpoint is rewritten atomically with ``feature_domain`` and the test in-domain share.
    """
    from ..checkpoint import atomic_torch_save, load_checkpoint, model_from_checkpoint
    from ..data.dataset import load_split, train_val_split

    ckpt = load_checkpoint(checkpoint)
    cfg = ckpt.get("config", {})
    model = model_from_checkpoint(ckpt, checkpoint).to(device)
    mean, std = tuple(ckpt["mean"]), tuple(ckpt["std"])
    train = load_split(data_dir, "train", int(ckpt["input_size"]))
    recorded = ckpt.get("data", {}).get("fingerprint")
    if recorded and recorded != train.fingerprint:
        raise ValueError("this data is not the data the checkpoint was trained on (fingerprint differs)")
    tr_idx, va_idx = train_val_split(train.labels, cfg.get("val_fraction", 0.1), cfg.get("seed", 0))
    profile = jpeg_profile_for(cfg, train, tr_idx)
    domain = fit_feature_domain(model, train.images[tr_idx], train.labels[tr_idx],
                                np.ascontiguousarray(train.images[va_idx]), mean, std, device, keep=keep,
                                seed=cfg.get("seed", 0), layer=ckpt.get("cam_layer"), jpeg_profile=profile)
    ckpt["feature_domain"] = domain
    report: dict[str, Any] = {"method": domain["method"], "layer": domain["layer"],
                              "threshold": domain["threshold"], "val_kept": domain["val_kept"],
                              "jpeg": domain.get("jpeg")}
    try:
        test = load_split(data_dir, "test", int(ckpt["input_size"]))
    except Exception:  # no test split: nothing more to report
        pass
    else:
        share = domain_share(model, test.images, mean, std, device, domain)
        ckpt.setdefault("metrics", {}).setdefault("test", {})["in_domain_share"] = share
        report["test_in_domain_share"] = share
    atomic_torch_save(ckpt, checkpoint)
    return report
