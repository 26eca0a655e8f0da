"""Analyse a case's images and record the control run, each result pinned in the audit log.

Every analysis row keeps what is needed to reproduce it: model name and SHA-256, code version,
parameters (threshold, band edges, tiles), seed and the result record of
:func:`synthcheck.analysis.iter_analyze` (the very JSON ``synthcheck predict --json`` prints).
Before the images, the case records a control run (:mod:`synthcheck.evaluation.selfcheck`): the latest
saved run is reused when it is from today with the same model, otherwise a new one is made.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..bands import DEFAULT_EDGES
from ..version import code_version
from . import audit
from .anchors import anchoring
from .service import CaseError, Progress, case_row, latest_analyses, ref
from .store import BlobStore, opened, transaction

BATCH = 64  # images per model call (and per write transaction)


def model_identity(detector: Any) -> dict[str, Any]:
    """Name and SHA-256 of the model: :meth:`synthcheck.inference.base.BaseDetector.describe`."""
    return detector.describe()


# -- control run --------------------------------------------------------------------------
def _selfcheck_result(detector: Any, model_sha: str | None, home: Path | None) -> tuple[dict[str, Any], bool]:
    """(control run result, reused?): today's saved run for this model, else a fresh one."""
    from ..evaluation.selfcheck import latest_selfcheck, run_selfcheck

    latest = latest_selfcheck(home)
    today = audit.now_utc()[:10]
    if (latest and model_sha and latest.get("model_sha256") == model_sha
            and str(latest.get("when_utc", ""))[:10] == today):
        return latest, True
    try:
        return run_selfcheck(detector, home=home), False
    except Exception as exc:  # a failed control run is recorded, never fatal to the analysis
        return {"ok": False, "problems": [f"control run failed: {type(exc).__name__}: {exc}"],
                "when_utc": audit.now_utc()}, False


def record_control_run(case_id: str, detector: Any, *, actor: str | None = None,
                       home: Path | None = None) -> dict[str, Any]:
    """Run (or reuse today's) control run, store it with the case and log it."""
    ident = model_identity(detector)
    result, reused = _selfcheck_result(detector, getattr(detector, "checkpoint_sha256", None), home)
    ok = result.get("ok")
    with opened(home) as conn, transaction(conn):
        case_row(conn, case_id)
        cur = conn.execute("INSERT INTO control_runs(case_id, created_utc, model_sha256, ok, result) "
                           "VALUES (?, ?, ?, ?, ?)",
                           (case_id, audit.now_utc(), result.get("model_sha256") or ident["sha256"],
                            None if ok is None else int(bool(ok)), audit.canonical(result)))
        run_id = int(cur.lastrowid)
        audit.append(conn, case_id, "control_run", {
            "control_run_id": run_id, "ok": ok, "reused": reused, "when_utc": result.get("when_utc"),
            "accuracy": result.get("accuracy"), "n_images": result.get("n_images"),
            "model_sha256": result.get("model_sha256"), "problems": result.get("problems", []),
            "refs": [ref(conn, "control_runs", run_id)]}, actor)
    return {"id": run_id, "reused": reused, **{k: v for k, v in result.items() if k != "details"}}


# -- analysis -----------------------------------------------------------------------------
def analyze_case(case_id: str, detector: Any, *, edges: Sequence[float] = DEFAULT_EDGES,
                 threshold: float | None = None, tiles: bool = False, seed: int = 0,
                 only_new: bool = False, control: bool = True, actor: str | None = None,
                 home: Path | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Score every image of the case (``only_new``: those never analysed) and store each result.

    Each stored record is :meth:`synthcheck.analysis.Analysis.to_record`, the very JSON
    ``synthcheck predict --json`` prints at the same options. The log gets an
    ``analysis_start`` entry before the first image and an ``analysis_run`` entry after the
    last, so an interrupted run shows as a start without its end. Returns a summary with the
    per-image records and counts by conclusion.
    """
    from ..analysis import AnalysisOptions, OptionsError, iter_analyze, summarize

    try:
        opts = AnalysisOptions(threshold=threshold, band_edges=tuple(edges), tiles=tiles,
                               seed=seed).resolved()
    except OptionsError as exc:
        raise CaseError(str(exc)) from exc
    actor = actor or audit.default_actor()
    control_run = record_control_run(case_id, detector, actor=actor, home=home) if control else None
    ident, version = model_identity(detector), code_version()
    params = {"threshold": opts.threshold, "band_edges": list(opts.band_edges), "tiles": bool(tiles),
              "input_size": int(detector.input_size),
              "temperature": round(float(getattr(detector, "temperature", 1.0)), 6)}
    run_id = uuid.uuid4().hex[:12]
    blobs = BlobStore(home)
    with anchoring(case_id, "analysis", actor=actor, home=home), opened(home) as conn:
        case_row(conn, case_id)
        done_ids = set(latest_analyses(conn, case_id)) if only_new else set()
        todo = [r for r in conn.execute(
            "SELECT i.id, i.sha256, (SELECT name FROM image_names n WHERE n.image_id = i.id "
            "ORDER BY n.id LIMIT 1) AS name FROM images i WHERE i.case_id = ? ORDER BY i.id",
            (case_id,)) if r["id"] not in done_ids]
        with transaction(conn):
            audit.append(conn, case_id, "analysis_start", {
                "run_id": run_id, "n_images": len(todo), "model": ident, "code_version": version,
                "params": params, "seed": opts.seed}, actor)
        records: list[dict[str, Any]] = []
        problems: list[str] = []
        for start in range(0, len(todo), BATCH):
            batch = todo[start:start + BATCH]
            names = [r["name"] or r["sha256"] for r in batch]
            analyses = iter_analyze([blobs.path_for(r["sha256"]) for r in batch], detector, opts,
                                    names=names, batch_size=BATCH, keep_images=False)
            with transaction(conn):
                for row, a in zip(batch, analyses, strict=True):
                    rec = a.to_record()
                    if a.error is not None or rec.get("sha256") != row["sha256"]:
                        why = a.error or "the stored image no longer matches its SHA-256"
                        problems.append(f"{row['name']}: {why}")
                        records.append({"path": row["name"], "error": why})
                        continue
                    cur = conn.execute(
                        "INSERT INTO analyses(case_id, image_id, run_id, created_utc, model_name, "
                        "model_sha256, code_version, params, seed, record) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (case_id, row["id"], run_id, audit.now_utc(), ident["name"], ident["sha256"],
                         version, audit.canonical(params), opts.seed, audit.canonical(rec)))
                    aid = int(cur.lastrowid)
                    audit.append(conn, case_id, "analysis", {
                        "analysis_id": aid, "run_id": run_id, "image_sha256": row["sha256"],
                        "name": row["name"], "conclusion": rec["conclusion"], "verdict": rec["verdict"],
                        "p_fake": rec["p_fake"], "band": rec["band"],
                        "refs": [ref(conn, "analyses", aid)]}, actor)
                    records.append(rec)
            if progress:
                progress(min(start + BATCH, len(todo)), len(todo))
        counts = summarize(records)
        summary = {
            "case_id": case_id, "run_id": run_id, "model": ident, "code_version": version,
            "params": params, "seed": opts.seed, "n_images": len(todo),
            **{k: v for k, v in counts.items() if k != "n_images"},
            "control_run": None if control_run is None else {
                k: control_run.get(k) for k in ("id", "ok", "reused", "when_utc", "accuracy",
                                                "n_images", "problems")}}
        with transaction(conn):
            audit.append(conn, case_id, "analysis_run", {**summary, "problems": problems[:200]}, actor)
    return {**summary, "problems": problems, "records": records}
