"""The periodic tick (Celery beat, every ``tick_interval_s``): what makes time pass.

The database holds every send time and every state, so the tick is what makes time pass:

- release scheduled campaigns whose ``send_at`` has come (or park them, paused by window);
- pause running campaigns outside their daily send window, resume window-paused ones inside;
- recover batches that stopped moving (``worker.recovery``): lost messages, dead workers,
  settled through gateway archives where they exist (``worker.archives``);
- learn sent numbers' fates: from archives, and from status calls (``worker.delivery``);
  these requests to gateways wait briefly, and a gateway that did not answer one is left
  alone for a while (``worker.upkeep``), so one hung gateway cannot hold up every account;
- say so in a campaign's reason when no worker consumes its account's queue
  (``worker.consumers``);
- complete campaigns with no open batch.

Every change is a compare-and-set, so two ticks running at once (two beats) cannot both act
on one row; a Redis lock keeps them from running at once in the first place. Duplicated
``send_batch`` messages are harmless: only one can claim a batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import redis
from sqlalchemy import Connection, and_, func, or_, select, update

from campaigns.callbacks.outbox import record_state
from campaigns.models import Campaign, CampaignState, PauseKind
from worker import consumers, delivery, dispatch, keys, recovery, store
from worker.context import WorkerContext
from worker.recovery import QueueDepth
from worker.store import BatchRef
from worker.windows import in_window, window_reason

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
    unknown_found_sent: int = 0  # unknown numbers the archive showed accepted: now sent
    delivered: int = 0
    undelivered: int = 0
    moved: int = 0  # numbers failed over from an account that failed for their campaign
    unconsumed: int = 0  # accounts whose queue has messages and no worker reading it
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
        for campaign_id in dispatch.due_campaigns(conn, now):
            released = dispatch.release_due(conn, campaign_id, now)
            if released is not None:
                report.released += 1
                report.enqueue += released
        _apply_windows(conn, now, report)
        report.cancelled += recovery.cancel_leftovers(conn, now)
        report.unclaimed += recovery.unclaim_stale(conn, ctx, now)
    lost = recovery.requeue_lost(ctx, now, queue_depth)
    report.requeued += len(lost)
    report.enqueue += lost
    moved, refs = recovery.move_from_failed(ctx, now)
    report.moved += moved
    report.enqueue += refs
    resolved, reconciled, settled = recovery.resolve_stale(ctx, now)
    report.resolved += resolved
    report.reconciled_sent += reconciled
    report.unknown_found_sent += settled.unknown_sent
    report.delivered += settled.delivered
    report.undelivered += settled.undelivered
    fates = delivery.ask_statuses(ctx, now)
    report.delivered += fates.delivered
    report.undelivered += fates.undelivered
    report.unconsumed += consumers.flag_unconsumed(ctx, queue_depth)
    with ctx.engine.begin() as conn:
        report.completed += _complete_finished(conn, now)


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
                conn, campaign_id, PauseKind.WINDOW, window_reason(start, end, tz)
            ):
                report.window_paused += 1
        elif (
            state == CampaignState.PAUSED and inside and _lift_window_pause(conn, campaign_id, now)
        ):
            report.window_resumed += 1
            report.enqueue += dispatch.sendable_batches(conn, campaign_id, now)


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
    if resumed.rowcount != 1:
        return False
    record_state(conn, campaign_id, CampaignState.RUNNING, now)
    return True


def _complete_finished(conn: Connection, now: datetime) -> int:
    # One statement for every campaign: a burst of single messages is thousands of running
    # campaigns, and one compare-and-set each cost the tick most of a core.
    return store.complete_all_done(conn, now)
