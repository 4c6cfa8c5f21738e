"""HTTP as the sandbox handles it: one parsed request, one reply, and the raw ASGI I/O.

The app is a raw ASGI callable (no framework) so a request costs a dict lookup and a
handler call; parsing of query, form and JSON happens only when a handler asks for it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 1 << 20  # a send request is small; refuse anything that could exhaust memory


@dataclass(slots=True)
class Request:
    """One HTTP request, its body read whole; parsed views are computed on first use."""

    method: str
    path: str
    query_string: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    client_ip: str = ""
    # When the first byte arrived (CLOCK_MONOTONIC): where a gateway counts its rate ceiling.
    arrived_s: float = field(default_factory=time.monotonic)
    # A rate-drawn fault that can only happen once the gateway has accepted (set by the gate).
    rolled_fault: str | None = None
    _query: dict[str, str] | None = None

    def header(self, name: bytes) -> str | None:
        """The value of header ``name`` (lower-case bytes), or None."""
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None

    def query(self) -> dict[str, str]:
        """Query parameters; a repeated name keeps its last value (as PHP does)."""
        if self._query is None:
            self._query = _parse_pairs(self.query_string)
        return self._query

    def form(self) -> dict[str, str]:
        """URL-encoded form fields of the body; empty for any other content type."""
        content_type = (self.header(b"content-type") or "").lower()
        if not self.body or "json" in content_type or "multipart" in content_type:
            return {}
        return _parse_pairs(self.body)

    def fields(self) -> dict[str, str]:
        """Query and form fields together, the form winning (a PHP-style ``$_REQUEST``)."""
        form = self.form()
        return {**self.query(), **form} if form else self.query()

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: a status and body, optionally held back or cut off (fault injection)."""

    status: int
    body: bytes
    content_type: bytes = b"application/json"
    extra_headers: tuple[tuple[bytes, bytes], ...] = ()
    hold_s: float = 0.0  # wait this long before answering (the client may give up first)
    drop: bool = False  # send the status line and headers, then close without a body


def _parse_pairs(raw: bytes) -> dict[str, str]:
    if not raw:
        return {}
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def json_reply(data: object, status: int = 200) -> Reply:
    """A JSON reply; non-ASCII kept as UTF-8 like the gateways' PHP/Laravel answers."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status, body)


def text_reply(text: str, status: int = 200) -> Reply:
    """A plain-text reply (SMSPresto's counters are a bare integer)."""
    return Reply(status, text.encode(), b"text/plain; charset=utf-8")


def html_reply(status: int, title: str, *, extra: tuple[tuple[bytes, bytes], ...] = ()) -> Reply:
    """An HTML page as a proxy or a maintenance page would send it: not what any client parses."""
    page = (
        f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center>"
        "<hr><center>nginx</center></body></html>"
    )
    return Reply(status, page.encode(), b"text/html; charset=utf-8", extra)


async def read_request(scope: Scope, receive: Receive) -> Request | None:
    """The request of an ASGI ``http`` scope with its body, or None when the body is too big."""
    arrived_s = time.monotonic()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    client = scope.get("client")
    return Request(
        method=scope["method"],
        path=scope["path"],
        query_string=scope.get("query_string", b""),
        headers=scope.get("headers", []),
        body=chunks[0] if len(chunks) == 1 else b"".join(chunks),
        client_ip=client[0] if client else "",
        arrived_s=arrived_s,
    )


async def write_reply(send: Send, reply: Reply) -> None:
    """Send ``reply`` through ASGI, honouring its hold and drop settings."""
    if reply.hold_s > 0:
        await asyncio.sleep(reply.hold_s)
    headers = [
        (b"content-type", reply.content_type),
        (b"content-length", str(len(reply.body)).encode()),
        *reply.extra_headers,
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    if reply.drop:
        # Returning without the body makes uvicorn close the connection: the client has the
        # status line and headers but never a body, so it cannot know what was accepted.
        return
    await send({"type": "http.response.body", "body": reply.body})
