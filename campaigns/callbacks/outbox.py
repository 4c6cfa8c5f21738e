"""The callback outbox: events written in the transaction of the change they report.

Two kinds of event (``type``):

- ``campaign.state``: the campaign moved to ``data.state`` (with ``data.reason`` when it
  paused or failed by itself). Written by every compare-and-set that moves a campaign
  (``record_state``), in the same transaction: the move and its event commit together or
  not at all, so none can be missed or invented.
- ``recipients.final``: up to ``RECIPIENTS_PER_EVENT`` numbers that reached a final state.
  Written for the batches that finished since the last look, by whoever gets there first:
  the callbacks' tick (``sweep``, in the callbacks' own worker process), or the flush that
  precedes a campaign's terminal state (so ``completed`` follows every outcome). Each
  batch is claimed for this by a compare-and-set on ``batches.callback_emitted``, so its
  numbers are reported exactly once; several small batches share an event. The sending
  path writes nothing more than it did: outcomes reach the outbox a tick later (0.5-2 s).
  The rows settled at submit (invalid, duplicate, suppressed, rejected) go out the same
  way, flagged on the stream (``planned_emitted``).

A number that changes again after its batch was reported (``retry_failed`` re-plans it
into a new batch) is reported again with its new batch: receivers keep the latest ``seq``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, exists, insert, or_, select, update

from campaigns.db import read_only
from campaigns.models import (
    BATCH_TERMINAL,
    CAMPAIGN_TERMINAL,
    RECIPIENT_TERMINAL,
    CallbackState,
    CampaignState,
)
from campaigns.tables import BATCHES, CALLBACK_EVENTS, CALLBACK_STREAMS, CAMPAIGNS, RECIPIENTS

STATE_EVENT = "campaign.state"
RECIPIENTS_EVENT = "recipients.final"
RECIPIENTS_PER_EVENT = 500  # a body of about 100 kB: small enough for any receiver
SWEEP_BATCHES = 500  # batches reported per tick at most; the rest wait for the next tick
_IDS_PER_STATEMENT = 500  # SQLite allows 32,766 bound parameters; PostgreSQL 65,535

_BATCH_TERMINAL = tuple(BATCH_TERMINAL)
_RECIPIENT_FINAL = tuple(RECIPIENT_TERMINAL)


def open_stream(conn: Connection, campaign_id: int, url: str, owner: str) -> None:
    """Give a campaign being submitted its callbacks (in the submit's transaction)."""
    conn.execute(
        insert(CALLBACK_STREAMS).values(
            campaign_id=campaign_id, url=url, owner=owner, next_seq=1, open=True,
            planned_emitted=False,
        )
    )  # fmt: skip


def record_state(
    conn: Connection,
    campaign_ids: int | Sequence[int],
    state: CampaignState,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Write a ``campaign.state`` event for each campaign that has callbacks.

    Call it in the transaction that moved the campaigns, after the move succeeded. A
    terminal state first flushes the campaign's outcomes into the outbox, so that the
    receiver gets every number before ``completed``.
    """
    ids = [campaign_ids] if isinstance(campaign_ids, int) else list(campaign_ids)
    if not ids:
        return
    streams = CALLBACK_STREAMS.c.campaign_id.in_(ids)
    with_callbacks = [
        r[0] for r in conn.execute(select(CALLBACK_STREAMS.c.campaign_id).where(streams))
    ]
    if not with_callbacks:
        return
    for campaign_id in with_callbacks:
        if state in CAMPAIGN_TERMINAL:
            flush_campaign(conn, campaign_id, now)
        _insert_event(conn, campaign_id, STATE_EVENT, {"state": str(state), "reason": reason}, now)
    if state not in CAMPAIGN_TERMINAL:  # retry_failed reopens a finished campaign
        conn.execute(
            update(CALLBACK_STREAMS)
            .where(CALLBACK_STREAMS.c.campaign_id.in_(with_callbacks), ~CALLBACK_STREAMS.c.open)
            .values(open=True)
        )


def flush_campaign(conn: Connection, campaign_id: int, now: datetime) -> int:
    """Put every outcome of the campaign not yet in the outbox there; events written."""
    written = _emit_planned(conn, campaign_id, now)
    batches = select(BATCHES.c.id).where(
        BATCHES.c.campaign_id == campaign_id,
        BATCHES.c.state.in_(_BATCH_TERMINAL),
        ~BATCHES.c.callback_emitted,
    )
    batch_ids = [r[0] for r in conn.execute(batches)]
    return written + emit_batches(conn, campaign_id, batch_ids, now)


def sweep(engine: Engine, now: datetime, limit: int = SWEEP_BATCHES) -> int:
    """The callbacks' tick: report finished batches of open streams, close finished ones.

    Returns how many events were written. The reading is done before the write
    transaction, so that on SQLite the database's one write lock, which the sending workers
    need, is held only to claim the batches and insert the events (their rows cannot change
    once the batch is terminal; a number ``retry_failed`` re-plans meanwhile is reported
    again with its new batch).
    """
    with read_only(engine) as conn:
        streams = conn.execute(
            select(CALLBACK_STREAMS.c.campaign_id, CALLBACK_STREAMS.c.planned_emitted).where(
                CALLBACK_STREAMS.c.open
            )
        ).all()
        if not streams:
            return 0
        ids = [s[0] for s in streams]
        due = conn.execute(
            select(BATCHES.c.campaign_id, BATCHES.c.id)
            .where(
                BATCHES.c.campaign_id.in_(ids),
                BATCHES.c.state.in_(_BATCH_TERMINAL),
                ~BATCHES.c.callback_emitted,
            )
            .order_by(BATCHES.c.id)
            .limit(limit)
        ).all()
        rows = _final_rows(conn, [d[1] for d in due])
    per_campaign: dict[int, list[int]] = {}
    for campaign_id, batch_id in due:
        per_campaign.setdefault(campaign_id, []).append(batch_id)
    written = 0
    with engine.begin() as conn:
        for campaign_id, planned_emitted in streams:
            if not planned_emitted:
                written += _emit_planned(conn, campaign_id, now)
        for campaign_id, batch_ids in per_campaign.items():
            claimed = _claim(conn, batch_ids)
            mine = [row for batch_id in claimed for row in rows.get(batch_id, ())]
            written += _insert_recipients(conn, campaign_id, mine, now)
        _close_finished(conn, ids)
    return written


def _final_rows(conn: Connection, batch_ids: Sequence[int]) -> dict[int, list[Any]]:
    """The final-state recipients of ``batch_ids``, per batch, in recipient order."""
    found: dict[int, list[Any]] = {}
    for start in range(0, len(batch_ids), _IDS_PER_STATEMENT):
        chunk = list(batch_ids[start : start + _IDS_PER_STATEMENT])
        query = (
            _recipients()
            .add_columns(RECIPIENTS.c.batch_id)
            .where(RECIPIENTS.c.batch_id.in_(chunk), RECIPIENTS.c.state.in_(_RECIPIENT_FINAL))
        )
        for row in conn.execute(query):
            found.setdefault(row[-1], []).append(row[:-1])
    return found


def _close_finished(conn: Connection, ids: Iterable[int]) -> None:
    """Streams of terminal campaigns with nothing left to report stop being swept."""
    unreported = exists().where(
        BATCHES.c.campaign_id == CALLBACK_STREAMS.c.campaign_id,
        or_(~BATCHES.c.state.in_(_BATCH_TERMINAL), ~BATCHES.c.callback_emitted),
    )
    finished = exists().where(
        CAMPAIGNS.c.id == CALLBACK_STREAMS.c.campaign_id,
        CAMPAIGNS.c.state.in_(tuple(CAMPAIGN_TERMINAL)),
    )
    conn.execute(
        update(CALLBACK_STREAMS)
        .where(
            CALLBACK_STREAMS.c.campaign_id.in_(list(ids)),
            CALLBACK_STREAMS.c.planned_emitted,
            finished,
            ~unreported,
        )
        .values(open=False)
    )


def emit_batches(
    conn: Connection, campaign_id: int, batch_ids: Sequence[int], now: datetime
) -> int:
    """Report terminal batches' numbers, once, packed up to ``RECIPIENTS_PER_EVENT`` an
    event (gateways' batches are often 100 numbers: five to an event means a fifth of the
    POSTs and of the delivery's writes)."""
    claimed = _claim(conn, batch_ids)
    if not claimed:
        return 0
    rows = _final_rows(conn, claimed)
    mine = [row for batch_id in claimed for row in rows.get(batch_id, ())]
    return _insert_recipients(conn, campaign_id, mine, now)


def _claim(conn: Connection, batch_ids: Sequence[int]) -> list[int]:
    """Turn the batches' flags from false to true; the ids this transaction turned, in
    order (a batch another transaction claimed first is left to it)."""
    claimed: list[int] = []
    for start in range(0, len(batch_ids), _IDS_PER_STATEMENT):
        chunk = list(batch_ids[start : start + _IDS_PER_STATEMENT])
        result = conn.execute(
            update(BATCHES)
            .where(BATCHES.c.id.in_(chunk), ~BATCHES.c.callback_emitted)
            .values(callback_emitted=True)
            .returning(BATCHES.c.id)
        )
        claimed += [r[0] for r in result]
    return sorted(claimed)


def _emit_planned(conn: Connection, campaign_id: int, now: datetime) -> int:
    """Report the rows settled at submit (no batch), once per campaign."""
    claimed = conn.execute(
        update(CALLBACK_STREAMS)
        .where(CALLBACK_STREAMS.c.campaign_id == campaign_id, ~CALLBACK_STREAMS.c.planned_emitted)
        .values(planned_emitted=True)
    )
    if claimed.rowcount != 1:
        return 0
    rows = conn.execute(
        _recipients().where(
            RECIPIENTS.c.campaign_id == campaign_id, RECIPIENTS.c.batch_id.is_(None)
        )
    ).all()
    return _insert_recipients(conn, campaign_id, rows, now)


def _recipients() -> Any:
    return select(
        RECIPIENTS.c.row_no, RECIPIENTS.c.msisdn, RECIPIENTS.c.state, RECIPIENTS.c.reason,
        RECIPIENTS.c.gateway_code, RECIPIENTS.c.gateway_message,
        RECIPIENTS.c.provider_message_id,
    ).order_by(RECIPIENTS.c.id)  # fmt: skip


def _insert_recipients(
    conn: Connection, campaign_id: int, rows: Sequence[Any], now: datetime
) -> int:
    written = 0
    for start in range(0, len(rows), RECIPIENTS_PER_EVENT):
        chunk = rows[start : start + RECIPIENTS_PER_EVENT]
        data = {"recipients": [_recipient(r) for r in chunk]}
        _insert_event(conn, campaign_id, RECIPIENTS_EVENT, data, now)
        written += 1
    return written


def _recipient(row: Any) -> dict[str, Any]:
    row_no, msisdn, state, reason, code, message, message_id = row
    return {
        "row": row_no, "number": msisdn, "state": str(state),
        "reason": reason if reason is not None else message, "gateway_code": code,
        "message_id": message_id,
    }  # fmt: skip


def _insert_event(
    conn: Connection, campaign_id: int, kind: str, data: dict[str, Any], now: datetime
) -> None:
    conn.execute(
        insert(CALLBACK_EVENTS).values(
            campaign_id=campaign_id, type=kind, created_at=now, state=CallbackState.PENDING,
            attempts=0, payload=json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        )
    )  # fmt: skip
