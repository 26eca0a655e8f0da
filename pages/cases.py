"""Cases: evidence with a tamper-evident audit log (a thin view over ``synthcheck.cases``).

List and create cases, add images (or ZIPs), analyse all with a progress bar, read the results
and the audit timeline, add notes and tags, verify the log and export the signed report.
Every action goes through the case service, so it is logged exactly as from the CLI or API.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import ui_shared
from synthcheck import cases
from synthcheck.analysis import conclusion_label, counts_phrase
from synthcheck.bands import band_label
from synthcheck.cases.audit import default_actor

FLASH = "cases_flash"
EXPORTS = "cases_exports"
PENDING = "cases_pending"


MAX_FLASH = 20  # rejection messages shown after one intake (the rest are counted)


def plain(text: str) -> str:
    """Escape Markdown so names and notes from evidence render as text (no links, no images)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~:$])", r"\\\1", str(text))


def flash(kind: str, text: str) -> None:
    """Queue a message (plain text) shown after the rerun that follows an action."""
    st.session_state.setdefault(FLASH, []).append((kind, plain(text)))


def show_flash() -> None:
    for kind, text in st.session_state.pop(FLASH, []):
        getattr(st, kind)(text)


def _request(action: str) -> None:
    st.session_state[PENDING] = action


def action_button(label: str, action: str, **kwargs: Any) -> bool:
    """A button whose click survives a rerun: the click is queued in session state (a callback)
    and taken here once, so a router rerun between click and action never drops it."""
    st.button(label, key=f"cases_{action}", on_click=_request, args=(action,), **kwargs)
    if st.session_state.get(PENDING) == action:
        del st.session_state[PENDING]
        return True
    return False


def actor() -> str:
    return (st.session_state.get("cases_actor") or "").strip() or default_actor()


def entry_summary(details: dict[str, Any]) -> str:
    keys = ("title", "name", "text", "tag", "conclusion", "verdict", "p_fake", "ok", "n_added", "n_rejected",
            "n_analysed", "out_dir")
    return "  ".join(f"{k}={details[k]}" for k in keys if k in details)


def new_case_form() -> None:
    with st.expander("New case", expanded=not st.session_state.get("cases_open")):
        st.text_input("Title", key="cases_new_title", placeholder="Harbour fire photos, 2025-06")
        st.text_area("First note (optional)", key="cases_new_notes", height=68)
        st.text_input("Tags (comma-separated, optional)", key="cases_new_tags")
        if action_button("Create case", "create", type="primary"):
            tags = [t.strip() for t in st.session_state.get("cases_new_tags", "").split(",") if t.strip()]
            try:
                case = cases.create_case(st.session_state.get("cases_new_title", ""),
                                         notes=st.session_state.get("cases_new_notes", ""), tags=tags,
                                         actor=actor())
            except cases.CaseError as exc:
                st.error(str(exc))
                return
            st.session_state["cases_open"] = case["id"]
            flash("success", f"Created case {case['id']}.")
            st.rerun()


def header(case: dict[str, Any]) -> None:
    st.subheader(plain(case["title"]))
    head = case["audit_head"]
    st.caption(f"Case **{case['id']}** · created {case['created_utc'][:19]} UTC by {case['created_by']} · "
               f"audit head #{head['seq']} `{head['hash'][:16]}…`")
    cr = case["control_run"]
    cols = st.columns(4)
    cols[0].metric("Images", case["n_images"])
    cols[1].metric("Analysed", case["n_analysed"])
    cols[2].metric("Audit entries", head["seq"])
    cols[3].metric("Control run", "none" if cr is None else
                   {True: "passed", False: "FAILED", None: "unavailable"}[cr["ok"]])
    if cr is not None and cr["ok"] is False:
        st.warning("The latest control run failed: " + "; ".join(cr.get("problems") or []))
    if case["tags"]:
        st.markdown("Tags: " + ", ".join(f"**{plain(t)}**" for t in case["tags"]))
    for n in case["notes"]:
        st.markdown(f"> {plain(n['text'])}  \n> — {plain(n['actor'])}, {n['created_utc'][:19]} UTC")


def results_table(case: dict[str, Any]) -> None:
    if not case["images"]:
        st.info("No images yet: add some in the Add evidence tab.")
        return
    rows = []
    for im in case["images"]:
        a = im["analysis"]
        rec = a["record"] if a else {}
        rows.append({"name": im["name"],
                     "conclusion": conclusion_label(rec.get("conclusion")) if a else "Not analysed",
                     "p_fake": rec.get("p_fake"), "raw call": rec.get("verdict"),
                     "band": band_label(rec["band"]) if rec.get("band") else None,
                     "sha256": im["sha256"], "tags": ", ".join(im["tags"]),
                     "format": im["format"], "size": f"{im['width']}x{im['height']}",
                     "analysed_utc": a["created_utc"][:19] if a else None,
                     "model_sha256": (a["model_sha256"] or "")[:16] if a else None})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="cases_results",
                 column_config={"p_fake": st.column_config.ProgressColumn(
                     "Model score", min_value=0.0, max_value=1.0, format="%.3f",
                     help="Unreliable where the conclusion is 'Cannot assess'.")})


def analyse(case: dict[str, Any]) -> None:
    only_new = st.checkbox("Only images not analysed yet", key="cases_only_new")
    if not action_button("Analyse all", "analyze", type="primary", disabled=not case["images"]):
        return
    model = ui_shared.current_model()
    if model is None:
        return
    bar = st.progress(0.0, text="Control run on known images…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Analysed {done} of {total} images")

    res = cases.analyze_case(case["id"], model.detector, threshold=ui_shared.threshold(),
                             edges=ui_shared.band_edges(), only_new=only_new, actor=actor(),
                             progress=progress)
    bar.empty()
    flash("success", f"Analysed {res['n_analysed']} image(s): {counts_phrase(res)}.")
    for p in res["problems"]:
        flash("error", p)
    st.rerun()


def add_evidence(case: dict[str, Any]) -> None:
    files = st.file_uploader("Images or ZIP archives of images", type=ui_shared.UPLOAD_TYPES + ["zip"],
                             accept_multiple_files=True, key="cases_upload")
    if action_button("Add to case", "add", disabled=not files):
        report = cases.add_images(case["id"], [(f.name, f.getvalue()) for f in files or []],
                                  actor=actor())
        flash("success", f"Added {len(report.added)} image(s); {len(report.duplicates)} duplicate(s) "
                         f"of images already in the case.")
        for r in report.rejected[:MAX_FLASH]:
            flash("error", f"Rejected {r['name']}: {r['reason']}")
        if len(report.rejected) > MAX_FLASH:
            flash("error", f"... and {len(report.rejected) - MAX_FLASH} more rejected (see the audit log).")
        st.rerun()


def notes_and_tags(case: dict[str, Any]) -> None:
    targets = ["(whole case)"] + [im["sha256"] for im in case["images"]]
    names = {im["sha256"]: im["name"] for im in case["images"]}
    target = st.selectbox("About", targets, key="cases_target",
                          format_func=lambda t: names.get(t, t))
    image = None if target == "(whole case)" else target
    left, right = st.columns(2)
    with left:
        st.text_area("Note", key="cases_note_text", height=68)
        if action_button("Add note", "note_add"):
            try:
                cases.add_note(case["id"], st.session_state.get("cases_note_text", ""), image=image,
                               actor=actor())
            except cases.CaseError as exc:
                st.error(str(exc))
                return
            flash("success", "Note added.")
            st.rerun()
    with right:
        st.text_input("Tags (comma-separated)", key="cases_tag_text")
        remove = st.checkbox("Remove these tags", key="cases_tag_remove")
        if action_button("Apply tags", "tag_apply"):
            tags = [t.strip() for t in st.session_state.get("cases_tag_text", "").split(",") if t.strip()]
            try:
                now = cases.tag(case["id"], tags, image=image, remove=remove, actor=actor())
            except cases.CaseError as exc:
                st.error(str(exc))
                return
            flash("success", f"Tags now: {', '.join(now) or '—'}")
            st.rerun()


def timeline(case_id: str) -> None:
    entries = cases.audit_entries(case_id)
    st.dataframe(pd.DataFrame([{"seq": e.seq, "time (UTC)": e.ts[:19], "actor": e.actor,
                                "action": e.action, "details": entry_summary(e.details),
                                "hash": e.hash[:16]} for e in reversed(entries)]),
                 hide_index=True, width="stretch", key="cases_audit")
    st.caption("Newest first. Each entry's hash covers the previous entry's hash: Verify recomputes "
               "the chain and names the first entry that was edited, deleted or moved.")


def verify_and_export(case: dict[str, Any]) -> None:
    left, right = st.columns(2)
    with left:
        if action_button("Verify the case", "verify"):
            res = cases.verify_case(case["id"], actor=actor())
            flash("success" if res.ok else "error", res.summary())
            for p in res.problems[1:MAX_FLASH]:
                flash("error", p)
            for w in res.warnings[1 if res.ok else 0:MAX_FLASH]:
                flash("warning", w)
            st.rerun()
    with right:
        gradcam = st.checkbox("Include Grad-CAM explanations", value=True, key="cases_export_gradcam")
        if action_button("Build signed report", "export", disabled=not case["images"]):
            model = ui_shared.current_model()
            if model is None:
                return
            with st.spinner("Building and signing the report…"):
                res = cases.export_case(case["id"], cases.export_dir(case["id"]), model.detector,
                                        methods=["gradcam"] if gradcam else [], actor=actor())
            st.session_state.setdefault(EXPORTS, {})[case["id"]] = res["paths"]
            flash("success", "Signed report written (JSON + HTML + PDF).")
            st.rerun()
        paths = st.session_state.get(EXPORTS, {}).get(case["id"])
        if paths:
            mime = {"json": "application/json", "html": "text/html", "pdf": "application/pdf"}
            for kind, p in paths.items():
                if Path(p).is_file():
                    st.download_button(f"Download {kind.upper()}", Path(p).read_bytes(), Path(p).name,
                                       mime.get(kind), key=f"cases_download_{kind}")


ui_shared.ensure_router()  # before any button is read: a router rerun would drop the click
st.title("Cases")
st.caption("Evidence images stored by SHA-256 (originals never modified), every action in a "
           "hash-chained audit log, and a signed report at the end.")
st.sidebar.text_input("Your name (logged with each action)", key="cases_actor",
                      placeholder=default_actor())
# Messages and the case header vary in length; each sits in one fixed container so the tabs
# below keep their place in the page tree and Streamlit keeps the open tab across reruns.
with st.container():
    show_flash()
new_case_form()
all_cases = cases.list_cases()
if not all_cases:
    st.info("No cases yet: create one above.")
    st.stop()
ids = [c["id"] for c in all_cases]
titles = {c["id"]: c["title"] for c in all_cases}
if st.session_state.get("cases_open") not in ids:
    st.session_state["cases_open"] = ids[0]
case_id = st.selectbox("Open case", ids, key="cases_open", format_func=lambda i: f"{i} · {titles[i]}")
case = cases.get_case(case_id)
with st.container():
    header(case)
tab_results, tab_add, tab_notes, tab_audit, tab_check = st.tabs(
    ["Images and verdicts", "Add evidence", "Notes and tags", "Audit timeline", "Verify and export"])
with tab_results:
    analyse(case)
    results_table(case)
with tab_add:
    add_evidence(case)
with tab_notes:
    notes_and_tags(case)
with tab_audit:
    timeline(case_id)
with tab_check:
    verify_and_export(case)
