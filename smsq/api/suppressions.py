"""``/v1/suppressions``: add numbers to the global opt-out list, remove them, list it.

Numbers travel in bodies, never in a path or query: access logs record paths, and no log
line below WARNING may hold a phone number (DESIGN.md invariant 11).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from campaigns import api
from campaigns.suppression import list_suppressions
from smsq.api.deps import Config
from smsq.api.errors import ERRORS
from smsq.api.suppressions_schemas import (
    NumbersIn,
    SuppressIn,
    SuppressionPage,
    SuppressOut,
    UnsuppressOut,
)

router = APIRouter(tags=["suppressions"])
PAGE_LIMIT_MAX = 1_000


@router.post("/suppressions", responses=ERRORS)
def suppress(body: SuppressIn, config: Config) -> SuppressOut:
    """Add numbers to the opt-out list (``suppress``); an invalid number adds none."""
    added = api.suppress(
        body.numbers, body.reason, default_region=body.default_region,
        database_url=config.database_url,
    )  # fmt: skip
    return SuppressOut(added=added)


@router.post("/suppressions/remove", responses=ERRORS)
def unsuppress(body: NumbersIn, config: Config) -> UnsuppressOut:
    """Remove numbers from the opt-out list (``unsuppress``)."""
    removed = api.unsuppress(
        body.numbers, default_region=body.default_region, database_url=config.database_url
    )
    return UnsuppressOut(removed=removed)


@router.get("/suppressions", responses=ERRORS)
def list_all(
    config: Config,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
) -> SuppressionPage:
    """The opt-out list in number order, ``limit`` at a time."""
    found = list_suppressions(limit + 1, after=cursor, database_url=config.database_url)
    page = found[:limit]
    more = len(found) > limit
    return SuppressionPage(suppressions=page, next_cursor=page[-1].msisdn if more else None)
