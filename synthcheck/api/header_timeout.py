"""A header-read timeout for uvicorn: a connection whose request headers do not arrive in time
is closed.

uvicorn (httptools or h11) arms its keep-alive timer only after a response, and cancels it on
the first byte of the next request, so a client that opens a connection and sends nothing, or
half a request line, or headers a byte at a time, held the connection (and a file descriptor)
for ever. Here a timer starts when the connection opens and again after each response; if the
next request's headers are not complete when it fires, the connection is closed. A request whose
headers arrived is never cut: its body and the work on it are not timed here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol


class _HeaderTimeout:
    """Mixin over a uvicorn HTTP protocol class (they share ``loop``, ``transport``, ``cycle``)."""

    header_timeout_s: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing():  # type: ignore[attr-defined]
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(  # type: ignore[attr-defined]
            self.header_timeout_s, self._header_deadline)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline(self) -> None:
        self._header_timer = None
        transport = self.transport  # type: ignore[attr-defined]
        if transport.is_closing() or transport.get_protocol() is not self:  # closed or upgraded
            return
        cycle = self.cycle  # type: ignore[attr-defined]
        if cycle is None or cycle.response_complete:  # still waiting for a request's headers
            transport.close()


def header_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's default HTTP protocol class with a ``seconds`` header-read timeout; pass it as
    ``uvicorn.run(..., http=...)``."""
    return type("HeaderTimeoutProtocol", (_HeaderTimeout, AutoHTTPProtocol),
                {"header_timeout_s": float(seconds)})
