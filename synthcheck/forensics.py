"""Classical forensic views beside the model: error level analysis, Fourier spectrum, noise.

Pure functions from an image (anything :func:`synthcheck.imageio.load_image` accepts, a
:class:`~synthcheck.imageio.LoadedImage`, a PIL image or an HxW[x3] array) to numpy arrays.
They work at the image's own resolution, not the model's, and need only numpy, Pillow and
scipy. ``*_view`` helpers turn the arrays into uint8 pictures for reports and the dashboard.

- ELA: re-save as JPEG at a known quality and look at the difference. Regions that were
  compressed differently (pasted, retouched, or never JPEG-compressed) stand out.
- Spectrum: centred log-magnitude of the 2-D FFT of the luminance. Upsampling layers in
  generators leave periodic peaks and grids; natural photos fall off smoothly.
- Noise residual: the image minus a denoised copy (median filter). Camera noise is fine and
  uniform; synthetic or pasted regions are often smoother or differently textured.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from .imageio import LoadedImage, load_image


def as_rgb_array(image: Any) -> np.ndarray:
    """Any supported image input -> uint8 HxWx3 array."""
    if isinstance(image, LoadedImage):
        return np.asarray(image.image, dtype=np.uint8)
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return image
    return np.asarray(load_image(image).image, dtype=np.uint8)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an HxWx3 array, float64 in [0, 255]."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def jpeg_roundtrip(rgb: np.ndarray, quality: int, subsampling: int = 2) -> np.ndarray:
    """Encode ``rgb`` as JPEG at ``quality`` and decode it.

    ``subsampling``: 2 = 4:2:0 (what most cameras and tools write), 0 = 4:4:4.
    """
    if not 1 <= int(quality) <= 100:
        raise ValueError("JPEG quality must be between 1 and 100")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(
        buf, format="JPEG", quality=int(quality), subsampling=int(subsampling))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.uint8)


def ela_difference(image: Any, quality: int = 90) -> np.ndarray:
    """Absolute per-channel difference (float32 HxWx3, 0..255) between the image and its re-save.

    The re-save is 4:4:4 (no chroma subsampling), so colour resampling does not drown the
    error levels: content already saved at ``quality`` comes back almost unchanged.
    """
    rgb = as_rgb_array(image)
    return np.abs(rgb.astype(np.float32) - jpeg_roundtrip(rgb, quality, 0).astype(np.float32))


def error_level_analysis(image: Any, quality: int = 90, scale: float | None = None) -> np.ndarray:
    """Amplified ELA picture (uint8 HxWx3): ``|image - resave(quality)| * scale``.

    ``scale=None`` stretches the largest difference to 255, as ELA tools do; pass a fixed
    scale (e.g. 15) to compare images with each other.
    """
    diff = ela_difference(image, quality)
    if scale is None:
        top = float(diff.max())
        scale = 255.0 / top if top > 0 else 1.0
    return np.clip(diff * float(scale) + 0.5, 0, 255).astype(np.uint8)


def fourier_spectrum(image: Any, window: bool = True) -> np.ndarray:
    """Centred log-magnitude spectrum (float32 HxW) of the luminance: ``log1p(|FFT|)``.

    The zero frequency sits at ``(H // 2, W // 2)``; a pattern with ``k`` cycles across the
    width peaks at column ``W // 2 ± k``. The mean is removed and, with ``window``, a Hann
    window tapers the borders so image edges do not draw a bright cross.
    """
    y = luminance(as_rgb_array(image))
    y = y - y.mean()
    if window:
        h, w = y.shape
        y = y * np.outer(np.hanning(h) if h > 1 else np.ones(1), np.hanning(w) if w > 1 else np.ones(1))
    spec = np.fft.fftshift(np.fft.fft2(y))
    return np.log1p(np.abs(spec)).astype(np.float32)


def _ring_bins(shape: tuple[int, int], n_bins: int) -> np.ndarray:
    h, w = shape
    yy, xx = np.indices((h, w))
    r = np.hypot(yy - h // 2, xx - w // 2)
    return np.minimum((r / (r.max() or 1.0) * n_bins).astype(int), n_bins - 1)


def azimuthal_average(spectrum: np.ndarray, n_bins: int | None = None) -> np.ndarray:
    """Mean of a centred spectrum over rings of equal radius (low to high frequency)."""
    n_bins = n_bins or int(min(spectrum.shape) // 2) or 1
    bins = _ring_bins(spectrum.shape, n_bins)
    sums = np.bincount(bins.ravel(), spectrum.ravel(), minlength=n_bins)
    counts = np.bincount(bins.ravel(), minlength=n_bins)
    return (sums / np.maximum(counts, 1)).astype(np.float32)


def noise_residual(image: Any, method: str = "median", size: int = 3, sigma: float = 1.0) -> np.ndarray:
    """Image minus a denoised copy (float32 HxWx3, signed): ``median`` or ``gaussian`` filter."""
    from scipy import ndimage

    rgb = as_rgb_array(image).astype(np.float32)
    if method == "median":
        smooth = ndimage.median_filter(rgb, size=(size, size, 1), mode="reflect")
    elif method == "gaussian":
        smooth = ndimage.gaussian_filter(rgb, sigma=(sigma, sigma, 0), mode="reflect")
    else:
        raise ValueError(f"unknown denoiser {method!r}; use 'median' or 'gaussian'")
    return rgb - smooth


# -- pictures and numbers for reports / dashboard ------------------------------------------
def spectrum_view(spectrum: np.ndarray) -> np.ndarray:
    """A spectrum stretched between its 1st and 99.9th percentile, as uint8 HxWx3 grey."""
    lo, hi = np.percentile(spectrum, [1.0, 99.9])
    g = np.clip((spectrum - lo) / ((hi - lo) or 1.0) * 255.0, 0, 255).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=2)


def residual_view(residual: np.ndarray, gain: float | None = None) -> np.ndarray:
    """A signed residual around mid-grey (uint8 HxWx3); ``gain=None`` uses 3 standard deviations."""
    if gain is None:
        sd = float(residual.std())
        gain = 127.0 / (3.0 * sd) if sd > 0 else 1.0
    return np.clip(residual * gain + 127.5, 0, 255).astype(np.uint8)


def upscale_nearest(rgb: np.ndarray, min_side: int = 256) -> np.ndarray:
    """Enlarge small pictures by an integer factor (nearest neighbour) so pixels stay visible."""
    k = max(1, int(np.ceil(min_side / max(1, min(rgb.shape[:2])))))
    return rgb if k == 1 else np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)


def fit_size(rgb: np.ndarray, max_side: int = 512) -> np.ndarray:
    """Shrink large pictures (area resampling) so reports stay small."""
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    f = max_side / max(h, w)
    return np.asarray(Image.fromarray(rgb).resize((max(1, round(w * f)), max(1, round(h * f))),
                                                  Image.Resampling.BOX))


def forensic_views(image: Any, quality: int = 90) -> dict[str, Any]:
    """ELA, spectrum and noise pictures (uint8 HxWx3 at the image's size) plus summary numbers.

    Numbers: ``ela_mean``/``ela_max`` (0..255 units), ``noise_std``, ``high_freq_ratio`` (share
    of spectral energy in the outer half of frequencies) and ``spectral_peakiness`` (largest
    ring-normalised spectral value; periodic upsampling traces make it large).
    """
    rgb = as_rgb_array(image)
    diff = ela_difference(rgb, quality)
    spec = fourier_spectrum(rgb)
    resid = noise_residual(rgb)
    mag = np.expm1(spec.astype(np.float64)) ** 2
    h, w = spec.shape
    yy, xx = np.indices((h, w))
    r = np.hypot((yy - h // 2) / max(h / 2, 1), (xx - w // 2) / max(w / 2, 1))
    ring = azimuthal_average(spec)
    bins = _ring_bins(spec.shape, len(ring))
    excess = spec - ring[bins]
    excess[h // 2, w // 2] = 0.0
    top = float(diff.max())
    return {
        "ela": {"image": np.clip(diff * (255.0 / top if top > 0 else 1.0) + 0.5, 0, 255).astype(np.uint8),
                "quality": int(quality), "ela_mean": round(float(diff.mean()), 4),
                "ela_max": round(top, 4)},
        "spectrum": {"image": spectrum_view(spec),
                     "high_freq_ratio": round(float(mag[r > 0.5].sum() / (mag.sum() or 1.0)), 6),
                     "spectral_peakiness": round(float(excess.max()), 4)},
        "noise": {"image": residual_view(resid), "method": "median 3x3",
                  "noise_std": round(float(resid.std()), 4)},
    }
