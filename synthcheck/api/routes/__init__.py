"""One router per resource, gathered in ``api_router``."""

from fastapi import APIRouter

from . import cases, health, model, verify

api_router = APIRouter()
api_router.include_router(verify.router)
api_router.include_router(model.router)
api_router.include_router(health.router)
api_router.include_router(cases.router)
