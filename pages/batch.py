"""Batch triage: analyse many images (uploads, a ZIP or a folder), filter, sort and export.

Uploads and ZIP uploads are scored in the page (small batches). A folder on the server is
scanned by ``synthcheck scan`` in a child process (resumable, every core), only where the folder
policy allows (:mod:`synthcheck.dashboard.folders`); its results are shown a page at a time.
"""

import json
import math

import pandas as pd
import streamlit as st

from synthcheck.analysis import CONCLUSIONS, conclusion_label, iter_analyze, summarize
from synthcheck.bands import band_label
from synthcheck.dashboard import app, folders, model, render
from synthcheck.dashboard.jobs import REGISTRY
from synthcheck.scan import DetectorSpec, summary_path
from synthcheck.scan import view as scan_view
from synthcheck.scan.background import results_path_for
from synthcheck.scan.writer import summary_counts
from synthcheck.triage import (
    Intake,
    TriageError,
    read_zip,
    rejected_records,
    thumbnail_uri,
    to_csv,
    to_json,
)

PAGE_SIZE = 100
FILTER_LABEL = {c: conclusion_label(c) for c in CONCLUSIONS} | {"error": "Errors"}
MIMES = {"csv": "text/csv", "json": "application/json", "parquet": "application/octet-stream"}


def counts_row(counts: dict) -> None:
    cols = st.columns(len(CONCLUSIONS) + 1)
    for col, c in zip(cols, CONCLUSIONS, strict=False):
        col.metric(conclusion_label(c), counts.get(f"n_{c}", 0))
    cols[-1].metric("Errors", counts.get("n_errors", 0))
    st.caption("Cannot assess: the image is unlike the training data, so the model's score says "
               "nothing reliable about it. It is never counted as real or synthetic.")


def scan_results(out) -> None:
    """The results file of a folder scan: counts, a filtered page of rows, exports."""
    path = summary_path(out)
    counts = json.loads(path.read_text())["counts"] if path.is_file() else summary_counts(out)
    counts_row(counts)
    job = REGISTRY.get(out)
    if job is not None and job.summary is not None:
        s = job.status()
        st.caption(f"Last scan: {job.summary['n_new']:,} new images in {s['elapsed_s']:.1f} s "
                   f"({job.summary['n_new'] / s['elapsed_s']:,.0f} images/s, start-up included); "
                   f"{job.summary['n_skipped']:,} were already in the results file.")
    chosen = st.multiselect("Show", list(FILTER_LABEL), default=list(FILTER_LABEL),
                            format_func=FILTER_LABEL.get, key="batch_scan_conclusions")
    _, n = scan_view.page(out, chosen, 0, 1, columns=("conclusion", "error"))
    pages = max(1, math.ceil(n / PAGE_SIZE))
    number = st.number_input(f"Page (of {pages:,}; {n:,} rows)", 1, pages, 1, key="batch_scan_page")
    rows, _ = scan_view.page(out, chosen, int(number) - 1, PAGE_SIZE)
    df = pd.DataFrame(rows, columns=list(scan_view.DISPLAY))
    for col in ("domain_reasons", "advisories"):
        df[col] = df[col].map(lambda v: " ".join(v) if v is not None and len(v) else "")
    df["conclusion_label"] = df["conclusion_label"].fillna("Error")
    df["band"] = df["band"].map(lambda b: band_label(b) if b else "")
    df[["verdict", "sha256", "error"]] = df[["verdict", "sha256", "error"]].fillna("")
    st.dataframe(df.drop(columns=["conclusion"]).rename(columns={"band": "band_label"}), width="stretch", hide_index=True,
                 column_config=render.result_columns())
    st.caption(f"Results file: `{out}`. Exports hold every row, whatever the filter.")
    for col, fmt in zip(st.columns(3), scan_view.EXPORTS, strict=True):
        col.download_button(f"Download {fmt.upper()}", lambda fmt=fmt: scan_view.export(out, fmt),
                            f"synthcheck-scan.{fmt}", MIMES[fmt], key=f"batch_scan_{fmt}")


def folder_scan(loaded_model) -> None:
    """Folder on the server: scanned in a child process, where the folder policy allows."""
    if not folders.allowed_roots():
        st.info(folders.READING_OFF)
        return
    st.caption(folders.roots_sentence())
    folder = st.text_input("Folder path", key="batch_folder", placeholder=str(folders.allowed_roots()[0]))
    if not folder.strip():
        st.info("Enter a folder to scan it (sub-folders and ZIP archives in it included).")
        return
    try:
        root = folders.allowed_folder(folder)
    except folders.FolderRefused as exc:
        st.error(str(exc))
        return
    spec = DetectorSpec(loaded_model.path, threshold=model.threshold(),
                        options={"band_edges": model.band_edges()})
    out = results_path_for(root, spec)
    job = REGISTRY.get(out)
    if job is not None and job.running:
        progress(out)
        return
    if job is not None and job.error:
        st.error(f"The scan stopped: {job.error}")
    label = "Scan again (new or changed files only)" if out.is_file() else "Scan this folder"
    st.button(label, key="batch_scan_start", type="primary", on_click=REGISTRY.start, args=(root, spec))
    if out.is_file():
        scan_results(out)


@st.fragment(run_every=0.5)
def progress(out) -> None:
    """The running scan's count and rate, polled four times a second; the results once done."""
    job = REGISTRY.get(out)
    if job is None or not job.running:
        st.rerun()
    s = job.status()
    total = f"{s['total']:,}" if s["total"] is not None else "…"
    if not s["done"]:  # the workers are starting: the clock shows it is alive
        text = f"Starting the scan… 0 of {total} images ({s['elapsed_s']:.0f} s so far)"
    else:
        eta = f", about {s['eta_s']:.0f} s left" if s["eta_s"] is not None else ""
        text = f"Scanning… {s['done']:,} of {total} images ({s['rate']:,.0f} images/s{eta})"
    st.progress(job.fraction, text=text)


app.frame()
st.title("Batch triage")
loaded_model = model.require_model()
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
    folder_scan(loaded_model)
    st.stop()
else:
    files = st.file_uploader("Images", type=model.UPLOAD_TYPES, accept_multiple_files=True,
                             key="batch_files")
    intake.items = [(f.name, f.getvalue()) for f in files or []]

if not intake.items and not intake.rejected:
    st.info("Add images to triage them.")
    st.stop()

n = len(intake.items)
bar = st.progress(0.0, text=f"Analysing {n} images…")
results = list(iter_analyze(intake.items, loaded_model.detector, model.analysis_options(),
                            names=[name for name, _ in intake.items],
                            progress=lambda done: bar.progress(min(1.0, done / max(1, n)),
                                                               text=f"Analysing… {done} of {n}")))
bar.empty()
records = [r.to_row() for r in results] + rejected_records(intake.rejected)
thumbs = [thumbnail_uri(r.loaded.image) if r.loaded is not None else None for r in results]
thumbs += [None] * len(intake.rejected)

counts_row(summarize(records))
chosen = st.multiselect("Show", list(FILTER_LABEL), default=list(FILTER_LABEL),
                        format_func=FILTER_LABEL.get, key="batch_conclusions")
df = pd.DataFrame(records)
df.insert(0, "thumbnail", thumbs)
df["conclusion"] = df["conclusion"].fillna("error")
df["conclusion_label"] = df["conclusion_label"].fillna("Error")
for col in ("domain_reasons", "advisories"):
    df[col] = df[col].map(lambda v: " ".join(v) if isinstance(v, list) else "")
df["notes"] = df["notes"].map(lambda v: "; ".join(v) if isinstance(v, list) else "")
view = df[df["conclusion"].isin(chosen)].sort_values("p_fake", ascending=False, na_position="last")
view = view.drop(columns=["conclusion", "band"])
text_cols = [c for c in ("name", "verdict", "band_label", "format", "sha256", "error") if c in view]
view[text_cols] = view[text_cols].fillna("")  # an unreadable file's empty cells, never "None"
st.dataframe(view, width="stretch", hide_index=True, column_config=render.result_columns())
st.caption("Click a column header to sort. Exports hold every row, whatever the filter.")
d1, d2 = st.columns(2)
d1.download_button("Download CSV", to_csv(records), "synthcheck-triage.csv", "text/csv")
d2.download_button("Download JSON", to_json(records), "synthcheck-triage.json", "application/json")
