"""Cases: evidence with a tamper-evident audit log (a thin view over ``synthcheck.cases``).

List and create cases, add images (uploads, ZIPs, or a server folder the folder policy allows)
and see every refused file with its reason, analyse all with a progress bar, read the results,
open one piece of evidence, read the audit timeline, add notes and tags, verify the log, export
the signed report and verify a signed report. Every action goes through the case service, so it
is logged exactly as from the CLI or API. Results of Verify stay on the page until dismissed;
a built report is offered only while the case still holds what it was built from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from synthcheck import cases
from synthcheck.analysis import counts_phrase
from synthcheck.cases.audit import default_actor
from synthcheck.dashboard import app, artifacts, case_views, folders, model
from synthcheck.dashboard import cases as workflow

FLASH = "cases_flash"
UPLOAD_GEN = "cases_upload_gen"  # bumped after each intake: a new uploader key empties it
CASE_CHECKS = "cases_checks"  # case id -> the last "Verify the case" result, until dismissed
REPORT_CHECK = "cases_report_check"  # the last "Verify a report" result, until dismissed
MIME = {"json": "application/json", "html": "text/html", "pdf": "application/pdf"}


def flash(kind: str, text: str) -> None:
    """Queue a message (plain text) shown after the rerun that follows an action."""
    st.session_state.setdefault(FLASH, []).append((kind, case_views.plain(text)))


def show_flash() -> None:
    for kind, text in st.session_state.pop(FLASH, []):
        getattr(st, kind)(text)


def actor() -> str:
    return (st.session_state.get("cases_actor") or "").strip() or default_actor()


def new_case_form() -> None:
    with st.expander("New case", expanded=not st.session_state.get("cases_open")):
        st.text_input("Title", key="cases_new_title", placeholder="Harbour fire photos, 2025-06")
        st.text_area("First note (optional)", key="cases_new_notes", height=68)
        st.text_input("Tags (comma-separated, optional)", key="cases_new_tags")
        if st.button("Create case", key="cases_create", type="primary"):
            try:
                case = cases.create_case(st.session_state.get("cases_new_title", ""),
                                         notes=st.session_state.get("cases_new_notes", ""),
                                         tags=workflow.parse_tags(st.session_state.get("cases_new_tags", "")),
                                         actor=actor())
            except cases.CaseError as exc:
                st.error(str(exc))
                return
            st.session_state["cases_open"] = case["id"]
            flash("success", f"Created case {case['id']}.")
            st.rerun()


def analyse(case: dict[str, Any]) -> None:
    only_new = st.checkbox("Only images not analysed yet", key="cases_only_new")
    if not st.button("Analyse all", key="cases_analyze", type="primary", disabled=not case["images"]):
        return
    loaded_model = model.current_model()
    if loaded_model is None:
        return
    bar = st.progress(0.0, text="Control run on known images…")
    res = cases.analyze_case(case["id"], loaded_model.detector, threshold=model.threshold(),
                             edges=model.band_edges(), only_new=only_new, actor=actor(),
                             progress=lambda done, total: bar.progress(
                                 done / max(total, 1), text=f"Analysed {done} of {total} images"))
    bar.empty()
    flash("success", f"Analysed {res['n_analysed']} image(s): {counts_phrase(res)}.")
    for p in res["problems"]:
        flash("error", p)
    st.rerun()


def take_in(case: dict[str, Any], sources: list[Any]) -> None:
    """Add uploads or a folder to the case, then rerun with the intake's messages."""
    try:
        report = cases.add_images(case["id"], sources, actor=actor())
    except cases.CaseError as exc:
        st.error(str(exc))
        return
    st.session_state[UPLOAD_GEN] = int(st.session_state.get(UPLOAD_GEN, 0)) + 1
    for kind, text in workflow.intake_messages(report):
        flash(kind, text)
    st.rerun()


def add_evidence(case: dict[str, Any]) -> None:
    gen = int(st.session_state.get(UPLOAD_GEN, 0))
    files = st.file_uploader("Images or ZIP archives of images", type=model.UPLOAD_TYPES + ["zip"],
                             accept_multiple_files=True, key="cases_upload" if gen == 0 else f"cases_upload_{gen}")
    if st.button("Add to case", key="cases_add", disabled=not files):
        take_in(case, [(f.name, f.getvalue()) for f in files or []])
    with st.expander("Add a folder on the server"):
        st.caption(folders.roots_sentence())
        folder = st.text_input("Folder path", key="cases_folder")
        if st.button("Add this folder", key="cases_add_folder", disabled=not folder.strip()):
            try:
                take_in(case, [str(folders.allowed_folder(folder))])
            except folders.FolderRefused as exc:  # the one folder policy, in its own words
                st.error(str(exc))
    if not case["refused"]:
        st.caption("No file has been refused so far.")
        return
    st.markdown(f"**Refused at intake ({case['n_refused']})**: offered, recorded with the reason, "
                "not taken into the case.")
    st.dataframe(pd.DataFrame(workflow.refused_rows(case)), hide_index=True, width="stretch",
                 key="cases_refused", column_config={"Why it was refused": st.column_config.TextColumn(
                     width="large")})


def notes_and_tags(case: dict[str, Any]) -> None:
    names = {im["sha256"]: im["name"] for im in case["images"]}
    target = st.selectbox("About", [None, *names], key="cases_target",
                          format_func=lambda t: "The whole case" if t is None else names[t])
    left, right = st.columns(2)
    with left:
        st.text_area("Note", key="cases_note_text", height=68)
        if st.button("Add note", key="cases_note_add"):
            try:
                cases.add_note(case["id"], st.session_state.get("cases_note_text", ""), image=target,
                               actor=actor())
            except cases.CaseError as exc:
                st.error(str(exc))
                return
            flash("success", "Note added.")
            st.rerun()
    with right:
        st.text_input("Tags (comma-separated)", key="cases_tag_text")
        remove = st.checkbox("Remove these tags", key="cases_tag_remove")
        if st.button("Apply tags", key="cases_tag_apply"):
            try:
                now = cases.tag(case["id"], workflow.parse_tags(st.session_state.get("cases_tag_text", "")),
                                image=target, remove=remove, actor=actor())
            except cases.CaseError as exc:
                st.error(str(exc))
                return
            flash("success", f"Tags now: {', '.join(now) or 'none'}")
            st.rerun()


def verify_and_export(case: dict[str, Any]) -> None:
    left, right = st.columns(2)
    with left:
        if st.button("Verify the case", key="cases_verify"):
            st.session_state.setdefault(CASE_CHECKS, {})[case["id"]] = workflow.case_check(
                cases.verify_case(case["id"], actor=actor()))
            st.rerun()  # the header's audit count includes this verification
        case_views.kept_result(CASE_CHECKS, case["id"], "cases_verify_dismiss")
    with right:
        gradcam = st.checkbox("Include Grad-CAM explanations", value=True, key="cases_export_gradcam")
        made_from = artifacts.inputs_key(workflow.export_inputs(case), gradcam)
        if st.button("Build signed report", key="cases_export", disabled=not case["images"]):
            loaded_model = model.current_model()
            if loaded_model is not None:
                with st.spinner("Building and signing the report…"):
                    res = cases.export_case(case["id"], cases.export_dir(case["id"]), loaded_model.detector,
                                            methods=["gradcam"] if gradcam else [], actor=actor())
                artifacts.keep(f"case_export:{case['id']}", made_from, res["paths"])
                flash("success", "Signed report written (JSON + HTML + PDF).")
                st.rerun()
        for kind, p in (artifacts.current(f"case_export:{case['id']}", made_from) or {}).items():
            if Path(p).is_file():
                st.download_button(f"Download the signed report ({kind.upper()})", Path(p).read_bytes(),
                                   Path(p).name, MIME.get(kind), key=f"cases_download_{kind}")
    st.divider()
    if st.toggle("Verify a signed report (its JSON and, optionally, its images)", key="cases_report_on"):
        files = st.file_uploader("report.json and the images it covers", accept_multiple_files=True,
                                 type=["json"] + model.UPLOAD_TYPES, key="cases_report_files")
        if st.button("Verify report", key="cases_report_verify", disabled=not files):
            st.session_state.setdefault(REPORT_CHECK, {})["last"] = workflow.check_uploads(
                [(f.name, f.getvalue()) for f in files or []])
    case_views.kept_result(REPORT_CHECK, "last", "cases_report_dismiss")


app.frame()
st.title("Cases")
st.caption("Evidence images stored by SHA-256 (originals never modified), every action in a "
           "hash-chained audit log, and a signed report at the end.")
st.sidebar.text_input("Your name (logged with each action)", key="cases_actor",
                      placeholder=default_actor())
model.current_model(show_errors=False)  # the model the evidence views use, named in the sidebar
# Messages and the case header vary in length; each sits in one fixed container so the tabs
# below keep their place in the page tree and Streamlit keeps the open tab across reruns.
with st.container():
    show_flash()
new_case_form()
all_cases = cases.list_cases()
if not all_cases:
    st.info("No cases yet: create one above.")
    st.stop()
titles = {c["id"]: c["title"] for c in all_cases}
if st.session_state.get("cases_open") not in titles:
    st.session_state["cases_open"] = all_cases[0]["id"]
case_id = st.selectbox("Open case", list(titles), key="cases_open", format_func=lambda i: f"{i} · {titles[i]}")
case = cases.get_case(case_id)
with st.container():
    case_views.header(case)
tab_results, tab_one, tab_add, tab_notes, tab_audit, tab_check = st.tabs(
    ["Images and conclusions", "One image", "Add evidence", "Notes and tags", "Audit timeline",
     "Verify and export"])
with tab_results:
    analyse(case)
    case_views.results_table(case)
with tab_one:
    case_views.evidence_view(case)
with tab_add:
    add_evidence(case)
with tab_notes:
    notes_and_tags(case)
with tab_audit:
    st.dataframe(pd.DataFrame(workflow.timeline_rows(cases.audit_entries(case_id))), hide_index=True,
                 width="stretch", key="cases_audit")
    st.caption("Newest first. Each entry's hash covers the previous entry's hash: Verify recomputes "
               "the chain and names the first entry that was edited, deleted or moved.")
with tab_check:
    verify_and_export(case)
