"""Batch triage: score many images (uploads, a ZIP or a folder), filter, sort and export."""

import pandas as pd
import streamlit as st

import ui_shared
from synthcheck.bands import BANDS, band_label
from synthcheck.triage import (
    Intake,
    TriageError,
    allowed_roots_from_env,
    analyze_images,
    read_paths,
    read_zip,
    rejected_records,
    scan_folder,
    thumbnail_uri,
    to_csv,
    to_json,
)

st.title("Batch triage")
model = ui_shared.require_model()
det = model.detector

source = st.segmented_control("Source", ["Upload images", "Upload a ZIP", "Folder on the server"],
                              default="Upload images", key="batch_source")
intake = Intake()
if source == "Upload a ZIP":
    z = st.file_uploader("ZIP archive of images", type=["zip"], key="batch_zip")
    if z is not None:
        try:
            intake = read_zip(z.getvalue())
        except TriageError as exc:
            st.error(str(exc))
elif source == "Folder on the server":
    folder = st.text_input("Folder path", key="batch_folder", placeholder="/data/case-42/images")
    recursive = st.checkbox("Include sub-folders", value=True, key="batch_recursive")
    if folder.strip():
        try:
            intake = read_paths(scan_folder(folder.strip(), recursive=recursive,
                                            allowed_roots=allowed_roots_from_env()))
        except TriageError as exc:
            st.error(str(exc))
else:
    files = st.file_uploader("Images", type=ui_shared.UPLOAD_TYPES, accept_multiple_files=True,
                             key="batch_files")
    intake.items = [(f.name, f.getvalue()) for f in files or []]

if not intake.items and not intake.rejected:
    st.info("Add images to triage them.")
    st.stop()

bar = st.progress(0.0, text=f"Scoring {len(intake.items)} images…")
results = analyze_images(det, intake.items, threshold=ui_shared.threshold(),
                         edges=ui_shared.band_edges(), with_exif=False,
                         progress=lambda f: bar.progress(f, text=f"Scoring… {f:.0%}"))
bar.empty()
records = [r.to_record() for r in results] + rejected_records(intake.rejected)
thumbs = [thumbnail_uri(r.loaded.image) if r.loaded is not None else None for r in results]
thumbs += [None] * len(intake.rejected)

n_err = sum(1 for r in records if r["error"])
counts = {b: sum(1 for r in records if r["band"] == b) for b in BANDS}
cols = st.columns(len(BANDS) + 1)
for col, b in zip(cols, BANDS, strict=False):
    col.metric(band_label(b), counts[b])
cols[-1].metric("Errors", n_err)

chosen = st.multiselect("Show bands", list(BANDS) + ["error"], default=list(BANDS) + ["error"],
                        format_func=lambda b: "Errors" if b == "error" else band_label(b),
                        key="batch_bands")
df = pd.DataFrame(records)
df.insert(0, "thumbnail", thumbs)
df["band"] = df["band"].fillna("error")
for col in ("domain_reasons", "advisories"):
    df[col] = df[col].map(lambda v: " ".join(v) if isinstance(v, list) else "")
df["notes"] = df["notes"].map(lambda v: "; ".join(v) if isinstance(v, list) else "")
view = df[df["band"].isin(chosen)].sort_values("p_fake", ascending=False, na_position="last")
st.dataframe(
    view, width="stretch", hide_index=True,
    column_config={
        "thumbnail": st.column_config.ImageColumn("Image", width="small"),
        "p_fake": st.column_config.ProgressColumn("p_fake", min_value=0.0, max_value=1.0, format="%.3f"),
        "band": st.column_config.TextColumn("Band"),
        "sha256": st.column_config.TextColumn("SHA-256", width="small"),
    },
)
st.caption("Click a column header to sort. Exports hold every row, whatever the filter.")
d1, d2 = st.columns(2)
d1.download_button("Download CSV", to_csv(records), "synthcheck-triage.csv", "text/csv")
d2.download_button("Download JSON", to_json(records), "synthcheck-triage.json", "application/json")
