"""``GET /model``: what is answering (checkpoint identity, preprocessing, metrics)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder

from ..deps import DetectorDep, SettingsDep
from ..schemas import ModelPublic

router = APIRouter(prefix="/model", tags=["model"])


@router.get("", response_model=ModelPublic, summary="Checkpoint metadata and metrics")
def get_model(detector: DetectorDep, settings: SettingsDep) -> ModelPublic:
    meta = detector.meta
    ident = detector.describe()
    return ModelPublic(
        name=ident["name"], checkpoint=ident["checkpoint"], sha256=ident["sha256"],
        input_size=detector.input_size, mean=detector.mean, std=detector.std,
        class_names=detector.class_names, temperature=detector.temperature,
        threshold=settings.threshold, cam_layer=detector.cam_layer,
        code_version=meta.get("code_version"),
        metrics=jsonable_encoder(meta.get("metrics") or {}),
        data=jsonable_encoder(meta.get("data") or {}),
        training=jsonable_encoder(meta.get("training") or {}),
        config=jsonable_encoder(meta.get("config") or {}),
    )
