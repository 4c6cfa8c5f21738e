"""The optional calls a gateway may offer beside sending, each a typed pair of pure functions.

An ``Adapter`` holds one of these per call its gateway has (``balance``, ``archive``,
``status``) and None where it has none, so callers ask ``adapter.archive is not None`` instead
of probing a module for functions. Like sending, building and parsing do no I/O: the caller
sends what ``build_request`` returns and hands the answer to ``parse``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Protocol

import httpx

from providers._accounts import Account
from providers._vocabulary import ResultState


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """One message of a gateway's archive, fields renamed from the gateway's own.

    ``id`` and ``msisdn`` are always there (a row without them is skipped by its parser); the
    rest is None where the gateway gave nothing readable or has no such field.
    """

    id: str  # the gateway's id for the archived message (SMSPresto: IDHISTORIQUE)
    msisdn: str  # digits without "+"
    message: str | None = None  # the text as the gateway archived it
    status: str | None = None  # the gateway's status, verbatim
    segments: int | None = None  # messages (parts) charged
    created_at: datetime | None = None  # when the gateway took it, in its zone made aware
    sent_at: datetime | None = None  # when the gateway passed it on
    account_ref: str | None = None  # the gateway's account reference (SMSPresto: CPT_REF)
    queue_id: str | None = None  # the gateway's queue id (SMSPresto: IDSMSFILATTENTE)
    sender: str | None = None
    contact_name: str | None = None  # the gateway's address-book name for the number


@dataclass(frozen=True, slots=True)
class BalanceQuery:
    """A gateway's balance call: what the account can still send, in the gateway's unit.

    ``parse`` returns the balance or raises ``GatewayError`` (an unreadable answer is never
    taken for 0).
    """

    build_request: Callable[[Account], httpx.Request]
    parse: Callable[[httpx.Response], float]


class ArchivePageRequest(Protocol):
    """Builds the request for one page of the archive: messages sent from ``date_from`` to
    ``date_to`` (inclusive, in the gateway's zone), ``limit`` rows from row ``offset``."""

    def __call__(
        self, account: Account, date_from: date, date_to: date, offset: int, limit: int, /
    ) -> httpx.Request: ...


class ArchivePageParser(Protocol):
    """Reads one archive page into entries, times without a zone taken to be in ``tz``.

    Raises ``GatewayError`` for anything but a readable page: a reconciler must not take an
    unreadable answer for "not in the archive".
    """

    def __call__(self, response: httpx.Response, /, *, tz: tzinfo) -> list[ArchiveEntry]: ...


def _utc(_account: Account) -> tzinfo:
    return UTC


def _no_fate(_account: Account, _status: str | None) -> bool | None:
    return None


@dataclass(frozen=True, slots=True)
class ArchiveQuery:
    """A gateway's list of messages it accepted, read page by page to settle lost outcomes.

    ``timezone(account)`` is the zone the gateway's archive times are in (UTC unless the
    gateway says otherwise); it may raise ValueError for a bad account option.
    ``delivered(account, status)`` reads an entry's ``status`` as the message's fate: True
    delivered, False undelivered, None not known (yet); by default nothing is known.
    """

    build_request: ArchivePageRequest
    parse: ArchivePageParser
    timezone: Callable[[Account], tzinfo] = _utc
    delivered: Callable[[Account, str | None], bool | None] = _no_fate


@dataclass(frozen=True, slots=True)
class StatusQuery:
    """A gateway's per-message status call, asked by the id the gateway gave the message.

    ``build_request(account, provider_message_id)`` (AamarSMS: ``/smsstatus?smsid=``);
    ``parse(response)`` gives the state (SENT, FAILED, or UNKNOWN for a word the gateway does
    not document) with the gateway's status word verbatim, or raises ``GatewayError``.
    """

    build_request: Callable[[Account, str], httpx.Request]
    parse: Callable[[httpx.Response], tuple[ResultState, str]]
