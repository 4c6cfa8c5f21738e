"""The SQL that moves one batch and its recipients between states, as compare-and-set updates.

Every statement that changes a batch names the state it expects (and, once the batch is in
flight, the claim token of the attempt that holds it), so a late, duplicated or redelivered
task, or a tick that gave up on a worker, can never overwrite someone else's decision: it
matches no row and does nothing.

Per-number writes go straight to the driver with plain tuples (an executemany by recipient
id on SQLite, one UPDATE over arrays on PostgreSQL): no ORM object and no per-row parameter
processing, whose cost would exceed the update's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, Dialect, Engine, exists, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from campaigns.callbacks.outbox import record_state
from campaigns.models import (
    Batch,
    BatchState,
    Campaign,
    CampaignState,
    PauseKind,
    Recipient,
    RecipientState,
)
from providers.registry import archive_of, get_adapter
from worker.clock import as_utc, utcnow

# Batch states from which work can still happen; a campaign is complete when it has none.
OPEN_BATCH_STATES = (
    BatchState.PENDING,
    BatchState.CLAIMED,
    BatchState.IN_FLIGHT,
    BatchState.RETRY_WAIT,
)


@dataclass(frozen=True, slots=True)
class BatchRef:
    """A batch to enqueue, with what its broker message needs: queue, label and delay."""

    batch_id: int
    campaign_id: int
    account: str
    delay_s: float | None = None  # countdown before it may be sent (a retry not yet due)
    priority: bool = False  # a single message: the account's priority queue


@dataclass(frozen=True, slots=True)
class BatchHead:
    """A batch with what sending it needs from its campaign (no recipients)."""

    id: int
    campaign_id: int
    seq: int
    state: BatchState
    size: int
    text: str | None
    attempts: int
    next_attempt_at: datetime | None
    campaign_state: CampaignState
    account: str
    provider: str
    template_id: int | None  # only on a template gateway's batch (a route may mix kinds)
    sender: str | None
    routed: bool  # the campaign has a route: an account that fails has fallbacks
    priority: bool  # a single message: its own queue, ahead of campaign batches at the door


class ClaimedNumber(NamedTuple):
    """One number of a claimed batch, as the request needs it."""

    id: int
    msisdn: str
    text: str | None
    params: str | None  # JSON list of template parameter values


_HEAD_SQL = (
    "SELECT b.id, b.campaign_id, b.seq, b.state, b.size, b.text, b.attempts, "
    "b.next_attempt_at, c.state, b.account, b.provider, c.template_id, c.sender, "
    "c.route_table IS NOT NULL, c.kind = 'message' "
    "FROM batches b JOIN campaigns c ON c.id = b.campaign_id WHERE b.id = {p}"
)


_TOUCH_SQL = (
    "UPDATE batches SET updated_at = {p} WHERE id = {p} AND state IN ('pending', 'retry_wait')"
)


def touch(engine: Engine, batch_id: int, now: datetime) -> None:
    """A worker holds the batch's message while it waits for its turn: the lost-batch sweep
    (``worker.recovery``) sees a batch touched within a few ticks as held, not lost."""
    with engine.begin() as conn:
        p = _placeholder(conn)
        conn.exec_driver_sql(_TOUCH_SQL.format(p=p), (_db_time(conn, now), batch_id))


def load_head(engine: Engine, batch_id: int) -> BatchHead | None:
    """The batch and its campaign's sending fields, or None when the batch does not exist.

    A plain read outside any transaction: it decides nothing (the claim's compare-and-set
    does), and on SQLite a transaction would take the write lock (``campaigns.db`` begins
    them IMMEDIATE), making every worker queue for the lock once more per batch.
    """
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(_HEAD_SQL.format(p=_paramstyle_marker(engine.dialect)), (batch_id,))
        row = cursor.fetchone()
        cursor.close()
    finally:
        raw.close()  # back to the pool, which rolls back whatever the driver began
    if row is None:
        return None
    values: list[Any] = list(row)
    values[3], values[8] = BatchState(values[3]), CampaignState(values[8])  # raw: plain text
    values[13], values[14] = bool(values[13]), bool(values[14])
    if values[11] is not None and not get_adapter(values[10]).limits.template_params:
        values[11] = None  # a routed campaign's template is for SMSPlus.az, not this gateway
    if values[7] is not None:  # next_attempt_at: text from sqlite3, a datetime from psycopg
        when = values[7]
        values[7] = as_utc(datetime.fromisoformat(when) if isinstance(when, str) else when)
    return BatchHead(*values)


# The claim, straight to the driver (no statement to build per batch): the batch must be
# pending, or retry_wait and due, and its campaign running.
_CLAIM_SQL = (
    "UPDATE batches SET state = 'in_flight', claim_token = {p}, claimed_at = {p}, "
    "sent_at = {p}, updated_at = {p}, attempts = attempts + 1, next_attempt_at = NULL "
    "WHERE id = {p} AND (state = 'pending' OR (state = 'retry_wait' AND "
    "(next_attempt_at IS NULL OR next_attempt_at <= {p}))) AND EXISTS "
    "(SELECT 1 FROM campaigns c WHERE c.id = batches.campaign_id AND c.state = 'running')"
)
_CLAIMED_SQL = (
    "SELECT id, msisdn, text, params FROM recipients WHERE batch_id = {p} AND state = 'pending' "
    "ORDER BY id"
)


def claim_in_flight(
    conn: Connection, batch_id: int, token: str, now: datetime, due_by: datetime | None = None
) -> list[ClaimedNumber] | None:
    """Claim the batch and mark it in flight, in the caller's transaction; the numbers to
    send, or None when the claim was lost.

    The compare-and-set admits one winner: the batch must be pending (or retry_wait and due
    by ``due_by``, default ``now``) and its campaign running. The batch carries in-flight for
    its numbers, which stay ``pending`` until their outcome is written: each number is
    written once per attempt (in PostgreSQL, each write rewrites the row and its indexes
    unless it is a HOT update; half the writes, half the dead rows).
    """
    p, stamp = _placeholder(conn), _db_time(conn, now)
    claimed = conn.exec_driver_sql(
        _CLAIM_SQL.format(p=p),
        (token, stamp, stamp, stamp, batch_id, _db_time(conn, due_by or now)),
    )
    if claimed.rowcount != 1:
        return None
    rows = conn.exec_driver_sql(_CLAIMED_SQL.format(p=p), (batch_id,)).all()
    return [ClaimedNumber(*r) for r in rows]


def _placeholder(conn: Connection) -> str:
    """The DBAPI's positional parameter marker (sqlite3: ``?``; psycopg: ``%s``)."""
    return _paramstyle_marker(conn.dialect)


def _paramstyle_marker(dialect: Dialect) -> str:
    return "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"


def _db_time(conn: Connection, value: datetime) -> Any:
    """``value`` as SQLAlchemy would bind it for this database (SQLite: its text format)."""
    column_type = Recipient.__table__.c.updated_at.type.dialect_impl(conn.dialect)
    process = column_type.bind_processor(conn.dialect)
    return value if process is None else process(value)


_OPEN_STATES_SQL = ", ".join(f"'{state}'" for state in OPEN_BATCH_STATES)
_COMPLETE_SQL = (
    "UPDATE campaigns SET state = 'completed', finished_at = {p}, pause_kind = NULL "
    "WHERE id = {p} AND state IN ('running', 'paused') AND NOT EXISTS (SELECT 1 FROM batches "
    "WHERE campaign_id = {p} AND state IN (" + _OPEN_STATES_SQL + "))"
)
_DONE_SQL = (
    "UPDATE batches SET state = 'done', finished_at = {p}, updated_at = {p}, error_kind = NULL, "
    "last_error = NULL WHERE id = {p} AND claim_token = {p} AND state = 'in_flight'"
)


def _take_batch(conn: Connection, batch_id: int, token: str, now: datetime, **values: Any) -> bool:
    """Move an in-flight batch we hold (by its claim token) to new values; False if we don't."""
    result = conn.execute(
        update(Batch)
        .where(
            Batch.id == batch_id, Batch.claim_token == token, Batch.state == BatchState.IN_FLIGHT
        )
        .values(updated_at=now, **values)
    )
    return result.rowcount == 1


# Every number's outcome in one executemany of plain tuples, straight to the DBAPI: the
# per-row parameter processing of a Core statement would cost more than the update itself.
_OUTCOME_SQL = (
    "UPDATE recipients SET state = {p}, provider_message_id = {p}, network = {p}, "
    "credits = COALESCE({p}, credits), gateway_code = {p}, gateway_message = {p}, "
    "updated_at = {p}, attempts = attempts + {p} WHERE id = {p} AND state = 'pending'"
)
# PostgreSQL answers each statement of an executemany in turn; one UPDATE joined to the
# outcomes as arrays is a single round trip for the whole batch.
_OUTCOME_PG_SQL = (
    "UPDATE recipients AS r SET state = v.st, provider_message_id = v.pmid, network = v.net, "
    "credits = COALESCE(v.cr, r.credits), gateway_code = v.code, gateway_message = v.msg, "
    "updated_at = %s, attempts = r.attempts + %s "
    "FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::text[], %s::text[], "
    "%s::bigint[]) AS v(st, pmid, net, cr, code, msg, rid) "
    "WHERE r.id = v.rid AND r.state = 'pending'"
)


class NumberOutcome(NamedTuple):
    """What the gateway said of one recipient, in the column order of the UPDATEs above."""

    state: RecipientState
    provider_message_id: str | None
    network: str | None
    credits: float | None
    code: str | None
    message: str | None
    recipient_id: int


def _write_outcomes(
    conn: Connection, outcomes: Sequence[NumberOutcome], now: datetime, attempts: int
) -> None:
    if conn.dialect.name == "postgresql":
        columns = [[str(v) if i == 0 else v for v in column]
                   for i, column in enumerate(zip(*outcomes, strict=True))]  # fmt: skip
        conn.exec_driver_sql(_OUTCOME_PG_SQL, (now, attempts, *columns))
        return
    stamp = _db_time(conn, now)
    conn.exec_driver_sql(
        _OUTCOME_SQL.format(p=_placeholder(conn)),
        [(str(o[0]), *o[1:6], stamp, attempts, o[6]) for o in outcomes],
    )


def write_results(
    conn: Connection, head: BatchHead, token: str, outcomes: Sequence[NumberOutcome], now: datetime
) -> bool:
    """The gateway answered: store each number's outcome, finish the batch and maybe the
    campaign. False (and nothing written) when the batch is no longer ours.
    """
    p, stamp = _placeholder(conn), _db_time(conn, now)
    if conn.exec_driver_sql(_DONE_SQL.format(p=p), (stamp, stamp, head.id, token)).rowcount != 1:
        return False
    if outcomes:
        # The numbers count this batch's attempts (the claim counted the last one).
        attempts = head.attempts + 1
        same = _uniform(outcomes)
        if same is not None:
            _write_uniform_outcome(conn, head.id, same, now, attempts)
        else:
            _write_outcomes(conn, outcomes, now, attempts)
        if any(o[0] == RecipientState.UNKNOWN for o in outcomes):
            check_unknown_later(conn, head.id, head.provider, now)
    complete_if_done(conn, head.campaign_id, now)
    return True


# How long the gateway's archive is searched for a batch's unknown numbers (worker.archives).
UNKNOWN_RECHECK_S = 3600.0


def check_unknown_later(conn: Connection, batch_id: int, provider: str, now: datetime) -> None:
    """A batch left numbers unknown: where its gateway keeps an archive, have the tick look
    for them there until ``UNKNOWN_RECHECK_S`` from now (found ones become sent)."""
    if archive_of(provider) is not None:
        until = now + timedelta(seconds=UNKNOWN_RECHECK_S)
        conn.execute(update(Batch).where(Batch.id == batch_id).values(archive_check_until=until))


def _uniform(outcomes: Sequence[NumberOutcome]) -> NumberOutcome | None:
    """The one outcome every number shares, or None when any differs (ids aside).

    Gateways that answer for the whole batch (AakashSMS v1, SMSPlus.az, SMSPresto) give every
    number the same outcome; a per-number message id makes outcomes differ by definition.
    """
    first = outcomes[0][:6]
    if first[1] is not None or any(o[:6] != first for o in outcomes):
        return None
    return outcomes[0]


def _write_uniform_outcome(
    conn: Connection, batch_id: int, outcome: NumberOutcome, now: datetime, attempts: int
) -> None:
    """One set-based UPDATE for the whole batch instead of one per number.

    Equivalent to the per-number form: the outcomes cover exactly the rows this claim
    selected, and those are the batch's pending rows (we hold the claim).
    """
    state, _, network, credits, code, message, _ = outcome
    values: dict[str, Any] = dict(
        state=state, network=network, gateway_code=code, gateway_message=message,
        updated_at=now, attempts=Recipient.attempts + attempts,
    )  # fmt: skip
    if credits is not None:
        values["credits"] = credits
    conn.execute(
        update(Recipient)
        .where(Recipient.batch_id == batch_id, Recipient.state == RecipientState.PENDING)
        .values(**values)
    )


def end_batch(
    conn: Connection,
    head: BatchHead,
    token: str,
    *,
    batch_state: BatchState,
    recipient_state: RecipientState,
    error_kind: str,
    code: str | None,
    message: str,
    now: datetime,
) -> bool:
    """Give every number of the batch one outcome (failed or unknown) with the error kept."""
    if not _take_batch(
        conn, head.id, token, now, state=batch_state, finished_at=now, error_kind=error_kind,
        last_error=message if code is None else f"{message} (code {code})",
    ):  # fmt: skip
        return False
    conn.execute(
        update(Recipient)
        .where(Recipient.batch_id == head.id, Recipient.state == RecipientState.PENDING)
        .values(
            state=recipient_state, gateway_code=code, gateway_message=message, updated_at=now,
            attempts=Recipient.attempts + head.attempts + 1,
        )
    )  # fmt: skip
    if recipient_state == RecipientState.UNKNOWN:
        check_unknown_later(conn, head.id, head.provider, now)
    complete_if_done(conn, head.campaign_id, now)
    return True


def _campaign_state(conn: Connection, campaign_id: int) -> CampaignState:
    state: CampaignState = conn.execute(
        select(Campaign.state).where(Campaign.id == campaign_id)
    ).scalar_one()
    return state


def send_back(
    conn: Connection,
    head: BatchHead,
    token: str,
    *,
    state: BatchState,
    next_attempt_at: datetime | None,
    error_kind: str | None,
    error: str | None,
    now: datetime,
    undo_attempt: bool = False,
) -> BatchState | None:
    """Return an unsent batch to ``state`` (pending or retry_wait); its numbers stay pending.

    A campaign cancelled meanwhile gets the batch cancelled instead, so nothing waits for a
    campaign that will never run again. Returns the state written, None if we lost the batch.
    """
    if _campaign_state(conn, head.campaign_id) == CampaignState.CANCELLED:
        state = BatchState.CANCELLED
    attempts = Batch.attempts - 1 if undo_attempt else Batch.attempts
    if not _take_batch(
        conn, head.id, token, now, state=state, next_attempt_at=next_attempt_at,
        claim_token=None, error_kind=error_kind, last_error=error, attempts=attempts,
        finished_at=now if state == BatchState.CANCELLED else None,
    ):  # fmt: skip
        return None
    if state == BatchState.CANCELLED:
        conn.execute(
            update(Recipient)
            .where(Recipient.batch_id == head.id, Recipient.state == RecipientState.PENDING)
            .values(state=RecipientState.CANCELLED, updated_at=now)
        )
        complete_if_done(conn, head.campaign_id, now)
    return state


def pause_campaign(conn: Connection, campaign_id: int, kind: PauseKind, reason: str) -> bool:
    """Pause a running campaign by itself (``kind`` account or window), with a reason."""
    result = conn.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state == CampaignState.RUNNING)
        .values(state=CampaignState.PAUSED, pause_kind=kind, reason=reason)
    )
    if result.rowcount != 1:
        return False
    record_state(conn, campaign_id, CampaignState.PAUSED, utcnow(), reason)
    return True


def split(
    conn: Connection, head: BatchHead, token: str, recipient_ids: Sequence[int], now: datetime
) -> list[int] | None:
    """Replace the batch by two pending halves (state ``split``); returns the new batch ids."""
    if not _take_batch(conn, head.id, token, now, state=BatchState.SPLIT, finished_at=now):
        return None
    middle = len(recipient_ids) // 2
    new_ids = []
    for half in (recipient_ids[:middle], recipient_ids[middle:]):
        new_id = conn.execute(
            insert(Batch)
            .values(
                campaign_id=head.campaign_id, seq=head.seq, state=BatchState.PENDING,
                size=len(half), text=head.text, parent_id=head.id, attempts=0, updated_at=now,
                account=head.account, provider=head.provider,
            )
            .returning(Batch.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            update(Recipient)
            .where(Recipient.id.in_(half), Recipient.state == RecipientState.PENDING)
            .values(batch_id=new_id, updated_at=now)
        )
        new_ids.append(new_id)
    conn.execute(
        update(Campaign)
        .where(Campaign.id == head.campaign_id)
        .values(batches_total=Campaign.batches_total + 2)
    )
    return new_ids


def complete_if_done(conn: Connection, campaign_id: int, now: datetime) -> bool:
    """Complete a running or paused campaign that has no open batch left."""
    # Straight to the DBAPI: it runs after every batch, and building the Core statement cost
    # more than running it.
    p, stamp = _placeholder(conn), _db_time(conn, now)
    done = conn.exec_driver_sql(_COMPLETE_SQL.format(p=p), (stamp, campaign_id, campaign_id))
    if done.rowcount != 1:
        return False
    record_state(conn, campaign_id, CampaignState.COMPLETED, now)
    return True


def complete_all_done(conn: Connection, now: datetime) -> int:
    """Complete every running or paused campaign that has no open batch left; how many."""
    return _complete(conn, now)


def _complete(conn: Connection, now: datetime, *which: ColumnElement[bool]) -> int:
    still_open = exists().where(
        Batch.campaign_id == Campaign.id, Batch.state.in_(OPEN_BATCH_STATES)
    )
    result = conn.execute(
        update(Campaign)
        .where(
            *which,
            Campaign.state.in_((CampaignState.RUNNING, CampaignState.PAUSED)),
            ~still_open,
        )
        .values(state=CampaignState.COMPLETED, finished_at=now, pause_kind=None)
        .returning(Campaign.id)
    )
    completed = [row[0] for row in result]
    record_state(conn, completed, CampaignState.COMPLETED, now)
    return len(completed)
