"""The FastAPI app: settings, lifespan-loaded Detector + micro-batcher, routers, JSON errors.

Run with ``synthcheck serve`` or ``uvicorn synthcheck.api.main:app`` (settings from
``SYNTHCHECK_API_*`` variables). The model is loaded in the lifespan, never at import.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..inference import Detector
from ..options import OptionsError
from .batcher import MicroBatcher
from .config import Settings
from .docs import install_docs
from .heavy import HeavyDecoder
from .limits import CatchAll, GuardRule, UploadGuard, error_body
from .routes import api_router

log = logging.getLogger(__name__)


def _install_error_handlers(app: FastAPI) -> None:
    """Every error is ``{"error", "status"}`` JSON; a bad option is 422, a bug 500 JSON, never HTML."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(exc.status_code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        where = ".".join(str(p) for p in errs[0].get("loc", ())) if errs else ""
        msg = f"invalid request: {errs[0].get('msg', 'bad value')} ({where})" if errs else "invalid request"
        detail = [{k: e.get(k) for k in ("loc", "msg", "type")} for e in errs]
        return JSONResponse(error_body(422, msg, detail=detail), status_code=422)

    @app.exception_handler(OptionsError)
    async def options_error(request: Request, exc: OptionsError) -> JSONResponse:
        """An analysis option out of range, wherever a route checks it: the one sentence, 422."""
        return JSONResponse(error_body(422, str(exc)), status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(500, f"internal error: {type(exc).__name__}"), status_code=500)


def create_app(settings: Settings | None = None, detector: Detector | None = None) -> FastAPI:
    """Build the app; ``detector`` (tests) skips loading ``settings.checkpoint`` at startup."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Mapping[str, object]]:
        if settings.torch_threads > 0:
            import torch

            torch.set_num_threads(settings.torch_threads)
        det = detector or Detector.from_checkpoint(settings.checkpoint, device=settings.device)
        det.checkpoint_sha256  # noqa: B018 - hash the checkpoint once, not on the first request
        batcher = MicroBatcher(det.predict_arrays, settings.batch_max_size, settings.batch_max_wait_ms)
        await batcher.start()
        app.state.detector, app.state.batcher, app.state.started = det, batcher, time.monotonic()
        heavy = HeavyDecoder(settings.heavy_decodes)  # request.state.heavy_decoder: shared
        try:
            yield {"heavy_decoder": heavy}
        finally:
            heavy.close()
            await batcher.stop()
            app.state.detector = app.state.batcher = None

    app = FastAPI(title="SynthCheck API", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # install_docs: the same pages, local assets
                  description="Is an image a real photo or AI-generated? Upload it to "
                              f"`{settings.api_prefix}/verify`.")
    app.state.settings = settings
    app.state.detector = app.state.batcher = None
    app.add_middleware(CatchAll)  # first added = innermost: wrapped by CORS and the upload guard
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["*"])
    prefix = re.escape(settings.api_prefix)
    app.add_middleware(UploadGuard, rules=(
        GuardRule(f"{prefix}/verify", batched=True),
        GuardRule(f"{prefix}/cases/[^/]+/images", limit_setting="case_upload_bytes")))
    _install_error_handlers(app)
    install_docs(app)
    app.include_router(api_router, prefix=settings.api_prefix)
    return app


app = create_app()
