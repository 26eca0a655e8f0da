"""Classical forensic views on inputs whose answer is known."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from synthcheck import forensics as fx


def sinusoid(h: int = 64, w: int = 64, cycles_x: int = 8, cycles_y: int = 0) -> np.ndarray:
    yy, xx = np.indices((h, w))
    g = 127.5 + 100 * np.sin(2 * np.pi * (cycles_x * xx / w + cycles_y * yy / h))
    return np.repeat(g[..., None], 3, axis=2).round().astype(np.uint8)


def smooth_photo_like(seed: int = 0, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))


@pytest.mark.parametrize(("cx", "cy"), [(8, 0), (5, 0), (0, 12), (6, 10)])
def test_spectrum_peak_of_a_sinusoid(cx: int, cy: int) -> None:
    spec = fx.fourier_spectrum(sinusoid(cycles_x=cx, cycles_y=cy))
    assert spec.shape == (64, 64) and spec.dtype == np.float32
    peak = np.unravel_index(int(spec.argmax()), spec.shape)
    assert peak in {(32 + cy, 32 + cx), (32 - cy, 32 - cx)}


def test_spectrum_of_flat_image_is_zero_and_accepts_file_bytes() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), (90, 90, 90)).save(buf, "PNG")
    spec = fx.fourier_spectrum(buf.getvalue())
    assert spec.shape == (10, 20)
    assert float(spec.max()) < 1e-6


def test_ela_of_image_resaved_at_same_quality_is_near_zero() -> None:
    rgb = smooth_photo_like()
    once = fx.jpeg_roundtrip(rgb, 90, subsampling=0)  # the "camera" JPEG
    same = fx.ela_difference(once, quality=90)
    raw = fx.ela_difference(rgb, quality=90)
    assert same.mean() < 0.1 and same.max() <= 2
    assert raw.mean() > 10 * same.mean()  # never-compressed content reacts much more
    view = fx.error_level_analysis(once, quality=90, scale=10)
    assert view.mean() < 1.0


def test_ela_highlights_a_pasted_region() -> None:
    base = fx.jpeg_roundtrip(smooth_photo_like(1, 128), 75, subsampling=0)
    patch = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    forged = base.copy()
    forged[48:80, 48:80] = patch  # uncompressed noise pasted in
    diff = fx.ela_difference(forged, quality=75).mean(axis=2)
    inside = diff[48:80, 48:80].mean()
    outside = np.concatenate([diff[:40].ravel(), diff[88:].ravel()]).mean()
    assert inside > 5 * outside
    view = fx.error_level_analysis(forged, quality=75)
    assert view.dtype == np.uint8 and view.shape == forged.shape and view.max() == 255
    assert fx.error_level_analysis(forged, 75, scale=1.0).max() <= fx.ela_difference(forged, 75).max() + 1


def test_noise_residual() -> None:
    flat = np.full((16, 16, 3), 100, np.uint8)
    assert np.abs(fx.noise_residual(flat)).max() == 0
    noisy = np.clip(100 + np.random.default_rng(0).normal(0, 10, (64, 64, 3)), 0, 255).astype(np.uint8)
    res = fx.noise_residual(noisy)
    assert res.shape == (64, 64, 3) and 5 < res.std() < 15
    assert fx.noise_residual(noisy, method="gaussian").std() > 5
    with pytest.raises(ValueError):
        fx.noise_residual(noisy, method="wavelet")


def test_fast_median_equals_scipy_reflect_median() -> None:
    from scipy import ndimage

    rgb = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    for size in (3, 5):
        want = rgb.astype(np.float32) - ndimage.median_filter(rgb.astype(np.float32), size=(size, size, 1),
                                                              mode="reflect")
        assert np.array_equal(fx.noise_residual(rgb, size=size), want)


def test_views_and_summary_numbers() -> None:
    rgb = sinusoid(cycles_x=8)
    views = fx.forensic_views(rgb)
    assert list(views) == ["ela", "spectrum", "noise", "jpeg", "double_jpeg", "ghost", "copy_move",
                           "thumbnail"]
    for name in ("ela", "spectrum", "noise"):  # pixel views keep the image's size
        assert views[name]["image"].dtype == np.uint8 and views[name]["image"].shape == (64, 64, 3)
    assert not views["jpeg"]["is_jpeg"] and not views["double_jpeg"]["applicable"]  # pixels only
    # a periodic pattern is far "peakier" than smooth content
    assert views["spectrum"]["spectral_peakiness"] > fx.forensic_views(
        smooth_photo_like())["spectrum"]["spectral_peakiness"]
    assert fx.enlarge_to(np.zeros((32, 32, 3), np.uint8)).shape == (256, 256, 3)
    assert fx.fit_size(np.zeros((1000, 500, 3), np.uint8)).shape == (512, 256, 3)
    with pytest.raises(ValueError):
        fx.jpeg_roundtrip(rgb, 0)


def test_forensics_command(tmp_path, capsys) -> None:
    import json

    from synthcheck.cli import main

    good = tmp_path / "a.png"
    Image.fromarray(sinusoid()).save(good)
    bad = tmp_path / "b.jpg"
    bad.write_bytes(b"nope")
    assert main(["forensics", str(good), "--out", str(tmp_path / "v"), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert {"ela", "spectrum", "noise", "jpeg", "ghost", "copy_move", "thumbnail"} <= set(row)
    assert Image.open(row["spectrum"]["png"]).size == (64, 64)
    assert "png" not in row["jpeg"] and row["jpeg"]["is_jpeg"] is False  # a PNG: no tables
    jpg = tmp_path / "c.jpg"
    Image.fromarray(smooth_photo_like(2, 128)).save(jpg, quality=83)
    assert main(["forensics", str(jpg)]) == 0
    line = capsys.readouterr().out
    assert "JPEG q83 4:2:0 baseline, single save" in line and "0 cloned region(s)" in line
    assert main(["forensics", str(good), str(bad)]) == 2
