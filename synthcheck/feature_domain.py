"""Feature-space domain check: how far an input's penultimate features lie from training data.

Mahalanobis distance to the nearest class mean under one shared covariance (Lee et al. 2018),
fitted on training features and stored in the checkpoint; the threshold keeps ``keep`` (99%)
of the validation images in domain. Input-property checks live in :mod:`synthcheck.domain`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn

from .augment import normalize
from .feature_math import mahalanobis


def last_linear(model: nn.Module) -> nn.Linear:
    """The classifier layer whose input is the penultimate feature vector."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("model has no nn.Linear classifier")
    return linears[-1]


@torch.inference_mode()
def logits_and_features(model: nn.Module, arrays: np.ndarray, mean, std,
                        device: str | torch.device = "cpu", batch_size: int = 1024,
                        classifier: nn.Module | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(logits, penultimate features) for uint8 NHWC images; the model is put in eval mode.

    ``classifier`` is the layer whose input is the feature vector (found when not given).
    """
    if model.training:  # a Detector's model is in eval mode already; eval() walks every module
        model.eval()
    grabbed: list[torch.Tensor] = []
    layer = classifier if classifier is not None else last_linear(model)
    handle = layer.register_forward_pre_hook(lambda m, args: grabbed.append(args[0].detach()))
    logits = []
    try:
        for s in range(0, len(arrays), batch_size):
            x = normalize(torch.from_numpy(np.array(arrays[s:s + batch_size], copy=True)).to(device), mean, std)
            logits.append(model(x).float().cpu())
    finally:
        handle.remove()
    feats = torch.cat([g.float().cpu() for g in grabbed]) if grabbed else torch.zeros(0)
    return torch.cat(logits).numpy(), feats.numpy()


def fit_feature_domain(model: nn.Module, train_images: np.ndarray, train_labels: np.ndarray,
                       val_images: np.ndarray, mean, std, device: str | torch.device = "cpu",
                       keep: float = 0.99, max_fit: int = 30000, seed: int = 0) -> dict[str, Any]:
    """Fit class means + shared Ledoit-Wolf covariance; threshold = ``keep`` quantile on val."""
    from sklearn.covariance import LedoitWolf

    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(train_images), min(max_fit, len(train_images)), replace=False))
    _, feats = logits_and_features(model, train_images[idx], mean, std, device)
    labels = np.asarray(train_labels)[idx]
    means = np.stack([feats[labels == c].mean(0) for c in (0, 1)])
    centred = feats - means[labels]
    lw = LedoitWolf().fit(centred)
    domain = {"method": "mahalanobis", "class_means": torch.tensor(means, dtype=torch.float32),
              "precision": torch.tensor(lw.precision_, dtype=torch.float32), "keep": float(keep),
              "n_fit": int(len(idx)), "layer": "penultimate"}
    _, val_feats = logits_and_features(model, val_images, mean, std, device)
    dist = mahalanobis(val_feats, domain)
    domain["threshold"] = float(np.quantile(dist, keep, method="higher"))  # keeps >= keep
    domain["val_kept"] = float((dist <= domain["threshold"]).mean())
    return domain


def domain_share(model: nn.Module, images: np.ndarray, mean, std, device, domain: dict[str, Any]) -> float:
    """Share of ``images`` whose feature distance is within the domain threshold."""
    _, feats = logits_and_features(model, images, mean, std, device)
    return float((mahalanobis(feats, domain) <= domain["threshold"]).mean())


def fit_checkpoint_domain(checkpoint: str, data_dir: str | None, keep: float = 0.99,
                          device: str = "cpu") -> dict[str, Any]:
    """Fit the feature-domain model for an existing checkpoint on its own train/val split.

    The split is rebuilt from the checkpoint's recorded seed and validation fraction; the
    checkpoint is rewritten atomically with ``feature_domain`` and the test in-domain share.
    """
    from .checkpoint import atomic_torch_save, load_checkpoint, model_from_checkpoint
    from .data import load_split, train_val_split

    ckpt = load_checkpoint(checkpoint)
    cfg = ckpt.get("config", {})
    model = model_from_checkpoint(ckpt, checkpoint).to(device)
    mean, std = tuple(ckpt["mean"]), tuple(ckpt["std"])
    train = load_split(data_dir, "train", int(ckpt["input_size"]))
    recorded = ckpt.get("data", {}).get("fingerprint")
    if recorded and recorded != train.fingerprint:
        raise ValueError("this data is not the data the checkpoint was trained on (fingerprint differs)")
    tr_idx, va_idx = train_val_split(train.labels, cfg.get("val_fraction", 0.1), cfg.get("seed", 0))
    domain = fit_feature_domain(model, train.images[tr_idx], train.labels[tr_idx],
                                np.ascontiguousarray(train.images[va_idx]), mean, std, device, keep=keep,
                                seed=cfg.get("seed", 0))
    ckpt["feature_domain"] = domain
    report = {"threshold": domain["threshold"], "val_kept": domain["val_kept"]}
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
