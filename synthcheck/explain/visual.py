"""Pictures of explanations: colour-mapped overlays with their colour bars, a PNG strip for
reports, deletion/insertion curves (Plotly for the dashboard, PNG for the CLI).

Small inputs (32 x 32) are upscaled with nearest-neighbour so each model pixel stays a visible
square. Signed maps use a diverging colour map centred on zero (blue-white-red); unsigned maps
run from 0 up to their own maximum (jet). Matplotlib is used through its object API on the Agg
canvas (no pyplot, safe in threads).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..imageio import upscale_nearest
from .base import Explanation

DISPLAY_SIZE = 256  # small images are upscaled to about this many pixels per side
SIGNED_CMAP = "bwr"


def auto_upscale(height: int, width: int, size: int = DISPLAY_SIZE) -> int:
    """Integer nearest-neighbour factor bringing the longer side to about ``size`` pixels."""
    return max(1, size // max(height, width, 1))


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


def cmap_for(signed: bool) -> str:
    """The colour map of a map: blue-white-red around 0 when signed, jet from 0 up otherwise."""
    return SIGNED_CMAP if signed else "jet"


def _cmap_for(exp: Explanation) -> str:
    return cmap_for(exp.signed)


def colour_bar_label(lo: float, target: str | None = None) -> str:
    """What the colours of a map with lower limit ``lo`` mean, in a few words."""
    what = target or "target"
    if lo < 0:
        return f"blue: against {what} · red: for {what}"
    return f"0: none · red: strongest for {what}"


def _colour_bar_on(fig: Any, cax: Any, lo: float, hi: float, cmap: str, label: str) -> None:
    """Draw a horizontal colour bar for [lo, hi] in ``cmap`` on the axes ``cax``."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    hi = hi if hi > lo else lo + 1e-12
    bar = fig.colorbar(ScalarMappable(Normalize(lo, hi), colormaps[cmap]), cax=cax,
                       orientation="horizontal")
    ticks = [lo, 0.0, hi] if lo < 0 else [lo, hi]
    bar.set_ticks(ticks, labels=[f"{t:.2g}" for t in ticks])
    bar.ax.tick_params(labelsize=7, length=2, pad=1)
    bar.set_label(label, fontsize=7, labelpad=1)


def colour_bar(m: np.ndarray | Explanation, signed: bool | None = None, *, width: int = 256,
               target: str | None = None, dpi: int = 100) -> np.ndarray:
    """A horizontal colour bar (uint8 RGB picture) with the limits ``overlay`` uses for ``m``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(m, Explanation):
        signed = m.signed if signed is None else signed
        target = target or m.target
        m = m.map
    lo, hi = _limits(np.nan_to_num(np.asarray(m, np.float64)), None, None)
    fig = Figure(figsize=(width / dpi, 0.62), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    cax = fig.add_axes((0.08, 0.62, 0.84, 0.26))
    _colour_bar_on(fig, cax, lo, hi, cmap_for(bool(signed)), colour_bar_label(lo, target))
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _save_png(fig: Any, path: str | Path | None) -> bytes:
    """A Matplotlib figure as PNG bytes, written to ``path`` too if given."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def curve_points(f: Mapping[str, Any]) -> dict[str, list[float]]:
    """The deletion/insertion curves of one method and of the random baseline (JSON-friendly)."""
    keys = ("fractions", "deletion_curve", "insertion_curve", "random_deletion_curve",
            "random_insertion_curve")
    return {k.removesuffix("_curve"): [round(float(v), 6) for v in f[k]] for k in keys}


CURVE_STYLE = (("deletion", "#1f77b4", "solid"), ("random_deletion", "#1f77b4", "dot"),
               ("insertion", "#d62728", "solid"), ("random_insertion", "#d62728", "dot"))


def curves_figure(method: str, f: Mapping[str, Any], target: str = "target", *,
                  height: int = 300) -> Any:
    """Plotly figure: one method's deletion and insertion curves beside the random baseline,
    legend below the plot so it never squeezes the curves."""
    import plotly.graph_objects as go

    pts = curve_points(f)
    fig = go.Figure([go.Scatter(x=pts["fractions"], y=pts[key], mode="lines",
                                name=key.replace("_", " "), line={"color": colour, "dash": dash})
                     for key, colour, dash in CURVE_STYLE])
    fig.update_layout(title={"text": f"{method}: deletion ↓ and insertion ↑", "font": {"size": 13}},
                      height=height, margin={"l": 10, "r": 10, "t": 36, "b": 10},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.32, "x": 0,
                              "font": {"size": 10}},
                      xaxis_title="fraction of pixels removed / restored",
                      yaxis={"title": f"p({target})", "range": [0, 1.02]})
    return fig


def curves_png(faithfulness: Mapping[str, Mapping[str, Any]], path: str | Path | None = None, *,
               target: str = "target", dpi: int = 100) -> bytes:
    """PNG of each method's deletion/insertion curves beside random (3 panels a row, legend
    below); written to ``path`` too if given."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    items = [(m, f) for m, f in faithfulness.items() if "deletion_curve" in f]
    if not items:
        raise ValueError("no curves: faithfulness metrics were not computed")
    cols = min(3, len(items))
    rows = -(-len(items) // cols)
    fig = Figure(figsize=(3.4 * cols, 2.7 * rows + 0.5), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    styles = {"solid": "-", "dot": ":"}
    for ax, (method, f) in zip(axes, items, strict=False):
        pts = curve_points(f)
        for key, colour, dash in CURVE_STYLE:
            ax.plot(pts["fractions"], pts[key], styles[dash], color=colour, label=key.replace("_", " "))
        ax.set_title(method, fontsize=9)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("fraction of pixels removed / restored", fontsize=7)
        ax.set_ylabel(f"p({target})", fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in axes[len(items):]:
        ax.set_axis_off()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.5 / (2.7 * rows + 0.5), 1, 1))
    return _save_png(fig, path)


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
    fig = Figure(figsize=(2.6 * (1 + len(items)), 4.0), dpi=dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 1 + len(items), height_ratios=(1, 0.05))
    axes = [fig.add_subplot(grid[0, j]) for j in range(1 + len(items))]
    axes[0].imshow(upscale_nearest(img, factor), interpolation="nearest")
    axes[0].set_title("input", fontsize=9)
    for j, (ax, (name, exp)) in enumerate(zip(axes[1:], items, strict=True), start=1):
        ax.imshow(overlay(img, exp.map, alpha=alpha, cmap=_cmap_for(exp), upscale=factor), interpolation="nearest")
        ax.set_title(_panel_title(name, exp, faith), fontsize=9)
        lo, hi = _limits(np.nan_to_num(np.asarray(exp.map, np.float64)), None, None)
        _colour_bar_on(fig, fig.add_subplot(grid[1, j]), lo, hi, _cmap_for(exp),
                       colour_bar_label(lo, exp.target))
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    return _save_png(fig, path)


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
