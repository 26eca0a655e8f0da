"""A checkpoint's recorded figures in words: one rounding, so no face disagrees with another.

Figures are rounded half up from their decimal value (0.97845 reads 97.85%, never the 97.84% a
binary float's ``:.2%`` gives), the same way the documentation quotes them.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

SPLITS = {"val": "Validation (held out from training)", "test": "Test, full split",
          "test_no_train_twin": "Test, no byte-identical twin in training"}
COLUMNS = {"n_images": "Images", "accuracy": "Accuracy", "precision": "Precision (FAKE)",
           "recall": "Recall (FAKE)", "f1": "F1 (FAKE)", "roc_auc": "ROC-AUC",
           "ece": "Calibration error (ECE)", "brier": "Brier score"}
PERCENT = ("accuracy", "precision", "recall")
MISSING = "not recorded"


def rounded(value: float, places: int) -> Decimal:
    """``value`` rounded half up at ``places`` decimals, from its shortest decimal form."""
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def percent(value: float | None, places: int = 2) -> str:
    """``0.97845`` -> ``"97.85%"``."""
    return MISSING if value is None else f"{rounded(float(value) * 100, places)}%"


def figure(key: str, value: Any) -> str:
    """One recorded figure as people read it (percent, count, or 4 decimals)."""
    if value is None:
        return MISSING
    if key in PERCENT:
        return percent(value)
    if key == "n_images":
        return f"{int(value):,}"
    return str(rounded(float(value), 4))


def split_metrics(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The checkpoint's recorded metrics per split (``test_no_train_twin`` also where it is
    stored inside ``test``)."""
    metrics = meta.get("metrics") or {}
    out = {}
    for split in SPLITS:
        m = metrics.get(split)
        if m is None and split == "test_no_train_twin":
            m = (metrics.get("test") or {}).get("no_train_twin")
        if isinstance(m, dict):
            out[split] = m
    return out


def metric_rows(meta: dict[str, Any]) -> list[dict[str, str]]:
    """One labelled row per split with recorded metrics (the model card's table)."""
    return [{"Split": SPLITS[split], **{label: figure(key, m.get(key)) for key, label in COLUMNS.items()}}
            for split, m in split_metrics(meta).items()]


def headline_accuracy(meta: dict[str, Any]) -> str | None:
    """The test accuracy the documentation quotes (``"97.85%"``), or None when not recorded."""
    test = split_metrics(meta).get("test") or {}
    return percent(test["accuracy"]) if test.get("accuracy") is not None else None
