"""The public Python API: submit and estimate campaigns, watch and steer them, the opt-out list.

Every function takes ``database_url`` (default: the configured database) so that tests and
the CLI can point it anywhere. ``submit_campaign`` creates a campaign whole or not at all
(DESIGN.md invariant 8): one transaction holds the campaign, its batches and every recipient
row, and any error rolls all of it back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from campaigns.balance import fetch_balance
from campaigns.bulk import DbSink
from campaigns.callbacks import outbox
from campaigns.callbacks.secrets import api_key_owner, campaign_owner, owner_secret
from campaigns.control import cancel_campaign, pause_campaign, resume_campaign, retry_failed
from campaigns.db import get_engine
from campaigns.errors import InputError
from campaigns.findings import Problem, Sample
from campaigns.handoff import notify, send_now
from campaigns.idempotency import RowsHash, check_same_request, fingerprint
from campaigns.models import AccountState, CampaignKind, CampaignState
from campaigns.planning import NullSink, Planner, Tally
from campaigns.recipients_input import Recipients, Row, RowSource
from campaigns.rejects import RejectsFile
from campaigns.routes import Route
from campaigns.spec import DEFAULT_MAX_SEGMENTS, CampaignSpec, Lane, build_spec
from campaigns.status import CampaignInfo, RecipientInfo, get_campaign, iter_recipients
from campaigns.suppression import (
    SuppressionInfo,
    SuppressionLookup,
    iter_suppressions,
    suppress,
    unsuppress,
)
from campaigns.tables import BATCHES, CAMPAIGN_ACCOUNTS, CAMPAIGNS
from providers import Account

__all__ = [
    "AccountEstimate",
    "CampaignInfo",
    "Estimate",
    "Problem",
    "RecipientInfo",
    "Sample",
    "SuppressionInfo",
    "callback_secret",
    "cancel_campaign",
    "estimate",
    "get_campaign",
    "iter_recipients",
    "iter_suppressions",
    "pause_campaign",
    "resume_campaign",
    "retry_failed",
    "submit_campaign",
    "suppress",
    "unsuppress",
]


@dataclass(frozen=True, slots=True)
class AccountEstimate:
    """One account's share of an estimate: what it would send, and what it has.

    ``credits`` are counted as ``credit_unit`` says (segments on every gateway today);
    ``balance`` is the account's balance where the gateway reports one (in the gateway's own
    unit: credits, or BDT for AamarSMS), else None with ``balance_error`` saying why.
    """

    account: str
    provider: str
    numbers: int
    rejected: int
    batches: int
    segments: int
    credits: float | None  # None: the gateway charges money and no price is set
    credit_unit: str
    balance: float | None
    balance_error: str | None


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a submission would plan, without writing anything.

    ``valid`` numbers would be sent; ``segments_max`` is the longest message in segments and
    ``segments_total`` the sum over valid numbers. ``credits`` is what that costs in
    ``credit_unit`` (credits are segments on most gateways; AamarSMS charges BDT): None when
    the accounts count in different units (``credit_unit`` "mixed": see ``accounts``) or one
    charges money and has no ``price_per_segment``. ``accounts`` gives every account's share
    (a one-account campaign has one); ``no_route`` counts the rejected rows that no prefix of
    the route covers. ``balance``/``balance_error`` are the first account's.

    Every row that would not be sent is in ``problems``, counted by reason with the first few
    rows of each; ``examples`` quotes the first such rows overall. ``samples`` shows the first
    messages as they would go out; ``number_column`` is the CSV column the numbers came from.
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
    credits: float | None
    balance: float | None
    balance_error: str | None
    examples: tuple[str, ...]
    no_route: int = 0
    accounts: tuple[AccountEstimate, ...] = ()
    credit_unit: str = "credits"
    problems: tuple[Problem, ...] = ()
    samples: tuple[Sample, ...] = ()
    number_column: str | None = None


def submit_campaign(
    account: str | Account | None = None,
    recipients: Recipients | None = None,
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
    route: str | Route | None = None,
    strict: bool = False,
    phone_column: str | None = None,
    rejects: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
    accounts: Mapping[str, Account] | None = None,
    routes: Mapping[str, Route] | None = None,
    callback_url: str | None = None,
    callback_key_id: int | None = None,
) -> int:
    """Validate, plan and store a campaign; returns its id. It is ``scheduled`` for ``send_at``
    (an aware datetime, not more than a minute in the past; default now) and handed to the
    worker once committed.

    Exactly one of ``account`` and ``route``. ``account`` is a configured account's name
    (looked up in ``accounts``, default ``providers.load_accounts()``) or an Account: every
    number goes through it. ``route`` is a configured route's name (``[routes.NAME]``, looked
    up in ``routes``, default ``campaigns.routes.load_routes()``) or a Route: each number goes
    to the account of its longest matching prefix, with fallbacks if that account fails.

    ``recipients`` is a CSV path (comma, semicolon or tab separated; the number column is
    ``phone_column``, else one called ``msisdn``, ``phone``, ``Phone Number``, ``Mobile No``
    ... (see ``campaigns.recipients_input.NUMBER_COLUMNS``); other columns fill
    ``{placeholders}``) or an iterable of numbers or of dicts with an ``msisdn`` key. Text
    gateways take ``text``; SMSPlus.az takes ``template_id`` (a template of the account); a
    route over both kinds takes both. ``window`` ("HH:MM", "HH:MM") in ``window_tz``
    (default UTC) limits sending to those hours each day.

    A row without a value for a placeholder (``{name}``; ``{name|friend}`` has a default) is
    recorded ``rejected`` with its reason and the rest is sent; ``strict`` makes it fail the
    whole submission (MissingPlaceholder) instead. ``rejects`` names a CSV file that gets
    every row not sent, with its reason.

    The same ``idempotency_key`` with the same request returns the first campaign's id, even
    under a race; with another account, route, text, template, sender or list it raises
    IdempotencyConflict. Raises a CampaignError subclass naming the field and row; nothing
    is written then.

    ``callback_url`` (http or https) receives signed status callbacks (README, "Status
    callbacks"): the campaign's state changes and its numbers' final states. They are
    signed with the campaign's own secret, ``callback_secret(id)``, unless
    ``callback_key_id`` names the API key whose default URL this is (then its secret).
    """
    spec = build_spec(
        account, route=route, text=text, template_id=template_id, sender=sender,
        send_at=send_at, name=name, idempotency_key=idempotency_key,
        max_segments=max_segments, window=window, window_tz=window_tz, accounts=accounts,
        routes=routes, strict=strict, callback_url=callback_url,
        callback_key_id=callback_key_id,
    )  # fmt: skip
    return submit_spec(
        spec, _required(recipients), database_url=database_url, phone_column=phone_column,
        rejects=rejects,
    )  # fmt: skip


def submit_spec(
    spec: CampaignSpec,
    recipients: Recipients,
    *,
    database_url: str | None = None,
    kind: CampaignKind = CampaignKind.CAMPAIGN,
    phone_column: str | None = None,
    rejects: str | os.PathLike[str] | None = None,
) -> int:
    """Plan and store a validated ``spec`` over ``recipients`` as a campaign of ``kind`` (a
    single message is a campaign of one number), and hand it to the worker; its id.
    ``phone_column`` and ``rejects`` are ``submit_campaign``'s."""
    if spec.route is None and not spec.gateway.account.name:
        raise InputError("account: an Account passed directly needs a name (the worker finds "
                         "its credentials by that name)")  # fmt: skip
    engine = get_engine(database_url)
    key = spec.idempotency_key
    existing = _campaign_by_key(engine, key) if key is not None else None
    planner = Planner(spec) if existing is None else None  # TextTooLong before the file
    with RowSource(recipients, spec.names, phone_column=phone_column) as source:
        rows_hash = RowsHash()
        rows = rows_hash.rows(source) if key is not None else iter(source)
        if planner is None:
            return _same_request(spec, rows_hash, rows, existing)
        try:
            campaign_id, ready = _plan_and_store(
                engine, spec, planner, rows, rows_hash, rejects, kind
            )
        except IntegrityError:
            # A concurrent submit with the same key committed first: return its campaign.
            winner = _campaign_by_key(engine, key) if key is not None else None
            if winner is None:
                raise
            return _same_request(spec, rows_hash, rows, winner)
    if ready is not None:
        send_now(campaign_id, *ready)
    else:
        notify(campaign_id)
    return campaign_id


def _same_request(
    spec: CampaignSpec,
    rows_hash: RowsHash,
    rows: Iterator[Row],
    existing: tuple[int, str | None] | None,
) -> int:
    """The campaign holding the key, once the rest of the rows are hashed and match."""
    assert existing is not None and spec.idempotency_key is not None
    for _row in rows:
        pass  # read for the hash alone
    campaign_id, stored = existing
    return check_same_request(
        spec.idempotency_key, campaign_id, stored, fingerprint(spec, rows_hash)
    )


def estimate(
    account: str | Account | None = None,
    recipients: Recipients | None = None,
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
    route: str | Route | None = None,
    strict: bool = False,
    phone_column: str | None = None,
    rejects: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
    accounts: Mapping[str, Account] | None = None,
    routes: Mapping[str, Route] | None = None,
    check_balance: bool = True,
    callback_url: str | None = None,
) -> Estimate:
    """A dry run of ``submit_campaign`` with the same arguments: writes nothing to the
    database (``rejects``, when given, is written as at submit).

    Input errors raise as they would at submit; a list with nothing to send is reported in
    the counts instead, and every row that would not be sent in ``problems``. With
    ``check_balance`` every account's gateway is asked for its balance (short timeout); a
    failure leaves ``balance`` None and says why.
    """
    spec = build_spec(
        account, route=route, text=text, template_id=template_id, sender=sender,
        send_at=send_at, name=name, idempotency_key=idempotency_key,
        max_segments=max_segments, window=window, window_tz=window_tz, accounts=accounts,
        routes=routes, strict=strict, callback_url=callback_url,
    )  # fmt: skip
    planner = Planner(spec)
    lookup = SuppressionLookup(get_engine(database_url))
    with RowSource(_required(recipients), spec.names, phone_column=phone_column) as rows:
        tally = planner.run(
            rows, NullSink(), lookup, require_sendable=False, rejects=_rejects_file(rejects)
        )
    shares = tuple(_account_estimate(spec, lane, tally, check_balance) for lane in spec.lanes)
    return _estimate_of(tally, shares, rows.number_column)


def _rejects_file(path: str | os.PathLike[str] | None) -> RejectsFile | None:
    return RejectsFile(path) if path is not None else None


def _required(recipients: Recipients | None) -> Recipients:
    if recipients is None:
        raise InputError("recipients: give a CSV path or a list of numbers")
    return recipients


def _account_estimate(
    spec: CampaignSpec, lane: Lane, tally: Tally, check_balance: bool
) -> AccountEstimate:
    share = tally.accounts[lane.account]
    balance: float | None = None
    balance_error: str | None = None
    if check_balance:
        balance, balance_error = fetch_balance(lane.gateway.adapter, lane.gateway.account)
    return AccountEstimate(
        account=lane.account, provider=lane.gateway.account.provider, numbers=share.valid,
        rejected=share.rejected, batches=share.batches, segments=share.segments_total,
        credits=share.credits, credit_unit=lane.gateway.limits.credit_unit, balance=balance,
        balance_error=balance_error,
    )  # fmt: skip


def _plan_and_store(
    engine: Engine,
    spec: CampaignSpec,
    planner: Planner,
    rows: Iterator[Row],
    rows_hash: RowsHash,
    rejects: str | os.PathLike[str] | None,
    kind: CampaignKind,
) -> tuple[int, tuple[int, str] | None]:
    """Store the plan; the campaign id and, for a single message due now, its batch (id,
    account), released in the same transaction: it needs no dispatch step."""
    now_message = kind == CampaignKind.MESSAGE and spec.send_at <= datetime.now(UTC)
    with engine.begin() as conn:
        campaign_id = _insert_campaign(conn, spec, kind)
        with DbSink(conn, campaign_id) as sink:
            lookup = SuppressionLookup(conn, lock=sink.lock)
            tally = planner.run(rows, sink, lookup, rejects=_rejects_file(rejects))
        planned = {
            "campaign": campaign_id,
            "planned_state": CampaignState.RUNNING if now_message else CampaignState.SCHEDULED,
            "started_at": datetime.now(UTC) if now_message else None,
            "recipients_total": tally.rows,
            "batches_total": tally.batches,
            "credits_planned": tally.credits or 0.0,
            "encoding": tally.encoding,
            "request_fingerprint": fingerprint(spec, rows_hash),
        }
        conn.execute(_PLANNED, planned)
        _insert_accounts(conn, campaign_id, spec, tally)
        if spec.callback_url is not None:
            _open_callbacks(conn, campaign_id, spec, now_message)
        ready = None
        if now_message:
            batch = select(BATCHES.c.id, BATCHES.c.account).where(
                BATCHES.c.campaign_id == campaign_id
            )
            batch_id, account = conn.execute(batch).one()
            ready = (batch_id, account)
    if tally.rows >= ANALYZE_AFTER_ROWS and engine.dialect.name == "postgresql":
        _analyze(engine)
    return campaign_id, ready


# A submit of this many rows refreshes PostgreSQL's statistics of the tables it filled.
ANALYZE_AFTER_ROWS = 10_000


def _analyze(engine: Engine) -> None:
    """Refresh the planner's statistics after a bulk load, before the workers query it.

    Autovacuum analyzes a table a minute or so after it grew, which is most of a campaign:
    meanwhile PostgreSQL planned the workers' queries for the empty tables it last saw (on
    a fresh database, 2 rows of batches, 1,890 recipients per campaign against 100,000),
    and chose nested loops that read every recipient of a campaign per batch. ``ANALYZE``
    reads a fixed sample (about 30,000 rows): 96 ms on 300,000 recipients.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE recipients, batches")


def _open_callbacks(conn: Connection, campaign_id: int, spec: CampaignSpec, running: bool) -> None:
    """The campaign's callback stream and its first event, in the submit's transaction."""
    assert spec.callback_url is not None
    key_id = spec.callback_key_id
    owner = campaign_owner(campaign_id) if key_id is None else api_key_owner(key_id)
    outbox.open_stream(conn, campaign_id, spec.callback_url, owner)
    state = CampaignState.RUNNING if running else CampaignState.SCHEDULED
    outbox.record_state(conn, campaign_id, state, datetime.now(UTC))


def callback_secret(campaign_id: int) -> str:
    """The secret that signs the callbacks of a campaign that named its own callback_url.

    For the one who submitted it, once: the CLI prints it and the HTTP API returns it in
    the submit's answer only (campaigns.callbacks.secrets says why it is derived, not
    stored). A campaign using an API key's default URL is signed with that key's secret.
    """
    return owner_secret(campaign_owner(campaign_id))


# Built once, their values bound at execution: a statement made per submit with
# ``.values(...)`` is coerced and given a cache key anew each time, which was a fifth of a
# single message's CPU (``send_message``: one campaign of one number).
_INSERT_CAMPAIGN = insert(CAMPAIGNS).returning(CAMPAIGNS.c.id)
# The columns bound besides state are named by the keys of the parameters.
_PLANNED = (
    update(CAMPAIGNS)
    .where(CAMPAIGNS.c.id == bindparam("campaign"))
    .values(state=bindparam("planned_state"))
)


def _insert_campaign(conn: Connection, spec: CampaignSpec, kind: CampaignKind) -> int:
    single = spec.gateway.account if spec.route is None else None
    window = spec.window or (None, None)
    values = {
        "name": spec.name,
        "account": single.name if single else None,
        "provider": single.provider if single else None,
        "route": spec.route.name if spec.route else None,
        "route_table": spec.route.to_json() if spec.route else None,
        "state": CampaignState.DRAFT,  # becomes scheduled in this same transaction
        "kind": kind,
        "text": spec.source_text,
        "template_id": spec.template_id,
        "sender": spec.sender if spec.route else spec.lanes[0].sender,
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
    campaign_id: int = conn.execute(_INSERT_CAMPAIGN, values).scalar_one()
    return campaign_id


def _insert_accounts(conn: Connection, campaign_id: int, spec: CampaignSpec, tally: Tally) -> None:
    rows = []
    for position, lane in enumerate(spec.lanes):
        share = tally.accounts[lane.account]
        rows.append(
            {
                "campaign_id": campaign_id, "account": lane.account,
                "provider": lane.gateway.account.provider, "position": position,
                "state": AccountState.ACTIVE, "valid": share.valid, "rejected": share.rejected,
                "batches": share.batches, "segments": share.segments_total,
                "credits_planned": share.credits or 0.0,
            }
        )  # fmt: skip
    conn.execute(insert(CAMPAIGN_ACCOUNTS), rows)


def _campaign_by_key(engine: Engine, key: str) -> tuple[int, str | None] | None:
    """(id, request fingerprint) of the campaign holding ``key``, or None."""
    with engine.connect() as conn:
        found = conn.execute(
            select(CAMPAIGNS.c.id, CAMPAIGNS.c.request_fingerprint).where(
                CAMPAIGNS.c.idempotency_key == key
            )
        ).first()
    return None if found is None else (found[0], found[1])


def _estimate_of(
    tally: Tally, shares: tuple[AccountEstimate, ...], number_column: str | None
) -> Estimate:
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
        balance=shares[0].balance if len(shares) == 1 else None,
        balance_error=shares[0].balance_error if len(shares) == 1 else "see accounts",
        examples=tuple(tally.examples),
        no_route=tally.no_route,
        accounts=shares,
        credit_unit=tally.credit_unit,
        problems=tally.findings.problems(),
        samples=tuple(tally.findings.samples),
        number_column=number_column,
    )
