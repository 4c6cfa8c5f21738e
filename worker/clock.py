"""Time as the worker keeps it: aware UTC datetimes, whatever the database hands back.

SQLite stores ``DateTime(timezone=True)`` columns without their offset and returns naive
values; every writer in smsq writes UTC, so a naive value read back is UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from campaigns.models import as_utc

__all__ = ["as_utc", "utcnow"]


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)
