"""SMSPresto account data: counters (the balance is ``get-stock``) and the message archive.

Requests use the account's method like sends (``wire.api_request``): a form POST by default,
the manual's GET form when ``options["method"] = "GET"``. The adapter offers the balance and
the archive as its ``balance`` and ``archive`` capabilities; archive rows are the shared
``providers.ArchiveEntry``.

Choices where the manual is silent:

- Counters: ``get-stock``/``get-send``/``get-success``/``get-failed`` answer a bare integer,
  the ``*-total`` actions ``{"TOTAL": "400"}``; ``parse_counter`` reads either shape for any
  action. Negative, fractional or annotated numbers are unreadable; ``{"status": <code>}``
  answers raise that code's error (unknown codes: ``request``, code kept).
- Archive paging: ``from`` is the offset. The manual's ``to=50`` beside ``from=0`` reads as
  either an end index or a count; ``to`` is sent as ``offset + limit`` (the end index)
  because, if the gateway means a count, pages only overlap (rows have ids; dedupe by id),
  whereas the other reading would silently skip rows. ``options["archive_to"] = "count"``
  sends ``limit`` instead.
- Archive rows: a row without a usable id (``IDHISTORIQUE``) or number (``HIS_DESTINATAIRE``,
  digits with an optional ``+``) is skipped; any other missing or garbled field becomes None
  (MySQL's ``0000-00-00 00:00:00`` included). ``status`` is ``HIS_STATUT`` verbatim: the
  manual does not define its values. Times carry the gateway's zone: UTC by default
  (Côte d'Ivoire keeps GMT all year), else ``options["timezone"]`` via ``archive_timezone``.
  An empty archive is ``[]``; PHP's object-keyed row arrays (``{"0": {...}}``) are read too.
- Delivery: the manual lists the ``get-success`` and ``get-failed`` counters beside
  ``get-send`` (5000 = 4950 + 50), so every message ends one or the other, and shows
  ``HIS_STATUT`` "1" on messages the gateway passed on. ``archive_delivered`` reads "1" as
  delivered and "2" as undelivered, anything else ("0", empty) as not known yet; an account
  whose gateway uses other words sets ``options["delivered_statuses"]`` and
  ``options["undelivered_statuses"]`` (comma lists).
  Any other body is a GatewayError, never an empty list: a reconciler must not take an
  unreadable answer for "not in the archive".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from providers._accounts import Account
from providers._capabilities import ArchiveEntry
from providers._errors import classify_status, error_for_unreadable
from providers.smspresto.wire import (
    SUCCESS_STATUS,
    api_request,
    as_int,
    credentials,
    decode,
    query_error,
    status_of,
)

COUNTER_ACTIONS = frozenset(
    {"get-stock", "get-send", "get-success", "get-failed"}  # bare integer answers
    | {
        f"get-{what}-total"  # {"TOTAL": "<n>"} answers
        for what in ("contact", "group", "order", "bill", "scheduled", "predefined")
    }
)


def build_counter_request(account: Account, action: str) -> httpx.Request:
    """The request for one counter ``action`` (one of ``COUNTER_ACTIONS``)."""
    if action not in COUNTER_ACTIONS:
        raise ValueError(f"unknown SMSPresto counter {action!r}")
    return api_request(account, [("action", action), *credentials(account)])


def parse_counter(response: httpx.Response) -> int:
    """The count a counter request answered, or the classified GatewayError."""
    by_status = classify_status(response)
    if by_status is not None:
        raise by_status
    bare = as_int(response.text)
    if bare is not None and response.is_success:
        return bare
    body = decode(response)
    status = status_of(body)
    if status is not None and status != SUCCESS_STATUS:
        raise query_error(response, body, status)
    total = as_int(body.get("TOTAL")) if isinstance(body, dict) else None
    if total is None or not response.is_success:
        raise error_for_unreadable(response, "answer is not a count")
    return total


def build_balance_request(account: Account) -> httpx.Request:
    """The balance request: messages in stock (``get-stock``)."""
    return build_counter_request(account, "get-stock")


def parse_balance(response: httpx.Response) -> float:
    """Messages left in stock, or the classified GatewayError."""
    return float(parse_counter(response))


def build_archive_request(
    account: Account, date_from: date, date_to: date, offset: int, limit: int
) -> httpx.Request:
    """The ``list-archive`` request for one page of messages sent between two dates."""
    if offset < 0 or limit <= 0 or date_from > date_to:
        raise ValueError("archive page needs offset >= 0, limit > 0 and date_from <= date_to")
    count = account.options.get("archive_to", "end").strip().lower() == "count"
    fields = [
        ("action", "list-archive"),
        *credentials(account),
        ("dateFrom", date_from.isoformat()),
        ("dateTo", date_to.isoformat()),
        ("from", str(offset)),
        ("to", str(limit if count else offset + limit)),
    ]
    return api_request(account, fields)


def archive_timezone(account: Account) -> tzinfo:
    """The zone of archive times: ``options["timezone"]`` (IANA name), UTC by default."""
    name = account.options.get("timezone")
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"account {account.name!r}: unknown timezone {name!r}") from None


DELIVERED_STATUSES = ("1",)
UNDELIVERED_STATUSES = ("2",)


def _statuses(account: Account, option: str, default: tuple[str, ...]) -> set[str]:
    raw = account.options.get(option)
    words = default if raw is None else tuple(raw.split(","))
    return {word.strip().lower() for word in words if word.strip()}


def archive_delivered(account: Account, status: str | None) -> bool | None:
    """An archive ``HIS_STATUT`` as a fate: True delivered, False undelivered, None not yet."""
    word = (status or "").strip().lower()
    if not word:
        return None
    if word in _statuses(account, "delivered_statuses", DELIVERED_STATUSES):
        return True
    if word in _statuses(account, "undelivered_statuses", UNDELIVERED_STATUSES):
        return False
    return None


def parse_archive(response: httpx.Response, *, tz: tzinfo = UTC) -> list[ArchiveEntry]:
    """The readable rows of one archive page, or the classified GatewayError."""
    body = decode(response)
    status = status_of(body)
    if status is not None and status != SUCCESS_STATUS:
        raise query_error(response, body, status)
    if isinstance(body, dict) and body and all(isinstance(v, dict) for v in body.values()):
        body = list(body.values())  # PHP arrays with gaps in their keys encode as objects
    if not isinstance(body, list) or not response.is_success:
        raise error_for_unreadable(response, "answer is not a list of messages")
    rows = (_entry(row, tz) for row in body)
    return [row for row in rows if row is not None]


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _msisdn(value: object) -> str | None:
    text = (_text(value) or "").strip().removeprefix("+")
    return text if text.isascii() and text.isdigit() and len(text) <= 15 else None


def _when(value: object, tz: tzinfo) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:  # garbled, or MySQL's zero date for "not yet"
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=tz)


def _entry(row: Any, tz: tzinfo) -> ArchiveEntry | None:
    if not isinstance(row, dict):
        return None
    ident = (_text(row.get("IDHISTORIQUE")) or "").strip()
    msisdn = _msisdn(row.get("HIS_DESTINATAIRE"))
    if not ident or msisdn is None:
        return None
    return ArchiveEntry(
        id=ident,
        msisdn=msisdn,
        message=_text(row.get("HIS_MESSAGE")),
        status=_text(row.get("HIS_STATUT")),
        segments=as_int(row.get("HIS_NOMBRESMS")),
        created_at=_when(row.get("HIS_DATEHEURECREA"), tz),
        sent_at=_when(row.get("HIS_DATEHEUREENVOI"), tz),
        account_ref=_text(row.get("CPT_REF")),
        queue_id=_text(row.get("IDSMSFILATTENTE")),
        sender=_text(row.get("HIS_EXPEDITEUR")),
        contact_name=_text(row.get("NOMCONTACT")),
    )
