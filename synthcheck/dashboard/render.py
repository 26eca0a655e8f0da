"""An analysis on a page: headline, score bar, Grad-CAM card, tiles, tables and picture grids.

Every word comes from the :class:`~synthcheck.analysis.Analysis` (headline, reason, score label,
map caption) and every decision from it too (``score_reliable``): nothing here judges an image.
"""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np
import streamlit as st

from ..analysis import CONCLUSION_COLOURS, Analysis
from .cache import DISPLAY_SIDE, gradcam_overlay
from .model import LoadedModel, explain_module

BAND_COLOURS = {"likely_real": "green", "uncertain": "orange", "likely_synthetic": "red",
                "out_of_domain": "gray"}
# The score bar's fill per conclusion colour; grey (cannot assess) is the neutral one.
BAR_FILL = {"green": "#15803D", "orange": "#D97706", "red": "#B91C1C", "gray": "#9CA3AF"}


def plain(text: Any) -> str:
    """Escape Markdown so names and notes from evidence render as text (no links, no images)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~:$])", r"\\\1", str(text))


def score_bar(p_fake: float | None, conclusion: str | None, label: str) -> None:
    """The model's score as a bar coloured by the conclusion: grey, and labelled unreliable by
    ``label``, where the conclusion is "cannot assess" (never a red bar for an image the model
    cannot judge)."""
    if p_fake is None:
        return
    colour = CONCLUSION_COLOURS.get(conclusion or "", "gray")
    pct = max(0.0, min(1.0, float(p_fake))) * 100
    st.html(f'<div class="sc-score-bar" data-colour="{colour}" role="meter" aria-valuemin="0" '
            f'aria-valuemax="1" aria-valuenow="{float(p_fake):.3f}" aria-label="{html.escape(label)}" '
            'style="height:8px;border-radius:4px;background:#E5E7EB;margin:0.25rem 0">'
            f'<div style="width:{pct:.1f}%;height:8px;border-radius:4px;background:{BAR_FILL[colour]}">'
            '</div></div>')
    st.caption(label)


def headline(a: Analysis) -> None:
    """The conclusion first, its reason in plain words, then the model's score as a bar and in
    words, smaller: the same wording as the CLI and the reports (all from the :class:`Analysis`)."""
    colour = CONCLUSION_COLOURS.get(a.conclusion or "", "gray")
    st.markdown(f"### :{colour}[{a.headline}]")
    if a.conclusion == "cannot_assess":
        st.warning(a.reason)
    else:
        st.markdown(a.reason)
    score_bar(a.p_fake, a.conclusion, a.score_label)


def gradcam_card(model: LoadedModel, a: Analysis, where: Any = None) -> None:
    """Grad-CAM of the analysis's raw call with its caption (neutral where the score is
    unreliable) and its trust sentence; the reason in place of the map when there is none."""
    where = where or st
    cam, reason, trust = (gradcam_overlay(model, a.loaded, a.verdict) if a.ok and a.verdict
                          else (None, "Grad-CAM needs an analysis of this image.", None))
    if cam is None:
        where.caption(reason or "Grad-CAM unavailable.")
        return
    where.image(cam, caption=a.map_caption, width="stretch")
    if trust and a.score_reliable:
        where.caption(f":{trust['colour']}[{trust['sentence']}]")
    elif trust:
        where.caption(f":gray[{trust['sentence']}]")


def tile_picture(a: Analysis) -> np.ndarray | None:
    """The analysis's tile grid drawn over the image (None when it has no grid)."""
    from ..tiles import tile_overlay

    if a.tiles is None or a.loaded is None:
        return None
    return tile_overlay(a.loaded.image, a.tiles)


def enlarge(arr: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """Nearest-neighbour enlargement of a small HxWx3 array so pixels stay visible (the same
    integer factor as the explanation overlays use)."""
    _, visual = explain_module()
    return visual.upscale_nearest(arr, visual.auto_upscale(*arr.shape[:2], size=side))


def cards(n: int, width: int = DISPLAY_SIDE, gap: str = "medium") -> list[Any]:
    """``n`` fixed-width containers in a horizontal container that wraps: as many a row as the
    page is wide, so panels never shrink to slivers or overflow at narrow widths."""
    row = st.container(horizontal=True, wrap=True, gap=gap)
    return [row.container(width=width) for _ in range(n)]


def columns_of(n: int, per_row: int = 3) -> list[Any]:
    """``n`` equal columns, ``per_row`` a row (the last row left-aligned): pictures wrap to new
    rows instead of shrinking to slivers or overflowing at narrow widths."""
    cells: list[Any] = []
    for start in range(0, n, per_row):
        cells += st.columns(per_row)[:min(per_row, n - start)]
    return cells


def result_columns() -> dict[str, Any]:
    """The one column set for tables of result rows (uploads and folder scans): people read
    labels, never record keys (``analysis.RECORD_FIELDS`` / ``Analysis.to_row``)."""
    col = st.column_config
    return {
        "thumbnail": col.ImageColumn("Image", width="small"),
        "name": col.TextColumn("File"), "path": col.TextColumn("File"),
        "conclusion_label": col.TextColumn("Conclusion"),
        "p_fake": col.ProgressColumn("Model score", min_value=0.0, max_value=1.0, format="%.3f",
                                     help="Unreliable where the conclusion is 'Cannot assess'."),
        "verdict": col.TextColumn("Raw call"), "band_label": col.TextColumn("Band"),
        "in_domain": col.CheckboxColumn("In the model's domain"),
        "domain_reasons": col.TextColumn("Why the model cannot judge it"),
        "advisories": col.TextColumn("Notes"), "notes": col.TextColumn("File notes"),
        "width": col.NumberColumn("Width (px)"), "height": col.NumberColumn("Height (px)"),
        "format": col.TextColumn("Format"), "bytes": col.NumberColumn("Size (bytes)"),
        "sha256": col.TextColumn("SHA-256", width="small"), "error": col.TextColumn("Error"),
    }
