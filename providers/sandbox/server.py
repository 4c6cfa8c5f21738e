"""Running the sandbox: a socket bound first (so port 0 works), then uvicorn on it.

uvicorn with httptools and uvloop and a raw ASGI app (no framework, no access log, no Date
or Server header) serves well over 2,000 small requests per second on one core.
"""

from __future__ import annotations

import gc
import logging
import socket
from collections.abc import Callable, Mapping
from typing import Any

import uvicorn

from providers.sandbox.app import SandboxApp
from providers.sandbox.faults import FaultSettings
from providers.sandbox.wire import Receive, Scope, Send

# uvicorn reports a deliberately unfinished response (drop_connection_after_accept) as an
# error; it is the fault working, not a bug, so it is not logged.
_UNFINISHED = "ASGI callable returned without completing response."


# Requests between two freezes of the survivors (see _Unpaused).
FREEZE_EVERY_REQUESTS = 1_000


class _Unpaused:
    """The sandbox's app, with its event loop kept from stopping for a full collection.

    The sandbox is the gateway's clock: it stamps each request's arrival when its loop gets
    to it. Its record grows with every message accepted, and CPython's full collections
    walk all of it: measured in bench.gateway, 18 ms at 50,000 messages and 121 ms at
    350,000, during which requests queued and were stamped as arriving together (9 within
    0.1 ms, windows of 104 at a limit of 100 that the workers had not sent). Every
    ``FREEZE_EVERY_REQUESTS`` requests the young garbage is collected and what survived is
    frozen (``gc.freeze``: never walked again, still freed when no longer referenced), so a
    full collection walks only what the last thousand requests left.
    """

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        self.requests += 1
        if self.requests % FREEZE_EVERY_REQUESTS == 0:
            gc.collect(1)
            gc.freeze()


class _DropFaultFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _UNFINISHED


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)  # early clients queue here until the event loop starts accepting
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """The base URL clients use for a bound socket (wildcard hosts map to loopback)."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultSettings | Mapping[str, Any] | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the sandbox until SIGINT or SIGTERM (blocking).

    ``faults`` are the settings at start (also what ``POST /_sandbox/reset`` restores);
    ``ready`` is called with the base URL (e.g. ``http://127.0.0.1:41234``) once the socket
    listens, before the first request is accepted.
    """
    app = SandboxApp(FaultSettings.coerce(faults))
    sock = bind(host, port)
    config = uvicorn.Config(
        _Unpaused(app),
        loop="auto",  # uvloop when installed
        http="auto",  # httptools when installed
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=1,  # held (timeout_after_accept) answers are not awaited
        backlog=4096,
    )
    logging.getLogger("uvicorn.error").addFilter(_DropFaultFilter())
    server = uvicorn.Server(config)
    if ready is not None:
        ready(url_of(sock))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
