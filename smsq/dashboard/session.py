"""The dashboard's login: a signed session cookie naming an API key, and a CSRF token per
session that every form posts back.

Logging in takes an API key made by ``smsq api-key create`` (checked like a ``/v1`` call:
``campaigns.api_keys.verify_key``, against its stored hash). The session remembers the key's
id, never the key, and every request checks that the key is still not revoked, so revoking
it logs its sessions out at their next click. The cookie is Starlette's ``SessionMiddleware``
(itsdangerous: signed with the app's session secret and timestamped, HttpOnly, SameSite=Lax);
it holds only the key's id and the CSRF token, which are no secret from the browser holding
them. The token is compared in constant time; a form without it, or with another session's,
is refused (403) before anything happens.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.concurrency import run_in_threadpool

from campaigns.api_keys import ApiKeyInfo, active_key
from smsq.api.deps import ApiConfig

SESSION_COOKIE = "smsq_session"
SESSION_MAX_AGE_S = 12 * 3600  # a working day: the cookie's signature expires after it
CSRF_FIELD = "csrf_token"
_CSRF_BYTES = 32
_KEY_ID = "key_id"


class LoginRequired(Exception):
    """Raised when a dashboard page is asked for without a live session; ``next`` is where
    to come back after logging in."""

    def __init__(self, next_path: str) -> None:
        super().__init__("log in with an API key")
        self.next_path = next_path


class CsrfRejected(Exception):
    """Raised when a form comes without this session's CSRF token."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(_CSRF_BYTES)
        request.session[CSRF_FIELD] = token
    return token


async def check_csrf(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> None:
    """A dependency of every POST: the form's token must be the session's (CsrfRejected)."""
    expected = request.session.get(CSRF_FIELD)
    given = csrf_token or ""
    if not isinstance(expected, str) or not secrets.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode()
    ):
        raise CsrfRejected("this form did not come from this session of the dashboard")


def log_in(request: Request, key: ApiKeyInfo) -> None:
    """Start a session for ``key``: a new CSRF token too (none made before the login counts)."""
    request.session.clear()
    request.session[_KEY_ID] = key.id
    request.session[CSRF_FIELD] = secrets.token_urlsafe(_CSRF_BYTES)


def log_out(request: Request) -> None:
    """End the session (the cookie is emptied)."""
    request.session.clear()


def local_path(candidate: str | None) -> str:
    """``candidate`` when it is a path of this site, else ``/``: ``next=//evil.example`` or
    ``next=https://...`` never sends a user away after the login."""
    if not candidate or not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return "/"
    return candidate


def _where_from(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


async def require_login(request: Request) -> ApiKeyInfo:
    """A dependency of every page: the session's key, if it is not revoked (LoginRequired)."""
    key_id = request.session.get(_KEY_ID)
    config: ApiConfig = request.app.state.config
    key = None
    if isinstance(key_id, int):
        key = await run_in_threadpool(active_key, key_id, database_url=config.database_url)
    if key is None:
        request.session.pop(_KEY_ID, None)
        raise LoginRequired(_where_from(request))
    return key


def login_url(next_path: str) -> str:
    """The login page, coming back to ``next_path`` afterwards."""
    return "/login" if next_path == "/" else f"/login?next={quote(next_path, safe='/')}"


LoggedIn = Annotated[ApiKeyInfo, Depends(require_login)]
CsrfChecked = Depends(check_csrf)
