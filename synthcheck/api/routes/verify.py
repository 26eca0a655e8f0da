"""``POST /verify``: one or several image uploads -> a verdict per file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from .. import service
from ..deps import BatcherDep, DetectorDep, SettingsDep
from ..limits import error_body
from ..schemas import ErrorPublic, VerifyResult

router = APIRouter(prefix="/verify", tags=["verify"])

ERRORS = {400: {"model": ErrorPublic}, 413: {"model": ErrorPublic}, 415: {"model": ErrorPublic},
          422: {"model": ErrorPublic, "description": "no upload could be read as an image"}}


@router.post("", response_model=list[VerifyResult], response_model_exclude_none=True,
             responses=ERRORS, summary="Real or AI-generated? One result per uploaded file")
async def verify(
    request: Request,
    files: Annotated[list[UploadFile], File(description="one or more image files")],
    detector: DetectorDep,
    batcher: BatcherDep,
    settings: SettingsDep,
    explain: Annotated[str | None, Query(description="add an explanation map, e.g. gradcam")] = None,
    threshold: Annotated[float | None, Query(description="p_fake at or above which the raw verdict is FAKE "
                                                         "(default: the server's threshold setting)")] = None,
    band_low: Annotated[float | None, Query(description="lower band edge (default 0.2)")] = None,
    band_high: Annotated[float | None, Query(description="upper band edge (default 0.8)")] = None,
    tiles: Annotated[bool, Query(description="also score native-resolution patches")] = False,
):
    """Each file gets the ``synthcheck predict --json`` record or ``{"path","error"}``; act on
    ``conclusion`` (``cannot_assess`` when the model cannot judge the image).

    200 when at least one file was analysed; 422 (with the per-file ``results``) when none was.
    """
    options = service.analysis_options(threshold=threshold, band_low=band_low, band_high=band_high,
                                       tiles=tiles, settings=settings)
    results = await service.verify(files=files, explain=explain, settings=settings,
                                   detector=detector, batcher=batcher, state=request.state,
                                   options=options)
    if all("error" in r for r in results):
        msg = results[0]["error"] if len(results) == 1 else "none of the uploads is a readable image."
        return JSONResponse(error_body(422, msg, results=results), status_code=422)
    # the records are plain JSON already (built by synthcheck.analysis, like the CLI's);
    # returning them directly skips re-validating each one against the documented schema
    return JSONResponse(results)
