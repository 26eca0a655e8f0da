"""The Cases page's workflow, free of Streamlit: what to show and say about a case, its images
and its checks, built from :mod:`synthcheck.cases` and :mod:`synthcheck.reporting`.

Every row here has labels a person reads (never record keys) and no empty value shows as
"None". Unit-tested without Streamlit (``tests/test_dashboard_workflow.py``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..analysis import AnalysisOptions, conclusion_label
from ..bands import band_label

COMPARED = {"conclusion": "conclusion", "verdict": "raw call", "p_fake": "model score",
            "band": "band"}  # what a re-analysis must repeat, in words
NONE = "—"
IMAGE_STATUS = {"match": "found, matches", "changed": "other bytes", "missing": "not supplied",
                "no hash recorded": "unreadable at analysis time"}
CONTROL_RUN = {True: "passed", False: "FAILED", None: "unavailable"}


def _entry_value(key: str, value: Any) -> str:
    if key == "conclusion":
        return conclusion_label(value)
    if key == "p_fake" and isinstance(value, (int, float)):
        return f"{value:.3f}"
    if key == "ok":
        return {True: "passed", False: "failed"}.get(value, "unavailable")
    return str(value)


ENTRY_WORDS = {"title": "title", "name": "file", "text": "note", "tag": "tag",
               "conclusion": "conclusion", "verdict": "raw call", "p_fake": "model score",
               "ok": "result", "n_added": "images added", "n_rejected": "files refused",
               "reason": "reason", "n_analysed": "images analysed", "out_dir": "written to"}


def entry_summary(details: dict[str, Any]) -> str:
    """An audit entry's details in words (``"file: a.png; conclusion: Likely real"``)."""
    return "; ".join(f"{word}: {_entry_value(key, details[key])}"
                     for key, word in ENTRY_WORDS.items() if details.get(key) is not None)


def parse_tags(text: str) -> list[str]:
    """Comma-separated tags, trimmed, empty ones dropped."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def stored_options(params: dict[str, Any], default_edges: tuple[float, float]) -> AnalysisOptions:
    """The options a stored analysis ran with (threshold, band edges, tiles)."""
    return AnalysisOptions(threshold=params.get("threshold"),
                           band_edges=tuple(params.get("band_edges") or default_edges),
                           tiles=bool(params.get("tiles")))


def differences(live: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """What a live re-analysis does not repeat of the stored record, in words."""
    return [word for key, word in COMPARED.items() if live.get(key) != stored.get(key)]


def result_rows(case: dict[str, Any]) -> list[dict[str, Any]]:
    """One labelled row per image of the case: its stored conclusion, score and facts."""
    rows = []
    for im in case["images"]:
        a = im["analysis"]
        rec = a["record"] if a else {}
        rows.append({
            "File": im["name"],
            "Conclusion": conclusion_label(rec.get("conclusion")) if a else "Not analysed",
            "Model score": rec.get("p_fake"),
            "Raw call": rec.get("verdict") or NONE,
            "Band": band_label(rec["band"]) if rec.get("band") else NONE,
            "SHA-256": im["sha256"], "Tags": ", ".join(im["tags"]) or NONE,
            "Format": im["format"] or NONE, "Size (px)": f"{im['width']} × {im['height']}",
            "Analysed (UTC)": a["created_utc"][:19] if a else "not yet",
            "Model (SHA-256)": (a["model_sha256"] or "")[:16] or NONE if a else NONE})
    return rows


def refused_rows(case: dict[str, Any]) -> list[dict[str, Any]]:
    """One labelled row per file the case refused at intake, with its reason."""
    return [{"File": r["name"], "Why it was refused": r["reason"], "Offered as": r["source"],
             "Size (bytes)": r["bytes"] if r["bytes"] is not None else NONE,
             "SHA-256": r["sha256"] or NONE, "Refused (UTC)": (r["refused_utc"] or "")[:19] or NONE}
            for r in case["refused"]]


def timeline_rows(entries: Sequence[Any]) -> list[dict[str, Any]]:
    """The audit log, newest first, in words."""
    return [{"#": e.seq, "Time (UTC)": e.ts[:19], "Who": e.actor, "Action": e.action.replace("_", " "),
             "Details": entry_summary(e.details) or NONE, "Hash": e.hash[:16]}
            for e in reversed(entries)]


def header_facts(case: dict[str, Any]) -> list[tuple[str, Any, str | None]]:
    """(label, value, help) of the figures above a case."""
    cr = case["control_run"]
    return [("Images", case["n_images"], None), ("Analysed", case["n_analysed"], None),
            ("Refused", case["n_refused"], "Files offered but refused at intake (listed with "
                                           "their reasons in Add evidence)."),
            ("Audit entries", case["audit_head"]["seq"], None),
            ("Control run", "none yet" if cr is None else CONTROL_RUN[cr["ok"]], None)]


def intake_messages(report: Any, limit: int = 20) -> list[tuple[str, str]]:
    """(kind, text) messages after an intake: one summary, then each refusal (at most ``limit``)."""
    out = [("success", f"Added {len(report.added)} image(s); {len(report.duplicates)} duplicate(s) "
                       f"of images already in the case; {len(report.rejected)} refused.")]
    out += [("error", f"Refused {r['name']}: {r['reason']}") for r in report.rejected[:limit]]
    if len(report.rejected) > limit:
        out.append(("error", f"... and {len(report.rejected) - limit} more refused (listed below)."))
    return out


def check_report(report_name: str, report_bytes: bytes, images: Sequence[tuple[str, bytes]]
                 ) -> dict[str, Any]:
    """Verify a signed report (its JSON) against the images uploaded with it: a kept result
    (``status``, ``summary``, ``problems``, ``notes``, labelled ``rows``)."""
    from ..reporting.signing import group_fingerprint, verify_report

    with tempfile.TemporaryDirectory(prefix="synthcheck-verify-") as tmp:
        for i, (name, data) in enumerate(images):
            base = Path(name.replace("\\", "/")).name or "image"
            dest = Path(tmp) / base
            (dest.with_name(f"{i}-{base}") if dest.exists() else dest).write_bytes(data)
        res = verify_report(report_bytes, images_dir=tmp if images else None, name=report_name)
    hide = (tmp, "the uploaded images")
    notes = [n.replace(*hide) for n in res.notes]
    if res.status == "unreadable":
        return {"status": res.status, "summary": res.summary().replace(*hide),
                "problems": [], "notes": [], "rows": []}
    if res.fingerprint:
        notes.insert(0, f"Signed {res.signed_utc or '(time not recorded)'} by key "
                        f"{group_fingerprint(res.fingerprint)}.")
    rows = [{"Image": r["image"], "Status": IMAGE_STATUS.get(r["status"], r["status"]),
             "Found as": r.get("found") or NONE, "Recorded SHA-256": (r.get("sha256") or NONE)[:16]}
            for r in res.images]
    return {"status": res.status, "summary": f"{report_name}: {res.summary().replace(*hide)}",
            "problems": [p.replace(*hide) for p in res.problems[1:]], "notes": notes, "rows": rows}


def check_uploads(files: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
    """:func:`check_report` of an upload: exactly one ``.json`` (the report) plus its images."""
    reports = [f for f in files if f[0].lower().endswith(".json")]
    if len(reports) != 1:
        why = "no .json file among the uploads" if not reports else f"{len(reports)} .json files"
        return {"status": "unreadable", "summary": f"Upload exactly one signed report (report.json): {why}.",
                "problems": [], "notes": [], "rows": []}
    return check_report(reports[0][0], reports[0][1], [f for f in files if f is not reports[0]])


def case_check(res: Any) -> dict[str, Any]:
    """A case verification (:func:`synthcheck.cases.verify_case`) as a kept result."""
    return {"status": res.status, "summary": res.summary(), "problems": res.problems[1:],
            "notes": res.warnings[0 if res.status == "failed" else 1:], "rows": []}


def export_inputs(case: dict[str, Any]) -> list[Any]:
    """What a case's signed report is made from: its images and their latest analyses, tags,
    notes and refusals (another image, analysis, note or tag makes an older report stale; a
    verification, which changes none of them, does not)."""
    return [case["id"], [(im["sha256"], (im["analysis"] or {}).get("id"), im["tags"])
                         for im in case["images"]],
            case["tags"], len(case["notes"]), case["n_refused"]]
