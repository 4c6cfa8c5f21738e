"""How a dashboard page is rendered: Jinja2 templates shipped in the package, autoescaped,
with the headers every page carries, and the one-off messages a button leaves for the next.

Every value reaches the page through Jinja's autoescape (``autoescape=True`` for every
template, whatever its name): a campaign named ``<script>`` is text. The pages load their
script and style from ``/static`` only and carry a Content-Security-Policy that allows
nothing else (no inline script or style, no CDN: there is no internet at run time), and
``no-store``: they show phone numbers, which no shared cache should keep.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from campaigns.credits import label as credits_amount
from smsq.dashboard.progress import duration_label, rate_label
from smsq.dashboard.session import CSRF_FIELD, csrf_token
from smsq.views import credits_label, planned_label

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_FLASH = "flash"


def when(value: datetime | None) -> str:
    """A time as the pages show it: ``2026-12-01 12:30:05 UTC``; a dash for none."""
    if value is None:
        return "—"
    zone = value.tzname() or "UTC"
    return f"{value:%Y-%m-%d %H:%M:%S} {zone}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("smsq.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the page (and its test)
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when, duration=duration_label, rate=rate_label, credits=credits_label,
        planned=planned_label, num="{:,}".format, amount=credits_amount,
    )  # fmt: skip
    return env


def _context(request: Request) -> dict[str, Any]:
    if "session" not in request.scope:  # a 500 answered outside the session's middleware
        return {"csrf_field": CSRF_FIELD, "csrf": "", "flash": None}
    return {"csrf_field": CSRF_FIELD, "csrf": csrf_token(request),
            "flash": request.session.pop(_FLASH, None)}  # fmt: skip


templates = Jinja2Templates(env=_environment(), context_processors=[_context])


def page(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    """The template ``name`` rendered with ``context`` (``key``: who is logged in, or None)."""
    context.setdefault("key", None)
    return templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=PAGE_HEADERS
    )


def set_flash(request: Request, kind: str, text: str) -> None:
    """A message for the next page this session sees (``ok`` or ``error``)."""
    request.session[_FLASH] = {"kind": kind, "text": text}


TITLES = {400: "Bad link", 403: "Refused", 404: "Not found", 405: "Not allowed",
          500: "Server error"}  # fmt: skip


def error_page(request: Request, status_code: int, message: str) -> Response:
    """An error as a page of the dashboard (its 404s, refused forms, bad links)."""
    title = TITLES.get(status_code, "Error")
    context = {"status": status_code, "title": title, "message": message}
    return page(request, "error.html", context, status_code=status_code)
