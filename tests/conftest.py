"""Shared fixtures: small generated REAL/FAKE folders and detectors (no real data needed)."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CHECKPOINT = REPO / "models" / "synthcheck-default.pt"


def synthetic_image(label: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """A learnable toy: REAL = smooth colour gradients, FAKE = the same plus a fine checker pattern."""
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([x, y, (x + y) / 2], axis=2) * rng.uniform(100, 200, 3) + rng.uniform(0, 50, 3)
    if label == 1:
        checker = ((np.indices((size, size)).sum(0) % 2) * 2 - 1)[..., None] * 24
        base = base + checker
    base = base + rng.normal(0, 4, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def make_dataset(root: Path, n_per_class: int = 16, splits: tuple[str, ...] = ("train", "test"),
                 seed: int = 0, fmt: str = "PNG") -> Path:
    """Write root/{split}/{REAL,FAKE}/*.png and return root."""
    rng = np.random.default_rng(seed)
    for split in splits:
        for label, name in enumerate(("REAL", "FAKE")):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n_per_class):
                Image.fromarray(synthetic_image(label, rng)).save(folder / f"{i}.{fmt.lower()}", fmt)
    return root


def image_bytes(arr: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


def random_png(seed: int = 0, size: int = 32) -> bytes:
    """A ``size`` x ``size`` PNG of seeded random pixels: the tests' stand-in upload."""
    return image_bytes(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data")


# Session-scoped servers (dashboard, API) started before any per-test fixture still must not
# write cases, keys or control runs into the user's real home.
os.environ["SYNTHCHECK_HOME"] = tempfile.mkdtemp(prefix="synthcheck-home-")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never write decoded caches, cases, keys or control runs into the user's home."""
    monkeypatch.setenv("SYNTHCHECK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNTHCHECK_HOME", str(tmp_path / "home"))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """This test's own ``SYNTHCHECK_HOME`` (set for every test by ``_isolated_cache``)."""
    return tmp_path / "home"


@pytest.fixture(scope="session")
def tiny_detector():
    """An untrained synthcnn_small Detector: fast, deterministic weights."""
    import torch

    from synthcheck.checkpoint import build_checkpoint
    from synthcheck.inference import Detector
    from synthcheck.models import create_model

    torch.manual_seed(0)
    model = create_model("synthcnn_small")
    return Detector(model, build_checkpoint(model))


@pytest.fixture(scope="session")
def default_detector():
    """The shipped default model."""
    from synthcheck.inference import Detector

    return Detector.from_checkpoint(DEFAULT_CHECKPOINT)
