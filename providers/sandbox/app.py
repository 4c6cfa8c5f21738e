"""The sandbox as one raw ASGI application: the gateways at their real paths, control beside."""

from __future__ import annotations

from providers.sandbox import control
from providers.sandbox.faults import FaultSettings
from providers.sandbox.gate import Gate
from providers.sandbox.routes import ROUTES
from providers.sandbox.state import SandboxState
from providers.sandbox.wire import (
    Receive,
    Reply,
    Scope,
    Send,
    html_reply,
    read_request,
    write_reply,
)

NOT_FOUND = html_reply(404, "404 Not Found")
TOO_LARGE = html_reply(413, "413 Request Entity Too Large")


class SandboxApp:
    """ASGI callable serving all five gateways and ``/_sandbox/`` from one ``SandboxState``."""

    def __init__(self, faults: FaultSettings | None = None) -> None:
        self.state = SandboxState(faults or FaultSettings())
        self.gate = Gate(self.state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not spoken
            return
        req = await read_request(scope, receive)
        if req is None:
            await write_reply(send, TOO_LARGE)
            return
        handler = ROUTES.get(req.path)
        reply: Reply
        if handler is not None:
            reply = self.gate.finish(req, await handler(req, self.gate))
        elif req.path.startswith(control.PREFIX):
            reply = control.handle(req, self.state)
        else:
            reply = NOT_FOUND
        await write_reply(send, reply)
