"""Analyse a case's images and record the control run, each result pinned in the audit log.

Every analysis row keeps what is needed to reproduce it: model name and SHA-256, code version,
parameters (threshold, band edges, tiles), seed and the result record of
:func:`synthcheck.results.records_for` (the very JSON ``synthcheck predict --json`` prints).
Before the images, the case records a control run (:mod:`synthcheck.selfcheck`): the latest
saved run is reused when it is from today with the same model, otherwise a new one is made.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..bands import DEFAULT_EDGES, decide, validate_edges
from . import audit
from .service import Progress, case_row, latest_analyses, ref
from .store import BlobStore, opened, transaction

BATCH = 64  # images per model call (and per write transaction)
REPO_DIR = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """``synthcheck.__version__`` plus ``git describe`` of the source tree when it is a checkout."""
    try:
        out = subprocess.run(["git", "-C", str(REPO_DIR), "describe", "--always", "--dirty", "--tags"],
                             capture_output=True, text=True, timeout=5, check=False)
        described = out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        described = ""
    return f"{__version__}+git.{described}" if described else __version__


def model_identity(detector: Any) -> dict[str, Any]:
    """Name and SHA-256 of the model: of the checkpoint file, else of the weights in memory."""
    sha, of = getattr(detector, "checkpoint_sha256", None), "checkpoint"
    if not sha and getattr(detector, "model", None) is not None:
        h = hashlib.sha256()
        for key, tensor in sorted(detector.model.state_dict().items()):
            h.update(key.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        sha, of = h.hexdigest(), "weights"
    path = getattr(detector, "path", None)
    return {"name": detector.model_name, "checkpoint": Path(path).name if path else None,
            "sha256": sha, "sha256_of": of if sha else None}


# -- control run --------------------------------------------------------------------------
def _selfcheck_result(detector: Any, model_sha: str | None, home: Path | None) -> tuple[dict[str, Any], bool]:
    """(control run result, reused?): today's saved run for this model, else a fresh one."""
    try:
        from ..selfcheck import latest_selfcheck, run_selfcheck
    except ImportError as exc:
        return {"ok": None, "problems": [f"control run unavailable ({exc})"],
                "when_utc": audit.now_utc()}, False
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

    ``threshold`` (default: the detector's) decides the verdict from p_fake, as
    ``synthcheck predict --threshold`` does. Returns a summary with the per-image records.
    """
    from ..results import records_for

    edges = validate_edges(edges)
    threshold = float(detector.threshold if threshold is None else threshold)
    actor = actor or audit.default_actor()
    control_run = record_control_run(case_id, detector, actor=actor, home=home) if control else None
    ident, version = model_identity(detector), code_version()
    params = {"threshold": threshold, "band_edges": list(edges), "tiles": bool(tiles),
              "input_size": int(detector.input_size),
              "temperature": round(float(getattr(detector, "temperature", 1.0)), 6)}
    run_id = uuid.uuid4().hex[:12]
    blobs = BlobStore(home)
    with opened(home) as conn:
        case_row(conn, case_id)
        done_ids = set(latest_analyses(conn, case_id)) if only_new else set()
        todo = [r for r in conn.execute(
            "SELECT i.id, i.sha256, (SELECT name FROM image_names n WHERE n.image_id = i.id "
            "ORDER BY n.id LIMIT 1) AS name FROM images i WHERE i.case_id = ? ORDER BY i.id",
            (case_id,)) if r["id"] not in done_ids]
        records: list[dict[str, Any]] = []
        problems: list[str] = []
        for start in range(0, len(todo), BATCH):
            batch = todo[start:start + BATCH]
            recs = records_for(detector, [blobs.path_for(r["sha256"]) for r in batch],
                               [r["name"] or r["sha256"] for r in batch], edges=edges, tiles=tiles)
            with transaction(conn):
                for row, rec in zip(batch, recs, strict=True):
                    if "error" in rec or rec.get("sha256") != row["sha256"]:
                        why = rec.get("error") or "the stored image no longer matches its SHA-256"
                        problems.append(f"{row['name']}: {why}")
                        records.append({"path": row["name"], "error": why})
                        continue
                    rec["verdict"] = decide(rec["p_fake"], threshold)
                    cur = conn.execute(
                        "INSERT INTO analyses(case_id, image_id, run_id, created_utc, model_name, "
                        "model_sha256, code_version, params, seed, record) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (case_id, row["id"], run_id, audit.now_utc(), ident["name"], ident["sha256"],
                         version, audit.canonical(params), int(seed), audit.canonical(rec)))
                    aid = int(cur.lastrowid)
                    audit.append(conn, case_id, "analysis", {
                        "analysis_id": aid, "run_id": run_id, "image_sha256": row["sha256"],
                        "name": row["name"], "verdict": rec["verdict"], "p_fake": rec["p_fake"],
                        "band": rec.get("band"), "refs": [ref(conn, "analyses", aid)]}, actor)
                    records.append(rec)
            if progress:
                progress(min(start + BATCH, len(todo)), len(todo))
        summary = {
            "case_id": case_id, "run_id": run_id, "model": ident, "code_version": version,
            "params": params, "seed": int(seed), "n_images": len(todo),
            "n_analysed": sum("error" not in r for r in records),
            "n_fake": sum(r.get("verdict") == "FAKE" for r in records),
            "n_errors": sum("error" in r for r in records),
            "control_run": None if control_run is None else {
                k: control_run.get(k) for k in ("id", "ok", "reused", "when_utc", "accuracy",
                                                "n_images", "problems")}}
        with transaction(conn):
            audit.append(conn, case_id, "analysis_run", {**summary, "problems": problems[:200]}, actor)
    return {**summary, "problems": problems, "records": records}

