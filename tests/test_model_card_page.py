"""The Model card page words the loaded checkpoint's own limits (nothing hard-coded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def own_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkpoint trained on an unnamed folder, with its own test errors and threshold."""
    from synthcheck.checkpoint import atomic_torch_save, build_checkpoint
    from synthcheck.models import create_model

    torch.manual_seed(0)
    model = create_model("synthcnn_small")
    metrics = {"test": {"n_images": 200, "accuracy": 0.8, "confusion_matrix": [[90, 10], [30, 70]]}}
    ckpt = build_checkpoint(model, extra={"metrics": metrics, "threshold": 0.7,
                                          "data": {"root": "/data/my-photos", "n_train": 1234}})
    path = tmp_path / "own.pt"
    atomic_torch_save(ckpt, path)
    monkeypatch.setenv("SYNTHCHECK_CHECKPOINT", str(path))
    monkeypatch.setenv("SYNTHCHECK_DASHBOARD_WARMUP", "0")
    monkeypatch.delenv("SYNTHCHECK_C2PA_TRUST_ANCHORS", raising=False)
    return path


def _limits_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_model_card_renders_the_checkpoints_own_limits(own_checkpoint: Path) -> None:
    from synthcheck.inference import Detector
    from synthcheck.reporting.build import model_limits

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90).run()
    at.switch_page("pages/model_card.py").run()
    assert not at.exception
    text = _limits_text(at)
    expected = model_limits(Detector.from_checkpoint(own_checkpoint))
    assert all(line in text for line in expected)
    assert "1,234 training images" in text and "10.0% of real images FAKE" in text
    assert "CIFAKE" not in text and "Stable Diffusion 1.4" not in text  # not what this one saw
    assert "not named in this checkpoint" in text
    assert "**C2PA trust list** not configured" in text


def test_the_card_and_the_docs_quote_the_checkpoints_own_figures(monkeypatch) -> None:
    """The shipped checkpoint's recorded test figures, rounded once (evaluation.figures), are
    what the model card shows and what README.md and models/README.md quote."""
    from synthcheck.evaluation.figures import headline_accuracy, percent, rounded, split_metrics
    from synthcheck.inference import Detector, default_checkpoint

    monkeypatch.delenv("SYNTHCHECK_CHECKPOINT", raising=False)
    monkeypatch.setenv("SYNTHCHECK_DASHBOARD_WARMUP", "0")
    meta = Detector.from_checkpoint(default_checkpoint()).meta
    test, twin = split_metrics(meta)["test"], split_metrics(meta)["test_no_train_twin"]
    acc, auc = headline_accuracy(meta), rounded(test["roc_auc"], 4)
    assert acc == percent(test["accuracy"]) == "97.85%"  # 0.97845 rounds half up, as quoted
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"**{acc} accuracy and ROC-AUC {auc}**" in readme
    assert f"{percent(twin['accuracy'])} / {rounded(twin['roc_auc'], 4)} on the 19,622" in readme
    card = (ROOT / "models" / "README.md").read_text(encoding="utf-8")
    assert f"| CIFAKE test, full split | 20,000 | **{acc}** | **{rounded(test['roc_auc'], 5)}** |" in card
    assert f"| **{acc}** / {auc} |" in card and "| **kd (shipped)** |" in card
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90).run()
    at.switch_page("pages/model_card.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table.loc["Test, full split", "Accuracy"] == acc
    assert table.loc["Test, full split", "ROC-AUC"] == str(auc)
    assert "None" not in table.astype(str).to_numpy().ravel().tolist()
    assert acc in " ".join(m.value for m in at.markdown)  # the limits say the same figure
