"""What every API call may depend on: the ``ApiConfig`` of its application."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError

from campaigns.routes import Route
from providers import Account

# How old a campaign's counts may be when the API reads it: 20 clients polling a running
# campaign share one count per second (bench.api: api_status_p99_ms), while its state and
# reason are always read at the call.
STATUS_MAX_AGE_S = 1.0
MAX_ID = 2**63 - 1  # ids are BIGINT: a larger number names nothing (and overflows SQLite)


@dataclass(frozen=True)
class ApiConfig:
    """Where the API reads and writes, and what it sends through.

    ``database_url`` None is the configured database (``SMSQ_DATABASE_URL``); ``accounts`` and
    ``routes`` None are read from the config file at each call, as the Python API does.
    ``connect_workers`` installs the hand-off to the workers for the application's lifetime
    and ``freeze_gc`` exempts what exists at startup from garbage collection: ``smsq api``
    does both, as the owner of its process (tests leave the hand-off to the tick, and keep
    their memory collectable). ``session_secret`` signs the dashboard's session cookies (None:
    a random one for this application, so its sessions end when it stops); ``secure_cookies``
    sends them over HTTPS only. Callback settings join here later.
    """

    database_url: str | None = None
    accounts: Mapping[str, Account] | None = None
    routes: Mapping[str, Route] | None = None
    connect_workers: bool = False
    freeze_gc: bool = False
    status_max_age_s: float = STATUS_MAX_AGE_S
    session_secret: str | None = field(default=None, repr=False)
    secure_cookies: bool = False


async def get_config(request: Request) -> ApiConfig:
    """The ApiConfig the application was made with (async: no worker thread for a lookup)."""
    config: ApiConfig = request.app.state.config
    return config


Config = Annotated[ApiConfig, Depends(get_config)]
CampaignId = Annotated[int, Path(ge=1, le=MAX_ID, description="a campaign's id")]


async def known_query(request: Request) -> None:
    """Refuse a query parameter the route does not take: ``?stat=failed`` would otherwise
    be ignored and export every row instead of the failed ones."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    known = _query_names(dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise RequestValidationError(
            [{"type": "extra_forbidden", "loc": ("query", unknown[0]),
              "msg": f"not a parameter of this call (it takes: {takes})",
              "input": request.query_params[unknown[0]]}]
        )  # fmt: skip


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
