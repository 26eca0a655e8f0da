"""``GET /health``: liveness plus batcher counters."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from ... import __version__
from ..deps import BatcherDep, DetectorDep
from ..schemas import HealthPublic

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", response_model=HealthPublic, summary="Is the service up, and how busy is it")
def health(request: Request, detector: DetectorDep, batcher: BatcherDep) -> HealthPublic:
    return HealthPublic(status="ok", version=__version__, model=detector.model_name,
                        uptime_s=round(time.monotonic() - request.app.state.started, 3),
                        batcher=batcher.stats.to_dict())
