"""``case export``: the signed case report (JSON + HTML + PDF) over a case's stored images.

The report is :func:`synthcheck.reporting.build.build_report` over the images as stored (their
original names as labels) and the files the case refused at intake (with their reasons), with a
``case`` section (id, title, notes, tags, the audit head it was built at, the intake counts, the
case's latest control run) added before :func:`synthcheck.reporting.bundle.write_report_bundle`
signs it. The export is then logged with the SHA-256 of the signed JSON, which ties the report
and the log to each other: the report names the log's head, the log names the report.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ..bands import DEFAULT_EDGES
from ..fsio import file_sha256
from . import audit
from .analysis import code_version, model_identity
from .anchors import anchor_head, latest_anchor
from .service import CaseError, Progress, case_row, get_case
from .store import BlobStore, opened, transaction

DEFAULT_METHODS = ("gradcam",)


def export_dir(case_id: str, home: Path | None = None) -> Path:
    """A fresh folder for one export under ``<home>/exports/<case>/`` (for the API and dashboard)."""
    from ..home import synthcheck_home

    root = (Path(home) if home is not None else synthcheck_home()) / "exports" / re.sub(
        r"[^A-Za-z0-9._-]", "_", case_id)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Path(tempfile.mkdtemp(prefix="export-", dir=root))


def _control_run_full(case_id: str, home: Path | None) -> dict[str, Any] | None:
    """The case's latest control run as the selfcheck saved it (per-image rows included)."""
    with opened(home) as conn:
        row = conn.execute("SELECT result FROM control_runs WHERE case_id = ? ORDER BY id DESC LIMIT 1",
                           (case_id,)).fetchone()
    return json.loads(row["result"]) if row is not None else None


def _latest_params(case_id: str, home: Path | None) -> dict[str, Any]:
    """The parameters (threshold, band edges, ...) of the case's latest stored analysis, or {}."""
    with opened(home) as conn:
        row = conn.execute("SELECT params FROM analyses WHERE case_id = ? ORDER BY id DESC LIMIT 1",
                           (case_id,)).fetchone()
    return json.loads(row["params"]) if row is not None else {}


def _hidden_skipped(case_id: str, home: Path | None) -> int:
    """Hidden files (``.DS_Store``, ``__MACOSX/`` ...) the case's intakes skipped, from the log."""
    total = 0
    with opened(home) as conn:
        for row in conn.execute("SELECT details FROM audit WHERE case_id = ? AND action = 'intake'",
                                (case_id,)):
            try:
                total += int(json.loads(row["details"]).get("hidden_skipped") or 0)
            except (ValueError, TypeError, AttributeError):
                continue  # (an altered entry: verify reports it)
    return total


def intake_counts(case: dict[str, Any], home: Path | None = None) -> dict[str, int]:
    """Every file offered to the case: taken (by name; duplicates included), refused, hidden."""
    n_names = sum(len(im["names"]) for im in case["images"])
    return {"n_offered": n_names + len(case["refused"]), "n_taken": n_names,
            "n_images": case["n_images"], "n_duplicates": n_names - case["n_images"],
            "n_refused": len(case["refused"]), "hidden_skipped": _hidden_skipped(case["id"], home)}


def case_section(case: dict[str, Any], home: Path | None = None) -> dict[str, Any]:
    """What the report says about the case (no per-image analysis rows: those are the report's)."""
    return {"id": case["id"], "title": case["title"], "created_utc": case["created_utc"],
            "created_by": case["created_by"], "tags": case["tags"],
            "notes": [{k: n[k] for k in ("created_utc", "actor", "text")} for n in case["notes"]],
            "audit_head": case["audit_head"], "audit_anchor": latest_anchor(case["id"], home),
            "control_run": case["control_run"], "intake": intake_counts(case, home),
            "n_images": case["n_images"], "code_version": code_version(),
            "images": [{"sha256": im["sha256"], "names": [n["name"] for n in im["names"]],
                        "sources": sorted({n["source"] for n in im["names"]}), "tags": im["tags"],
                        "notes": [n["text"] for n in im["notes"]],
                        "analysis_id": im["analysis"]["id"] if im["analysis"] else None}
                       for im in case["images"]]}


def _safe_relpath(name: str) -> PurePosixPath:
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".", "..", "/")]
    return PurePosixPath(*parts) if parts else PurePosixPath("image")


def copy_images(case: dict[str, Any], blobs: BlobStore, folder: Path) -> int:
    """Copy the stored images into ``folder`` under their original names (for report verify)."""
    n = 0
    for im in case["images"]:
        rel = _safe_relpath(im["name"])
        dest = folder / rel
        if dest.exists():
            dest = dest.with_name(f"{dest.stem}-{im['sha256'][:8]}{dest.suffix}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(blobs.path_for(im["sha256"]), dest)
        n += 1
    return n


def export_case(case_id: str, out_dir: str | Path, detector: Any, *, seed: int = 0,
                methods: Sequence[str] = DEFAULT_METHODS, name: str = "report",
                with_images: bool = False, title: str | None = None, actor: str | None = None,
                home: Path | None = None, progress: Progress | None = None,
                threshold: float | None = None, band_edges: Sequence[float] | None = None) -> dict[str, Any]:
    """Build, sign and write the case report into ``out_dir``; log the export.

    ``threshold`` and ``band_edges`` default to those of the case's latest analysis (else the
    checkpoint's), so the report concludes what the case's own analysis did. Images are read
    from the store one at a time, so memory does not grow with the size of the case.
    """
    from ..reporting.build import build_report
    from ..reporting.bundle import write_report_bundle

    case = get_case(case_id, home=home)
    if not case["images"]:
        raise CaseError(f"case {case_id} has no images to report on; add some first.")
    out = Path(out_dir).expanduser()
    blobs = BlobStore(home)
    n = len(case["images"])
    sources = ((im["name"], blobs.read(im["sha256"])) for im in case["images"])
    last = _latest_params(case_id, home)
    if threshold is None:
        threshold = last.get("threshold")
    if band_edges is None:
        band_edges = last.get("band_edges") or DEFAULT_EDGES
    if progress:
        progress(0, n)
    report = build_report(sources, detector, seed=seed, methods=list(methods),
                          title=title or f"SynthCheck case {case['id']}: {case['title']}",
                          control_run=_control_run_full(case_id, home), threshold=threshold,
                          band_edges=band_edges, progress=(lambda k: progress(k, n)) if progress else None,
                          refused=case["refused"])
    report["case"] = case_section(case, home)
    paths = write_report_bundle(report, out, name=name, home=home)
    n_copied = copy_images(case, blobs, out / "images") if with_images else 0
    files = {kind: {"path": str(p), "sha256": file_sha256(p)}
             for kind, p in paths.items()}
    signed_json = json.loads(Path(paths["json"]).read_text(encoding="utf-8"))
    fingerprint = (signed_json.get("signature") or {}).get("fingerprint")
    details = {"out_dir": str(out.resolve()), "files": files, "signed": True,
               "fingerprint": fingerprint, "results_digest": report.get("results_digest"),
               "audit_head_in_report": case["audit_head"], "n_images": n,
               "n_refused": len(case["refused"]),
               "images_copied": n_copied, "seed": int(seed), "methods": list(methods),
               "model": model_identity(detector)}
    with opened(home) as conn, transaction(conn):
        case_row(conn, case_id)
        entry = audit.append(conn, case_id, "export", details, actor)
    anchor_head(case_id, "export", actor=actor, home=home)
    return {**details, "audit_seq": entry.seq,
            "summary": report.get("summary", {}), "paths": {k: str(v) for k, v in paths.items()}}
