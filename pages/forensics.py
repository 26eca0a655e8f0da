"""Forensics: error level analysis, Fourier spectrum and noise residual beside the conclusion,
plus a downloadable forensic case report (self-contained HTML / JSON)."""

from __future__ import annotations

import streamlit as st

import ui_shared
from synthcheck import forensics as fx


def detector():
    """The dashboard's shared model (loaded once by the router's sidebar)."""
    return ui_shared.require_model().detector


def show(arr, caption: str) -> None:
    st.image(fx.upscale_nearest(fx.fit_size(arr, 512), 256), caption=caption, width=256)


st.title("Forensic views")
st.caption("Classical tools investigators already use, shown beside the model's conclusion. They are "
           "aids for an expert's reading, not proof: ELA shows where JPEG error levels differ, the "
           "spectrum shows periodic traces of upsampling, the noise residual shows texture the eye "
           "misses.")

det = detector()
up = st.file_uploader("Image", type=["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"],
                      key="forensics_file")
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
views = fx.forensic_views(rgb, quality=quality)
ela = fx.error_level_analysis(rgb, quality, scale=float(gain) if fixed else None)
resid = fx.noise_residual(rgb, method=denoiser)
cols = st.columns(4)
with cols[0]:
    show(rgb, "Image")
with cols[1]:
    show(ela, f"ELA at quality {quality} (mean {views['ela']['ela_mean']:.2f}, max {views['ela']['ela_max']:.0f})")
with cols[2]:
    show(views["spectrum"]["image"], f"Log spectrum (high-freq share {views['spectrum']['high_freq_ratio']:.4f}, "
                                     f"peakiness {views['spectrum']['spectral_peakiness']:.2f})")
with cols[3]:
    show(fx.residual_view(resid), f"Noise residual ({denoiser}, std {resid.std():.2f})")

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
    import json

    stem = name.rsplit(".", 1)[0]
    d1, d2 = st.columns(2)
    d1.download_button("Download HTML report", html, file_name=f"{stem}-report.html", mime="text/html")
    d2.download_button("Download JSON", json.dumps(rep, indent=2), file_name=f"{stem}-report.json",
                       mime="application/json")
    st.caption(f"Results digest `{rep['results_digest']}`")
