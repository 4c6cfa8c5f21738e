"""Reading campaigns back: a campaign's state and counts, and its recipients as a stream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import URL, Connection, Engine, and_, case, func, literal, select

from campaigns.callbacks.delivery import counts as callback_counts
from campaigns.credits import CREDITS
from campaigns.credits import total as credits_total
from campaigns.db import get_engine, read_only
from campaigns.errors import CampaignNotFound, InputError
from campaigns.freshness import FreshnessCache
from campaigns.models import (
    AccountState,
    BatchState,
    CallbackState,
    CampaignKind,
    CampaignState,
    PauseKind,
    RecipientState,
    as_utc,
)
from campaigns.tables import BATCHES, CALLBACK_STREAMS, CAMPAIGN_ACCOUNTS, CAMPAIGNS, RECIPIENTS
from campaigns.windows import next_opening
from providers.registry import get_adapter

_E = TypeVar("_E", bound=StrEnum)
PAGE_ROWS = 2_000  # recipients read per query by iter_recipients
# What a number's state reads as. Its row stays ``pending`` while its batch is in flight (the
# worker writes each number once per attempt, with its outcome): it reads ``in_flight``.
REPORTED_STATE = case(
    (
        and_(
            RECIPIENTS.c.state == RecipientState.PENDING.value,
            BATCHES.c.state == BatchState.IN_FLIGHT.value,
        ),
        literal(RecipientState.IN_FLIGHT.value),
    ),
    else_=RECIPIENTS.c.state,
)
_SPENT = (RecipientState.SENT, RecipientState.DELIVERED, RecipientState.UNDELIVERED)


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """One account's part of a campaign: its numbers per state, credits, and whether it may
    still send (``state`` failed, with ``reason``: the gateway's words, or why its circuit
    opened). ``planned`` is the share planned at submit; failover moves numbers between
    accounts, ``recipients`` counts where they are now. Credits are in ``credit_unit``;
    ``credits_planned`` is None for an account that charges money and had no
    ``price_per_segment`` at submit."""

    account: str
    provider: str
    state: AccountState
    reason: str | None
    planned: int
    recipients: dict[RecipientState, int]
    credits_planned: float | None
    credits_spent: float
    credit_unit: str


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """A campaign as it stands: its state (and why, when paused or failed), counts, timings.

    ``recipients`` counts recipients per state and ``batches`` batches per state (states
    with none are left out). ``credits_spent`` sums the credits of sent and delivered
    numbers as the gateways charged them, ``credits_planned`` what was planned, both in
    ``credit_unit``: None when the accounts count in different units ("mixed": see
    ``accounts``), and planned None when money was planned without a price. ``account`` is
    None for a campaign sent through ``route``; ``accounts`` breaks the numbers down per
    account either way. Times are timezone-aware UTC, but ``next_window_at``: when a campaign
    waiting for its send window (or scheduled at a time outside it) may next send, in the
    window's zone. ``callback_url`` is where its status callbacks go (None: nowhere), and
    ``callbacks`` counts its callback events per delivery state (pending, failing,
    delivered, given_up; states with none left out).
    """

    id: int
    name: str | None
    account: str | None
    provider: str | None
    state: CampaignState
    pause_kind: PauseKind | None
    reason: str | None
    encoding: str | None
    recipients_total: int
    batches_total: int
    recipients: dict[RecipientState, int]
    batches: dict[BatchState, int]
    credits_planned: float | None
    credits_spent: float | None
    created_at: datetime
    send_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    window: tuple[str, str] | None
    window_tz: str | None
    route: str | None = None
    accounts: tuple[AccountInfo, ...] = ()
    credit_unit: str = CREDITS
    next_window_at: datetime | None = None
    callback_url: str | None = None
    callbacks: dict[CallbackState, int] = field(default_factory=dict)
    # Of the ``unknown`` numbers, those the gateway's archive is still being searched for:
    # they may yet become ``sent`` (never ``pending``: they are not sent again).
    unknown_checking: int = 0


# Not frozen, unlike the other results: a frozen dataclass's __init__ costs 3.3 us against
# 0.5 us, and exporting 1,000,000 recipients spent 2.9 s of its 8 s in it (bench.api,
# export_1m_s). A RecipientInfo is a copy of a row: changing one changes nothing stored.
@dataclass(slots=True)
class RecipientInfo:
    """One recipient row: the number as sent (raw input if invalid) and its outcome."""

    id: int
    row_no: int
    msisdn: str
    state: RecipientState
    reason: str | None
    batch_id: int | None
    text: str | None  # the rendered text when it differs per recipient within its batch
    segments: int | None
    credits: float | None
    provider_message_id: str | None
    network: str | None
    gateway_code: str | None
    gateway_message: str | None
    attempts: int
    delivery_status: str | None = None  # the gateway's word for the message's fate, verbatim


def utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (SQLite hands back naive ones, stored as UTC)."""
    return None if value is None else as_utc(value)


# Account (None: rows in no batch) -> (recipients per state, credits spent); batches per state.
_PerAccount = dict[str | None, tuple[dict[RecipientState, int], float]]
_Counts = tuple[_PerAccount, dict[BatchState, int], int]
# How old the counts of get_campaign(max_age_s=...) may be, per campaign, in this process.
_COUNTS: FreshnessCache[tuple[URL, int], _Counts] = FreshnessCache()


def get_campaign(
    campaign_id: int, *, database_url: str | None = None, max_age_s: float = 0.0
) -> CampaignInfo:
    """The campaign ``campaign_id`` with its counts; CampaignNotFound if there is none.

    The campaign's own row (state, reason, times) is always read now. Its counts (recipients
    and batches per state, credits spent) are read now too by default; with ``max_age_s``
    they may be up to that old, as this process last read them, unless the campaign's state
    changed since: pollers (the HTTP API) share one GROUP BY per campaign and period instead
    of one each (campaigns.freshness: 80 ms per read of 100,000 rows on SQLite).
    """
    engine = get_engine(database_url)
    with read_only(engine) as conn:
        row = conn.execute(select(CAMPAIGNS).where(CAMPAIGNS.c.id == campaign_id)).first()
        if row is None:
            raise CampaignNotFound(f"campaign {campaign_id} does not exist")
        shares = conn.execute(
            select(CAMPAIGN_ACCOUNTS)
            .where(CAMPAIGN_ACCOUNTS.c.campaign_id == campaign_id)
            .order_by(CAMPAIGN_ACCOUNTS.c.position, CAMPAIGN_ACCOUNTS.c.id)
        ).all()
        callback_url, callbacks = _callbacks(conn, campaign_id)
    key = (engine.url, campaign_id)
    c = row._mapping
    per_account, batches, checking = _COUNTS.get(
        key, c["state"], max_age_s, lambda: _read_counts(engine, campaign_id)
    )
    recipients: dict[RecipientState, int] = {}
    for counts, _credits in per_account.values():
        for state, count in counts.items():
            recipients[state] = recipients.get(state, 0) + count
    accounts = tuple(_account_info(share._mapping, per_account) for share in shares)
    planned, unit = credits_total((a.credits_planned, a.credit_unit) for a in accounts)
    spent, _unit = credits_total((a.credits_spent, a.credit_unit) for a in accounts)
    window = (c["window_start"], c["window_end"]) if c["window_start"] else None
    return CampaignInfo(
        id=c["id"], name=c["name"], account=c["account"], provider=c["provider"],
        state=c["state"], pause_kind=c["pause_kind"], reason=c["reason"],
        encoding=c["encoding"], recipients_total=c["recipients_total"],
        batches_total=c["batches_total"], recipients=recipients, batches=dict(batches),
        credits_planned=planned, credits_spent=spent,
        created_at=utc(c["created_at"]) or datetime.now(UTC), send_at=utc(c["send_at"]),
        started_at=utc(c["started_at"]), finished_at=utc(c["finished_at"]),
        window=window, window_tz=c["window_tz"], route=c["route"], accounts=accounts,
        credit_unit=unit, next_window_at=_next_window(c), callback_url=callback_url,
        callbacks=callbacks, unknown_checking=checking,
    )  # fmt: skip


def _callbacks(conn: Connection, campaign_id: int) -> tuple[str | None, dict[CallbackState, int]]:
    """The campaign's callback URL and its events per delivery state (two index lookups,
    the second only for a campaign that has callbacks)."""
    url = conn.execute(
        select(CALLBACK_STREAMS.c.url).where(CALLBACK_STREAMS.c.campaign_id == campaign_id)
    ).scalar_one_or_none()
    if url is None:
        return None, {}
    return url, callback_counts(conn, campaign_id)


def _next_window(c: Any) -> datetime | None:
    """When a campaign waiting for its window (or due at a closed one) may next send."""
    waiting = c["state"] == CampaignState.SCHEDULED or c["pause_kind"] == PauseKind.WINDOW
    if not c["window_start"] or not waiting:
        return None
    after = max(utc(c["send_at"]) or datetime.now(UTC), datetime.now(UTC))
    return next_opening(after, c["window_start"], c["window_end"], c["window_tz"])


def _read_counts(engine: Engine, campaign_id: int) -> _Counts:
    with read_only(engine) as conn:
        return (
            _counts_per_account(conn, campaign_id),
            _batch_counts(conn, campaign_id),
            _unknown_checking(conn, campaign_id),
        )


def _unknown_checking(conn: Connection, campaign_id: int) -> int:
    """Unknown numbers of the campaign whose batch's archive check has not run out."""
    query = (
        select(func.count())
        .select_from(RECIPIENTS.join(BATCHES, BATCHES.c.id == RECIPIENTS.c.batch_id))
        .where(
            RECIPIENTS.c.campaign_id == campaign_id,
            RECIPIENTS.c.state == RecipientState.UNKNOWN.value,
            BATCHES.c.archive_check_until > datetime.now(UTC),
        )
    )
    return int(conn.execute(query).scalar_one())


def _counts_per_account(conn: Connection, campaign_id: int) -> _PerAccount:
    """Account (None: rows planned into no batch) -> (recipients per state, credits spent).

    One pass over the campaign's recipients, joined to their batches for the account.
    """
    spent = case((RECIPIENTS.c.state.in_(_SPENT), RECIPIENTS.c.credits), else_=None)
    query = (
        select(BATCHES.c.account, REPORTED_STATE, func.count(), func.sum(spent))
        .select_from(RECIPIENTS.outerjoin(BATCHES, BATCHES.c.id == RECIPIENTS.c.batch_id))
        .where(RECIPIENTS.c.campaign_id == campaign_id)
        .group_by(BATCHES.c.account, REPORTED_STATE)
    )
    found: _PerAccount = {}
    for account, state, count, credits in conn.execute(query):
        counts, total = found.get(account, ({}, 0.0))
        counts[RecipientState(state)] = count
        found[account] = (counts, total + float(credits or 0.0))
    return found


def _batch_counts(conn: Connection, campaign_id: int) -> dict[BatchState, int]:
    query = (
        select(BATCHES.c.state, func.count())
        .where(BATCHES.c.campaign_id == campaign_id)
        .group_by(BATCHES.c.state)
    )
    return {state: count for state, count in conn.execute(query)}


def _account_info(share: Any, per_account: _PerAccount) -> AccountInfo:
    counts, spent = per_account.get(share["account"], ({}, 0.0))
    counts = dict(counts)
    if share["rejected"]:
        counts[RecipientState.REJECTED] = share["rejected"]  # rejected for this account
    try:
        unit = get_adapter(share["provider"]).limits.credit_unit
    except KeyError:
        unit = CREDITS
    planned: float | None = share["credits_planned"]
    if unit != CREDITS and not planned and share["valid"]:
        planned = None  # money with no price_per_segment at submit: stored as 0, not known
    return AccountInfo(
        account=share["account"], provider=share["provider"], state=share["state"],
        reason=share["reason"], planned=share["valid"], recipients=counts,
        credits_planned=planned, credits_spent=spent, credit_unit=unit,
    )  # fmt: skip


def iter_recipients(
    campaign_id: int,
    state: RecipientState | str | None = None,
    *,
    database_url: str | None = None,
    after_id: int = 0,
) -> Iterator[RecipientInfo]:
    """Every recipient of the campaign (of one ``state`` if given), in row order of insertion;
    with ``after_id``, those after the recipient of that id (a cursor: the last id seen).

    Streams page by page (keyset on id), each page in its own short transaction, so a
    million rows never sit in memory and no lock is held between pages.
    """
    wanted = _recipient_state(state)
    engine = get_engine(database_url)
    with read_only(engine) as conn:
        found = conn.execute(select(CAMPAIGNS.c.id).where(CAMPAIGNS.c.id == campaign_id)).first()
    if found is None:  # checked now, not at the first next()
        raise CampaignNotFound(f"campaign {campaign_id} does not exist")
    return _pages(engine, campaign_id, wanted, after_id)


def _recipient_state(state: RecipientState | str | None) -> RecipientState | None:
    """``state`` as a RecipientState; InputError naming the known ones for a typo."""
    return None if state is None else _member(RecipientState, state, "a recipient state")


def _member(enum: type[_E], value: str, what: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        known = ", ".join(s.value for s in enum)
        raise InputError(f"state {value!r} is not {what} (known: {known})") from None


def campaign_ids(
    limit: int = 20,
    *,
    before_id: int | None = None,
    state: CampaignState | str | None = None,
    database_url: str | None = None,
) -> list[int]:
    """The ids of the newest ``limit`` campaigns (of one ``state`` if given; single messages
    are not campaigns), newest first; ``before_id`` continues a listing after (older than)
    the campaign of that id."""
    campaigns_only = CAMPAIGNS.c.kind == CampaignKind.CAMPAIGN  # not single messages
    query = select(CAMPAIGNS.c.id).where(campaigns_only).order_by(CAMPAIGNS.c.id.desc())
    query = query.limit(limit)
    if before_id is not None:
        query = query.where(CAMPAIGNS.c.id < before_id)
    if state is not None:
        query = query.where(CAMPAIGNS.c.state == _member(CampaignState, state, "a campaign state"))
    with read_only(get_engine(database_url)) as conn:
        return list(conn.execute(query).scalars())


def _pages(
    engine: Engine, campaign_id: int, state: RecipientState | None, last_id: int
) -> Iterator[RecipientInfo]:
    reported = REPORTED_STATE.label("state")
    while True:
        query = (
            select(*_RECIPIENT_COLUMNS[:3], reported, *_RECIPIENT_COLUMNS[3:])
            .select_from(RECIPIENTS.outerjoin(BATCHES, BATCHES.c.id == RECIPIENTS.c.batch_id))
            .where(RECIPIENTS.c.campaign_id == campaign_id, RECIPIENTS.c.id > last_id)
        )
        if state is not None:
            query = query.where(REPORTED_STATE == state.value)
        with read_only(engine) as conn:
            page = conn.execute(query.order_by(RECIPIENTS.c.id).limit(PAGE_ROWS)).all()
        for row in page:
            values = list(row)
            values[3] = RecipientState(values[3])  # a CASE comes back as plain text
            yield RecipientInfo(*values)
        if len(page) < PAGE_ROWS:
            return
        last_id = page[-1][0]


_RECIPIENT_COLUMNS = tuple(
    RECIPIENTS.c[name]
    for name in (
        "id", "row_no", "msisdn", "reason", "batch_id", "text", "segments",
        "credits", "provider_message_id", "network", "gateway_code", "gateway_message",
        "attempts", "delivery_status",
    )
)  # fmt: skip
