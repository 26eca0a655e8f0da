"""Pictures of explanations: colour-mapped overlays, a PNG strip for reports, a Plotly figure.

Small inputs (32 x 32) are upscaled with nearest-neighbour so each model pixel stays a visible
square. Signed maps use a diverging colour map centred on zero; unsigned maps run from 0 up.
Matplotlib is used through its object API on the Agg canvas (no pyplot, safe in threads).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import Explanation

DISPLAY_SIZE = 256  # small images are upscaled to about this many pixels per side
SIGNED_CMAP = "bwr"


def auto_upscale(height: int, width: int, size: int = DISPLAY_SIZE) -> int:
    """Integer nearest-neighbour factor bringing the longer side to about ``size`` pixels."""
    return max(1, size // max(height, width, 1))


def upscale_nearest(arr: np.ndarray, factor: int) -> np.ndarray:
    """Repeat each pixel ``factor`` x ``factor`` times (keeps pixels crisp)."""
    if factor <= 1:
        return arr
    return np.repeat(np.repeat(arr, factor, axis=0), factor, axis=1)


def _limits(m: np.ndarray, vmin: float | None, vmax: float | None) -> tuple[float, float]:
    """Default colour limits: symmetric around 0 for maps with negatives, else [0, max]."""
    if vmin is None or vmax is None:
        lo, hi = float(np.min(m)), float(np.max(m))
        if lo < 0:
            r = max(abs(lo), abs(hi))
            lo_d, hi_d = -r, r
        else:
            lo_d, hi_d = 0.0, hi
        vmin = lo_d if vmin is None else vmin
        vmax = hi_d if vmax is None else vmax
    return float(vmin), float(vmax)


def _resize_map(m: np.ndarray, height: int, width: int) -> np.ndarray:
    """Map resized to the image (nearest) when the caller passes an image of another size."""
    if m.shape == (height, width):
        return m
    from PIL import Image

    return np.asarray(Image.fromarray(m.astype(np.float32), "F").resize((width, height), Image.Resampling.NEAREST))


def colorize(m: np.ndarray, cmap: str = "jet", vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """A map as uint8 H x W x 3 colours."""
    from matplotlib import colormaps

    m = np.nan_to_num(np.asarray(m, np.float64))
    lo, hi = _limits(m, vmin, vmax)
    norm = np.clip((m - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.full(m.shape, 0.5 if lo < 0 else 0.0)
    return (colormaps[cmap](norm)[..., :3] * 255.0 + 0.5).astype(np.uint8)


def map_picture(m: np.ndarray, signed: bool) -> np.ndarray:
    """A map alone as a colour picture: blue-white-red for signed maps, jet for unsigned."""
    return colorize(m, SIGNED_CMAP if signed else "jet")


def overlay(image: np.ndarray, map: np.ndarray | Explanation, alpha: float = 0.5, cmap: str = "jet",
            upscale: int | None = None, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """Blend a colour-mapped attribution map over ``image`` (uint8 H x W x 3) -> uint8 image.

    ``upscale``: integer nearest-neighbour factor (default: automatic for small images, 1 for
    large ones). ``vmin``/``vmax`` default to [0, max] or, for maps with negatives, +/- max|map|.
    """
    m = map.map if isinstance(map, Explanation) else np.asarray(map)
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be H x W x 3, not {img.shape}")
    if m.ndim != 2:
        raise ValueError(f"map must be H x W, not {m.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], not {alpha}")
    h, w = img.shape[:2]
    m = _resize_map(m, h, w)
    colours = colorize(m, cmap, vmin, vmax).astype(np.float32)
    blend = (1.0 - alpha) * img.astype(np.float32) + alpha * colours
    out = np.clip(blend + 0.5, 0, 255).astype(np.uint8)
    factor = auto_upscale(h, w) if upscale is None else int(upscale)
    return upscale_nearest(out, factor)


def _as_items(explanations: Any) -> tuple[list[tuple[str, Explanation]], Mapping[str, Any]]:
    """(name, Explanation) pairs and faithfulness numbers from a dict, a list or an ExplainReport."""
    faith: Mapping[str, Any] = getattr(explanations, "faithfulness", {}) or {}
    if hasattr(explanations, "explanations"):
        explanations = explanations.explanations
    if isinstance(explanations, Explanation):
        explanations = [explanations]
    if isinstance(explanations, Mapping):
        return list(explanations.items()), faith
    return [(e.method, e) for e in explanations], faith


def _panel_title(name: str, exp: Explanation, faith: Mapping[str, Any]) -> str:
    title = f"{name} ({exp.seconds * 1e3:.0f} ms)"
    f = faith.get(name)
    if f:
        title += f"\ndel {f['deletion_auc']:.2f} vs rand {f['random_deletion_auc']:.2f}"
    return title


def _cmap_for(exp: Explanation) -> str:
    return SIGNED_CMAP if exp.signed else "jet"


def side_by_side_png(image: np.ndarray, explanations: Mapping[str, Explanation] | Sequence[Explanation] | Any,
                     path: str | Path | None = None, *, alpha: float = 0.5, dpi: int = 100,
                     faithfulness: Mapping[str, Any] | None = None) -> bytes:
    """PNG of the original next to each method's overlay; written to ``path`` too if given.

    ``explanations`` may also be an ExplainReport (its faithfulness numbers go in the titles).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    items, faith = _as_items(explanations)
    faith = faithfulness if faithfulness is not None else faith
    img = np.asarray(image, np.uint8)
    factor = auto_upscale(*img.shape[:2])
    fig = Figure(figsize=(2.6 * (1 + len(items)), 3.4), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 1 + len(items), squeeze=False)[0]
    axes[0].imshow(upscale_nearest(img, factor), interpolation="nearest")
    axes[0].set_title("input", fontsize=9)
    for ax, (name, exp) in zip(axes[1:], items, strict=True):
        ax.imshow(overlay(img, exp.map, alpha=alpha, cmap=_cmap_for(exp), upscale=factor), interpolation="nearest")
        ax.set_title(_panel_title(name, exp, faith), fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def explanation_png(image: np.ndarray, exp: Explanation, path: str | Path | None = None,
                    alpha: float = 0.5) -> bytes:
    """PNG of one method's overlay (nearest-neighbour upscaled), written to ``path`` if given."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(overlay(image, exp.map, alpha=alpha, cmap=_cmap_for(exp))).save(buf, format="PNG")
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def side_by_side_figure(image: np.ndarray, explanations: Mapping[str, Explanation] | Sequence[Explanation] | Any,
                        *, alpha: float = 0.5, faithfulness: Mapping[str, Any] | None = None) -> Any:
    """Plotly figure: the original and each method's overlay in one row (for the dashboard)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    items, faith = _as_items(explanations)
    faith = faithfulness if faithfulness is not None else faith
    img = np.asarray(image, np.uint8)
    factor = auto_upscale(*img.shape[:2])
    titles = ["input"] + [_panel_title(n, e, faith).replace("\n", "<br>") for n, e in items]
    fig = make_subplots(rows=1, cols=1 + len(items), subplot_titles=titles, horizontal_spacing=0.02)
    fig.add_trace(go.Image(z=upscale_nearest(img, factor), hoverinfo="skip"), row=1, col=1)
    for j, (_, exp) in enumerate(items, start=2):
        fig.add_trace(go.Image(z=overlay(img, exp.map, alpha=alpha, cmap=_cmap_for(exp), upscale=factor),
                               hoverinfo="skip"), row=1, col=j)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=320, width=260 * (1 + len(items)), margin=dict(l=5, r=5, t=60, b=5))
    return fig
