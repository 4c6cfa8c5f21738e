"""The global opt-out list: numbers (E.164 digits, no "+") that no campaign may send to.

``suppress``/``unsuppress`` edit it and ``iter_suppressions`` lists it; planning asks
``SuppressionLookup`` which numbers of a chunk are on it, comparing E.164 digits so that a
number suppressed as ``+977 984-1234567`` matches ``9841234567`` planned for AakashSMS.

Numbers come as a list or a CSV (read like a campaign's list: any delimiter, a number column
by its usual names). A number written without its country code is read in ``default_region``,
or in the country of ``account`` (its ``default_region``, else its gateway's country: Nepal
for AakashSMS), so that ``9740075654`` from a Nepali list is Nepal's +977 974..., not Qatar's
+974. Without either, every number must carry its country code (``+`` or ``00`` optional).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Select, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from campaigns.db import get_engine
from campaigns.errors import InputError
from campaigns.gateway import gateway_for, resolve_account
from campaigns.models import as_utc
from campaigns.numbers import DEFAULT_INTL_REGION, InvalidNumber, to_e164
from campaigns.numbers.formats import country_of_format
from campaigns.numbers.metadata import rule
from campaigns.recipients_input import Recipients, RowSource
from campaigns.tables import SUPPRESSIONS
from providers import Account

PRELOAD_MAX = 200_000  # up to this many entries, one query loads the list for a whole plan
_QUERY_CHUNK = 5_000  # bound parameters per IN (...) query, under every SQLite's limit
PAGE_ROWS = 2_000  # entries read per query by iter_suppressions
_INVALID_QUOTED = 3  # invalid numbers quoted in the error that refuses a list


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


@dataclass(frozen=True, slots=True)
class SuppressionInfo:
    """One number on the opt-out list: E.164 digits (no "+"), why, and since when (UTC)."""

    msisdn: str
    reason: str | None
    created_at: datetime


def home_region(
    default_region: str | None = None,
    account: str | Account | None = None,
    accounts: Mapping[str, Account] | None = None,
) -> str | None:
    """Where numbers without a country code are read: ``default_region``, or ``account``'s
    country; None when neither is given. InputError for an unknown region, both given, or an
    unknown account."""
    if default_region is not None and account is not None:
        raise InputError("give a region or an account to read national numbers, not both")
    if account is not None:
        resolved = resolve_account(account, accounts)
        fmt = gateway_for(resolved).limits.number_format
        default_region = resolved.default_region or country_of_format(fmt) or DEFAULT_INTL_REGION
    if default_region is None:
        return None
    try:
        rule(default_region.upper())
    except ValueError as exc:
        raise InputError(f"region {default_region!r}: {exc}") from None
    return default_region.upper()


def e164_digits(
    numbers: Recipients, default_region: str | None = None, phone_column: str | None = None
) -> list[str]:
    """Each number (a list, or a CSV's number column) as E.164 digits, in order, no repeats.

    Raises InputError naming the first few numbers that are not valid phone numbers (with
    their rows) and how many there are: the whole list is refused then.
    """
    out: dict[str, None] = {}
    invalid: list[tuple[str, int, str]] = []
    count = 0
    with RowSource(numbers, (), phone_column=phone_column) as rows:
        for row_no, raw, _values in rows:
            try:
                out[to_e164(raw, default_region)] = None
            except InvalidNumber as exc:
                count += 1
                if len(invalid) < _INVALID_QUOTED:
                    invalid.append((raw, row_no, exc.reason))
    if count:
        raise _refused(count, invalid, hint=default_region is None)
    return list(out)


def _refused(count: int, invalid: list[tuple[str, int, str]], *, hint: bool) -> InputError:
    """The error refusing a list with ``count`` invalid numbers (the first few quoted)."""
    why = "; a number without its country code needs a region or an account to be read in"
    if count == 1:
        raw, row_no, reason = invalid[0]
        message = f"number {raw!r} is not a valid phone number: {reason} (row {row_no})"
    else:
        quoted = "; ".join(f"{raw!r} (row {row_no}): {reason}" for raw, row_no, reason in invalid)
        message = f"{count} numbers are not valid phone numbers, so nothing was changed: {quoted}"
    return InputError(message + (why if hint else ""))


def suppress(
    numbers: Recipients,
    reason: str | None = None,
    *,
    default_region: str | None = None,
    account: str | Account | None = None,
    phone_column: str | None = None,
    database_url: str | None = None,
    accounts: Mapping[str, Account] | None = None,
) -> int:
    """Add ``numbers`` to the global opt-out list; returns how many were not on it already.

    ``numbers`` is a list of numbers or a CSV path (its number column as for a campaign, or
    ``phone_column``). Numbers are stored as E.164 digits; those without a country code are
    read in ``default_region`` (e.g. "NP") or in ``account``'s country. An invalid number
    raises InputError naming it and adds nothing.
    """
    region = home_region(default_region, account, accounts)
    digits = e164_digits(numbers, region, phone_column)
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
    numbers: Recipients,
    *,
    default_region: str | None = None,
    account: str | Account | None = None,
    phone_column: str | None = None,
    database_url: str | None = None,
    accounts: Mapping[str, Account] | None = None,
) -> int:
    """Remove ``numbers`` (read as ``suppress`` reads them) from the global opt-out list;
    returns how many were on it."""
    region = home_region(default_region, account, accounts)
    digits = e164_digits(numbers, region, phone_column)
    removed = 0
    with get_engine(database_url).begin() as conn:
        for start in range(0, len(digits), _QUERY_CHUNK):
            part = digits[start : start + _QUERY_CHUNK]
            result = conn.execute(delete(SUPPRESSIONS).where(SUPPRESSIONS.c.msisdn.in_(part)))
            removed += result.rowcount
    return removed


def iter_suppressions(*, database_url: str | None = None) -> Iterator[SuppressionInfo]:
    """Every number on the opt-out list, in E.164 order, a page at a time (a long list never
    sits in memory; each page is its own short read)."""
    engine = get_engine(database_url)
    last = ""
    while True:
        query = (
            select(SUPPRESSIONS.c.msisdn, SUPPRESSIONS.c.reason, SUPPRESSIONS.c.created_at)
            .where(SUPPRESSIONS.c.msisdn > last)
            .order_by(SUPPRESSIONS.c.msisdn)
            .limit(PAGE_ROWS)
        )
        with engine.connect() as conn:
            page = conn.execute(query).all()
        for msisdn, reason, created_at in page:
            yield SuppressionInfo(msisdn, reason, as_utc(created_at))
        if len(page) < PAGE_ROWS:
            return
        last = page[-1][0]


def list_suppressions(
    limit: int = 100, *, after: str | None = None, database_url: str | None = None
) -> list[SuppressionInfo]:
    """Up to ``limit`` entries of the opt-out list in number order; ``after`` continues a
    listing after that number (the last one of the previous page)."""
    query = select(SUPPRESSIONS).order_by(SUPPRESSIONS.c.msisdn).limit(limit)
    if after is not None:
        query = query.where(SUPPRESSIONS.c.msisdn > after)
    with get_engine(database_url).connect() as conn:
        rows = conn.execute(query).all()
    return [SuppressionInfo(r.msisdn, r.reason, as_utc(r.created_at)) for r in rows]


def _insert_ignoring_conflicts(conn: Connection) -> Insert:
    # A concurrent suppress of the same number must not fail this one: ON CONFLICT DO NOTHING.
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(SUPPRESSIONS).on_conflict_do_nothing()
    if name == "sqlite":
        return sqlite.insert(SUPPRESSIONS).on_conflict_do_nothing()
    return insert(SUPPRESSIONS)
