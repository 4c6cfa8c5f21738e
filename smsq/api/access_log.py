"""One access log line per request: method, path, status, milliseconds; never the query.

Uvicorn's own access log prints the query string, and a cursor of the opt-out list is a
phone number, which no log line below WARNING may hold (DESIGN.md invariant 11); bodies,
where numbers and texts travel, are never logged.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("smsq.api.access")


class AccessLog:
    """Pure ASGI middleware (no buffering: streamed responses stay streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            took_ms = (time.perf_counter() - started) * 1000
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status["code"], took_ms)
