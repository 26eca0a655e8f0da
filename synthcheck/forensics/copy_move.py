"""Copy-move (clone) detection by keypoint matching (after Amerini et al. 2011).

SIFT keypoints of the greyscale image are matched against each other; the generalised
nearest-neighbour ratio test (g2NN) keeps a keypoint's matches that are much closer than the
next candidate, pairs closer than ``min_offset`` are dropped (a texture matching its own
neighbourhood), and pairs that one similarity transform (shift, rotation, scale) explains,
found by repeated RANSAC, form one cloned region. Runs on a copy at most ``max_side`` px wide
so a 12 MP photo takes about a second; boxes are given in the image's own pixels.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .images import as_rgb_array, fit_size

MAX_SIDE = 1500
RATIO = 0.6  # g2NN: keep neighbours while d_i / d_(i+1) is below this
MIN_MATCHES = 8  # pairs one transform must explain to count as a clone
MAX_CLONES = 6
CONTRAST = 0.02  # SIFT contrast threshold (OpenCV's default 0.04 finds too few in smooth photos)
MAX_KEYPOINTS = 6000  # bounds the all-pairs matching (quadratic in keypoints)


def _cv2() -> Any:
    import cv2

    cv2.setRNGSeed(0)
    return cv2


def _g2nn_pairs(cv2: Any, desc: np.ndarray, k: int = 6) -> list[tuple[int, int]]:
    """(query, train) keypoint index pairs that pass the g2NN test, each pair once."""
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    pairs: set[tuple[int, int]] = set()
    for row in matcher.knnMatch(desc, desc, k=min(k, len(desc))):
        others = [m for m in row if m.trainIdx != m.queryIdx]
        for a, b in zip(others, others[1:], strict=False):
            if a.distance >= RATIO * b.distance:
                break
            pairs.add((min(a.queryIdx, a.trainIdx), max(a.queryIdx, a.trainIdx)))
    return sorted(pairs)


def _box(points: np.ndarray, f: float, shape: tuple[int, int]) -> list[int]:
    """[x, y, w, h] in full-resolution pixels around ``points`` (working-scale x, y)."""
    x0, y0 = np.floor(points.min(axis=0) / f).astype(int)
    x1, y1 = np.ceil(points.max(axis=0) / f).astype(int)
    x0, y0 = max(0, x0), max(0, y0)
    return [int(x0), int(y0), int(min(shape[1], x1) - x0), int(min(shape[0], y1) - y0)]


def detect_copy_move(image: Any, max_side: int = MAX_SIDE, min_offset: float | None = None
                     ) -> dict[str, Any]:
    """Cloned regions of ``image``: ``clones`` (source/target boxes [x, y, w, h], matches,
    offset [dx, dy], rotation_deg, scale), plus ``pairs`` (working-scale point pairs per clone,
    for drawing), ``n_keypoints``, ``n_matches`` and ``scale`` (working size / image size).

    ``min_offset``: pairs closer than this many working-scale pixels are ignored (default 2% of
    the working diagonal, at least 10 px).
    """
    cv2 = _cv2()
    rgb = as_rgb_array(image)
    small = fit_size(rgb, max_side)
    f = small.shape[1] / rgb.shape[1]
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    min_offset = max(10.0, 0.02 * math.hypot(*grey.shape)) if min_offset is None else float(min_offset)
    kps, desc = cv2.SIFT_create(nfeatures=MAX_KEYPOINTS, contrastThreshold=CONTRAST).detectAndCompute(grey, None)
    out: dict[str, Any] = {"method": "SIFT + g2NN + RANSAC", "scale": round(f, 6),
                           "n_keypoints": len(kps), "n_matches": 0, "clones": [], "pairs": []}
    if desc is None or len(kps) < 3:
        return out
    pts = np.array([kp.pt for kp in kps], np.float32)
    pairs = [(i, j) for i, j in _g2nn_pairs(cv2, desc)
             if float(np.hypot(*(pts[i] - pts[j]))) >= min_offset]
    out["n_matches"] = len(pairs)
    if len(pairs) < MIN_MATCHES:
        return out
    # order each pair left-to-right (then top-to-bottom) so one clone's pairs point one way
    a = np.array([pts[i] if tuple(pts[i]) <= tuple(pts[j]) else pts[j] for i, j in pairs])
    b = np.array([pts[j] if tuple(pts[i]) <= tuple(pts[j]) else pts[i] for i, j in pairs])
    while len(a) >= MIN_MATCHES and len(out["clones"]) < MAX_CLONES:
        m, inl = cv2.estimateAffinePartial2D(a, b, method=cv2.RANSAC, ransacReprojThreshold=3.0,
                                             maxIters=2000, confidence=0.995)
        if m is None or inl is None or int(inl.sum()) < MIN_MATCHES:
            break
        keep = inl.ravel().astype(bool)
        shift = float(np.hypot(m[0, 2], m[1, 2]))
        scale = float(math.hypot(m[0, 0], m[1, 0]))
        if shift >= min_offset or abs(scale - 1) > 0.1:
            src, dst = a[keep], b[keep]
            out["clones"].append({
                "source": _box(src, f, rgb.shape[:2]), "target": _box(dst, f, rgb.shape[:2]),
                "matches": int(keep.sum()),
                "offset": [round(float((dst - src)[:, 0].mean() / f), 1),
                           round(float((dst - src)[:, 1].mean() / f), 1)],
                "rotation_deg": round(math.degrees(math.atan2(m[1, 0], m[0, 0])), 2),
                "scale": round(scale, 4)})
            out["pairs"].append(np.concatenate([src, dst], axis=1))
        a, b = a[~keep], b[~keep]
    return out


def draw_copy_move(image: Any, result: dict[str, Any], max_side: int = 1024) -> np.ndarray:
    """The image (at most ``max_side`` px) with each clone's pairs linked by lines, the source
    boxed in green and the target in red."""
    cv2 = _cv2()
    rgb = as_rgb_array(image)
    pic = np.ascontiguousarray(fit_size(rgb, max_side)).copy()
    g = pic.shape[1] / rgb.shape[1]
    k = g / result["scale"] if result["scale"] else g
    width = max(1, round(max(pic.shape[:2]) / 400))
    for clone, pp in zip(result["clones"], result["pairs"], strict=True):
        for x0, y0, x1, y1 in pp * k:
            cv2.line(pic, (round(x0), round(y0)), (round(x1), round(y1)), (255, 220, 0), 1, cv2.LINE_AA)
        for key, colour in (("source", (0, 200, 0)), ("target", (230, 0, 0))):
            x, y, w, h = (round(v * g) for v in clone[key])
            cv2.rectangle(pic, (x, y), (x + w, y + h), colour, width)
    return pic


def copy_move_view(rgb: np.ndarray) -> dict[str, Any]:
    """The drawing with the clone list (no point pairs: the report keeps the boxes)."""
    res = detect_copy_move(rgb)
    return {"image": draw_copy_move(rgb, res), "n_clones": len(res["clones"]),
            **{k: v for k, v in res.items() if k != "pairs"}}
