"""Batch triage: analyse many images (uploads, a ZIP or a folder), filter, sort and export.

Uploads and ZIP uploads are scored in the page (small batches). A folder on the server goes
through ``synthcheck scan`` in the background (resumable, every core), only under the roots
set in ``SYNTHCHECK_SCAN_ROOTS``; its results are shown a page at a time.
"""

import json
import math
import threading

import pandas as pd
import streamlit as st

import ui_shared
from synthcheck.analysis import (
    CONCLUSIONS,
    conclusion_label,
    iter_analyze,
    summarize,
)
from synthcheck.scan import DetectorSpec, summary_path
from synthcheck.scan import view as scan_view
from synthcheck.scan.background import ScanJob, results_path_for
from synthcheck.scan.writer import summary_counts
from synthcheck.triage import (
    SCAN_ROOTS_OFF,
    Intake,
    TriageError,
    check_folder,
    dashboard_roots,
    read_zip,
    rejected_records,
    thumbnail_uri,
    to_csv,
    to_json,
)

PAGE_SIZE = 100
FILTER_LABEL = {c: conclusion_label(c) for c in CONCLUSIONS} | {"error": "Errors"}


@st.cache_resource
def _jobs() -> tuple[dict, threading.Lock]:
    """Background scans shared by every session, by results file."""
    return {}, threading.Lock()


def _counts_row(counts: dict) -> None:
    cols = st.columns(len(CONCLUSIONS) + 1)
    for col, c in zip(cols, CONCLUSIONS, strict=False):
        col.metric(conclusion_label(c), counts.get(f"n_{c}", 0))
    cols[-1].metric("Errors", counts.get("n_errors", 0))
    st.caption("Cannot assess: the image is unlike the training data, so the model's score says "
               "nothing reliable about it. It is never counted as real or synthetic.")


def _scan_results(out) -> None:
    """The results file of a folder scan: counts, a filtered page of rows, exports."""
    path = summary_path(out)
    counts = (json.loads(path.read_text())["counts"] if path.is_file()
              else summary_counts(out))
    _counts_row(counts)
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
    df["error"] = df["error"].fillna("")
    st.dataframe(df.drop(columns=["conclusion"]), width="stretch", hide_index=True,
                 column_config=ui_shared.result_columns())
    st.caption(f"Results file: `{out}`. Exports hold every row, whatever the filter.")
    cols = st.columns(3)
    mimes = {"csv": "text/csv", "json": "application/json", "parquet": "application/octet-stream"}
    for col, fmt in zip(cols, scan_view.EXPORTS, strict=True):
        col.download_button(f"Download {fmt.upper()}", lambda fmt=fmt: scan_view.export(out, fmt),
                            f"synthcheck-scan.{fmt}", mimes[fmt], key=f"batch_scan_{fmt}")


def _folder_scan(model) -> None:
    """Folder on the server: scan it in the background under the configured roots."""
    roots = dashboard_roots()
    if not roots:
        st.info(SCAN_ROOTS_OFF)
        return
    st.caption("This server may read folders under: " + ", ".join(f"`{r}`" for r in roots))
    folder = st.text_input("Folder path", key="batch_folder", placeholder=str(roots[0]))
    if not folder.strip():
        st.info("Enter a folder to scan it (sub-folders and ZIP archives in it included).")
        return
    try:
        root = check_folder(folder.strip(), roots)
        if not root.is_dir():
            raise TriageError(f"{root} is not a folder.")
    except TriageError as exc:
        st.error(str(exc))
        return
    spec = DetectorSpec(model.path, threshold=ui_shared.threshold(),
                        options={"band_edges": ui_shared.band_edges()})
    out = results_path_for(root, spec)
    jobs, lock = _jobs()
    with lock:
        job = jobs.get(out)
    if job is not None and job.running:
        _progress(out)
        return
    if job is not None and job.error:
        st.error(f"The scan stopped: {job.error}")
    label = "Scan again (new or changed files only)" if out.is_file() else "Scan this folder"
    st.button(label, key="batch_scan_start", type="primary", on_click=_start, args=(root, spec, out))
    if out.is_file():
        _scan_results(out)


def _start(root, spec, out) -> None:
    """Button callback: start the folder's scan unless one is already running."""
    jobs, lock = _jobs()
    with lock:
        if not (out in jobs and jobs[out].running):
            jobs[out] = ScanJob(root, spec, out).start()


@st.fragment(run_every=1.0)
def _progress(out) -> None:
    """The running scan's progress, polled every second; the results once it is done."""
    jobs, lock = _jobs()
    with lock:
        job = jobs.get(out)
    if job is None or not job.running:
        st.rerun()
    s = job.status()
    total = f"{s['total']:,}" if s["total"] else "?"
    eta = f", about {s['eta_s']:.0f} s left" if s["eta_s"] is not None else ""
    st.progress(job.fraction, text=f"Scanning… {s['done']:,} of {total} images "
                                   f"({s['rate']:.0f} images/s{eta})")


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
    _folder_scan(model)
    st.stop()
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

_counts_row(summarize(records))

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
    column_config=ui_shared.result_columns(),
)
st.caption("Click a column header to sort. Exports hold every row, whatever the filter.")
d1, d2 = st.columns(2)
d1.download_button("Download CSV", to_csv(records), "synthcheck-triage.csv", "text/csv")
d2.download_button("Download JSON", to_json(records), "synthcheck-triage.json", "application/json")
