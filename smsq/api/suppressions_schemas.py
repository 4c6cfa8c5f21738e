"""Request and response schemas of ``/v1/suppressions``: the global opt-out list."""

from __future__ import annotations

from pydantic import BaseModel, Field

from campaigns.suppression import SuppressionInfo
from smsq.api.body import Body


class NumbersIn(Body):
    """Numbers to add to (or remove from) the opt-out list."""

    numbers: list[str] = Field(min_length=1, description="with country code, or default_region")
    default_region: str | None = Field(None, description='for numbers without one, e.g. "NP"')


class SuppressIn(NumbersIn):
    """Numbers to suppress, and why."""

    reason: str | None = "opt-out"


class SuppressOut(BaseModel):
    """How many numbers were not on the list before."""

    added: int


class UnsuppressOut(BaseModel):
    """How many numbers were on the list."""

    removed: int


class SuppressionPage(BaseModel):
    """Entries in number order; ``next_cursor`` fetches the next page, None at the end."""

    suppressions: list[SuppressionInfo]
    next_cursor: str | None
