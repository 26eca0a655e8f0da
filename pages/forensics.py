"""Forensics: the conclusion first, then the classical views investigators expect (ELA, spectrum,
noise with full-resolution zoom, JPEG tables, double compression and ghosts, copy-move, EXIF
thumbnail), a region-of-interest score, a side-by-side compare, and the views as one unsigned
HTML file (a signed report comes from Cases).

A thin view: every number and picture comes from :mod:`synthcheck.forensics`, every conclusion
from :mod:`synthcheck.analysis` (through :mod:`synthcheck.dashboard`)."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from synthcheck import forensics as fx
from synthcheck.dashboard import app, artifacts, cache, model, render
from synthcheck.forensics.words import describe

DISPLAY_SIDE = 1024  # overview pictures are shrunk to this; the Zoom tab shows full resolution


@st.cache_resource(max_entries=32, show_spinner="Scoring the region…")
def roi_scored(sha: str | None, box: fx.Box, options: Any, _loaded: Any, name: str) -> Any:
    """The one analysis of a crop, once per (bytes, box, options) for all sessions."""
    return fx.roi_analysis(_loaded, box, model.require_model().detector, options, name=name)


def show(arr, caption: str) -> None:
    """A picture that fills its column (small ones enlarged with visible pixels)."""
    st.image(fx.enlarge_to(fx.fit_size(arr, DISPLAY_SIDE), 256), caption=caption, width="stretch")


app.frame()
st.title("Forensic views")

loaded_model = model.require_model()
det = loaded_model.detector
# The uploader (with the file's facts under it) and the conclusion share one row, so the first
# forensic views show in the first 1280 x 720 screen.
left, right = st.columns([0.8, 1.7], gap="medium")
up = left.file_uploader("Image", type=model.UPLOAD_TYPES, key="forensics_file")
if up is None:
    st.info("Upload an image to see its forensic views: classical tools investigators already "
            "use, shown beside the model's conclusion, as aids for an expert's reading, not proof.")
    st.stop()
data = up.getvalue()
analysis = cache.analyze_uploads(loaded_model, [(up.name, data)])[0]
if not analysis.ok:
    st.error(f"Cannot analyse this file: {analysis.error}")
    st.stop()
loaded = analysis.loaded
left.caption(f"{loaded.width} × {loaded.height} px · {loaded.format or 'unknown format'} · "
             f"{loaded.n_bytes:,} bytes · SHA-256 `{loaded.sha256}`")
with right:
    render.headline(analysis)

with st.sidebar:
    st.subheader("Forensic settings")
    quality = st.slider("ELA re-save quality", 50, 100, 90, key="ela_q")
    fixed = st.checkbox("Fixed ELA gain (compare images)", value=False, key="ela_fixed")
    gain = st.slider("ELA gain", 1, 50, 15, key="ela_gain", disabled=not fixed)
    denoiser = st.radio("Noise residual denoiser", ["median", "gaussian"], key="noise_m", horizontal=True)

rgb = fx.as_rgb_array(loaded)
views = cache.forensic_views(loaded, quality)
ela = fx.error_level_analysis(rgb, quality, scale=float(gain) if fixed else None)
resid = fx.noise_residual(rgb, method=denoiser)
noise_pic = fx.residual_view(resid)

t_views, t_zoom, t_jpeg, t_clone, t_thumb, t_roi, t_cmp = st.tabs(
    ["Views", "Zoom (full resolution)", "JPEG", "Copy-move", "EXIF thumbnail", "Region score", "Compare"])

with t_views:
    for col, (pic, caption) in zip(st.columns(4), (
            (rgb, "Image"), (ela, f"ELA at quality {quality}"),
            (views["spectrum"]["image"], "Log spectrum"), (noise_pic, f"Noise residual ({denoiser})")),
            strict=True):
        with col:
            show(pic, caption)
    st.markdown("\n".join(f"- {describe(name, views[name])}" for name in ("ela", "spectrum"))
                + f"\n- Noise residual ({denoiser} filter): its spread (standard deviation) is "
                  f"{resid.std():.2f} grey levels.")
    with st.expander("How to read these views"):
        st.markdown(
            "Classical tools investigators already use, shown beside the model's conclusion: aids "
            "for an expert's reading, not proof.\n"
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
    st.markdown(describe("jpeg", jp))
    if jp.get("is_jpeg"):
        tcols = st.columns(max(1, len(jp["tables"])))
        for col, (tid, table) in zip(tcols, jp["tables"].items(), strict=True):
            col.caption(f"Quantisation table {tid} ({'luminance' if tid == '0' else 'chrominance'})")
            col.dataframe([table[i:i + 8] for i in range(0, 64, 8)], hide_index=True)
    st.subheader("Double compression")
    (st.warning if dq.get("double") else st.info)(describe("double_jpeg", dq))
    st.subheader("JPEG ghosts")
    st.caption(describe("ghost", gh) + " Dark tiles change least; a region dark at another "
               "quality hints at an earlier save of that region.")
    g1, g2 = st.columns([3, 2])
    g1.image(gh["image"], caption="Normalised re-save difference per quality", width="stretch")
    g2.line_chart({"mean squared difference": {q: e for q, e in gh["curve"]}}, x_label="re-save quality")

with t_clone:
    cm = views["copy_move"]
    (st.warning if cm["clones"] else st.success)(describe("copy_move", cm))
    st.caption(f"Searched on a copy at {cm['scale']:.2f}× the image's size. Repeated textures match by "
               "nature; flat clones have too few keypoints to be found.")
    k1, k2 = st.columns([3, 2])
    k1.image(cm["image"], caption="Matched keypoints (yellow lines)", width="stretch")
    if cm["clones"]:
        k2.dataframe([{"Source [x, y, w, h] (px)": str(c["source"]),
                       "Copy [x, y, w, h] (px)": str(c["target"]), "Offset (px)": str(c["offset"]),
                       "Matched pairs": c["matches"], "Rotation (°)": c["rotation_deg"],
                       "Scale": c["scale"]} for c in cm["clones"]], hide_index=True)

with t_thumb:
    th = views["thumbnail"]
    {"differs": st.warning, "matches": st.success}.get(th["status"], st.info)(describe("thumbnail", th))
    if th.get("image") is not None:
        st.image(th["image"], caption="EXIF thumbnail | image shrunk to its size | difference",
                 width="content")

with t_roi:
    st.caption("The model's full conclusion on a region you pick (domain check included: a crop of a "
               "large photo is still out of the model's domain).")
    rc = st.columns(4)
    rx = rc[0].number_input("x (px)", 0, max(0, loaded.width - 1), 0, key="roi_x")
    ry = rc[1].number_input("y (px)", 0, max(0, loaded.height - 1), 0, key="roi_y")
    rw = rc[2].number_input("Width (px)", 1, loaded.width, min(loaded.width, 256), key="roi_w")
    rh = rc[3].number_input("Height (px)", 1, loaded.height, min(loaded.height, 256), key="roi_h")
    roi_box = fx.Box(int(rx), int(ry), int(rw), int(rh)).clamped(loaded.width, loaded.height)
    p1, p2 = st.columns(2)
    p1.image(fx.locator(rgb, roi_box, 512), caption=f"Region {roi_box.label()}", width="stretch")
    with p2:
        if st.toggle("Score this region", key="roi_go"):
            roi = roi_scored(loaded.sha256, roi_box, model.analysis_options(), loaded, up.name)
            st.markdown(f"**Region {roi_box.label()}**")
            render.headline(roi)

with t_cmp:
    other = st.file_uploader("Second image", type=model.UPLOAD_TYPES, key="forensics_compare_file")
    if other is None:
        st.info("Upload a second image to compare it with the first.")
    else:
        b = cache.analyze_uploads(loaded_model, [(other.name, other.getvalue())])[0]
        if not b.ok:
            st.error(f"Cannot analyse the second file: {b.error}")
        else:
            pair = ((analysis, views), (b, cache.forensic_views(b.loaded, quality)))
            for col, (a_, _v) in zip(st.columns(2), pair, strict=True):
                with col:
                    st.markdown(f"**{render.plain(a_.name)}** ({a_.loaded.width} × {a_.loaded.height} px)")
                    render.headline(a_)
            for name, title in (("ela", "ELA"), ("noise", "Noise residual"), ("spectrum", "Spectrum")):
                for col, (a_, v) in zip(st.columns(2), pair, strict=True):
                    with col:
                        show(v[name]["image"], f"{title}: {a_.name}")
            diff = fx.difference_map(loaded, b.loaded)
            if diff["same_size"]:
                d1, d2 = st.columns(2)
                with d1:
                    show(diff["image"], "Difference (largest stretched to white)")
                d2.metric("Structural similarity (SSIM; 1 = identical)", f"{diff['ssim']:.4f}")
                d2.metric("Pixels changed by more than 16 grey levels", f"{diff['changed_share']:.2%}")
                if diff["changed_box"]:
                    x, y, w, h = diff["changed_box"]
                    d2.caption(f"The changes lie within a {w} × {h} px box at x {x}, y {y}.")
            else:
                st.info(f"No difference map: {diff['note']}.")

st.subheader("Forensic views (HTML, unsigned)")
st.caption("This image's hashes, EXIF, conclusion, explanation maps with their faithfulness, these "
           "views and the model's identity and limits in one self-contained HTML file (and JSON). "
           "It is not signed: for a signed report that others can verify, add the image to a case "
           "(Cases, then Verify and export).")
seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="report_seed")
methods = st.multiselect("Explanation methods", ["gradcam", "gradient_shap", "lime"],
                         default=["gradcam", "gradient_shap", "lime"], key="report_methods")
# The file is tied to everything it was made from: another image or setting drops it.
made_from = artifacts.inputs_key(analysis.sha256, up.name, int(seed), methods, quality,
                                 model.threshold(), model.band_edges(), loaded_model.path,
                                 loaded_model.load_id)
if st.button("Build the HTML file", type="primary", key="report_build"):
    from synthcheck.reporting.build import build_report
    from synthcheck.reporting.html import render_html

    with st.spinner("Explaining and measuring faithfulness…"):
        try:
            rep = build_report([(up.name, data)], det, seed=int(seed), methods=methods,
                               ela_quality=quality, threshold=model.threshold(),
                               band_edges=model.band_edges())
        except Exception as exc:  # shown, never hidden: the page must not crash
            st.error(f"Building the file failed: {type(exc).__name__}: {exc}")
            st.stop()
    artifacts.keep("forensic_views", made_from, (up.name, rep, render_html(rep)))
built = artifacts.current("forensic_views", made_from)
if built is not None:
    name, rep, html = built
    stem = name.rsplit(".", 1)[0]
    d1, d2 = st.columns(2)
    d1.download_button(f"Download {name}: forensic views (HTML, unsigned)", html,
                       file_name=f"{stem}-forensic-views.html", mime="text/html", key="report_html")
    d2.download_button(f"Download {name}: forensic views (JSON)", json.dumps(rep, indent=2),
                       file_name=f"{stem}-forensic-views.json", mime="application/json",
                       key="report_json")
    st.caption(f"Made from {name} with the settings above; results digest `{rep['results_digest']}`.")
