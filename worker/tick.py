"""The periodic tick (Celery beat, every ``tick_interval_s``) and campaign dispatch.

The database holds every send time and every state, so the tick is what makes time pass:

- release scheduled campaigns whose ``send_at`` has come (or park them, paused by window);
- pause running campaigns outside their daily send window, resume window-paused ones inside;
- recover batches that stopped moving (``worker.recovery``): lost messages, dead workers;
- complete campaigns with no open batch.

Every change is a compare-and-set, so two ticks running at once (two beats) cannot both act
on one row; a Redis lock keeps them from running at once in the first place. Duplicated
``send_batch`` messages are harmless: only one can claim a batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis
from sqlalchemy import Connection, and_, func, or_, select, update

from campaigns.models import Batch, BatchState, Campaign, CampaignState, PauseKind
from worker import keys, recovery, store
from worker.clock import as_utc
from worker.context import WorkerContext
from worker.recovery import QueueDepth
from worker.store import BatchRef
from worker.windows import in_window

log = logging.getLogger(__name__)

# The tick lock expires by itself when a worker dies holding it; short, because ticks are
# skipped until then. A tick that outlives it only risks a second tick running alongside,
# which every compare-and-set already makes harmless.
LOCK_MIN_S = 5.0
LOCK_TICKS = 3


@dataclass
class TickReport:
    """What one tick did, and the batches its caller must enqueue."""

    released: int = 0
    window_paused: int = 0
    window_resumed: int = 0
    requeued: int = 0
    unclaimed: int = 0
    resolved: int = 0
    reconciled_sent: int = 0
    cancelled: int = 0
    completed: int = 0
    skipped_locked: bool = False
    enqueue: list[BatchRef] = field(default_factory=list)

    def summary(self) -> str:
        """Non-zero counters, for the task's log line."""
        parts = [f"{k}={v}" for k, v in vars(self).items() if k != "enqueue" and v]
        return " ".join(parts) or "idle"


def run_tick(ctx: WorkerContext, queue_depth: QueueDepth) -> TickReport:
    """One tick under the Redis lock (skipped when another tick holds it)."""
    report = TickReport()
    timeout_s = max(LOCK_MIN_S, ctx.timings.tick_interval_s * LOCK_TICKS)
    lock = ctx.redis.lock(keys.TICK_LOCK, timeout=timeout_s) if ctx.redis else None
    if lock is not None and not lock.acquire(blocking=False):
        report.skipped_locked = True
        return report
    try:
        _tick_steps(ctx, queue_depth, report)
    finally:
        if lock is not None:
            try:
                lock.release()
            except redis.exceptions.LockError:  # expired meanwhile: nothing to release
                pass
    return report


def _tick_steps(ctx: WorkerContext, queue_depth: QueueDepth, report: TickReport) -> None:
    now = ctx.clock()
    with ctx.engine.begin() as conn:
        for campaign_id in _due_campaigns(conn, now):
            report.enqueue += _release(conn, campaign_id, now, report)
        _apply_windows(conn, now, report)
        report.cancelled += recovery.cancel_leftovers(conn, now)
        report.unclaimed += recovery.unclaim_stale(conn, ctx, now)
    lost = recovery.requeue_lost(ctx, now, queue_depth)
    report.requeued += len(lost)
    report.enqueue += lost
    resolved, reconciled = recovery.resolve_stale(ctx, now)
    report.resolved += resolved
    report.reconciled_sent += reconciled
    with ctx.engine.begin() as conn:
        report.completed += _complete_finished(conn, now)


def dispatch(ctx: WorkerContext, campaign_id: int) -> list[BatchRef]:
    """A campaign has work: release it if due, and list every batch it may send now.

    Called on submit, resume and retry_failed; the tick does the same when the message is
    lost, so a duplicate or a lost dispatch changes nothing but latency.
    """
    now = ctx.clock()
    with ctx.engine.begin() as conn:
        state = conn.execute(
            select(Campaign.state).where(Campaign.id == campaign_id)
        ).scalar_one_or_none()
        if state == CampaignState.SCHEDULED and campaign_id in _due_campaigns(conn, now):
            return _release(conn, campaign_id, now, TickReport())
        if state == CampaignState.RUNNING:  # resumed, or failures re-planned
            return _sendable_batches(conn, campaign_id, now, ctx.timings.tick_interval_s)
    return []


def _due_campaigns(conn: Connection, now: datetime) -> list[int]:
    rows = conn.execute(
        select(Campaign.id).where(
            Campaign.state == CampaignState.SCHEDULED,
            or_(Campaign.send_at.is_(None), Campaign.send_at <= now),
        )
    )
    return [r[0] for r in rows]


def _window_of(conn: Connection, campaign_id: int) -> tuple[str | None, str | None, str | None]:
    row = conn.execute(
        select(Campaign.window_start, Campaign.window_end, Campaign.window_tz).where(
            Campaign.id == campaign_id
        )
    ).one()
    return row[0], row[1], row[2]


def _release(
    conn: Connection, campaign_id: int, now: datetime, report: TickReport
) -> list[BatchRef]:
    """scheduled -> running (or paused by window when outside it); the batches to send."""
    start, end, tz = _window_of(conn, campaign_id)
    if not in_window(now, start, end, tz):
        conn.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.state == CampaignState.SCHEDULED)
            .values(
                state=CampaignState.PAUSED,
                pause_kind=PauseKind.WINDOW,
                reason=_window_reason(start, end, tz),
            )
        )
        return []
    released = conn.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state == CampaignState.SCHEDULED)
        .values(
            state=CampaignState.RUNNING,
            started_at=func.coalesce(Campaign.started_at, now),
            pause_kind=None,
            reason=None,
        )
    )
    if released.rowcount != 1:
        return []
    report.released += 1
    store.complete_if_done(conn, campaign_id, now)  # nothing to send (every number invalid)
    return _sendable_batches(conn, campaign_id, now)


def _window_reason(start: str | None, end: str | None, tz: str | None) -> str:
    return f"outside the send window {start}-{end} ({tz or 'UTC'})"


def _sendable_batches(
    conn: Connection, campaign_id: int, now: datetime, fresh_s: float = 0.0
) -> list[BatchRef]:
    """Pending and retry_wait batches of a campaign, marked as just enqueued.

    Batches enqueued less than ``fresh_s`` ago are left out: they have their message (a
    dispatch arriving just after the tick released the campaign must not double it).
    """
    account = conn.execute(select(Campaign.account).where(Campaign.id == campaign_id)).scalar_one()
    fresh_since = now - timedelta(seconds=fresh_s)
    rows = conn.execute(
        update(Batch)
        .where(
            Batch.campaign_id == campaign_id,
            Batch.state.in_((BatchState.PENDING, BatchState.RETRY_WAIT)),
            or_(Batch.updated_at.is_(None), Batch.updated_at <= fresh_since),
        )
        .values(updated_at=now)
        .returning(Batch.id, Batch.seq, Batch.next_attempt_at)
    ).all()
    refs = []
    for batch_id, _seq, due in sorted(rows, key=lambda r: (r[1], r[0])):
        delay = (as_utc(due) - now).total_seconds() if due is not None else None
        refs.append(
            BatchRef(batch_id, campaign_id, account, delay if delay and delay > 0 else None)
        )
    return refs


def _apply_windows(conn: Connection, now: datetime, report: TickReport) -> None:
    rows = conn.execute(
        select(
            Campaign.id, Campaign.state, Campaign.window_start, Campaign.window_end,
            Campaign.window_tz,
        ).where(
            Campaign.window_start.is_not(None),
            or_(
                Campaign.state == CampaignState.RUNNING,
                and_(
                    Campaign.state == CampaignState.PAUSED,
                    Campaign.pause_kind == PauseKind.WINDOW,
                ),
            ),
        )
    ).all()  # fmt: skip
    for campaign_id, state, start, end, tz in rows:
        inside = in_window(now, start, end, tz)
        if state == CampaignState.RUNNING and not inside:
            if store.pause_campaign(
                conn, campaign_id, PauseKind.WINDOW, _window_reason(start, end, tz)
            ):
                report.window_paused += 1
        elif (
            state == CampaignState.PAUSED and inside and _lift_window_pause(conn, campaign_id, now)
        ):
            report.window_resumed += 1
            report.enqueue += _sendable_batches(conn, campaign_id, now)


def _lift_window_pause(conn: Connection, campaign_id: int, now: datetime) -> bool:
    """paused (by its window) -> running; False when it is no longer window-paused."""
    resumed = conn.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.state == CampaignState.PAUSED,
            Campaign.pause_kind == PauseKind.WINDOW,
        )
        .values(
            state=CampaignState.RUNNING, pause_kind=None, reason=None,
            started_at=func.coalesce(Campaign.started_at, now),
        )
    )  # fmt: skip
    return resumed.rowcount == 1


def _complete_finished(conn: Connection, now: datetime) -> int:
    ids = (
        conn.execute(
            select(Campaign.id).where(
                Campaign.state.in_((CampaignState.RUNNING, CampaignState.PAUSED))
            )
        )
        .scalars()
        .all()
    )
    return sum(store.complete_if_done(conn, campaign_id, now) for campaign_id in ids)
