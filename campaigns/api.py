"""The public Python API: submit and estimate campaigns, watch and steer them, the opt-out list.

Every function takes ``database_url`` (default: the configured database) so that tests and
the CLI can point it anywhere. ``submit_campaign`` creates a campaign whole or not at all
(DESIGN.md invariant 8): one transaction holds the campaign, its batches and every recipient
row, and any error rolls all of it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from campaigns.balance import fetch_balance
from campaigns.bulk import DbSink
from campaigns.control import cancel_campaign, pause_campaign, resume_campaign, retry_failed
from campaigns.db import get_engine
from campaigns.errors import InputError
from campaigns.handoff import notify
from campaigns.models import CampaignState
from campaigns.planning import NullSink, Planner, Tally
from campaigns.recipients_input import Recipients, RowSource
from campaigns.spec import DEFAULT_MAX_SEGMENTS, CampaignSpec, build_spec
from campaigns.status import CampaignInfo, RecipientInfo, get_campaign, iter_recipients
from campaigns.suppression import SuppressionLookup, suppress, unsuppress
from campaigns.tables import CAMPAIGNS
from providers import Account

__all__ = [
    "CampaignInfo",
    "Estimate",
    "RecipientInfo",
    "cancel_campaign",
    "estimate",
    "get_campaign",
    "iter_recipients",
    "pause_campaign",
    "resume_campaign",
    "retry_failed",
    "submit_campaign",
    "suppress",
    "unsuppress",
]


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a submission would plan, without writing anything.

    ``valid`` numbers would be sent; ``segments_max`` is the longest message in segments and
    ``segments_total`` (= ``credits``) the sum over valid numbers. ``balance`` is the account's
    balance where the gateway reports one, else None with ``balance_error`` saying why.
    ``examples`` quotes the first rows that would not be sent, with their reasons.
    """

    rows: int
    valid: int
    invalid: int
    duplicate: int
    suppressed: int
    rejected: int
    encoding: str | None
    encodings: tuple[str, ...]
    segments_max: int
    segments_total: int
    batches: int
    credits: float
    balance: float | None
    balance_error: str | None
    examples: tuple[str, ...]


def submit_campaign(
    account: str | Account,
    recipients: Recipients,
    text: str | None = None,
    template_id: int | None = None,
    sender: str | None = None,
    send_at: datetime | None = None,
    name: str | None = None,
    idempotency_key: str | None = None,
    max_segments: int = DEFAULT_MAX_SEGMENTS,
    window: tuple[str, str] | None = None,
    window_tz: str | None = None,
    *,
    database_url: str | None = None,
    accounts: Mapping[str, Account] | None = None,
) -> int:
    """Validate, plan and store a campaign; returns its id. It is ``scheduled`` for ``send_at``
    (an aware datetime; default now) and handed to the worker once committed.

    ``account`` is a configured account's name (looked up in ``accounts``, default
    ``providers.load_accounts()``) or an Account. ``recipients`` is a CSV path (number column
    ``msisdn``/``phone``/``number``/``mobile``, other columns fill ``{placeholders}``) or an
    iterable of numbers or of dicts with an ``msisdn`` key. SMSPlus.az takes ``template_id``
    (a template of the account) instead of ``text``. ``window`` ("HH:MM", "HH:MM") in
    ``window_tz`` (default UTC) limits sending to those hours each day.

    The same ``idempotency_key`` returns the first campaign's id, even under a race. Raises
    a CampaignError subclass naming the field and row; nothing is written then.
    """
    spec = build_spec(
        account, text=text, template_id=template_id, sender=sender, send_at=send_at,
        name=name, idempotency_key=idempotency_key, max_segments=max_segments, window=window,
        window_tz=window_tz, accounts=accounts,
    )  # fmt: skip
    if not spec.gateway.account.name:
        raise InputError("account: an Account passed directly needs a name (the worker finds "
                         "its credentials by that name)")  # fmt: skip
    engine = get_engine(database_url)
    if idempotency_key is not None:
        existing = _campaign_by_key(engine, idempotency_key)
        if existing is not None:
            return existing
    planner = Planner(spec)
    with RowSource(recipients, spec.template.names) as rows:
        try:
            campaign_id = _plan_and_store(engine, spec, planner, rows)
        except IntegrityError:
            # A concurrent submit with the same key committed first: return its campaign.
            winner = _campaign_by_key(engine, idempotency_key) if idempotency_key else None
            if winner is None:
                raise
            return winner
    notify(campaign_id)
    return campaign_id


def estimate(
    account: str | Account,
    recipients: Recipients,
    text: str | None = None,
    template_id: int | None = None,
    sender: str | None = None,
    send_at: datetime | None = None,
    name: str | None = None,
    idempotency_key: str | None = None,
    max_segments: int = DEFAULT_MAX_SEGMENTS,
    window: tuple[str, str] | None = None,
    window_tz: str | None = None,
    *,
    database_url: str | None = None,
    accounts: Mapping[str, Account] | None = None,
    check_balance: bool = True,
) -> Estimate:
    """A dry run of ``submit_campaign`` with the same arguments: writes nothing.

    Input errors raise as they would at submit; a list with nothing to send is reported in
    the counts instead. With ``check_balance`` the gateway's balance is asked for (short
    timeout); a failure leaves ``balance`` None and says why in ``balance_error``.
    """
    spec = build_spec(
        account, text=text, template_id=template_id, sender=sender, send_at=send_at,
        name=name, idempotency_key=idempotency_key, max_segments=max_segments, window=window,
        window_tz=window_tz, accounts=accounts,
    )  # fmt: skip
    planner = Planner(spec)
    lookup = SuppressionLookup(get_engine(database_url))
    with RowSource(recipients, spec.template.names) as rows:
        tally = planner.run(rows, NullSink(), lookup, require_sendable=False)
    balance, balance_error = None, None
    if check_balance:
        balance, balance_error = fetch_balance(spec.gateway.adapter, spec.gateway.account)
    return _estimate_of(tally, balance, balance_error)


def _plan_and_store(engine: Engine, spec: CampaignSpec, planner: Planner, rows: RowSource) -> int:
    with engine.begin() as conn:
        campaign_id = _insert_campaign(conn, spec)
        with DbSink(conn, campaign_id) as sink:
            tally = planner.run(rows, sink, SuppressionLookup(conn, lock=sink.lock))
        conn.execute(
            update(CAMPAIGNS)
            .where(CAMPAIGNS.c.id == campaign_id)
            .values(
                state=CampaignState.SCHEDULED,
                recipients_total=tally.rows,
                batches_total=tally.batches,
                credits_planned=tally.credits,
                encoding=tally.encoding,
            )
        )
    return campaign_id


def _insert_campaign(conn: Connection, spec: CampaignSpec) -> int:
    gateway = spec.gateway
    window = spec.window or (None, None)
    values = {
        "name": spec.name,
        "account": gateway.account.name,
        "provider": gateway.account.provider,
        "state": CampaignState.DRAFT,  # becomes scheduled in this same transaction
        "text": spec.template.source,
        "template_id": spec.template_id,
        "sender": spec.sender,
        "max_segments": spec.max_segments,
        "send_at": spec.send_at,
        "window_start": window[0],
        "window_end": window[1],
        "window_tz": spec.window_tz,
        "idempotency_key": spec.idempotency_key,
        "recipients_total": 0,
        "batches_total": 0,
        "credits_planned": 0.0,
        "created_at": datetime.now(UTC),
    }
    statement = insert(CAMPAIGNS).values(**values).returning(CAMPAIGNS.c.id)
    campaign_id: int = conn.execute(statement).scalar_one()
    return campaign_id


def _campaign_by_key(engine: Engine, key: str) -> int | None:
    with engine.connect() as conn:
        found: int | None = conn.execute(
            select(CAMPAIGNS.c.id).where(CAMPAIGNS.c.idempotency_key == key)
        ).scalar_one_or_none()
    return found


def _estimate_of(tally: Tally, balance: float | None, balance_error: str | None) -> Estimate:
    return Estimate(
        rows=tally.rows,
        valid=tally.valid,
        invalid=tally.invalid,
        duplicate=tally.duplicate,
        suppressed=tally.suppressed,
        rejected=tally.rejected,
        encoding=tally.encoding,
        encodings=tuple(sorted(tally.encodings)),
        segments_max=tally.segments_max,
        segments_total=tally.segments_total,
        batches=tally.batches,
        credits=tally.credits,
        balance=balance,
        balance_error=balance_error,
        examples=tuple(tally.examples),
    )
