"""Two images side by side: their pixel difference when they have the same size."""

from __future__ import annotations

from typing import Any

import numpy as np

from .images import as_rgb_array, fit_size

CHANGED = 16  # a pixel counts as changed when a channel differs by more than this
SSIM_SIDE = 1024  # SSIM is a summary number: computed on copies at most this size


def difference_map(a: Any, b: Any) -> dict[str, Any]:
    """``same_size`` and, when true, the amplified absolute difference (``image``, uint8 RGB,
    largest difference stretched to 255), ``mean_abs``, ``max_abs``, ``changed_share`` (pixels
    differing by more than 16 levels), ``changed_box`` ([x, y, w, h] around them or None) and
    ``ssim`` (greyscale structural similarity, on copies at most 1024 px)."""
    ra, rb = as_rgb_array(a), as_rgb_array(b)
    if ra.shape != rb.shape:
        return {"same_size": False, "image": None,
                "note": f"the images differ in size ({ra.shape[1]} x {ra.shape[0]} px against "
                        f"{rb.shape[1]} x {rb.shape[0]} px), so they cannot be compared pixel by pixel"}
    from skimage.metrics import structural_similarity

    from .ela import stretch
    from .images import luminance

    diff = np.abs(ra.astype(np.int16) - rb.astype(np.int16)).astype(np.float32)
    changed = diff.max(axis=2) > CHANGED
    ys, xs = np.nonzero(changed)
    box = None if len(xs) == 0 else [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                     int(ys.max() - ys.min() + 1)]
    ya, yb = luminance(fit_size(ra, SSIM_SIDE)), luminance(fit_size(rb, SSIM_SIDE))
    win = min(7, *ya.shape) // 2 * 2 + 1
    ssim = (float(structural_similarity(ya, yb, data_range=255.0, win_size=win))
            if min(ya.shape) >= 3 else float(np.array_equal(ra, rb)))
    return {"same_size": True, "image": stretch(diff), "mean_abs": round(float(diff.mean()), 4),
            "max_abs": round(float(diff.max()), 4), "changed_share": round(float(changed.mean()), 6),
            "changed_box": box, "ssim": round(ssim, 6)}
