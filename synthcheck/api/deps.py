"""Dependencies handed to handlers by type (``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ..inference import Detector
from .batcher import MicroBatcher
from .config import Settings


async def get_detector(request: Request) -> Detector:
    detector = getattr(request.app.state, "detector", None)
    if detector is None:
        raise HTTPException(503, "the model is not loaded yet.")
    return detector


async def get_batcher(request: Request) -> MicroBatcher:
    batcher = getattr(request.app.state, "batcher", None)
    if batcher is None or not batcher.running:
        raise HTTPException(503, "the model is not loaded yet.")
    return batcher


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


DetectorDep = Annotated[Detector, Depends(get_detector)]
BatcherDep = Annotated[MicroBatcher, Depends(get_batcher)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
