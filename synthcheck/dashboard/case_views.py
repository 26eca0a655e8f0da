"""The Cases page's views: a case's header and tables, one piece of evidence (its conclusion,
Grad-CAM, reasons, provenance, forensic views and explanations) and kept check results.

Words come from :mod:`synthcheck.dashboard.cases` and :mod:`synthcheck.analysis`; decisions
(is the score reliable here?) from the :class:`~synthcheck.analysis.Analysis`.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from .. import cases
from ..analysis import Analysis, explanations_heading, record_score_label
from ..bands import band_label
from ..forensics.words import describe
from . import cache, render
from . import cases as workflow
from .model import LoadedModel, band_edges, current_model, explain_module

EXPLAINED = "cases_explained"  # image SHA-256s whose explanations were asked for
EXPLAIN_METHODS = ("gradcam", "gradient_shap", "lime")
EXPLAIN_OPTIONS = {"gradient_shap": {"n_samples": 32}, "lime": {"num_samples": 256}}
MAX_SHOWN = 20  # problems and notes shown per kept result (the rest are counted)
SHOW_STATUS = {"verified": st.success, "incomplete": st.warning, "failed": st.error,
               "unreadable": st.error}  # only a failure (or input that cannot be read) is red
plain = render.plain


def header(case: dict[str, Any]) -> None:
    """Title, identity, figures, tags and notes of a case."""
    st.subheader(plain(case["title"]))
    head = case["audit_head"]
    st.caption(f"Case **{case['id']}** · created {case['created_utc'][:19]} UTC by {case['created_by']} · "
               f"audit head #{head['seq']} `{head['hash'][:16]}…`")
    for col, (label, value, tip) in zip(st.columns(5), workflow.header_facts(case), strict=True):
        col.metric(label, value, help=tip)
    cr = case["control_run"]
    if cr is not None and cr["ok"] is False:
        st.warning("The latest control run failed: " + "; ".join(cr.get("problems") or []))
    if case["tags"]:
        st.markdown("Tags: " + ", ".join(f"**{plain(t)}**" for t in case["tags"]))
    for n in case["notes"]:
        st.markdown(f"> {plain(n['text'])}  \n> — {plain(n['actor'])}, {n['created_utc'][:19]} UTC")


def results_table(case: dict[str, Any]) -> None:
    if not case["images"]:
        st.info("No images yet: add some in the Add evidence tab.")
        return
    st.dataframe(pd.DataFrame(workflow.result_rows(case)), hide_index=True, width="stretch",
                 key="cases_results", column_config={"Model score": st.column_config.ProgressColumn(
                     "Model score", min_value=0.0, max_value=1.0, format="%.3f",
                     help="Unreliable where the conclusion is 'Cannot assess'.")})


def _analysis_of(model: LoadedModel, im: dict[str, Any], data: bytes) -> Analysis:
    """The image analysed at its stored analysis's options (the sidebar's when never analysed),
    cached for all sessions like every dashboard analysis."""
    stored = im["analysis"]
    options = None if stored is None else workflow.stored_options(stored["params"], band_edges())
    return cache.analyze_uploads(model, [(im["name"], data)], options=options)[0]


def _stored_headline(rec: dict[str, Any]) -> None:
    """The stored record's own conclusion, reason and score (when no live analysis repeats it)."""
    st.markdown(f"### {plain(rec.get('conclusion_label') or rec.get('conclusion'))}")
    st.markdown(plain(rec.get("conclusion_reason") or ""))
    render.score_bar(rec.get("p_fake"), rec.get("conclusion"),
                     f"Stored: {record_score_label(rec)} · band {band_label(rec.get('band') or '')}")


def _conclusion(model: LoadedModel | None, im: dict[str, Any], a: Analysis | None) -> None:
    """The conclusion as stored in the case, shown through a live re-analysis when it repeats it."""
    stored = im["analysis"]
    if stored is None:
        st.info("Not analysed in this case yet (Analyse all records it). Shown at the sidebar's "
                "threshold and band edges.")
        if a is not None:
            render.headline(a)
        return
    rec = stored["record"]
    when = f"stored analysis #{stored['id']} of {stored['created_utc'][:19]} UTC"
    same_model = model is not None and cases.model_identity(model.detector)["sha256"] == stored["model_sha256"]
    if a is None or not same_model:
        _stored_headline(rec)
        st.caption(f"From the {when}; the sidebar's model is not the one that made it "
                   f"({(stored['model_sha256'] or 'unknown')[:16]}…), so the live views below are the "
                   "sidebar model's.")
        return
    differ = workflow.differences(a.to_record(), rec)
    if differ:
        st.error(f"Re-analysing this image does not repeat the {when} (the {', '.join(differ)} "
                 "differ): the stored record is shown.")
        _stored_headline(rec)
        return
    render.headline(a)
    st.caption(f"The same as the {when} (model {stored['model_sha256'][:16]}…, threshold "
               f"{rec['threshold']:g}, band {band_label(rec['band'])}).")


def _forensics(loaded: Any) -> None:
    st.markdown("**Classical forensic views** (no model involved; they need an expert's reading)")
    from ..forensics import fit_size

    views = cache.forensic_views(loaded)
    shown = [(name, v) for name, v in views.items() if v.get("image") is not None]
    for cell, (name, view) in zip(render.columns_of(len(shown)), shown, strict=True):
        cell.image(fit_size(view["image"], 512), caption=describe(name, view), width="stretch")
    others = [describe(name, view) for name, view in views.items() if view.get("image") is None]
    if others:
        st.markdown("\n".join(f"- {line}" for line in others))


def _explanations(model: LoadedModel, im: dict[str, Any], a: Analysis) -> None:
    """Grad-CAM, SHAP and LIME with their faithfulness, computed only when asked for."""
    asked = st.session_state.setdefault(EXPLAINED, set())
    if im["sha256"] not in asked:
        st.button("Explain this image (Grad-CAM, SHAP, LIME)", key="cases_explain",
                  on_click=asked.add, args=(im["sha256"],))
        return
    _, visual = explain_module()
    try:
        rep = cache.explain_cached(model, a.loaded, EXPLAIN_METHODS, a.verdict, 0,
                                   json.dumps(EXPLAIN_OPTIONS, sort_keys=True))
    except Exception as exc:  # a broken explainer: one message, no traceback
        st.error(f"Explanation failed: {type(exc).__name__}: {exc}")
        return
    st.markdown(f"**{explanations_heading(a.verdict, a.score_reliable)}**")
    up = max(1, cache.DISPLAY_SIDE // model.detector.input_size)
    faith = rep.faithfulness or {}
    for cell, (m, e) in zip(render.columns_of(len(rep.explanations)), rep.explanations.items(), strict=True):
        cell.image(visual.overlay(rep.image, e.map, alpha=0.5, cmap=visual.cmap_for(e.signed), upscale=up),
                   caption=m, width="stretch")
    labels = {"deletion_auc": "Deletion AUC (lower: better)", "random_deletion_auc": "Random deletion",
              "insertion_auc": "Insertion AUC (higher: better)", "random_insertion_auc": "Random insertion"}
    st.dataframe(pd.DataFrame([{"Method": m, **{label: (faith.get(m) or {}).get(k) for k, label in labels.items()}}
                               for m in rep.explanations]), hide_index=True, width="stretch",
                 key="cases_explain_table")
    st.caption("Deletion AUC below its random baseline and insertion AUC above it: the map points at "
               "what the model's score depends on (not at where an image was edited).")


def evidence_view(case: dict[str, Any]) -> None:
    """One image of the case: pictures, conclusion, reasons, provenance, forensics, explanations."""
    by_sha = {im["sha256"]: im for im in case["images"]}
    if not by_sha:
        st.info("No images yet: add some in the Add evidence tab.")
        return
    sha = st.selectbox("Image", list(by_sha), index=None, key="cases_evidence",
                       placeholder="Choose an image of the case…",
                       format_func=lambda s: f"{by_sha[s]['name']} · {s[:12]}")
    if sha is None:
        return
    im = by_sha[sha]
    try:
        data = cases.BlobStore().read(sha)
    except OSError as exc:
        st.error(f"The stored image cannot be read ({exc.strerror or exc}); run Verify the case.")
        return
    model = current_model()
    a = _analysis_of(model, im, data) if model is not None else None
    if a is not None and not a.ok:
        st.error(f"Cannot analyse the stored image: {a.error}")
        return
    loaded = a.loaded if a is not None else None
    if loaded is None:
        from ..imageio import ImageError, load_image

        try:
            loaded = load_image(data, name=im["name"])
        except ImageError as exc:
            st.error(str(exc))
            return
    st.caption(f"**{plain(im['name'])}** · {im['format']} {im['width']} × {im['height']} px · "
               f"{im['bytes']:,} bytes · SHA-256 `{sha}`")
    left, right = st.columns([2, 3])
    with left:
        pics = st.columns(2)
        pics[0].image(render.enlarge(model.detector.to_array(loaded)) if model else loaded.image,
                      caption="What the model sees" if model else "The image", width="stretch")
        if model is not None and a is not None:
            render.gradcam_card(model, a, pics[1])
    with right:
        _conclusion(model, im, a)
        if a is not None and a.domain is not None and a.domain.reasons:
            st.markdown("**Why the model cannot judge it:**\n" + "\n".join(
                f"- {plain(r)}" for r in a.domain.reasons))
        if a is not None and a.advisories:
            st.markdown("**Known bias that applies:**\n" + "\n".join(f"- {plain(n)}" for n in a.advisories))
        if a is not None and a.provenance is not None:
            st.markdown(f"**Provenance:** {plain(a.provenance.summary or 'no signals')}")
            if a.provenance.signals:
                st.dataframe(pd.DataFrame([{k.capitalize(): str(v)[:200] for k, v in sg.items()}
                                           for sg in a.provenance.signals]).fillna(""),
                             hide_index=True, width="stretch", key="cases_provenance")
    _forensics(loaded)
    if model is not None and a is not None:
        _explanations(model, im, a)


def kept_result(store: str, key: str, dismiss_key: str) -> None:
    """A check result kept in session state, shown until its Dismiss button is pressed."""
    res = st.session_state.get(store, {}).get(key)
    if res is None:
        return
    with st.container(border=True):
        SHOW_STATUS[res["status"]](plain(res["summary"]))
        for p in res["problems"][:MAX_SHOWN]:
            st.error(plain(p))
        if len(res["problems"]) > MAX_SHOWN:
            st.error(f"... and {len(res['problems']) - MAX_SHOWN} more problems.")
        for n in res["notes"][:MAX_SHOWN]:
            st.caption(plain(n))
        if res.get("rows"):
            st.dataframe(pd.DataFrame(res["rows"]), hide_index=True, width="stretch",
                         key=f"{dismiss_key}_rows")
        st.button("Dismiss", key=dismiss_key, on_click=lambda: st.session_state[store].pop(key, None))
