"""Time as the worker keeps it: aware UTC datetimes, whatever the database hands back.

SQLite stores ``DateTime(timezone=True)`` columns without their offset and returns naive
values; every writer in smsq writes UTC, so a naive value read back is UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` as aware UTC (a naive value is taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
