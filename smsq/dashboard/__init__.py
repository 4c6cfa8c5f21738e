"""The dashboard under ``/``: server-rendered pages over the Python API, behind a login.

``install(app, session_secret)`` adds it to the API's application: the session middleware
(``session``: login with an API key, CSRF tokens), the pages (``pages``, rendered by
``render`` from ``templates/``), the bars' numbers (``progress``), and the script and style
in ``static/``, served from the package (no CDN). ``/v1`` is untouched: it keeps its keys.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from smsq.dashboard import pages
from smsq.dashboard.render import error_page
from smsq.dashboard.session import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    CsrfRejected,
    LoginRequired,
    login_url,
)

__all__ = ["install"]


def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.url.path.endswith(".json"):  # the bars' poll: the script goes to the login
        body = {"error": "Unauthorized", "message": "log in to the dashboard"}
        return JSONResponse(body, status_code=401)
    return RedirectResponse(login_url(exc.next_path), status_code=303)


def _csrf_rejected(request: Request, exc: Exception) -> Response:
    message = "This form did not come from this session of the dashboard (or the session "
    return error_page(request, 403, message + "ended). Go back, reload the page and try again.")


def install(app: FastAPI, session_secret: str, *, https_only: bool = False) -> None:
    """Serve the dashboard from ``app``, its sessions signed with ``session_secret``."""
    app.add_middleware(
        SessionMiddleware, secret_key=session_secret, session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_S, same_site="lax", https_only=https_only,
    )  # fmt: skip
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
    app.state.error_page = error_page  # smsq.api.errors answers errors outside /v1 with it
    app.mount("/static", StaticFiles(packages=[("smsq.dashboard", "static")]), name="static")
    app.include_router(pages.router)
