"""Batch triage: analyse many images (uploads, a ZIP or a folder), filter, sort and export."""

import pandas as pd
import streamlit as st

import ui_shared
from synthcheck.analysis import CONCLUSIONS, conclusion_label, iter_analyze, summarize
from synthcheck.triage import (
    MAX_FILES,
    Intake,
    TriageError,
    allowed_roots_from_env,
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
            found = scan_folder(folder.strip(), recursive=recursive, max_files=None,
                                allowed_roots=allowed_roots_from_env())
        except TriageError as exc:
            st.error(str(exc))
            found = []
        if len(found) > MAX_FILES and not st.checkbox(
                f"Score all {len(found):,} images (this page scores {MAX_FILES:,} at a time by default)",
                key="batch_all"):
            st.warning(f"The folder holds {len(found):,} images. Only the first {MAX_FILES:,} (in name "
                       f"order) are scored; tick the box above to score every one.")
            found = found[:MAX_FILES]
        intake = read_paths(found)
else:
    files = st.file_uploader("Images", type=ui_shared.UPLOAD_TYPES, accept_multiple_files=True,
                             key="batch_files")
    intake.items = [(f.name, f.getvalue()) for f in files or []]

if not intake.items and not intake.rejected:
    st.info("Add images to triage them.")
    st.stop()

n = len(intake.items)
bar = st.progress(0.0, text=f"Analysing {n} images…")
results = list(iter_analyze(intake.items, det, ui_shared.analysis_options(),
                            names=[name for name, _ in intake.items],
                            progress=lambda done: bar.progress(min(1.0, done / max(1, n)),
                                                               text=f"Analysing… {done} of {n}")))
bar.empty()
records = [r.to_row() for r in results] + rejected_records(intake.rejected)
thumbs = [thumbnail_uri(r.loaded.image) if r.loaded is not None else None for r in results]
thumbs += [None] * len(intake.rejected)

counts = summarize(records)
cols = st.columns(len(CONCLUSIONS) + 1)
for col, c in zip(cols, CONCLUSIONS, strict=False):
    col.metric(conclusion_label(c), counts[f"n_{c}"])
cols[-1].metric("Errors", counts["n_errors"])
st.caption("Cannot assess: the image is unlike the training data, so the model's score says nothing "
           "reliable about it. It is never counted as real or synthetic.")

chosen = st.multiselect("Show", list(CONCLUSIONS) + ["error"], default=list(CONCLUSIONS) + ["error"],
                        format_func=lambda c: "Errors" if c == "error" else conclusion_label(c),
                        key="batch_conclusions")
df = pd.DataFrame(records)
df.insert(0, "thumbnail", thumbs)
df["conclusion"] = df["conclusion"].fillna("error")
df["conclusion_label"] = df["conclusion_label"].fillna("Error")
df["band_label"] = df["band_label"].fillna("")
for col in ("domain_reasons", "advisories"):
    df[col] = df[col].map(lambda v: " ".join(v) if isinstance(v, list) else "")
df["notes"] = df["notes"].map(lambda v: "; ".join(v) if isinstance(v, list) else "")
df["error"] = df["error"].fillna("")
view = df[df["conclusion"].isin(chosen)].sort_values("p_fake", ascending=False, na_position="last")
view = view.drop(columns=["conclusion", "band"])
st.dataframe(
    view, width="stretch", hide_index=True,
    column_config={
        "thumbnail": st.column_config.ImageColumn("Image", width="small"),
        "conclusion_label": st.column_config.TextColumn("Conclusion"),
        "p_fake": st.column_config.ProgressColumn("Model score", min_value=0.0, max_value=1.0,
                                                  format="%.3f", help="Unreliable where the conclusion is 'Cannot assess'."),
        "verdict": st.column_config.TextColumn("Raw call"),
        "band_label": st.column_config.TextColumn("Band"),
        "sha256": st.column_config.TextColumn("SHA-256", width="small"),
        "error": st.column_config.TextColumn("Error"),
    },
)
st.caption("Click a column header to sort. Exports hold every row, whatever the filter.")
d1, d2 = st.columns(2)
d1.download_button("Download CSV", to_csv(records), "synthcheck-triage.csv", "text/csv")
d2.download_button("Download JSON", to_json(records), "synthcheck-triage.json", "application/json")
