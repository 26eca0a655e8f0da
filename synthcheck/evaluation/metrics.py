"""Metrics of a real-vs-synthetic classifier, from scikit-learn (ECE from torchmetrics).

FAKE is the positive class: precision/recall/F1 without a suffix are for FAKE; per-class
and macro figures are reported beside them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ..bands import DEFAULT_THRESHOLD, decide
from ..data.dataset import CLASS_NAMES
from ..inference.base import softmax_p_fake
from ..models.normalization import normalize
from ..progress import Progress


@torch.inference_mode()
def predict_logits(model: nn.Module, images: np.ndarray | torch.Tensor, mean, std,
                   device: str | torch.device = "cpu", batch_size: int = 512,
                   progress: bool = False) -> np.ndarray:
    """Logits (N, 2) for uint8 NHWC images, batched; the model is put in eval mode."""
    model.eval()
    device = torch.device(device)
    amp = device.type == "cuda"
    out = []
    bar = Progress("scoring", len(images)) if progress else None
    for s in range(0, len(images), batch_size):
        if bar is not None:
            bar(s)
        chunk = images[s:s + batch_size]
        xb = torch.from_numpy(np.array(chunk, copy=True)).to(device, non_blocking=True)
        x = normalize(xb, mean, std)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out.append(model(x).float().cpu())
    if bar is not None:
        bar(len(images))
        bar.close()
    return torch.cat(out).numpy() if out else np.zeros((0, len(CLASS_NAMES)), np.float32)


def expected_calibration_error(y_true: np.ndarray, p_fake: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE (the probability of the predicted class vs. its accuracy), 15 equal bins."""
    from torchmetrics.functional.classification import multiclass_calibration_error

    probs = torch.as_tensor(np.stack([1 - p_fake, p_fake], 1), dtype=torch.float32)
    return float(multiclass_calibration_error(probs, torch.as_tensor(y_true, dtype=torch.long),
                                              num_classes=2, n_bins=n_bins, norm="l1"))


def compute_metrics(y_true: np.ndarray, p_fake: np.ndarray,
                    threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """Accuracy, precision, recall, F1 (FAKE, per class, macro), ROC-AUC, confusion matrix, ECE."""
    from sklearn import metrics as skm

    y_true = np.asarray(y_true).astype(int)
    p_fake = np.asarray(p_fake, dtype=np.float64)
    y_pred = (p_fake >= threshold).astype(int)
    p, r, f, support = skm.precision_recall_fscore_support(y_true, y_pred, labels=[0, 1], zero_division=0)
    both = len(np.unique(y_true)) == 2
    out: dict[str, Any] = {
        "n_images": int(len(y_true)),
        "threshold": float(threshold),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(p[1]),
        "recall": float(r[1]),
        "f1": float(f[1]),
        "f1_macro": float(np.mean(f)),
        "roc_auc": float(skm.roc_auc_score(y_true, p_fake)) if both else None,
        "average_precision": float(skm.average_precision_score(y_true, p_fake)) if both else None,
        "log_loss": float(skm.log_loss(y_true, np.clip(p_fake, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y_true, p_fake, pos_label=1)),
        "ece": expected_calibration_error(y_true, p_fake),
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist(),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                   "support": int(support[i])}
            for i, name in enumerate(CLASS_NAMES)
        },
    }
    return out


def fit_temperature(logits: np.ndarray, labels: np.ndarray, max_iter: int = 200) -> float:
    """Temperature scaling (Guo et al. 2017): the T > 0 minimising NLL of softmax(logits / T)."""
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def evaluate_detector(detector, split, train_split=None, csv_path: str | None = None,
                      progress: bool = False, threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """Score a decoded split with a Detector; add the subset with no byte-identical twin in train.

    Returns the metrics of :func:`compute_metrics` (at ``threshold``), plus
    ``no_train_twin`` when ``train_split`` is given, and writes per-image scores to ``csv_path``.
    """
    from ..data.dataset import twins_mask

    logits = predict_logits(detector.model, split.images, detector.mean, detector.std, detector.device,
                            progress=progress)
    p = softmax_p_fake(logits, detector.temperature)
    report = compute_metrics(split.labels, p, threshold)
    report["model"] = detector.describe()
    report["n_skipped"] = split.n_skipped
    twins = np.zeros(len(p), dtype=bool)
    if train_split is not None:
        twins = twins_mask(split, train_split)
        report["n_twins_of_train"] = int(twins.sum())
        report["no_train_twin"] = compute_metrics(split.labels[~twins], p[~twins], threshold)
    if csv_path:
        import csv

        with open(csv_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "label", "p_fake", "verdict", "twin_in_train"])
            for path, label, pf, tw in zip(split.paths, split.labels, p, twins, strict=True):
                w.writerow([path, CLASS_NAMES[label], f"{pf:.6f}",
                            decide(pf, threshold), int(tw)])
    return report
