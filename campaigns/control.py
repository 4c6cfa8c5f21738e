"""Steering a campaign: pause, resume, cancel, and re-planning its failed numbers.

Every change is a compare-and-set on the campaign's state, so it is safe against a worker
moving the same campaign: the worker re-checks the campaign at each claim, so a pause or a
cancel takes effect before the next batch; a batch already in flight is left to finish.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, func, select, update

from campaigns.batching import ClosedBatch, Item, Packer
from campaigns.bulk import insert_batches
from campaigns.callbacks.outbox import record_state
from campaigns.db import get_engine
from campaigns.errors import CampaignNotFound, InvalidState
from campaigns.failover import back_to_first
from campaigns.gateway import gateway_for, resolve_account
from campaigns.handoff import notify
from campaigns.models import (
    BatchState,
    CampaignState,
    PauseKind,
    RecipientState,
)
from campaigns.tables import BATCHES, CAMPAIGNS, RECIPIENTS
from providers import Account, load_accounts

CS = CampaignState
_PAUSABLE = (CS.SCHEDULED, CS.RUNNING, CS.PAUSED)
_CANCELLABLE = (CS.DRAFT, CS.SCHEDULED, CS.RUNNING, CS.PAUSED)
_RETRYABLE = (CS.RUNNING, CS.PAUSED, CS.COMPLETED, CS.FAILED)
# Batches no worker has started sending: cancelling them cannot race a request on the wire.
_UNSTARTED = (BatchState.PENDING, BatchState.RETRY_WAIT, BatchState.CLAIMED)
_RETRY_PAGE_ROWS = 20_000


def pause_campaign(
    campaign_id: int, reason: str | None = None, *, database_url: str | None = None
) -> None:
    """Pause a scheduled or running campaign (a user pause, which only ``resume`` lifts).

    Pausing a campaign paused by its window or its account makes it a user pause.
    """
    with get_engine(database_url).begin() as conn:
        _compare_and_set(
            conn, campaign_id, _PAUSABLE, "pause",
            state=CS.PAUSED, pause_kind=PauseKind.USER, reason=reason or "paused by user",
        )  # fmt: skip


def resume_campaign(
    campaign_id: int,
    *,
    database_url: str | None = None,
    accounts: Mapping[str, Account] | None = None,
) -> CampaignState:
    """Resume a paused campaign; returns its new state.

    It goes back to ``scheduled`` while its send time is still ahead, else to ``running``,
    and the worker is notified. A routed campaign tries its route again from each number's
    first account: failed accounts are usable again, and numbers that failover moved (and no
    worker has claimed since) go back.
    """
    now = datetime.now(UTC)
    with get_engine(database_url).begin() as conn:
        row = _campaign_row(conn, campaign_id)
        if row["route_table"] is not None and row["state"] == CS.PAUSED:
            known = dict(accounts) if accounts is not None else load_accounts()
            back_to_first(conn, campaign_id, now, known)
        send_at = row["send_at"]
        if send_at is not None and send_at.tzinfo is None:
            send_at = send_at.replace(tzinfo=UTC)
        new_state = CS.SCHEDULED if send_at is not None and send_at > now else CS.RUNNING
        values: dict[str, Any] = {"state": new_state, "pause_kind": None, "reason": None}
        if new_state == CS.RUNNING:
            values["started_at"] = func.coalesce(CAMPAIGNS.c.started_at, now)
        _compare_and_set(conn, campaign_id, (CS.PAUSED,), "resume", **values)
        # Their messages were dropped while the campaign was paused: enqueue them again.
        conn.execute(
            update(BATCHES)
            .where(
                BATCHES.c.campaign_id == campaign_id,
                BATCHES.c.state.in_((BatchState.PENDING, BatchState.RETRY_WAIT)),
            )
            .values(updated_at=None)
        )
    notify(campaign_id)
    return new_state


def cancel_campaign(campaign_id: int, *, database_url: str | None = None) -> int:
    """Cancel a campaign: its unsent numbers and unstarted batches become ``cancelled``.

    Batches already in flight finish and record their outcomes. Returns how many recipients
    were cancelled.
    """
    now = datetime.now(UTC)
    with get_engine(database_url).begin() as conn:
        _compare_and_set(
            conn, campaign_id, _CANCELLABLE, "cancel", record=False,
            state=CS.CANCELLED, pause_kind=None, finished_at=now,
        )  # fmt: skip
        # Batches first: a worker's claim (pending -> claimed -> in_flight) is a compare-and-
        # set on the batch, so once these are cancelled no worker can start them.
        conn.execute(
            update(BATCHES)
            .where(BATCHES.c.campaign_id == campaign_id, BATCHES.c.state.in_(_UNSTARTED))
            .values(state=BatchState.CANCELLED, finished_at=now, updated_at=now)
        )
        cancelled_batches = select(BATCHES.c.id).where(
            BATCHES.c.campaign_id == campaign_id, BATCHES.c.state == BatchState.CANCELLED
        )
        result = conn.execute(
            update(RECIPIENTS)
            .where(
                RECIPIENTS.c.campaign_id == campaign_id,
                RECIPIENTS.c.state == RecipientState.PENDING,
                RECIPIENTS.c.batch_id.in_(cancelled_batches),
            )
            .values(state=RecipientState.CANCELLED, updated_at=now)
        )
        # Its event last: after the numbers it cancelled (a terminal state flushes them).
        record_state(conn, campaign_id, CS.CANCELLED, now)
    return int(result.rowcount)


def retry_failed(
    campaign_id: int,
    *,
    database_url: str | None = None,
    accounts: Mapping[str, Account] | None = None,
) -> int:
    """Re-plan the campaign's ``failed`` numbers (never sent ones) into new pending batches.

    The same splitting rules apply; each number's attempts go up by one and the campaign
    goes back to ``running``. Returns how many numbers were re-planned (0 changes nothing).
    """
    now = datetime.now(UTC)
    with get_engine(database_url).begin() as conn:
        row = _campaign_row(conn, campaign_id)
        if row["state"] not in _RETRYABLE:
            raise _invalid(campaign_id, row["state"], "retry failed numbers of", _RETRYABLE)
        first_seq = conn.execute(
            select(func.coalesce(func.max(BATCHES.c.seq), 0)).where(
                BATCHES.c.campaign_id == campaign_id
            )
        ).scalar_one()
        seq = itertools.count(first_seq + 1)
        packers: dict[str, Packer] = {}  # a failed number is re-planned on its batch's account
        retried = batches = 0
        for page in _failed_pages(conn, campaign_id, row["text"] or ""):
            for account, item in page:
                packer = packers.get(account)
                if packer is None:
                    gateway = gateway_for(resolve_account(account, accounts))
                    packer = packers[account] = gateway.packer(row["sender"], seq=seq)
                packer.add(item)
            retried += len(page)
            closed = [b for p in packers.values() for b in p.take_closed()]
            batches += _store_replanned(conn, campaign_id, closed, now)
        for packer in packers.values():
            packer.finish()
        closed = [b for p in packers.values() for b in p.take_closed()]
        batches += _store_replanned(conn, campaign_id, closed, now)
        if retried:
            _compare_and_set(
                conn, campaign_id, _RETRYABLE, "retry failed numbers of",
                state=CS.RUNNING, pause_kind=None, reason=None, finished_at=None,
                started_at=func.coalesce(CAMPAIGNS.c.started_at, now),
                batches_total=CAMPAIGNS.c.batches_total + batches,
            )  # fmt: skip
    if retried:
        notify(campaign_id)
    return retried


def _failed_pages(
    conn: Connection, campaign_id: int, fallback_text: str
) -> Iterator[list[tuple[str, Item]]]:
    """The failed recipients as (account, packer item; key = recipient id), a page at a time."""
    text = func.coalesce(RECIPIENTS.c.text, BATCHES.c.text, fallback_text)
    last_id = 0
    while True:
        query = (
            select(BATCHES.c.account, RECIPIENTS.c.id, RECIPIENTS.c.msisdn, text,
                   RECIPIENTS.c.params, func.coalesce(RECIPIENTS.c.segments, 1),
                   RECIPIENTS.c.fields)
            .select_from(RECIPIENTS.outerjoin(BATCHES, RECIPIENTS.c.batch_id == BATCHES.c.id))
            .where(RECIPIENTS.c.campaign_id == campaign_id,
                   RECIPIENTS.c.state == RecipientState.FAILED, RECIPIENTS.c.id > last_id)
            .order_by(RECIPIENTS.c.id)
            .limit(_RETRY_PAGE_ROWS)
        )  # fmt: skip
        page = [(r[0], Item._make(r[1:])) for r in conn.execute(query)]
        if page:
            yield page
        if len(page) < _RETRY_PAGE_ROWS:
            return
        last_id = page[-1][1].key


def _store_replanned(
    conn: Connection, campaign_id: int, closed: list[ClosedBatch], now: datetime
) -> int:
    """Insert the new batches and move their recipients into them; returns the batch count."""
    ids = insert_batches(conn, campaign_id, closed)
    moves = [
        {"rid": key, "bid": batch_id, "txt": text if batch.text is None else None}
        for batch, batch_id in zip(closed, ids, strict=True)
        for key, _msisdn, text, _params, _segs, _fields in batch.items
    ]
    if moves:
        conn.execute(
            update(RECIPIENTS)
            .where(RECIPIENTS.c.id == bindparam("rid"))
            .values(
                state=RecipientState.PENDING, batch_id=bindparam("bid"),
                text=bindparam("txt"), attempts=RECIPIENTS.c.attempts + 1,
                provider_message_id=None, gateway_code=None, gateway_message=None,
                updated_at=now,
            ),
            moves,
        )  # fmt: skip
    return len(closed)


def _campaign_row(conn: Connection, campaign_id: int) -> RowMapping:
    row = conn.execute(select(CAMPAIGNS).where(CAMPAIGNS.c.id == campaign_id)).first()
    if row is None:
        raise CampaignNotFound(f"campaign {campaign_id} does not exist")
    return row._mapping


def _compare_and_set(
    conn: Connection,
    campaign_id: int,
    allowed: Collection[CampaignState],
    action: str,
    *,
    record: bool = True,
    **values: Any,
) -> None:
    """Update the campaign only if it is in one of ``allowed`` states, else say why not.

    A new ``state`` gets its callback event in the same transaction, unless ``record`` is
    False (the caller records it itself, later in the transaction).
    """
    result = conn.execute(
        update(CAMPAIGNS)
        .where(CAMPAIGNS.c.id == campaign_id, CAMPAIGNS.c.state.in_(allowed))
        .values(**values)
    )
    if result.rowcount == 1:
        if record and "state" in values:  # the event commits with the move, or neither does
            record_state(
                conn, campaign_id, values["state"], datetime.now(UTC), values.get("reason")
            )
        return
    state = conn.execute(
        select(CAMPAIGNS.c.state).where(CAMPAIGNS.c.id == campaign_id)
    ).scalar_one_or_none()
    if state is None:
        raise CampaignNotFound(f"campaign {campaign_id} does not exist")
    raise _invalid(campaign_id, state, action, allowed)


def _invalid(
    campaign_id: int, state: CampaignState, action: str, allowed: Collection[CampaignState]
) -> InvalidState:
    return InvalidState(
        f"campaign {campaign_id} is {state}: cannot {action} it "
        f"(only a campaign that is {' or '.join(allowed)})"
    )
