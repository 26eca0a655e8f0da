"""``/cases``: cases with a tamper-evident audit log, over :mod:`synthcheck.cases`.

    GET  /cases                    list            POST /cases               create (JSON body)
    GET  /cases/{id}               the case        POST /cases/{id}/images   upload images / ZIPs
    POST /cases/{id}/analyze       analyse all     POST /cases/{id}/verify   check the log
    POST /cases/{id}/export        signed report   GET  /cases/{id}/audit    the audit log
    POST /cases/{id}/notes         add a note      POST /cases/{id}/tags     add/remove tags

Storage is ``$SYNTHCHECK_HOME``; the actor logged is the ``X-SynthCheck-Actor`` header or
``api``. Long work (intake, analysis, export, verify) runs in the thread pool. Errors are the
API's usual ``{"error", "status"}``: 404 unknown case, 400 bad input, 413 upload too large.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, File, Header, HTTPException, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ... import cases
from ...home import synthcheck_home
from ...options import check_seed
from ..deps import DetectorDep

router = APIRouter(prefix="/cases", tags=["cases"])
T = TypeVar("T")
ERRORS: dict[int | str, dict[str, Any]] = {400: {"description": "bad input"},
                                           404: {"description": "no such case"}}

ActorHeader = Annotated[str | None, Header(alias="X-SynthCheck-Actor", max_length=200,
                                           description="who is acting (logged); default 'api'")]


class CaseCreate(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    notes: str = ""
    tags: list[str] = Field(default_factory=list)
    id: str | None = Field(None, description="choose the case id (default YYYYMMDD-xxxx)")


class NoteCreate(BaseModel):
    text: str = Field(min_length=1)
    image: str | None = Field(None, description="SHA-256 prefix or original name of an image")


class TagChange(BaseModel):
    tags: list[str] = Field(min_length=1)
    image: str | None = None
    remove: bool = False


def _actor(header: str | None) -> str:
    return (header or "").strip() or "api"


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a case operation in the thread pool; its user errors become 400/404."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except cases.CaseNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except cases.CaseError as exc:
        raise HTTPException(400, str(exc)) from exc


@router.get("", summary="List the cases")
async def list_all() -> list[dict[str, Any]]:
    return await _call(cases.list_cases, home=synthcheck_home())


@router.post("", status_code=201, responses=ERRORS, summary="Create a case")
async def create(body: CaseCreate, actor: ActorHeader = None) -> dict[str, Any]:
    return await _call(cases.create_case, body.title, notes=body.notes, tags=body.tags,
                       case_id=body.id, actor=_actor(actor), home=synthcheck_home())


@router.get("/{case_id}", responses=ERRORS, summary="A case with its images and latest verdicts")
async def get(case_id: str) -> dict[str, Any]:
    return await _call(cases.get_case, case_id, home=synthcheck_home())


@router.get("/{case_id}/audit", responses=ERRORS, summary="The case's audit log, as stored")
async def audit_log(case_id: str) -> list[dict[str, Any]]:
    entries = await _call(cases.audit_entries, case_id, home=synthcheck_home())
    return [e.to_dict() for e in entries]


async def _read_uploads(files: list[UploadFile]) -> list[tuple[str, bytes]]:
    """(name, bytes) per part; the body size limit (``case_upload_mb``) is enforced by the
    UploadGuard middleware while the request streams in, before it is parsed."""
    return [(f.filename or f"upload-{i + 1}", await f.read()) for i, f in enumerate(files)]


@router.post("/{case_id}/images", responses={**ERRORS, 413: {"description": "upload too large"}},
             summary="Add images (and ZIP archives of images) to a case")
async def add_images(case_id: str,
                     files: Annotated[list[UploadFile], File(description="images and/or .zip files")],
                     actor: ActorHeader = None) -> dict[str, Any]:
    """Per upload: added, duplicate (same bytes already in the case) or rejected with the reason."""
    home = synthcheck_home()
    await _call(cases.get_case, case_id, home=home)  # 404 before reading a large body
    uploads = await _read_uploads(files)
    report = await _call(cases.add_images, case_id, uploads, actor=_actor(actor), home=home)
    return report.to_dict()


@router.post("/{case_id}/analyze", responses=ERRORS, summary="Analyse every image of the case")
async def analyze(case_id: str, detector: DetectorDep, actor: ActorHeader = None,
                  only_new: bool = False, tiles: bool = False, seed: int = 0,
                  control: Annotated[bool, Query(description="record a control run first")] = True,
                  band_low: Annotated[float, Query(ge=0, le=1)] = 0.2,
                  band_high: Annotated[float, Query(ge=0, le=1)] = 0.8) -> dict[str, Any]:
    """The run's summary and one ``predict --json`` record per image (stored with the case)."""
    if band_low > band_high:
        raise HTTPException(400, "band_low must not be above band_high.")
    return await _call(cases.analyze_case, case_id, detector, edges=(band_low, band_high),
                       tiles=tiles, seed=seed, only_new=only_new, control=control,
                       actor=_actor(actor), home=synthcheck_home())


@router.post("/{case_id}/verify", responses=ERRORS, summary="Check the audit log and the evidence")
async def verify(case_id: str, actor: ActorHeader = None,
                 record: Annotated[bool, Query(description="log this verification")] = True
                 ) -> dict[str, Any]:
    """``status`` is verified or failed (docs/verification.md); a failure names the first broken
    entry and lists the problems (HTTP 200 either way)."""
    result = await _call(cases.verify_case, case_id, record=record, actor=_actor(actor),
                         home=synthcheck_home())
    return result.to_dict()


@router.post("/{case_id}/notes", status_code=201, responses=ERRORS, summary="Add a note")
async def note(case_id: str, body: NoteCreate, actor: ActorHeader = None) -> dict[str, Any]:
    return await _call(cases.add_note, case_id, body.text, image=body.image, actor=_actor(actor),
                       home=synthcheck_home())


@router.post("/{case_id}/tags", responses=ERRORS, summary="Add or remove tags")
async def tags(case_id: str, body: TagChange, actor: ActorHeader = None) -> dict[str, Any]:
    now = await _call(cases.tag, case_id, body.tags, image=body.image, remove=body.remove,
                      actor=_actor(actor), home=synthcheck_home())
    return {"tags": now}


def _zip_of(paths: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in paths.values():
            zf.write(p, arcname=Path(p).name)
    return buf.getvalue()


@router.post("/{case_id}/export", responses={**ERRORS, 200: {"content": {
    "application/json": {}, "application/zip": {}}}}, summary="Signed case report")
async def export(case_id: str, detector: DetectorDep, actor: ActorHeader = None,
                 format: Annotated[Literal["json", "zip"], Query(
                     description="json: the signed report; zip: signed JSON + HTML + PDF")] = "json",
                 methods: Annotated[list[str] | None, Query(description="explanation methods")] = None,
                 seed: int = 0) -> Response:
    """Build, sign and log the report; answers the signed JSON (exact file bytes) or a ZIP."""
    seed = check_seed(seed)  # 422 before any work (the app's OptionsError handler)
    home = synthcheck_home()
    await _call(cases.get_case, case_id, home=home)
    allowed = {"gradcam", "guided_gradcam", "gradient_shap", "kernel_shap", "lime"}
    chosen = [m for m in (methods or ["gradcam"]) if m != "none"]
    if bad := [m for m in chosen if m not in allowed]:
        raise HTTPException(400, f"unknown explanation method(s) {bad}; choose from {sorted(allowed)}.")
    result = await _call(cases.export_case, case_id, cases.export_dir(case_id, home), detector, seed=seed,
                         methods=chosen, actor=_actor(actor), home=home)
    headers = {"X-SynthCheck-Audit-Seq": str(result["audit_seq"]),
               "X-SynthCheck-Report-SHA256": result["files"]["json"]["sha256"]}
    if format == "zip":
        data = await run_in_threadpool(_zip_of, result["paths"])
        headers["Content-Disposition"] = f'attachment; filename="case-{case_id}-report.zip"'
        return Response(data, media_type="application/zip", headers=headers)
    body = Path(result["paths"]["json"]).read_bytes()
    return Response(body, media_type="application/json", headers=headers)

