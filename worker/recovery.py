"""Recovery: finding batches that stopped moving, and moving them on.

Called by the tick. A batch stops moving when its broker message is lost (Redis restarted
empty, a worker died holding a retry's countdown) or its worker dies mid-send:

- pending, idle for a few ticks while its account's queue has been empty as long: enqueued
  again (a batch delivered from the queue's tail is touched by its worker within a tick, so
  a queue only just emptied says nothing yet);
- retry_wait, overdue by ``stale_after_s``: enqueued again;
- claimed (never in flight) past ``stale_after_s``: back to pending;
- in flight past ``stale_after_s``: resolved, its numbers ``unknown``, or ``sent`` where the
  gateway's archive shows them (the gateway gets as long again to file them, counted from
  when the archive could first be read; ``unknown`` numbers are looked for again later);
- left unsent by a cancelled campaign: cancelled.

Re-enqueueing is always safe: a duplicate ``send_batch`` loses the claim and does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, exists, or_, select, update

from campaigns.failover import fail_over, left_on_failed_accounts
from campaigns.models import (
    Batch,
    BatchState,
    Campaign,
    CampaignKind,
    CampaignState,
    PauseKind,
    Recipient,
)
from campaigns.models import RecipientState as RS
from worker import archives, keys, store
from worker.archive_apply import (
    UNKNOWN_RECHECK_S,
    PageOutcome,
    forget_found,
    found_in_flight,
)
from worker.clock import as_utc
from worker.context import WorkerContext
from worker.reconcile import has_archive
from worker.store import BatchRef

REQUEUE_AFTER_TICKS = 3  # a pending batch idle this many ticks with an empty queue was lost

# A batch in flight this long (or 20 stale limits) is settled even if the archive never
# answered: its numbers become unknown, and the unknown re-check goes on looking.
ARCHIVE_GIVE_UP_S = 600.0
EMPTY_SINCE_KEEP_S = 3600  # an hour-long lull starts counting again (three more ticks)
QueueDepth = Callable[[str], int | None]  # account -> ready messages in its queue (None: unknown)


def move_from_failed(ctx: WorkerContext, now: datetime) -> tuple[int, list[BatchRef]]:
    """Fail over what a routed campaign still has on an account that failed for it.

    The worker that saw the failure moved everything movable in the same transaction; a
    batch can come back there since (a split half, a retry of a send in flight at the
    time), and this moves it too. Returns the numbers moved and the new batches. A campaign
    whose numbers have nowhere left to go pauses, as the worker's own failover does.
    """
    moved, refs = 0, []
    with ctx.transaction() as conn:
        for campaign_id, account, reason in left_on_failed_accounts(conn):
            moves = fail_over(conn, campaign_id, account, reason, now, ctx.accounts)
            moved += moves.moved
            refs += [BatchRef(i, campaign_id, a) for i, a in moves.batches]
            if moves.stranded:
                why = f"account {account!r}: {reason}; {moves.stranded} numbers have no fallback"
                store.pause_campaign(conn, campaign_id, PauseKind.ACCOUNT, why)
    return moved, refs


def cancel_leftovers(conn: Connection, now: datetime) -> int:
    """Batches a cancelled campaign left unsent (a retry decided as it was cancelled)."""
    cancelled_campaign = exists().where(
        Campaign.id == Batch.campaign_id, Campaign.state == CampaignState.CANCELLED
    )
    ids = (
        conn.execute(
            update(Batch)
            .where(
                Batch.state.in_((BatchState.PENDING, BatchState.RETRY_WAIT, BatchState.CLAIMED)),
                cancelled_campaign,
            )
            .values(state=BatchState.CANCELLED, finished_at=now, updated_at=now, claim_token=None)
            .returning(Batch.id)
        )
        .scalars()
        .all()
    )
    if ids:
        conn.execute(
            update(Recipient)
            .where(Recipient.batch_id.in_(ids), Recipient.state == RS.PENDING)
            .values(state=RS.CANCELLED, updated_at=now)
        )
    return len(ids)


def unclaim_stale(conn: Connection, ctx: WorkerContext, now: datetime) -> int:
    """Claimed but never in flight for too long: its worker died before sending anything."""
    stale_since = now - timedelta(seconds=ctx.timings.stale_after_s)
    idle_since = now - timedelta(seconds=ctx.timings.tick_interval_s * REQUEUE_AFTER_TICKS)
    unclaimed = conn.execute(
        update(Batch)
        .where(Batch.state == BatchState.CLAIMED, Batch.claimed_at < stale_since)
        .values(state=BatchState.PENDING, claim_token=None, updated_at=idle_since)
        .returning(Batch.id)
    ).all()
    return len(unclaimed)


def requeue_lost(ctx: WorkerContext, now: datetime, queue_depth: QueueDepth) -> list[BatchRef]:
    """Batches of running campaigns that should have a broker message and may not.

    The broker is asked outside any transaction (no database lock waits on the network);
    the final update is a compare-and-set, so a batch claimed meanwhile is left alone.
    """
    candidates = _lost_candidates(ctx, now)
    idle_s = ctx.timings.tick_interval_s * REQUEUE_AFTER_TICKS
    empty = {
        account: _empty_for_s(ctx, account, queue_depth(account), now) >= idle_s
        for account in {c[3] for c in candidates}
    }
    # A pending batch waits its turn while its account's queue still holds messages; an
    # overdue retry has no message in the queue (its countdown was held by a worker).
    wanted = {
        batch_id: BatchRef(batch_id, campaign_id, account, priority=kind == CampaignKind.MESSAGE)
        for batch_id, campaign_id, state, account, kind in candidates
        if state != BatchState.PENDING or empty[account]
    }
    if not wanted:
        return []
    with ctx.engine.begin() as conn:
        marked = (
            conn.execute(
                update(Batch)
                .where(
                    Batch.id.in_(list(wanted)),
                    Batch.state.in_((BatchState.PENDING, BatchState.RETRY_WAIT)),
                )
                .values(updated_at=now, next_attempt_at=None)
                .returning(Batch.id)
            )
            .scalars()
            .all()
        )
    return [wanted[batch_id] for batch_id in sorted(marked)]


def _empty_for_s(ctx: WorkerContext, account: str, depth: int | None, now: datetime) -> float:
    """How long the account's queues have been seen empty (an unknown depth counts as empty);
    0 while they hold messages. Without Redis, as long as can be."""
    if ctx.redis is None:
        return float("inf") if not depth else 0.0
    key = keys.queue_empty_since(account)
    if depth:
        ctx.redis.delete(key)
        return 0.0
    now_s = now.timestamp()
    ctx.redis.set(key, repr(now_s), nx=True, ex=EMPTY_SINCE_KEEP_S)
    since = ctx.redis.get(key)
    return now_s - float(since) if since is not None else 0.0


def _lost_candidates(
    ctx: WorkerContext, now: datetime
) -> list[tuple[int, int, BatchState, str, CampaignKind]]:
    """(batch, campaign, state, account, kind) of pending batches idle (untouched: a worker
    waiting for its turn touches its batch) for a few ticks and of
    retries overdue by ``stale_after_s``, in running campaigns.

    A retry's countdown message waits in a worker's memory and runs when that worker has a
    free process, which on a busy worker can be well after it was due: only a long delay
    means the message was lost.
    """
    idle_since = now - timedelta(seconds=ctx.timings.tick_interval_s * REQUEUE_AFTER_TICKS)
    overdue_since = now - timedelta(seconds=ctx.timings.stale_after_s)
    with ctx.engine.begin() as conn:
        rows = conn.execute(
            select(Batch.id, Batch.campaign_id, Batch.state, Batch.account, Campaign.kind)
            .join(Campaign, Campaign.id == Batch.campaign_id)
            .where(
                Campaign.state == CampaignState.RUNNING,
                or_(
                    and_(
                        Batch.state == BatchState.PENDING,
                        or_(Batch.updated_at.is_(None), Batch.updated_at <= idle_since),
                    ),
                    and_(
                        Batch.state == BatchState.RETRY_WAIT,
                        Batch.next_attempt_at <= overdue_since,
                    ),
                ),
            )
            .order_by(Batch.campaign_id, Batch.seq, Batch.id)
        ).all()
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


@dataclass(frozen=True, slots=True)
class _Stale:
    batch_id: int
    campaign_id: int
    token: str | None
    sent_at: datetime
    account: str
    provider: str
    archive_read_at: datetime | None


def resolve_stale(ctx: WorkerContext, now: datetime) -> tuple[int, int, PageOutcome]:
    """In flight past ``stale_after_s``: its worker died (or lost the database) mid-send.

    Without an archive the batch's numbers become ``unknown`` at once. With one, the tick's
    archive walk (``worker.archives``) notes the numbers it finds; the batch is settled when
    all are found, or once a whole walk that began ``stale_after_s`` after the archive could
    first be read for it (``archive_read_at``) has not shown the rest: the gateway gets that
    long to file what it accepted, counted from when smsq could look, not from the send.
    Returns how many batches were resolved, how many numbers the archive showed sent, and
    what the archive walks settled besides (unknown numbers found, fates).
    """
    stale_since = now - timedelta(seconds=ctx.timings.stale_after_s)
    with ctx.engine.begin() as conn:
        rows = conn.execute(
            select(
                Batch.id, Batch.campaign_id, Batch.claim_token, Batch.sent_at,
                Batch.account, Batch.provider, Batch.archive_read_at,
            )
            .join(Campaign, Campaign.id == Batch.campaign_id)
            .where(Batch.state == BatchState.IN_FLIGHT, Batch.sent_at < stale_since)
        ).all()  # fmt: skip
    stale = [
        _Stale(
            r[0], r[1], r[2], as_utc(r[3]) if r[3] else stale_since, r[4], r[5],
            as_utc(r[6]) if r[6] else None,
        )
        for r in rows
    ]  # fmt: skip
    walks, outcome = archives.walk_accounts(ctx, now, [(b.account, b.sent_at) for b in stale])
    resolved = reconciled = 0
    for batch in stale:
        walked = walks.get(batch.account)
        reconcilable = walked is not None and has_archive(batch.provider)
        sent = _resolve_one(ctx, batch, walked if reconcilable else None, now)
        if sent is not None:
            resolved, reconciled = resolved + 1, reconciled + sent
    return resolved, reconciled, outcome


def _resolve_one(
    ctx: WorkerContext, stale: _Stale, walked: archives.Walked | None, now: datetime
) -> int | None:
    """Resolve one stale batch: the numbers found sent, or None when left for later.

    ``walked`` is None for a gateway without an archive (the batch is settled at once).
    """
    with ctx.engine.begin() as conn:
        numbers = conn.execute(
            select(Recipient.id).where(
                Recipient.batch_id == stale.batch_id, Recipient.state == RS.PENDING
            )
        ).scalars().all()  # fmt: skip
    sent_ids: list[int] = []
    check_until = None
    if walked is not None:
        found = found_in_flight(ctx, stale.batch_id)
        sent_ids = [i for i in numbers if i in found]
        read_at = stale.archive_read_at or walked.began_for(stale.sent_at)
        if read_at is not None and stale.archive_read_at is None:
            _note_read_at(ctx, stale.batch_id, read_at)
        if len(sent_ids) < len(numbers) and not _give_up(ctx, stale, read_at, walked, now):
            return None  # look again next tick
        check_until = now + timedelta(seconds=UNKNOWN_RECHECK_S)
    with ctx.transaction() as conn:
        if not _finish_stale(conn, stale, sent_ids, len(numbers), now, check_until):
            return None
    forget_found(ctx, stale.batch_id)
    return len(sent_ids)


def _give_up(
    ctx: WorkerContext,
    stale: _Stale,
    read_at: datetime | None,
    walked: archives.Walked,
    now: datetime,
) -> bool:
    """True when the numbers not found may be settled ``unknown`` (and re-checked later)."""
    stale_s = ctx.timings.stale_after_s
    if now - stale.sent_at > timedelta(seconds=max(ARCHIVE_GIVE_UP_S, 20 * stale_s)):
        return True  # the archive stayed unreadable that long: unknown, still re-checked
    finished = walked.finished_began
    return (
        read_at is not None
        and finished is not None
        and finished >= read_at + timedelta(seconds=stale_s)
    )


def _note_read_at(ctx: WorkerContext, batch_id: int, read_at: datetime) -> None:
    with ctx.transaction() as conn:
        conn.execute(
            update(Batch)
            .where(Batch.id == batch_id, Batch.archive_read_at.is_(None))
            .values(archive_read_at=read_at)
        )


def _finish_stale(
    conn: Connection,
    stale: _Stale,
    sent_ids: list[int],
    total: int,
    now: datetime,
    check_until: datetime | None,
) -> bool:
    everything_found = total > 0 and len(sent_ids) == total
    same_claim = (
        Batch.claim_token.is_(None) if stale.token is None else Batch.claim_token == stale.token
    )
    taken = conn.execute(
        update(Batch)
        .where(Batch.id == stale.batch_id, Batch.state == BatchState.IN_FLIGHT, same_claim)
        .values(
            state=BatchState.DONE if everything_found else BatchState.UNKNOWN,
            finished_at=now, updated_at=now, error_kind="ambiguous",
            last_error="in flight when its worker stopped",
            archive_check_until=None if everything_found else check_until,
        )
    )  # fmt: skip
    if taken.rowcount != 1:
        return False
    if sent_ids:
        conn.execute(
            update(Recipient)
            .where(Recipient.id.in_(sent_ids), Recipient.state == RS.PENDING)
            .values(
                state=RS.SENT, updated_at=now,
                gateway_message="found in the gateway's archive after its worker stopped",
            )
        )  # fmt: skip
    conn.execute(
        update(Recipient)
        .where(Recipient.batch_id == stale.batch_id, Recipient.state == RS.PENDING)
        .values(
            state=RS.UNKNOWN, updated_at=now,
            gateway_message="in flight when its worker stopped: may or may not have been sent",
        )
    )  # fmt: skip
    store.complete_if_done(conn, stale.campaign_id, now)
    return True
