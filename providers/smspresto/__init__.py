"""SMSPresto (West Africa): sends by form POST of ``data=<JSON>`` or by GET, plus account data.

The gateway's adapter is ``ADAPTER``; the package holds it in three modules:

- ``send``: the ``sendsms`` request for a batch and its answer, the limits per method;
- ``data``: counters (the balance is ``get-stock``) and the message archive (``list-archive``);
- ``wire``: what both use: the endpoint, POST form or GET query, codes, reading answers.

``ADAPTER.balance`` reads the stock and ``ADAPTER.archive`` the archive, which the worker
reads to settle batches lost in flight and unknown numbers, and to learn sent messages'
fates from ``HIS_STATUT`` (``archive_delivered``). SMSPresto has no per-message status call:
``ADAPTER.status`` is None.
"""

from __future__ import annotations

from providers._adapter import Adapter
from providers._capabilities import ArchiveEntry, ArchiveQuery, BalanceQuery
from providers.smspresto.data import (
    COUNTER_ACTIONS,
    archive_delivered,
    archive_timezone,
    build_archive_request,
    build_balance_request,
    build_counter_request,
    parse_archive,
    parse_balance,
    parse_counter,
)
from providers.smspresto.send import (
    GET_MAX_URL_CHARS,
    LIMITS,
    SENDER_MAX_CHARS,
    build_request,
    limits_for,
    parse_response,
)
from providers.smspresto.wire import ERROR_CODES

__all__ = [
    "ADAPTER",
    "COUNTER_ACTIONS",
    "ERROR_CODES",
    "GET_MAX_URL_CHARS",
    "LIMITS",
    "SENDER_MAX_CHARS",
    "ArchiveEntry",
    "archive_delivered",
    "archive_timezone",
    "build_archive_request",
    "build_balance_request",
    "build_counter_request",
    "build_request",
    "limits_for",
    "parse_archive",
    "parse_balance",
    "parse_counter",
    "parse_response",
]

ADAPTER = Adapter(
    name="smspresto",
    limits=LIMITS,
    error_codes=ERROR_CODES,
    build_request=build_request,
    parse_response=parse_response,
    account_limits=limits_for,
    balance=BalanceQuery(build_request=build_balance_request, parse=parse_balance),
    archive=ArchiveQuery(
        build_request=build_archive_request,
        parse=parse_archive,
        timezone=archive_timezone,
        delivered=archive_delivered,
    ),
)
