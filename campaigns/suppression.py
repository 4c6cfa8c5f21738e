"""The global opt-out list: numbers (E.164 digits, no "+") that no campaign may send to.

``suppress``/``unsuppress`` edit it; planning asks ``SuppressionLookup`` which numbers of a
chunk are on it, comparing E.164 digits so that a number suppressed as ``+977 984-1234567``
matches ``9841234567`` planned for AakashSMS.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Select, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from campaigns.db import get_engine
from campaigns.errors import InputError
from campaigns.numbers import InvalidNumber, to_e164
from campaigns.tables import SUPPRESSIONS

PRELOAD_MAX = 200_000  # up to this many entries, one query loads the list for a whole plan
_QUERY_CHUNK = 5_000  # bound parameters per IN (...) query, under every SQLite's limit


class SuppressionLookup:
    """Answers "which of these numbers are suppressed" during one planning transaction.

    A list of at most ``preload_max`` entries is read once; a longer one is queried per chunk
    of numbers, so a huge opt-out list never has to fit in memory. Given a Connection, it
    reads inside that transaction (submit); given an Engine, each query takes a short
    connection of its own (estimate), so a dry run holds no lock while it plans.
    """

    def __init__(
        self,
        db: Connection | Engine,
        preload_max: int = PRELOAD_MAX,
        *,
        lock: AbstractContextManager[object] | None = None,
    ) -> None:
        self._db = db
        self._lock = lock or nullcontext()  # shared with a writer thread on the same connection
        count = self._scalars(select(func.count()).select_from(SUPPRESSIONS))[0]
        self._preloaded: set[str] | None = None
        if count <= preload_max:
            self._preloaded = set(self._scalars(select(SUPPRESSIONS.c.msisdn)))

    def _scalars(self, query: Select[Any]) -> list[Any]:
        if isinstance(self._db, Connection):
            with self._lock:
                return list(self._db.execute(query).scalars())
        with self._db.connect() as conn:
            return list(conn.execute(query).scalars())

    @property
    def empty(self) -> bool:
        """True when the list is known to be empty (planning can skip collecting numbers)."""
        return self._preloaded is not None and not self._preloaded

    def suppressed(self, e164s: set[str]) -> set[str]:
        """The members of ``e164s`` that are on the list."""
        if self._preloaded is not None:
            return e164s & self._preloaded if self._preloaded else set()
        found: set[str] = set()
        numbers = list(e164s)
        for start in range(0, len(numbers), _QUERY_CHUNK):
            part = numbers[start : start + _QUERY_CHUNK]
            found.update(
                self._scalars(select(SUPPRESSIONS.c.msisdn).where(SUPPRESSIONS.c.msisdn.in_(part)))
            )
        return found


def e164_digits(numbers: Iterable[str], default_region: str | None = None) -> list[str]:
    """Each number as E.164 digits (no "+"), in order, without repeats.

    Raises InputError naming the first number that is not a valid phone number.
    """
    out: dict[str, None] = {}
    for raw in numbers:
        try:
            out[to_e164(raw, default_region).lstrip("+")] = None
        except InvalidNumber as exc:
            raise InputError(f"number {raw!r} is not a valid phone number: {exc.reason}") from None
        except ValueError as exc:  # an unknown default_region
            raise InputError(f"default_region {default_region!r}: {exc}") from None
    return list(out)


def suppress(
    numbers: Iterable[str],
    reason: str | None = None,
    *,
    default_region: str | None = None,
    database_url: str | None = None,
) -> int:
    """Add ``numbers`` to the global opt-out list; returns how many were not on it already.

    Numbers are stored as E.164 digits; one without a country code needs ``default_region``
    (e.g. "NP"). An invalid number raises InputError naming it and adds nothing.
    """
    digits = e164_digits(numbers, default_region)
    now = datetime.now(UTC)
    added = 0
    with get_engine(database_url).begin() as conn:
        for start in range(0, len(digits), _QUERY_CHUNK):
            part = digits[start : start + _QUERY_CHUNK]
            existing = set(
                conn.execute(
                    select(SUPPRESSIONS.c.msisdn).where(SUPPRESSIONS.c.msisdn.in_(part))
                ).scalars()
            )
            new = [
                {"msisdn": d, "reason": reason, "created_at": now}
                for d in part
                if d not in existing
            ]
            if new:
                conn.execute(_insert_ignoring_conflicts(conn), new)
                added += len(new)
    return added


def unsuppress(
    numbers: Iterable[str], *, default_region: str | None = None, database_url: str | None = None
) -> int:
    """Remove ``numbers`` from the global opt-out list; returns how many were on it."""
    digits = e164_digits(numbers, default_region)
    removed = 0
    with get_engine(database_url).begin() as conn:
        for start in range(0, len(digits), _QUERY_CHUNK):
            part = digits[start : start + _QUERY_CHUNK]
            result = conn.execute(delete(SUPPRESSIONS).where(SUPPRESSIONS.c.msisdn.in_(part)))
            removed += result.rowcount
    return removed


def _insert_ignoring_conflicts(conn: Connection) -> Insert:
    # A concurrent suppress of the same number must not fail this one: ON CONFLICT DO NOTHING.
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(SUPPRESSIONS).on_conflict_do_nothing()
    if name == "sqlite":
        return sqlite.insert(SUPPRESSIONS).on_conflict_do_nothing()
    return insert(SUPPRESSIONS)
