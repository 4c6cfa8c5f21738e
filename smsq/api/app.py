"""The application: ``create_app(config)`` mounts the REST API under ``/v1`` and the dashboard
under ``/`` (``smsq.dashboard``: pages behind a login with an API key).

Every ``/v1`` route, the OpenAPI document at ``/v1/openapi.json`` included, depends on
``auth.require_key``. No interactive docs page is served: it loads its scripts from a CDN,
and there is no internet at run time; the OpenAPI document is what clients read.
"""

from __future__ import annotations

import gc
import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from smsq import dashboard
from smsq.api import campaigns, errors, messages, recipients, suppressions
from smsq.api.access_log import AccessLog
from smsq.api.auth import require_key
from smsq.api.deps import ApiConfig, known_query

API_VERSION = "1"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    config: ApiConfig = app.state.config
    uninstall: Callable[[], None] | None = None
    if config.connect_workers:
        import worker
        from worker.dispatch import uninstall

        worker.connect()  # submits, resumes and retries are handed to the workers at once
    if config.freeze_gc:
        # What exists now lives as long as the process: a full collection scanned all of it
        # (FastAPI, pydantic, SQLAlchemy, Celery) and stopped the server for 248 ms, the
        # slowest 1% of bench.api's polling; frozen, collections see request garbage only.
        gc.collect()
        gc.freeze()
    try:
        yield
    finally:
        if uninstall is not None:
            uninstall()


def _v1() -> APIRouter:
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_key), Depends(known_query)])
    v1.include_router(campaigns.router)
    v1.include_router(recipients.router)
    v1.include_router(suppressions.router)
    v1.include_router(messages.router)

    @v1.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        document: dict[str, Any] = request.app.openapi()
        return JSONResponse(document)

    return v1


def create_app(config: ApiConfig | None = None) -> FastAPI:
    """The HTTP API on ``config`` (default: the configured database and accounts)."""
    app = FastAPI(
        title="smsq",
        version=API_VERSION,
        summary="Bulk-SMS campaigns: submit, watch, steer, export.",
        openapi_url=None,  # served under /v1, behind the key, by _v1()
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
    )
    config = app.state.config = config or ApiConfig()
    errors.install(app)
    app.include_router(_v1())
    secret = config.session_secret or secrets.token_urlsafe(32)
    dashboard.install(app, secret, https_only=config.secure_cookies)
    app.add_middleware(AccessLog)
    return app


def production_app() -> FastAPI:
    """The app ``smsq api`` serves: the configured database, handing off to the workers,
    the dashboard's sessions signed with ``$SMSQ_SESSION_SECRET`` (shared by every process of
    ``smsq api --workers N``, and kept over restarts when the operator sets it; without it,
    ``server.serve`` makes one per start), HTTPS-only with ``SMSQ_SECURE_COOKIES=1``."""
    return create_app(
        ApiConfig(
            connect_workers=True, freeze_gc=True,
            session_secret=os.environ.get("SMSQ_SESSION_SECRET") or None,
            secure_cookies=os.environ.get("SMSQ_SECURE_COOKIES", "") in ("1", "true", "yes"),
        )
    )  # fmt: skip
