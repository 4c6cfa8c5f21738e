"""The database schema: campaigns, their batches, one row per recipient, and the opt-out list.

The database is the truth (DESIGN.md invariant 1): states live here, the broker carries ids.
States are ``StrEnum``s (stored as their string values), so mypy tells a recipient state from
a batch state; the ``*_TERMINAL`` sets below them are the vocabulary every layer shares.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Generic, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

E = TypeVar("E", bound=StrEnum)

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for 10^9 recipients.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def as_utc(value: datetime) -> datetime:
    """``value`` as aware UTC. Times are stored as UTC; SQLite hands them back naive."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class CampaignState(StrEnum):
    """Campaign lifecycle.

    draft -> scheduled -> running <-> paused -> completed | cancelled | failed
    """

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class CampaignKind(StrEnum):
    """A campaign of many numbers, or a single message (an OTP: it goes ahead at the door)."""

    CAMPAIGN = "campaign"
    MESSAGE = "message"


class AccountState(StrEnum):
    """Whether an account may still send a campaign's numbers."""

    ACTIVE = "active"
    FAILED = "failed"  # an account error or an open circuit: numbers move to a fallback


class PauseKind(StrEnum):
    """Why a paused campaign is paused; only a window pause is lifted by the tick itself."""

    USER = "user"
    WINDOW = "window"
    ACCOUNT = "account"  # the gateway refused the account (credentials, credits, sender, IP)


class BatchState(StrEnum):
    """Batch lifecycle.

    pending -> claimed -> in_flight -> done | retry_wait | failed | unknown | cancelled
    """

    PENDING = "pending"
    CLAIMED = "claimed"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    RETRY_WAIT = "retry_wait"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    SPLIT = "split"  # replaced by smaller batches to isolate a number the gateway refused
    MOVED = "moved"  # never claimed; its numbers went to batches of another account (failover)


class RecipientState(StrEnum):
    """Recipient lifecycle (DESIGN.md States)."""

    INVALID = "invalid"
    DUPLICATE = "duplicate"
    SUPPRESSED = "suppressed"
    REJECTED = "rejected"
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SENT = "sent"
    DELIVERED = "delivered"  # the gateway says the handset got it (sent -> delivered)
    UNDELIVERED = "undelivered"  # the gateway says it never reached the handset
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


CS, BS, RS = CampaignState, BatchState, RecipientState
CAMPAIGN_TERMINAL: Final = frozenset({CS.COMPLETED, CS.CANCELLED, CS.FAILED})
BATCH_TERMINAL: Final = frozenset(
    {BS.DONE, BS.FAILED, BS.UNKNOWN, BS.CANCELLED, BS.SPLIT, BS.MOVED}
)
# Recipient states settled at planning (never sent), and those among them that may repeat a
# number within one campaign (unique_in_campaign is false for these).
PLANNED_TERMINAL: Final = frozenset({RS.INVALID, RS.DUPLICATE, RS.SUPPRESSED, RS.REJECTED})
REPEATABLE: Final = frozenset({RS.INVALID, RS.DUPLICATE})
RECIPIENT_TERMINAL: Final = PLANNED_TERMINAL | {
    RS.SENT, RS.DELIVERED, RS.UNDELIVERED, RS.FAILED, RS.UNKNOWN, RS.CANCELLED,
}  # fmt: skip


class StateColumn(TypeDecorator[E], Generic[E]):
    """A state column: ``VARCHAR(20)`` in the database, the state's ``StrEnum`` in Python.

    The schema is the plain string column it always was (migrations compare it as such);
    values read back are enum members, so the code that moves states is type-checked.
    """

    impl = String(20)
    cache_ok = True

    def __init__(self, enum: type[E]) -> None:
        super().__init__()
        self._enum = enum
        # Looked up, not constructed: Enum(value) costs 1.8 us a row, a dict lookup 0.05 us
        # (exporting 1,000,000 recipients spent 1.8 s in it: bench.api, export_1m_s).
        self._members: dict[str, E] = {member.value: member for member in enum}

    def process_bind_param(self, value: E | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> E | None:
        if value is None:
            return None
        member = self._members.get(value)
        return member if member is not None else self._enum(value)  # the latter raises


class Base(DeclarativeBase):
    """Declarative base of smsq's tables."""


class Campaign(Base):
    """One submitted campaign: a text or a template for a list of numbers, via one account or
    a route (then ``account`` and ``provider`` are None and ``route_table`` is the route as it
    was configured at submit, so that later edits of the config do not move its numbers)."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str | None] = mapped_column(String(200))
    account: Mapped[str | None] = mapped_column(String(100))
    provider: Mapped[str | None] = mapped_column(String(40))
    route: Mapped[str | None] = mapped_column(String(100))
    route_table: Mapped[str | None] = mapped_column(Text)  # JSON of campaigns.routes.Route
    kind: Mapped[CampaignKind] = mapped_column(
        StateColumn(CampaignKind), default=CampaignKind.CAMPAIGN, server_default="campaign"
    )
    state: Mapped[CampaignState] = mapped_column(
        StateColumn(CampaignState), default=CampaignState.DRAFT, index=True
    )
    pause_kind: Mapped[PauseKind | None] = mapped_column(StateColumn(PauseKind))
    reason: Mapped[str | None] = mapped_column(Text)  # human-readable, whenever paused/failed
    # The text as submitted (a one-account template campaign: the template's text); a route
    # may carry both a text (text gateways) and a template id (SMSPlus.az).
    text: Mapped[str | None] = mapped_column(Text)
    template_id: Mapped[int | None] = mapped_column(Integer)  # SMSPlus.az approved template
    sender: Mapped[str | None] = mapped_column(String(50))
    encoding: Mapped[str | None] = mapped_column(String(10))  # GSM-7 | UCS-2 | mixed
    max_segments: Mapped[int] = mapped_column(Integer, default=10)
    send_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # Optional daily send window, local time in window_tz: "HH:MM" strings.
    window_start: Mapped[str | None] = mapped_column(String(5))
    window_end: Mapped[str | None] = mapped_column(String(5))
    window_tz: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # What the submission asked for (JSON, campaigns.idempotency): a reused key must match it.
    request_fingerprint: Mapped[str | None] = mapped_column(Text)
    recipients_total: Mapped[int] = mapped_column(Integer, default=0)
    batches_total: Mapped[int] = mapped_column(Integer, default=0)
    # In the accounts' one credit unit; 0 across units or for money without a price (each
    # account's own figure is in campaign_accounts, and CampaignInfo reads it from there).
    credits_planned: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Batch(Base):
    """One gateway request's worth of recipients. Claimed by compare-and-set on ``state``."""

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_campaign_state", "campaign_id", "state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # order within the campaign
    account: Mapped[str] = mapped_column(String(100))  # the account that sends it
    provider: Mapped[str] = mapped_column(String(40))
    state: Mapped[BatchState] = mapped_column(
        StateColumn(BatchState), default=BatchState.PENDING, index=True
    )
    size: Mapped[int] = mapped_column(Integer)  # recipients in this batch
    text: Mapped[str | None] = mapped_column(Text)  # the one rendered text, when shared
    parent_id: Mapped[int | None] = mapped_column(BigId)  # set on halves of a split batch
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_token: Mapped[str | None] = mapped_column(String(64))  # who holds the claim
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # went in_flight
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error_kind: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)  # never holds a credential
    # Its numbers' final states are in the callback outbox (campaigns.callbacks.outbox);
    # set once, by compare-and-set, so no outcome is reported twice or never.
    callback_emitted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When the gateway's archive could first be read for this batch, left in flight by a
    # dead worker: the deadline for giving its missing numbers up counts from here.
    archive_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Until when the archive is still searched for this batch's unknown numbers.
    archive_check_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Recipient(Base):
    """One number of one campaign, with its outcome.

    Unique on (campaign, msisdn) for every number that can be sent; ``invalid`` and
    ``duplicate`` rows are exempt (partial index), because a duplicate is by definition the
    same number again and an invalid row keeps the raw input, which may repeat. The index
    reads ``unique_in_campaign``, fixed at planning, and not ``state``: a predicate on a
    column the worker updates would make each state change delete and re-insert the row's
    index entry (migration 0003).
    """

    __tablename__ = "recipients"
    __table_args__ = (
        Index(
            "uq_recipients_campaign_msisdn",
            "campaign_id",
            "msisdn",
            unique=True,
            sqlite_where=text("unique_in_campaign"),
            postgresql_where=text("unique_in_campaign"),
        ),
        Index("ix_recipients_batch", "batch_id"),
        # Not (campaign_id, state): a state change would move the entry (migration 0002).
        Index("ix_recipients_campaign", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # No foreign key: PostgreSQL checked it with a query per inserted number (migration
    # 0010); a trigger on campaigns deletes a deleted campaign's recipients.
    campaign_id: Mapped[int] = mapped_column(BigId)
    row_no: Mapped[int] = mapped_column(Integer)  # 1-based position in the submitted list
    msisdn: Mapped[str] = mapped_column(String(32))  # normalized for the gateway (raw if invalid)
    batch_id: Mapped[int | None] = mapped_column(BigId)
    state: Mapped[RecipientState] = mapped_column(StateColumn(RecipientState))
    reason: Mapped[str | None] = mapped_column(Text)  # why invalid/duplicate/suppressed/rejected
    text: Mapped[str | None] = mapped_column(Text)  # rendered text when it differs per recipient
    params: Mapped[str | None] = mapped_column(Text)  # JSON list of template parameter values
    segments: Mapped[int | None] = mapped_column(Integer)
    credits: Mapped[float | None] = mapped_column(Float)  # planned, then as the gateway charged
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    network: Mapped[str | None] = mapped_column(String(50))
    gateway_code: Mapped[str | None] = mapped_column(String(50))
    gateway_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Routed, personalized rows: every placeholder value (JSON list in the campaign's order),
    # so that a failover can render the text or template for another account.
    fields: Mapped[str | None] = mapped_column(Text)
    # Set when failover moved the number: from which account(s) and why.
    move_reason: Mapped[str | None] = mapped_column(Text)
    # False only for REPEATABLE rows (invalid, duplicate); never updated.
    unique_in_campaign: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The gateway's word for a sent message's fate, verbatim, and when it was last asked.
    delivery_status: Mapped[str | None] = mapped_column(String(50))
    delivery_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignAccount(Base):
    """One account of a campaign: its planned share, and whether it may still send.

    A one-account campaign has one row; a routed campaign one per account its route names
    (``position`` is the route's order). ``state`` turns ``failed`` when the account stopped
    being usable for the campaign (an account error, or its circuit opened), with the reason;
    its never-claimed numbers then move to their next account.
    """

    __tablename__ = "campaign_accounts"
    __table_args__ = (UniqueConstraint("campaign_id", "account", name="uq_campaign_accounts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    account: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[AccountState] = mapped_column(
        StateColumn(AccountState), default=AccountState.ACTIVE
    )
    reason: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Planned at submit (failover moves numbers, these stay what was planned).
    valid: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    segments: Mapped[int] = mapped_column(Integer, default=0)
    credits_planned: Mapped[float] = mapped_column(Float, default=0.0)


class Suppression(Base):
    """A global opt-out: numbers (E.164 digits, no "+") that no campaign may send to."""

    __tablename__ = "suppressions"

    msisdn: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A key of the HTTP API (``smsq api-key create``): its name and the SHA-256 of the key.

    The key itself is never stored; ``prefix`` (its first characters, far too few to use) lets
    ``smsq api-key list`` tell keys apart. A revoked key keeps its row (``revoked_at`` set) so
    the list shows when; a name is unique among the keys not revoked (partial index), so a
    name can be used again once its key is revoked.
    """

    __tablename__ = "api_keys"
    __table_args__ = (
        Index(
            "uq_api_keys_active_name",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Where campaigns submitted with this key post their events, unless they name their own.
    callback_url: Mapped[str | None] = mapped_column(Text)


class CallbackState(StrEnum):
    """Delivery of one callback event.

    pending -> delivered | failing -> ... -> delivered | given_up
    """

    PENDING = "pending"
    FAILING = "failing"  # tried and refused or unreachable; retried with backoff
    DELIVERED = "delivered"  # the receiver answered 2xx
    GIVEN_UP = "given_up"  # still failing when its retry time ran out


CALLBACK_OPEN: Final = (CallbackState.PENDING, CallbackState.FAILING)


class CallbackStream(Base):
    """A campaign's callbacks: where they go, whose secret signs them, and delivery's lease.

    One row per campaign that has a ``callback_url``. ``owner`` names the signing secret's
    owner (``campaign:ID`` or ``api_key:ID``): the secret itself is derived from the server's
    master key and the owner, never stored (campaigns.callbacks.secrets). ``next_seq`` is
    the sequence number the next event gets when it is first delivered; ``lease_*`` lets one
    delivery run per campaign at a time (events go out in order), and a lease that expires
    (its worker was killed) lets the next run take over. ``open`` stays true while outcomes
    may still arrive; ``planned_emitted`` once the rows settled at submit are in the outbox.
    """

    __tablename__ = "callback_streams"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    url: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(40))
    next_seq: Mapped[int] = mapped_column(Integer, default=1)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    planned_emitted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CallbackEvent(Base):
    """One event of the outbox: written with the change it reports, delivered later.

    ``seq`` is given at the event's first delivery attempt, in outbox order, from the
    stream's ``next_seq`` (unique per campaign): receivers order and dedupe by it and by
    the event id. ``payload`` is the event's ``data`` as JSON.
    """

    __tablename__ = "callback_events"
    __table_args__ = (
        UniqueConstraint("campaign_id", "seq", name="uq_callback_events_seq"),
        Index("ix_callback_events_campaign_state", "campaign_id", "state"),
        Index("ix_callback_events_state_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    seq: Mapped[int | None] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[CallbackState] = mapped_column(
        StateColumn(CallbackState), default=CallbackState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))  # a status code or error class
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
