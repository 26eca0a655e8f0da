"""Analyze: the conclusion first, then why, the model's score, Grad-CAM, tiles, provenance, EXIF."""

import streamlit as st

from synthcheck.bands import band_label
from synthcheck.dashboard import app, cache, model, render
from synthcheck.metadata import read_exif, summary

app.frame()
st.title("Analyze images")
st.caption("Each image gets its conclusion first (likely real, uncertain, likely synthetic, or "
           "cannot assess when it is unlike the training data), then why, the model's score, a "
           "Grad-CAM heat map, native-resolution tiles, provenance and EXIF.")

loaded_model = model.require_model()
det = loaded_model.detector
files = st.file_uploader("Images (JPEG, PNG, WebP, BMP, GIF, TIFF)", type=model.UPLOAD_TYPES,
                         accept_multiple_files=True, key="analyze_files")
if not files:
    st.info("Upload an image to see its conclusion.")
    st.stop()

results = cache.analyze_uploads(loaded_model, [(f.name, f.getvalue()) for f in files], tiles=True)

for res in results:
    with st.container(border=True):
        st.markdown(f"**{render.plain(res.name)}**")
        if not res.ok:
            st.error(f"Cannot analyse this file: {res.error}")
            continue
        li = res.loaded
        # The verdict gets the wider column so its headline and reason stay in the first screen
        # at 1280 x 720; the two small pictures share the rest and scale with it.
        verdict_col, pictures_col = st.columns([1.25, 1], gap="medium")
        with verdict_col:
            render.headline(res)
            if res.domain.reasons:
                with st.expander(f"Why the model cannot judge this image ({len(res.domain.reasons)})",
                                 expanded=True):
                    st.markdown("\n".join(f"- {r}" for r in res.domain.reasons))
            for note in res.advisories:
                st.info(f"**Known bias:** {note}")
        with pictures_col:
            a, b = st.columns(2)
            a.image(render.enlarge(det.to_array(li)), caption="Model input", width="stretch")
            render.gradcam_card(loaded_model, res, b)
        picture = render.tile_picture(res)
        if picture is not None:
            grid = res.tiles
            with st.expander(f"Tile grid: {grid.rows} x {grid.cols} patches at native resolution",
                             expanded=True):
                if res.tile_note:
                    st.warning(res.tile_note)
                st.image(picture, caption=f"p_fake of each {grid.tile} x {grid.tile} px patch taken "
                         f"from the original pixels (blue = real, red = synthetic, outlined = the "
                         f"patch scored). Mean {grid.mean:.3f}; {grid.share_fake:.0%} of patches "
                         f"at or above the threshold {grid.threshold:g}.", width=min(640, li.width))
                st.caption("The conclusion rests on the whole image shrunk to the model's input "
                           "size; the grid only shows where, at full detail, the patch scores lean.")
        st.markdown(f"**SHA-256** `{li.sha256}`")
        st.markdown(f"**Size** {li.width}x{li.height} px · **Format** {li.format} ({li.mode}) · "
                    f"**Bytes** {li.n_bytes:,} · **Band** {band_label(res.band or '')}")
        for note in li.notes:
            st.caption(f"Note: {note}")
        prov = res.provenance
        with st.expander(f"Provenance: {len(prov.signals)} signal(s)" if prov.signals
                         else "Provenance (none found)", expanded=bool(prov.signals)):
            st.write(prov.summary)
            if prov.signals:
                st.dataframe([{k.capitalize(): str(s.get(k) or "") for k in
                               ("source", "field", "value", "meaning", "strength")}
                              for s in prov.signals], hide_index=True, width="stretch")
            st.caption("Metadata is evidence beside the model's score, never part of p_fake. "
                       "It is easy to strip or forge; an untrusted C2PA signer is a claim, not proof.")
        exif = read_exif(li.raw) if li.raw is not None else {}
        with st.expander("EXIF metadata" + (" (none)" if not exif else "")):
            if exif:
                first = summary(exif)
                if first:
                    st.json(first)
                st.json(exif, expanded=False)
            else:
                st.write("No EXIF metadata in this file.")
