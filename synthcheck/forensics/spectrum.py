"""Fourier spectrum: centred log-magnitude of the 2-D FFT of the luminance.

Upsampling layers in generators leave periodic peaks and grids; natural photos fall off smoothly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .images import as_rgb_array, luminance


def fourier_spectrum(image: Any, window: bool = True) -> np.ndarray:
    """Centred log-magnitude spectrum (float32 HxW) of the luminance: ``log1p(|FFT|)``.

    The zero frequency sits at ``(H // 2, W // 2)``; a pattern with ``k`` cycles across the
    width peaks at column ``W // 2 ± k``. The mean is removed and, with ``window``, a Hann
    window tapers the borders so image edges do not draw a bright cross.
    """
    from scipy import fft

    y = luminance(as_rgb_array(image))
    y = y - y.mean()
    if window:
        h, w = y.shape
        y = y * (np.hanning(h) if h > 1 else np.ones(1))[:, None] * (np.hanning(w) if w > 1 else np.ones(1))
    spec = np.fft.fftshift(fft.fft2(y, workers=-1))
    return np.log1p(np.abs(spec)).astype(np.float32)


def _ring_bins(shape: tuple[int, int], n_bins: int) -> np.ndarray:
    h, w = shape
    yy, xx = np.ogrid[:h, :w]
    r = np.hypot(yy - h // 2, xx - w // 2)
    return np.minimum((r / (r.max() or 1.0) * n_bins).astype(int), n_bins - 1)


def azimuthal_average(spectrum: np.ndarray, n_bins: int | None = None,
                      bins: np.ndarray | None = None) -> np.ndarray:
    """Mean of a centred spectrum over rings of equal radius (low to high frequency);
    ``bins``: the ring index of every pixel when already computed (``_ring_bins``)."""
    n_bins = n_bins or int(min(spectrum.shape) // 2) or 1
    bins = _ring_bins(spectrum.shape, n_bins) if bins is None else bins
    sums = np.bincount(bins.ravel(), spectrum.ravel(), minlength=n_bins)
    counts = np.bincount(bins.ravel(), minlength=n_bins)
    return (sums / np.maximum(counts, 1)).astype(np.float32)


def spectrum_view(spectrum: np.ndarray) -> np.ndarray:
    """A spectrum stretched between its 1st and 99.9th percentile, as uint8 HxWx3 grey."""
    lo, hi = np.percentile(spectrum, [1.0, 99.9])
    g = np.clip((spectrum - lo) / ((hi - lo) or 1.0) * 255.0, 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def spectrum_summary(rgb: np.ndarray) -> dict[str, Any]:
    """The spectrum picture with ``high_freq_ratio`` (share of spectral energy in the outer half
    of frequencies) and ``spectral_peakiness`` (largest ring-normalised value; periodic
    upsampling traces make it large)."""
    spec = fourier_spectrum(rgb)
    mag = np.expm1(spec.astype(np.float64)) ** 2
    h, w = spec.shape
    yy, xx = np.ogrid[:h, :w]
    r = np.hypot((yy - h // 2) / max(h / 2, 1), (xx - w // 2) / max(w / 2, 1))
    bins = _ring_bins(spec.shape, int(min(spec.shape) // 2) or 1)
    ring = azimuthal_average(spec, bins=bins)
    excess = spec - ring[bins]
    excess[h // 2, w // 2] = 0.0
    return {"image": spectrum_view(spec),
            "high_freq_ratio": round(float(mag[r > 0.5].sum() / (mag.sum() or 1.0)), 6),
            "spectral_peakiness": round(float(excess.max()), 4)}
