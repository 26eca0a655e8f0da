"""Analyze: verdict, score band, provenance, EXIF and Grad-CAM for each uploaded image."""

import streamlit as st

import ui_shared
from synthcheck.bands import band_label
from synthcheck.metadata import summary
from synthcheck.results import provenance_of
from synthcheck.triage import analyze_images

st.title("Analyze images")
st.caption("Upload one or many images. Each gets a verdict at the sidebar threshold, a score band, "
           "its SHA-256, size and format, EXIF, a Grad-CAM heat map, a domain check and, for "
           "large images, a grid of scores over native-resolution patches.")

model = ui_shared.require_model()
det = model.detector
files = st.file_uploader("Images (JPEG, PNG, WebP, BMP, GIF, TIFF)", type=ui_shared.UPLOAD_TYPES,
                         accept_multiple_files=True, key="analyze_files")
if not files:
    st.info("Upload an image to see its verdict.")
    st.stop()

thr, edges = ui_shared.threshold(), ui_shared.band_edges()
results = analyze_images(det, [(f.name, f.getvalue()) for f in files], threshold=thr, edges=edges)

for res in results:
    with st.container(border=True):
        st.subheader(res.name)
        if not res.ok:
            st.error(f"Cannot analyse this file: {res.error}")
            continue
        v, li = res.verdict, res.loaded
        left, mid, right = st.columns([1, 1, 1.3])
        with left:
            st.image(ui_shared.enlarge(det.to_array(li)), caption="Model input",
                     width=ui_shared.DISPLAY_SIDE)
        with mid:
            cam, reason = ui_shared.gradcam_overlay(model, li, res.decision or "predicted")
            if cam is not None:
                st.image(cam, caption=f"Grad-CAM: evidence for {res.decision} (red = strong)",
                         width=ui_shared.DISPLAY_SIDE)
            else:
                st.info(reason or "Grad-CAM unavailable.")
        with right:
            word = "AI-generated (FAKE)" if res.decision == "FAKE" else "Real photo (REAL)"
            st.markdown(f"### Verdict: {word}")
            st.markdown(f"{ui_shared.band_badge(res.band)} at threshold {thr:.2f}")
            st.progress(float(v.p_fake), text=f"p_fake = {v.p_fake:.3f}")
            st.metric("p_fake (calibrated)", f"{v.p_fake:.3f}",
                      help="Probability that the image is AI-generated, after temperature scaling.")
            if res.domain and not res.domain.in_domain:
                st.warning("**Outside the training domain — this verdict is less reliable.**\n\n"
                           + "\n".join(f"- {r}" for r in res.domain.reasons))
            for note in res.domain.advisories if res.domain else []:
                st.info(f"**Known bias:** {note}")
        tiles = ui_shared.tile_view(model, li)
        if tiles is not None:
            grid, picture = tiles
            with st.expander(f"Tile grid: {grid.rows} x {grid.cols} patches at native resolution",
                             expanded=True):
                st.image(picture, caption=f"p_fake of each {grid.tile} x {grid.tile} px patch taken "
                         f"from the original pixels (blue = real, red = synthetic, outlined = the "
                         f"patch scored). Mean {grid.mean:.3f}; {grid.share_fake:.0%} of patches "
                         f"score FAKE.", width=min(640, li.width))
                st.caption("The verdict above comes from the whole image shrunk to the model's "
                           "input size; the grid shows where, at full detail, the model sees "
                           "synthesis. Patches of one image rarely all agree: look for regions.")
        info = li.info()
        st.markdown(f"**SHA-256** `{li.sha256}`")
        st.markdown(f"**Size** {li.width}x{li.height} px · **Format** {li.format} ({li.mode}) · "
                    f"**Bytes** {li.n_bytes:,} · **Band** {band_label(res.band or '')}")
        for note in info["notes"]:
            st.caption(f"Note: {note}")
        prov = provenance_of(li, res.decision, float(v.p_fake))
        signals = prov.signals
        with st.expander(f"Provenance: {len(signals)} signal(s)" if signals else "Provenance (none found)",
                         expanded=bool(signals)):
            st.write(prov.summary)
            if signals:
                st.dataframe([{k: s.get(k) for k in ("source", "field", "value", "meaning", "strength")}
                              for s in signals], hide_index=True, width="stretch")
            st.caption("Metadata is evidence beside the model's verdict, never part of p_fake. "
                       "It is easy to strip or forge; an untrusted C2PA signer is a claim, not proof.")
        with st.expander("EXIF metadata" + (" (none)" if not res.exif else "")):
            if res.exif:
                first = summary(res.exif)
                if first:
                    st.json(first)
                st.json(res.exif, expanded=False)
            else:
                st.write("No EXIF metadata in this file.")
