"""JPEG trace: reading the training files' setting and testing inputs against its DCT grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from synthcheck.domain import DomainModel
from synthcheck.domain.inputs import check_domain
from synthcheck.domain.jpeg_trace import (
    describe,
    grid_residual,
    jpeg_settings,
    training_jpeg_profile,
)
from synthcheck.imageio import load_image


def _photo_like(seed: int = 0, size: int = 32) -> np.ndarray:
    """Random texture (noise enlarged x2, so JPEG keeps much of it)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size // 2, size // 2, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))


def _save(arr: np.ndarray, path: Path, fmt: str = "JPEG", **kw) -> Path:
    Image.fromarray(arr).save(path, fmt, **kw)
    return path


def _decoded(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_settings_and_profile_of_quality_75_files(tmp_path):
    files = [_save(_photo_like(i), tmp_path / f"{i}.jpg", quality=75) for i in range(20)]
    table, sub = jpeg_settings(files[0])
    assert len(table) == 64 and table[0] == 8 and sub == 2  # IJG luma table at q75, 4:2:0
    prof = training_jpeg_profile(files)
    assert prof["quality"] == 75 and prof["share"] == 1.0 and prof["luma_table"] == list(table)
    assert describe(prof) == "JPEG quality 75, 4:2:0"


def test_no_profile_for_png_mixed_or_unreadable_training_files(tmp_path):
    pngs = [_save(_photo_like(i), tmp_path / f"{i}.png", "PNG") for i in range(10)]
    assert training_jpeg_profile(pngs) is None
    mixed = [_save(_photo_like(i), tmp_path / f"q{i}.jpg", quality=60 if i % 2 else 90) for i in range(10)]
    assert training_jpeg_profile(mixed) is None  # no single setting shared by 95% of files
    (tmp_path / "junk.jpg").write_bytes(b"not a jpeg")
    assert jpeg_settings(tmp_path / "junk.jpg") is None and training_jpeg_profile([]) is None


def test_grid_residual_separates_jpeg_q75_from_other_histories(tmp_path):
    table = list(jpeg_settings(_save(_photo_like(0), tmp_path / "t.jpg", quality=75))[0])
    arrays = {name: [] for name in ("q75", "never", "q75_shifted", "q75_resized")}
    for i in range(12):
        orig = _photo_like(i)
        q75 = _decoded(_save(orig, tmp_path / f"{i}.jpg", quality=75))
        arrays["q75"].append(q75)
        arrays["never"].append(orig)
        arrays["q75_shifted"].append(np.roll(q75, 4, axis=1))
        arrays["q75_resized"].append(np.asarray(Image.fromarray(q75).resize((128, 128), Image.Resampling.BICUBIC)
                                                .resize((32, 32), Image.Resampling.BICUBIC)))
    r = {k: grid_residual(np.stack(v), table) for k, v in arrays.items()}
    assert r["q75"].max() < 0.05
    for k in ("never", "q75_shifted", "q75_resized"):
        assert r[k].min() > 2 * r["q75"].max(), k
    assert grid_residual(np.zeros((0, 32, 32, 3), np.uint8), table).shape == (0,)
    assert np.allclose(grid_residual(np.zeros((2, 4, 4, 3), np.uint8), table), 0.25)  # no whole block


def test_domain_reason_names_the_trace_and_only_when_it_is_missing():
    model = DomainModel(32, fitted={"threshold": 1.0,
                                    "jpeg": {"quality": 75, "subsampling": 2, "threshold": 0.08}})
    loaded = load_image(_photo_like(1))
    assert check_domain(loaded, input_size=32).in_domain
    ok = model.judge(loaded, None, 0.03)
    assert ok.in_domain and ok.stats["jpeg_residual"] == 0.03
    bad = model.judge(loaded, None, 0.2)
    assert not bad.in_domain and len(bad.reasons) == 1
    assert "JPEG quality 75, 4:2:0" in bad.reasons[0] and bad.reasons[0].endswith(".")
