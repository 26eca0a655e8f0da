"""Cases: evidence with a tamper-evident audit log (a thin view over ``synthcheck.cases``).

List and create cases, add images (or ZIPs) and see every refused file with its reason, analyse
all with a progress bar, read the results, open one piece of evidence (its stored conclusion,
Grad-CAM, domain reasons, provenance, forensic views and explanations on demand), read the audit
timeline, add notes and tags, verify the log, export the signed report and verify a signed
report. Every action goes through the case service, so it is logged exactly as from the CLI or
API. Results of Verify stay on the page until dismissed.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import ui_shared
from synthcheck import cases
from synthcheck.analysis import (
    Analysis,
    AnalysisOptions,
    conclusion_label,
    counts_phrase,
    record_score_label,
)
from synthcheck.bands import band_label
from synthcheck.cases.audit import default_actor

FLASH = "cases_flash"
EXPORTS = "cases_exports"
PENDING = "cases_pending"
UPLOAD_GEN = "cases_upload_gen"  # bumped after each intake: a new uploader key empties it
CASE_CHECKS = "cases_checks"  # case id -> the last "Verify the case" result, until dismissed
REPORT_CHECK = "cases_report_check"  # the last "Verify a report" result, until dismissed
EXPLAINED = "cases_explained"  # image SHA-256s whose explanations were asked for
COMPARED = ("conclusion", "verdict", "p_fake", "band")  # what a re-analysis must repeat
EXPLAIN_METHODS = ("gradcam", "gradient_shap", "lime")
EXPLAIN_OPTIONS = {"gradient_shap": {"n_samples": 32}, "lime": {"num_samples": 256}}


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
            "reason", "n_analysed", "out_dir")
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
    cols = st.columns(5)
    cols[0].metric("Images", case["n_images"])
    cols[1].metric("Analysed", case["n_analysed"])
    cols[2].metric("Refused", case["n_refused"], help="Files offered but refused at intake "
                   "(listed with their reasons in Add evidence).")
    cols[3].metric("Audit entries", head["seq"])
    cols[4].metric("Control run", "none" if cr is None else
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


# -- one piece of evidence ------------------------------------------------------------------
def columns_of(n: int, per_row: int = 3) -> list[Any]:
    """``n`` equal columns, ``per_row`` a row (the last row left-aligned): pictures wrap to new
    rows instead of shrinking to slivers or overflowing at narrow widths."""
    cells: list[Any] = []
    for start in range(0, n, per_row):
        cells += st.columns(per_row)[:min(per_row, n - start)]
    return cells


def stored_options(params: dict[str, Any]) -> AnalysisOptions:
    """The options the stored analysis ran with (threshold, band edges, tiles)."""
    return AnalysisOptions(threshold=params.get("threshold"),
                           band_edges=tuple(params.get("band_edges") or ui_shared.band_edges()),
                           tiles=bool(params.get("tiles")))


def analysis_of(model: ui_shared.LoadedModel, im: dict[str, Any], data: bytes) -> Analysis:
    """The image analysed at its stored analysis's options (the sidebar's when never analysed),
    cached for all sessions like every dashboard analysis."""
    stored = im["analysis"]
    if stored is None:
        return ui_shared.analyze_uploads(model, [(im["name"], data)])[0]
    return ui_shared.analyze_uploads(model, [(im["name"], data)],
                                     options=stored_options(stored["params"]))[0]


def stored_headline(rec: dict[str, Any]) -> None:
    """The stored record's own conclusion, reason and score (when no live analysis can repeat it)."""
    st.markdown(f"### {plain(rec.get('conclusion_label') or conclusion_label(rec.get('conclusion')))}")
    st.markdown(plain(rec.get("conclusion_reason") or ""))
    st.caption(f"Stored: {record_score_label(rec)} · band {band_label(rec.get('band') or '')}")


def conclusion_block(model: ui_shared.LoadedModel | None, im: dict[str, Any],
                     a: Analysis | None) -> None:
    """The conclusion as stored in the case, shown through a live re-analysis when it repeats it."""
    stored = im["analysis"]
    if stored is None:
        st.info("Not analysed in this case yet (Analyse all records it). Shown at the sidebar's "
                "threshold and band edges.")
        if a is not None:
            ui_shared.headline(a)
        return
    rec = stored["record"]
    when = f"stored analysis #{stored['id']} of {stored['created_utc'][:19]} UTC"
    same_model = model is not None and cases.model_identity(model.detector)["sha256"] == stored["model_sha256"]
    if a is None or not same_model:
        stored_headline(rec)
        st.caption(f"From the {when}; the sidebar's model is not the one that made it "
                   f"({(stored['model_sha256'] or '?')[:16]}…), so the live views below are the "
                   "sidebar model's.")
        return
    live = a.to_record()
    differ = [k for k in COMPARED if live.get(k) != rec.get(k)]
    if differ:
        st.error(f"Re-analysing this image does not repeat the {when} ({', '.join(differ)} differ): "
                 "the stored record is shown.")
        stored_headline(rec)
        return
    ui_shared.headline(a)
    st.caption(f"The same as the {when} (model {stored['model_sha256'][:16]}…, threshold "
               f"{rec['threshold']:g}, band {band_label(rec['band'])}).")


def forensics_block(im: dict[str, Any], loaded: Any) -> None:
    st.markdown("**Classical forensic views** (no model involved; they need an expert's reading)")
    from synthcheck.forensics import fit_size

    views = ui_shared.forensic_views(loaded)
    shown = [(name, v) for name, v in views.items() if v.get("image") is not None]
    for cell, (name, view) in zip(columns_of(len(shown)), shown, strict=True):
        numbers = ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in view.items() if isinstance(v, (int, float, str)) and k != "image")
        cell.image(fit_size(view["image"], 512), caption=f"{name}: {numbers}"[:300], width="stretch")
    others = {name: {k: v for k, v in view.items() if k != "image"} for name, view in views.items()
              if view.get("image") is None}
    if others:
        with st.expander("Views without a picture"):
            st.json(json.loads(json.dumps(others, default=str)), expanded=1)


def explanations_block(model: ui_shared.LoadedModel, im: dict[str, Any], a: Analysis) -> None:
    """Grad-CAM, SHAP and LIME with their faithfulness, computed only when asked for."""
    asked = st.session_state.setdefault(EXPLAINED, set())
    if im["sha256"] not in asked:  # (a callback: a router rerun cannot drop the click)
        st.button("Explain this image (Grad-CAM, SHAP, LIME)", key="cases_explain",
                  on_click=asked.add, args=(im["sha256"],))
        return
    _, visual = ui_shared.explain_module()
    try:
        rep = ui_shared.explain_cached(model, a.loaded, EXPLAIN_METHODS, a.verdict, 0,
                                       json.dumps(EXPLAIN_OPTIONS, sort_keys=True))
    except Exception as exc:  # a broken explainer: one message, no traceback
        st.error(f"Explanation failed: {type(exc).__name__}: {exc}")
        return
    st.markdown(f"**Explanations** of the raw call **{a.verdict}**"
                + ("" if a.score_reliable else " (a score the model cannot be trusted on here)"))
    up = max(1, ui_shared.DISPLAY_SIDE // model.detector.input_size)
    faith = rep.faithfulness or {}
    for cell, (m, e) in zip(columns_of(len(rep.explanations)), rep.explanations.items(), strict=True):
        cell.image(visual.overlay(rep.image, e.map, alpha=0.5, cmap=visual.cmap_for(e.signed), upscale=up),
                   caption=m, width="stretch")
    st.dataframe(pd.DataFrame([{"method": m, **{k: (faith.get(m) or {}).get(k) for k in (
        "deletion_auc", "random_deletion_auc", "insertion_auc", "random_insertion_auc")}}
        for m in rep.explanations]), hide_index=True, width="stretch", key="cases_explain_table")
    st.caption("Deletion AUC below its random baseline and insertion AUC above it: the map points at "
               "what the model's score depends on (not at where an image was edited).")


def evidence_view(case: dict[str, Any]) -> None:
    """One image of the case: pictures, conclusion, reasons, provenance, forensics, explanations."""
    by_sha = {im["sha256"]: im for im in case["images"]}
    if not by_sha:
        st.info("No images yet: add some in the Add evidence tab.")
        return
    sha = st.selectbox("Image", list(by_sha), index=None, key="cases_evidence",
                       placeholder="Choose an image of the case…",
                       format_func=lambda s: f"{by_sha[s]['name']} · {s[:12]}")
    if sha is None:
        return
    im = by_sha[sha]
    try:
        data = cases.BlobStore().read(sha)
    except OSError as exc:
        st.error(f"The stored image cannot be read ({exc.strerror or exc}); run Verify the case.")
        return
    model = ui_shared.current_model()
    a = analysis_of(model, im, data) if model is not None else None
    if a is not None and not a.ok:
        st.error(f"Cannot analyse the stored image: {a.error}")
        return
    loaded = a.loaded if a is not None else None
    if loaded is None:
        from synthcheck.imageio import ImageError, load_image

        try:
            loaded = load_image(data, name=im["name"])
        except ImageError as exc:
            st.error(str(exc))
            return
    st.caption(f"**{plain(im['name'])}** · {im['format']} {im['width']}×{im['height']} · "
               f"{im['bytes']:,} bytes · SHA-256 `{sha}`")
    left, right = st.columns([2, 3])
    with left:
        pics = st.columns(2)
        pics[0].image(ui_shared.enlarge(model.detector.to_array(loaded)) if model else
                      loaded.image, caption="What the model sees" if model else "The image",
                      width="stretch")
        if model is not None:
            cam, why, trust = (ui_shared.gradcam_overlay(model, loaded, target=a.verdict)
                               if a is not None and a.verdict else
                               (None, "Grad-CAM needs an analysis of this image.", None))
            if cam is not None:
                pics[1].image(cam, caption=f"Grad-CAM: evidence for {a.verdict}", width="stretch")
                if trust:
                    pics[1].caption(f":{trust['colour']}[{trust['sentence']}]")
            else:
                pics[1].caption(why or "Grad-CAM unavailable")
    with right:
        conclusion_block(model, im, a)
        if a is not None and a.domain is not None and a.domain.reasons:
            st.markdown("**Why the model cannot judge it:**\n" + "\n".join(
                f"- {plain(r)}" for r in a.domain.reasons))
        if a is not None and a.advisories:
            st.markdown("**Known bias that applies:**\n" + "\n".join(f"- {plain(n)}" for n in a.advisories))
        if a is not None and a.provenance is not None:
            st.markdown(f"**Provenance:** {plain(a.provenance.summary or 'no signals')}")
            if a.provenance.signals:
                st.dataframe(pd.DataFrame([{k: str(v)[:200] for k, v in sg.items()}
                                           for sg in a.provenance.signals]),
                             hide_index=True, width="stretch", key="cases_provenance")
    forensics_block(im, loaded)
    if model is not None and a is not None:
        explanations_block(model, im, a)


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


def upload_key() -> str:
    """The evidence uploader's key: a new one after each intake, so the uploader comes back empty."""
    gen = int(st.session_state.get(UPLOAD_GEN, 0))
    return "cases_upload" if gen == 0 else f"cases_upload_{gen}"


def add_evidence(case: dict[str, Any]) -> None:
    files = st.file_uploader("Images or ZIP archives of images", type=ui_shared.UPLOAD_TYPES + ["zip"],
                             accept_multiple_files=True, key=upload_key())
    if action_button("Add to case", "add", disabled=not files):
        try:
            report = cases.add_images(case["id"], [(f.name, f.getvalue()) for f in files or []],
                                      actor=actor())
        except cases.CaseError as exc:
            st.error(str(exc))
            return
        st.session_state[UPLOAD_GEN] = int(st.session_state.get(UPLOAD_GEN, 0)) + 1
        flash("success", f"Added {len(report.added)} image(s); {len(report.duplicates)} duplicate(s) "
                         f"of images already in the case; {len(report.rejected)} refused.")
        for r in report.rejected[:MAX_FLASH]:
            flash("error", f"Rejected {r['name']}: {r['reason']}")
        if len(report.rejected) > MAX_FLASH:
            flash("error", f"... and {len(report.rejected) - MAX_FLASH} more rejected (listed below).")
        st.rerun()
    refused_table(case)


def refused_table(case: dict[str, Any]) -> None:
    """Every file the case refused at intake, with its reason (the chain of custody's other half)."""
    if not case["refused"]:
        st.caption("No file has been refused so far.")
        return
    st.markdown(f"**Refused at intake ({case['n_refused']})**: offered, recorded with the reason, "
                "not taken into the case.")
    st.dataframe(pd.DataFrame([{"name": r["name"], "reason": r["reason"], "source": r["source"],
                                "bytes": r["bytes"], "sha256": r["sha256"],
                                "refused (UTC)": (r["refused_utc"] or "")[:19]}
                               for r in case["refused"]]),
                 hide_index=True, width="stretch", key="cases_refused",
                 column_config={"name": st.column_config.TextColumn(width="medium"),
                                "reason": st.column_config.TextColumn(width="large")})


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


SHOW_STATUS = {"verified": st.success, "incomplete": st.warning, "failed": st.error,
               "unreadable": st.error}  # only a failure (or input that cannot be read) is red


def kept_result(store: str, key: str, dismiss_key: str) -> None:
    """A check result kept in session state, shown until its Dismiss button is pressed."""
    res = st.session_state.get(store, {}).get(key)
    if res is None:
        return
    with st.container(border=True):
        SHOW_STATUS[res["status"]](plain(res["summary"]))
        for p in res["problems"][:MAX_FLASH]:
            st.error(plain(p))
        if len(res["problems"]) > MAX_FLASH:
            st.error(f"... and {len(res['problems']) - MAX_FLASH} more problems.")
        for n in res["notes"][:MAX_FLASH]:
            st.caption(plain(n))
        if res.get("rows"):
            st.dataframe(pd.DataFrame(res["rows"]), hide_index=True, width="stretch",
                         key=f"{dismiss_key}_rows")
        st.button("Dismiss", key=dismiss_key, on_click=lambda: st.session_state[store].pop(key, None))


def verify_case(case: dict[str, Any]) -> None:
    if action_button("Verify the case", "verify"):
        res = cases.verify_case(case["id"], actor=actor())
        st.session_state.setdefault(CASE_CHECKS, {})[case["id"]] = {
            "status": res.status, "summary": res.summary(), "problems": res.problems[1:],
            "notes": res.warnings[0 if res.status == "failed" else 1:], "rows": []}
        st.rerun()  # the header's audit count includes this verification
    kept_result(CASE_CHECKS, case["id"], "cases_verify_dismiss")


def export(case: dict[str, Any]) -> None:
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


IMAGE_STATUS = {"match": "found, matches", "changed": "other bytes", "missing": "not supplied",
                "no hash recorded": "unreadable at analysis time"}


def check_report(files: list[Any]) -> dict[str, Any]:
    """Verify an uploaded signed report (its one .json) against the images uploaded with it."""
    from synthcheck.reporting.signing import group_fingerprint, verify_report

    reports = [f for f in files if f.name.lower().endswith(".json")]
    if len(reports) != 1:
        why = "no .json file among the uploads" if not reports else f"{len(reports)} .json files"
        return {"status": "unreadable", "summary": f"Upload exactly one signed report (report.json): {why}.",
                "problems": [], "notes": [], "rows": []}
    images = [f for f in files if f is not reports[0]]
    with tempfile.TemporaryDirectory(prefix="synthcheck-verify-") as tmp:
        for i, f in enumerate(images):
            name = Path(f.name.replace("\\", "/")).name or "image"
            dest = Path(tmp) / name
            (dest.with_name(f"{i}-{name}") if dest.exists() else dest).write_bytes(f.getvalue())
        res = verify_report(reports[0].getvalue(), images_dir=tmp if images else None,
                            name=reports[0].name)
    hide = (tmp, "the uploaded images")
    notes = [n.replace(*hide) for n in res.notes]
    if res.status == "unreadable":
        return {"status": res.status, "summary": res.summary().replace(*hide),
                "problems": [], "notes": [], "rows": []}
    if res.fingerprint:
        notes.insert(0, f"Signed {res.signed_utc or '(time not recorded)'} by key "
                        f"{group_fingerprint(res.fingerprint)}.")
    rows = [{"image": r["image"], "status": IMAGE_STATUS.get(r["status"], r["status"]),
             "found as": r.get("found") or "—", "recorded SHA-256": (r.get("sha256") or "—")[:16]}
            for r in res.images]
    return {"status": res.status, "summary": f"{reports[0].name}: {res.summary().replace(*hide)}",
            "problems": [p.replace(*hide) for p in res.problems[1:]], "notes": notes, "rows": rows}


def verify_report_form() -> None:
    """Upload a signed report with its images and check it (the result stays until dismissed)."""
    if st.toggle("Verify a signed report (its JSON and, optionally, its images)",
                 key="cases_report_on"):
        files = st.file_uploader("report.json and the images it covers", accept_multiple_files=True,
                                 type=["json"] + ui_shared.UPLOAD_TYPES, key="cases_report_files")
        if action_button("Verify report", "report_verify", disabled=not files):
            st.session_state.setdefault(REPORT_CHECK, {})["last"] = check_report(files or [])
    kept_result(REPORT_CHECK, "last", "cases_report_dismiss")


def verify_and_export(case: dict[str, Any]) -> None:
    left, right = st.columns(2)
    with left:
        verify_case(case)
    with right:
        export(case)
    st.divider()
    verify_report_form()


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
tab_results, tab_one, tab_add, tab_notes, tab_audit, tab_check = st.tabs(
    ["Images and verdicts", "One image", "Add evidence", "Notes and tags", "Audit timeline",
     "Verify and export"])
with tab_results:
    analyse(case)
    results_table(case)
with tab_one:
    evidence_view(case)
with tab_add:
    add_evidence(case)
with tab_notes:
    notes_and_tags(case)
with tab_audit:
    timeline(case_id)
with tab_check:
    verify_and_export(case)
