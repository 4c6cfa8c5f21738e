"""Reading campaigns back: a campaign's state and counts, and its recipients as a stream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from campaigns.db import get_engine
from campaigns.errors import CampaignNotFound, InputError
from campaigns.models import BatchState, CampaignState, PauseKind, RecipientState, as_utc
from campaigns.tables import BATCHES, CAMPAIGNS, RECIPIENTS

PAGE_ROWS = 2_000  # recipients read per query by iter_recipients
_SPENT = (RecipientState.SENT, RecipientState.DELIVERED)


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """A campaign as it stands: its state (and why, when paused or failed), counts, timings.

    ``recipients`` counts recipients per state and ``batches`` batches per state (states
    with none are left out). ``credits_spent`` sums the credits of sent and delivered
    numbers as the gateways charged them. Times are timezone-aware UTC.
    """

    id: int
    name: str | None
    account: str
    provider: str
    state: CampaignState
    pause_kind: PauseKind | None
    reason: str | None
    encoding: str | None
    recipients_total: int
    batches_total: int
    recipients: dict[RecipientState, int]
    batches: dict[BatchState, int]
    credits_planned: float
    credits_spent: float
    created_at: datetime
    send_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    window: tuple[str, str] | None
    window_tz: str | None


@dataclass(frozen=True, slots=True)
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


def utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (SQLite hands back naive ones, stored as UTC)."""
    return None if value is None else as_utc(value)


def get_campaign(campaign_id: int, *, database_url: str | None = None) -> CampaignInfo:
    """The campaign ``campaign_id`` with its counts; CampaignNotFound if there is none."""
    with get_engine(database_url).connect() as conn:
        row = conn.execute(select(CAMPAIGNS).where(CAMPAIGNS.c.id == campaign_id)).first()
        if row is None:
            raise CampaignNotFound(f"campaign {campaign_id} does not exist")
        recipients = _counts(conn, RECIPIENTS, campaign_id)
        batches = _counts(conn, BATCHES, campaign_id)
        spent = conn.execute(
            select(func.coalesce(func.sum(RECIPIENTS.c.credits), 0.0)).where(
                RECIPIENTS.c.campaign_id == campaign_id, RECIPIENTS.c.state.in_(_SPENT)
            )
        ).scalar_one()
    c = row._mapping
    window = (c["window_start"], c["window_end"]) if c["window_start"] else None
    return CampaignInfo(
        id=c["id"], name=c["name"], account=c["account"], provider=c["provider"],
        state=c["state"], pause_kind=c["pause_kind"], reason=c["reason"],
        encoding=c["encoding"], recipients_total=c["recipients_total"],
        batches_total=c["batches_total"], recipients=recipients, batches=batches,
        credits_planned=c["credits_planned"], credits_spent=float(spent),
        created_at=utc(c["created_at"]) or datetime.now(UTC), send_at=utc(c["send_at"]),
        started_at=utc(c["started_at"]), finished_at=utc(c["finished_at"]),
        window=window, window_tz=c["window_tz"],
    )  # fmt: skip


def _counts(conn: Connection, table: Any, campaign_id: int) -> dict[Any, int]:
    query = (
        select(table.c.state, func.count())
        .where(table.c.campaign_id == campaign_id)
        .group_by(table.c.state)
    )
    return {state: count for state, count in conn.execute(query)}


def iter_recipients(
    campaign_id: int,
    state: RecipientState | str | None = None,
    *,
    database_url: str | None = None,
) -> Iterator[RecipientInfo]:
    """Every recipient of the campaign (of one ``state`` if given), in row order of insertion.

    Streams page by page (keyset on id), each page in its own short transaction, so a
    million rows never sit in memory and no lock is held between pages.
    """
    wanted = _recipient_state(state)
    engine = get_engine(database_url)
    with engine.connect() as conn:
        found = conn.execute(select(CAMPAIGNS.c.id).where(CAMPAIGNS.c.id == campaign_id)).first()
    if found is None:  # checked now, not at the first next()
        raise CampaignNotFound(f"campaign {campaign_id} does not exist")
    return _pages(engine, campaign_id, wanted)


def _recipient_state(state: RecipientState | str | None) -> RecipientState | None:
    """``state`` as a RecipientState; InputError naming the known ones for a typo."""
    if state is None:
        return None
    try:
        return RecipientState(state)
    except ValueError:
        known = ", ".join(s.value for s in RecipientState)
        raise InputError(f"state {state!r} is not a recipient state (known: {known})") from None


def _pages(
    engine: Engine, campaign_id: int, state: RecipientState | None
) -> Iterator[RecipientInfo]:
    last_id = 0
    while True:
        query = select(*_RECIPIENT_COLUMNS).where(
            RECIPIENTS.c.campaign_id == campaign_id, RECIPIENTS.c.id > last_id
        )
        if state is not None:
            query = query.where(RECIPIENTS.c.state == state)
        with engine.connect() as conn:
            page = conn.execute(query.order_by(RECIPIENTS.c.id).limit(PAGE_ROWS)).all()
        for row in page:
            yield RecipientInfo(*row)
        if len(page) < PAGE_ROWS:
            return
        last_id = page[-1][0]


_RECIPIENT_COLUMNS = tuple(
    RECIPIENTS.c[name]
    for name in (
        "id", "row_no", "msisdn", "state", "reason", "batch_id", "text", "segments",
        "credits", "provider_message_id", "network", "gateway_code", "gateway_message",
        "attempts",
    )
)  # fmt: skip
