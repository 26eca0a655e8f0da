"""Upload guard: a pure ASGI middleware in front of the upload routes.

Before a byte of the body is parsed it answers 415 for a body that is not multipart and 413
for a declared ``Content-Length`` over the limit; while the body streams in it counts bytes
and stops a chunked upload with 413 as soon as it passes the limit. It also tells the
micro-batcher how many uploads are on their way (``batcher.arriving``).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PENDING_KEY = "synthcheck_pending"
log = logging.getLogger(__name__)


def error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON body of every API error: ``{"error": message, "status": code, ...}``."""
    return {"error": message, "status": status, **extra}


async def _reply(send: Send, status: int, message: str, close: bool = True) -> None:
    body = json.dumps(error_body(status, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # the request body was not read: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class CatchAll:
    """Innermost safety net: an unexpected error in a route answers a JSON 500, logged once.

    Starlette's own 500 handler re-raises after replying, so the server logs a traceback and
    closes the connection; here the error ends with the response and the keep-alive connection
    stays usable. An error after the response started is re-raised (nothing else can be sent).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            if started:
                raise
            log.error("unhandled error on %s %s", scope.get("method"), scope.get("path"),
                      exc_info=exc)
            await _reply(send, 500, f"internal error: {type(exc).__name__}", close=False)


def mark_submitted(state: Any, batcher: Any) -> None:
    """Called by the route once its images are queued: it no longer counts as arriving."""
    if getattr(state, PENDING_KEY, False):
        setattr(state, PENDING_KEY, False)
        batcher.arriving -= 1


@dataclass(frozen=True)
class GuardRule:
    """One guarded upload route: ``POST`` paths matching ``pattern`` (a full-match regex)."""

    pattern: str
    limit_setting: str = "max_upload_bytes"  # the Settings property holding the byte limit
    batched: bool = False  # count the request as arriving for the micro-batcher


class UploadGuard:
    """Size/type checks on guarded upload routes, before the body is parsed.

    Limits come from ``app.state.settings``; the body is counted as it streams in, so an
    oversized upload is refused at the limit instead of after it was spooled to disk.
    """

    def __init__(self, app: ASGIApp, rules: tuple[GuardRule, ...]) -> None:
        self.app = app
        self.rules = tuple((re.compile(r.pattern), r) for r in rules)

    def _rule(self, path: str) -> GuardRule | None:
        return next((rule for rx, rule in self.rules if rx.fullmatch(path)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self._rule(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        app_state = scope["app"].state if "app" in scope else None
        settings = getattr(app_state, "settings", None)
        limit = getattr(settings, rule.limit_setting) if settings else 10 * 1024 * 1024
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        ctype = headers.get("content-type", "")
        if not ctype.lower().startswith("multipart/form-data"):
            await _reply(send, 415, "send images as multipart/form-data with one or more "
                                    f"'files' parts (got content-type {ctype or 'none'!r}).")
            return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reply(send, 413, f"upload of {int(declared) / 2**20:.1f} MB is over the "
                                    f"{limit / 2**20:g} MB limit.")
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"upload is over the {limit / 2**20:g} MB limit.")
            return message

        batcher = getattr(app_state, "batcher", None) if rule.batched else None
        state = scope.setdefault("state", {})
        if batcher is not None:
            batcher.arriving += 1
            state[PENDING_KEY] = True
        try:
            await self.app(scope, limited_receive, send)
        finally:
            if batcher is not None and state.get(PENDING_KEY):
                state[PENDING_KEY] = False
                batcher.arriving -= 1
