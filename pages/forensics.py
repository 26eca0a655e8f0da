"""Forensics: the conclusion first, then the classical views investigators expect (ELA, spectrum,
noise with full-resolution zoom, JPEG tables, double compression and ghosts, copy-move, EXIF
thumbnail), a region-of-interest score, a side-by-side compare, and a downloadable case report.

A thin view: every number and picture comes from :mod:`synthcheck.forensics`, every conclusion
from :mod:`synthcheck.analysis` (through ``ui_shared``)."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

import ui_shared
from synthcheck import forensics as fx

IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]
DISPLAY_SIDE = 1024  # overview pictures are shrunk to this; the Zoom tab shows full resolution


def detector():
    """The dashboard's shared model (loaded once by the router's sidebar)."""
    return ui_shared.require_model().detector


@st.cache_resource(max_entries=32, show_spinner="Scoring the region…")
def roi_scored(sha: str | None, box: fx.Box, options: Any, _loaded: Any, name: str) -> Any:
    """The one analysis of a crop, once per (bytes, box, options) for all sessions."""
    return fx.roi_analysis(_loaded, box, detector(), options, name=name)


def show(arr, caption: str) -> None:
    """A picture that fills its column (small ones enlarged with visible pixels)."""
    st.image(fx.enlarge_to(fx.fit_size(arr, DISPLAY_SIDE), 256), caption=caption, width="stretch")


st.title("Forensic views")
st.caption("Classical tools investigators already use, shown beside the model's conclusion. They are "
           "aids for an expert's reading, not proof.")

det = detector()
up = st.file_uploader("Image", type=IMAGE_TYPES, key="forensics_file")
if up is None:
    st.info("Upload an image to see its forensic views.")
    st.stop()
data = up.getvalue()
analysis = ui_shared.analyze_uploads(ui_shared.require_model(), [(up.name, data)])[0]
if not analysis.ok:
    st.error(f"Cannot analyse this file: {analysis.error}")
    st.stop()
loaded = analysis.loaded

ui_shared.headline(analysis)
c1, c2 = st.columns(2)
c1.metric("Size", f"{loaded.width}×{loaded.height}")
c2.metric("Format", loaded.format or "–")
st.caption(f"SHA-256 `{loaded.sha256}` · {loaded.n_bytes:,} bytes")

with st.sidebar:
    st.subheader("Forensic settings")
    quality = st.slider("ELA re-save quality", 50, 100, 90, key="ela_q")
    fixed = st.checkbox("Fixed ELA gain (compare images)", value=False, key="ela_fixed")
    gain = st.slider("ELA gain", 1, 50, 15, key="ela_gain", disabled=not fixed)
    denoiser = st.radio("Noise residual denoiser", ["median", "gaussian"], key="noise_m", horizontal=True)

rgb = fx.as_rgb_array(loaded)
views = ui_shared.forensic_views(loaded, quality)
ela = fx.error_level_analysis(rgb, quality, scale=float(gain) if fixed else None)
resid = fx.noise_residual(rgb, method=denoiser)
noise_pic = fx.residual_view(resid)

t_views, t_zoom, t_jpeg, t_clone, t_thumb, t_roi, t_cmp = st.tabs(
    ["Views", "Zoom (full resolution)", "JPEG", "Copy-move", "EXIF thumbnail", "Region score", "Compare"])

with t_views:
    r1 = st.columns(2)
    with r1[0]:
        show(rgb, "Image")
    with r1[1]:
        show(ela, f"ELA at quality {quality} (mean {views['ela']['ela_mean']:.2f}, "
                  f"max {views['ela']['ela_max']:.0f})")
    r2 = st.columns(2)
    with r2[0]:
        show(views["spectrum"]["image"], f"Log spectrum (high-freq share "
                                         f"{views['spectrum']['high_freq_ratio']:.4f}, peakiness "
                                         f"{views['spectrum']['spectral_peakiness']:.2f})")
    with r2[1]:
        show(noise_pic, f"Noise residual ({denoiser}, std {resid.std():.2f})")
    with st.expander("How to read these views"):
        st.markdown(
            "- **ELA**: a region re-saved fewer times than the rest (pasted, retouched, or generated and "
            "inserted) reacts more to a new JPEG save and looks brighter. A uniformly dark ELA means the "
            "whole image went through the same compression.\n"
            "- **Spectrum**: the centre is the average brightness; natural photos fade smoothly toward the "
            "edges. Bright isolated dots or a grid away from the centre are typical of upsampling layers "
            "in generators (and of resizing).\n"
            "- **Noise residual**: camera sensor noise is fine and even; smooth patches or repeated "
            "textures can hint at synthesis or editing.\n"
            "- At CIFAKE's 32×32 pixels these views carry little information: prefer full-size originals.")

with t_zoom:
    st.caption("A region at full resolution: 1:1 shows the file's own pixels; larger factors enlarge "
               "them without smoothing.")
    z1, z2, z3, z4 = st.columns(4)
    side = z1.select_slider("Region size (px)", [32, 64, 128, 256, 512], value=128, key="zoom_side")
    factor = z2.select_slider("Zoom", [1, 2, 4, 8], value=2, key="zoom_factor",
                              format_func=lambda k: f"{k}:1")
    cx = z3.slider("Centre x", 0, max(0, loaded.width - 1), loaded.width // 2, key="zoom_x")
    cy = z4.slider("Centre y", 0, max(0, loaded.height - 1), loaded.height // 2, key="zoom_y")
    box = fx.Box(cx - side // 2, cy - side // 2, side, side).clamped(loaded.width, loaded.height)
    zc = st.columns(4)
    with zc[0]:
        st.image(fx.locator(rgb, box, 512), caption=f"Where: {box.label()}", width="stretch")
    for col, (pic, name) in zip(zc[1:], ((rgb, "Image"), (ela, "ELA"), (noise_pic, "Noise residual")),
                                strict=True):
        col.image(fx.zoom(fx.crop(pic, box), factor), caption=f"{name} at {factor}:1", width="content")

with t_jpeg:
    jp, dq, gh = views["jpeg"], views["double_jpeg"], views["ghost"]
    if not jp.get("is_jpeg"):
        st.info(f"JPEG structure: {jp.get('note')}.")
    else:
        m1, m2, m3 = st.columns(3)
        m1.metric("Estimated quality (IJG scale)", jp["quality"])
        m2.metric("Chroma subsampling", jp["subsampling"])
        m3.metric("Encoding", "progressive" if jp["progressive"] else "baseline")
        st.markdown(f"**Tables**: {jp['encoder']}.")
        tcols = st.columns(max(1, len(jp["tables"])))
        for col, (tid, table) in zip(tcols, jp["tables"].items(), strict=True):
            col.caption(f"Quantisation table {tid} ({'luminance' if tid == '0' else 'chrominance'})")
            col.dataframe([table[i:i + 8] for i in range(0, 64, 8)], hide_index=True)
    st.subheader("Double compression")
    if not dq.get("applicable"):
        st.info(f"Not assessed: {dq.get('note')}.")
    elif dq["double"]:
        st.warning(f"The luminance looks saved twice as JPEG; the earlier save was at about quality "
                   f"{dq['earlier_quality']} (histogram fit double/single {dq['ratio']:.2f}).")
    else:
        st.success(f"No sign of an earlier JPEG save (histogram fit double/single {dq['ratio']:.2f}).")
    st.subheader("JPEG ghosts")
    st.caption(f"The image re-saved at each quality; dark tiles change least. The whole image changes "
               f"least at quality {gh['min_quality']}; a region dark at another quality hints at an "
               "earlier save of that region.")
    g1, g2 = st.columns([3, 2])
    g1.image(gh["image"], caption="Normalised re-save difference per quality", width="stretch")
    g2.line_chart({"mean squared difference": {q: e for q, e in gh["curve"]}}, x_label="re-save quality")
    if gh["ghosts"]:
        g2.warning("Regions with a minimum of their own: " + ", ".join(
            f"quality {q} ({share:.1%} of tiles)" for q, share in gh["ghosts"]))

with t_clone:
    cm = views["copy_move"]
    st.caption(f"{cm['method']} on a copy at {cm['scale']:.2f}× ({cm['n_keypoints']} keypoints, "
               f"{cm['n_matches']} matched pairs). Repeated textures match by nature; flat clones "
               "have too few keypoints to be found.")
    if cm["clones"]:
        st.warning(f"{cm['n_clones']} cloned region(s): source boxed green, copy red.")
    else:
        st.success("No cloned region found.")
    k1, k2 = st.columns([3, 2])
    k1.image(cm["image"], caption="Matched keypoints (yellow lines)", width="stretch")
    if cm["clones"]:
        k2.dataframe([{"source [x,y,w,h]": str(c["source"]), "copy [x,y,w,h]": str(c["target"]),
                       "offset": str(c["offset"]), "matches": c["matches"],
                       "rotation°": c["rotation_deg"], "scale": c["scale"]} for c in cm["clones"]],
                     hide_index=True)

with t_thumb:
    th = views["thumbnail"]
    {"differs": st.warning, "matches": st.success}.get(th["status"], st.info)(th["message"])
    if th.get("image") is not None:
        st.image(th["image"], caption=f"EXIF thumbnail | image shrunk to its size | difference "
                                      f"(SSIM {th['ssim']:.3f})", width="content")

with t_roi:
    st.caption("The model's full conclusion on a region you pick (domain check included: a crop of a "
               "large photo is still out of the model's domain).")
    rc = st.columns(4)
    rx = rc[0].number_input("x", 0, max(0, loaded.width - 1), 0, key="roi_x")
    ry = rc[1].number_input("y", 0, max(0, loaded.height - 1), 0, key="roi_y")
    rw = rc[2].number_input("width", 1, loaded.width, min(loaded.width, 256), key="roi_w")
    rh = rc[3].number_input("height", 1, loaded.height, min(loaded.height, 256), key="roi_h")
    roi_box = fx.Box(int(rx), int(ry), int(rw), int(rh)).clamped(loaded.width, loaded.height)
    p1, p2 = st.columns(2)
    p1.image(fx.locator(rgb, roi_box, 512), caption=f"Region {roi_box.label()}", width="stretch")
    with p2:
        if st.toggle("Score this region", key="roi_go"):
            roi = roi_scored(loaded.sha256, roi_box, ui_shared.analysis_options(), loaded, up.name)
            st.markdown(f"**Region {roi_box.label()}**")
            ui_shared.headline(roi)

with t_cmp:
    other = st.file_uploader("Second image", type=IMAGE_TYPES, key="forensics_compare_file")
    if other is None:
        st.info("Upload a second image to compare it with the first.")
    else:
        b = ui_shared.analyze_uploads(ui_shared.require_model(), [(other.name, other.getvalue())])[0]
        if not b.ok:
            st.error(f"Cannot analyse the second file: {b.error}")
        else:
            b_views = ui_shared.forensic_views(b.loaded, quality)
            pair = ((analysis, views), (b, b_views))
            heads = st.columns(2)
            for col, (a_, _v) in zip(heads, pair, strict=True):
                with col:
                    st.markdown(f"**{a_.name}** ({a_.loaded.width}×{a_.loaded.height})")
                    ui_shared.headline(a_)
            for name, title in (("ela", "ELA"), ("noise", "Noise residual"), ("spectrum", "Spectrum")):
                cols = st.columns(2)
                for col, (a_, v) in zip(cols, pair, strict=True):
                    with col:
                        show(v[name]["image"], f"{title}: {a_.name}")
            diff = fx.difference_map(loaded, b.loaded)
            if diff["same_size"]:
                d1, d2 = st.columns(2)
                with d1:
                    show(diff["image"], "Difference (largest stretched to white)")
                d2.metric("SSIM", f"{diff['ssim']:.4f}")
                d2.metric("Pixels changed by more than 16 levels", f"{diff['changed_share']:.2%}")
                if diff["changed_box"]:
                    d2.caption(f"Changes lie within [x, y, w, h] = {diff['changed_box']}")
            else:
                st.info(f"No difference map: {diff['note']}.")

st.subheader("Forensic case report")
st.caption("Hashes, EXIF, the conclusion, Grad-CAM/SHAP/LIME overlays with faithfulness numbers, these views, "
           "the model's identity, metrics and limits, in one self-contained HTML file (and JSON). "
           "Same image and seed give the same numbers.")
seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="report_seed")
methods = st.multiselect("Explanation methods", ["gradcam", "gradient_shap", "lime"],
                         default=["gradcam", "gradient_shap", "lime"], key="report_methods")
if st.button("Build report", type="primary"):
    from synthcheck.reporting.build import build_report
    from synthcheck.reporting.html import render_html

    with st.spinner("Explaining and measuring faithfulness…"):
        try:
            rep = build_report([(up.name, data)], det, seed=int(seed), methods=methods,
                               ela_quality=quality, threshold=ui_shared.threshold(),
                               band_edges=ui_shared.band_edges())
        except Exception as exc:  # shown, never hidden: the page must not crash
            st.error(f"Report failed: {type(exc).__name__}: {exc}")
            st.stop()
    st.session_state["forensic_report"] = (up.name, rep, render_html(rep))
if "forensic_report" in st.session_state:
    name, rep, html = st.session_state["forensic_report"]
    stem = name.rsplit(".", 1)[0]
    d1, d2 = st.columns(2)
    d1.download_button("Download HTML report", html, file_name=f"{stem}-report.html", mime="text/html")
    d2.download_button("Download JSON", json.dumps(rep, indent=2), file_name=f"{stem}-report.json",
                       mime="application/json")
    st.caption(f"Results digest `{rep['results_digest']}`")
