"""Handing a campaign to the workers: releasing it when due, and enqueuing its batches.

Two halves, both needed wherever a campaign changes hands:

- In the database (``release``, ``due_campaigns``, ``sendable_batches``): a due ``scheduled``
  campaign becomes ``running`` (or waits, paused, outside its send window) and its pending
  batches are listed, each marked as just enqueued. The ``smsq.dispatch_campaign`` task and
  the periodic tick both call these, so a lost or duplicated dispatch changes nothing but
  latency (DESIGN.md invariant 7).
- On the broker (``Dispatcher``): ``smsq.send_batch`` per batch on its account's queue, and
  ``smsq.dispatch_campaign`` on the control queue for a campaign just submitted, resumed or
  re-planned. Tasks are sent by name, so that this module needs no task object and any Celery
  app (the process's own, or a local cluster's on another broker) can carry them.

Nothing is installed by importing a module. A process that submits and wants an immediate
hand-off says so: ``worker.connect()`` (or ``install(app)``) makes ``campaigns.handoff.notify``
publish here; without it the tick still releases the campaign within ``tick_interval_s``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from amqp.exceptions import ChannelError, NotFound
from celery import Celery
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import Connection, func, or_, select, true, update

from campaigns.callbacks.outbox import record_state
from campaigns.handoff import set_dispatcher, set_sender
from campaigns.models import Batch, BatchState, Campaign, CampaignKind, CampaignState, PauseKind
from worker import keys, store
from worker.clock import as_utc
from worker.context import WorkerContext
from worker.store import BatchRef
from worker.windows import in_window, window_reason

log = logging.getLogger(__name__)

# Messages waiting on the callbacks queue past which the tick publishes no callbacks tick:
# deliveries are behind (or no worker reads the queue), and the next tick will look again.
CALLBACKS_BACKLOG_MAX = 50


# --- the database half ---------------------------------------------------------------------


def release(ctx: WorkerContext, campaign_id: int) -> list[BatchRef]:
    """A campaign has work: release it if due, and list every batch it may send now.

    Called on submit, resume and retry_failed (through ``smsq.dispatch_campaign``); the tick
    does the same when that message is lost.
    """
    now = ctx.clock()
    with ctx.engine.begin() as conn:
        state = conn.execute(
            select(Campaign.state).where(Campaign.id == campaign_id)
        ).scalar_one_or_none()
        if state == CampaignState.SCHEDULED and campaign_id in due_campaigns(conn, now):
            return release_due(conn, campaign_id, now) or []
        if state == CampaignState.RUNNING:  # resumed, or failures re-planned
            return sendable_batches(conn, campaign_id, now, unqueued_only=True)
    return []


def due_campaigns(conn: Connection, now: datetime) -> list[int]:
    """Scheduled campaigns whose send time has come."""
    rows = conn.execute(
        select(Campaign.id).where(
            Campaign.state == CampaignState.SCHEDULED,
            or_(Campaign.send_at.is_(None), Campaign.send_at <= now),
        )
    )
    return [r[0] for r in rows]


def release_due(conn: Connection, campaign_id: int, now: datetime) -> list[BatchRef] | None:
    """scheduled -> running (or paused by its window when outside it); the batches to send.

    None when the campaign was not released (someone else did, or its window is closed).
    """
    start, end, tz = conn.execute(
        select(Campaign.window_start, Campaign.window_end, Campaign.window_tz).where(
            Campaign.id == campaign_id
        )
    ).one()
    scheduled = (Campaign.id == campaign_id, Campaign.state == CampaignState.SCHEDULED)
    if not in_window(now, start, end, tz):
        reason = window_reason(start, end, tz)
        paused = conn.execute(
            update(Campaign)
            .where(*scheduled)
            .values(state=CampaignState.PAUSED, pause_kind=PauseKind.WINDOW, reason=reason)
        )
        if paused.rowcount == 1:
            record_state(conn, campaign_id, CampaignState.PAUSED, now, reason)
        return None
    released = conn.execute(
        update(Campaign)
        .where(*scheduled)
        .values(
            state=CampaignState.RUNNING,
            started_at=func.coalesce(Campaign.started_at, now),
            pause_kind=None,
            reason=None,
        )
    )
    if released.rowcount != 1:
        return None
    record_state(conn, campaign_id, CampaignState.RUNNING, now)
    store.complete_if_done(conn, campaign_id, now)  # nothing to send (every number invalid)
    return sendable_batches(conn, campaign_id, now)


def sendable_batches(
    conn: Connection, campaign_id: int, now: datetime, *, unqueued_only: bool = False
) -> list[BatchRef]:
    """Pending and retry_wait batches of a campaign, marked as just enqueued.

    With ``unqueued_only``, only batches never enqueued (``updated_at`` is NULL: new, or
    reset by a resume): a dispatch that arrives after the tick released the campaign, however
    late behind a busy worker's tasks, must not double every batch. A batch whose message
    was lost is the lost-batch sweep's (``worker.recovery``).
    """
    kind = conn.execute(select(Campaign.kind).where(Campaign.id == campaign_id)).scalar_one()
    rows = conn.execute(
        update(Batch)
        .where(
            Batch.campaign_id == campaign_id,
            Batch.state.in_((BatchState.PENDING, BatchState.RETRY_WAIT)),
            Batch.updated_at.is_(None) if unqueued_only else true(),
        )
        .values(updated_at=now)
        .returning(Batch.id, Batch.seq, Batch.next_attempt_at, Batch.account)
    ).all()
    refs = []
    for batch_id, _seq, due, account in sorted(rows, key=lambda r: (r[1], r[0])):
        delay = (as_utc(due) - now).total_seconds() if due is not None else None
        refs.append(
            BatchRef(
                batch_id, campaign_id, account, delay if delay and delay > 0 else None,
                kind == CampaignKind.MESSAGE,
            )
        )  # fmt: skip
    return refs


# --- the broker half -----------------------------------------------------------------------


class Dispatcher:
    """Publishes smsq's tasks through one Celery app (the process's, or a local cluster's)."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def enqueue(self, refs: Iterable[BatchRef]) -> int:
        """Publish ``smsq.send_batch`` for each batch on its account's queue; returns how many."""
        count = 0
        with self.app.producer_or_acquire() as producer:
            for ref in refs:
                queue = keys.now_queue if ref.priority else keys.send_queue
                options: dict[str, Any] = {
                    "queue": queue(ref.account),
                    "argsrepr": f"campaign={ref.campaign_id} batch={ref.batch_id}",
                }
                if ref.delay_s:
                    options["countdown"] = ref.delay_s
                self.app.send_task(
                    keys.SEND_BATCH_TASK, (ref.batch_id,), producer=producer, **options
                )
                count += 1
        return count

    def deliver_callbacks(self, campaign_ids: Iterable[int], expires_s: float) -> int:
        """Publish ``smsq.deliver_callbacks`` for each campaign on the callbacks queue.

        The message expires after ``expires_s`` (a few ticks): the tick publishes again for
        a campaign still due, so a queue nobody reads does not grow without end.
        """
        count = 0
        with self.app.producer_or_acquire() as producer:
            for campaign_id in campaign_ids:
                self.app.send_task(
                    keys.DELIVER_CALLBACKS_TASK, (campaign_id,), producer=producer,
                    queue=keys.CALLBACKS_QUEUE, expires=expires_s,
                    argsrepr=f"campaign={campaign_id}",
                )  # fmt: skip
                count += 1
        return count

    def callbacks_tick(self, expires_s: float) -> bool:
        """Publish ``smsq.callbacks_tick`` on the callbacks queue, unless that queue holds
        ``CALLBACKS_BACKLOG_MAX`` messages or more; True when published.

        Why from the tick and not from beat's schedule: beat would publish whether or not
        a worker reads the queue, and a deployment without a callbacks worker would grow
        it by a message a tick for ever; this way it stops at the backlog. Why not in the
        tick itself: the sweep runs in the callbacks' process, so its work never takes a
        sending process's time (run by the tick on the sending worker, it took 0.2 s of
        each tick while a campaign sent 5,500 numbers/s, in the process whose threads were
        sending).
        """
        depth = self._depth(keys.CALLBACKS_QUEUE)
        if depth is None or depth >= CALLBACKS_BACKLOG_MAX:
            return False
        self.app.send_task(
            keys.CALLBACKS_TICK_TASK, (), queue=keys.CALLBACKS_QUEUE, expires=expires_s
        )
        return True

    def notify(self, campaign_id: int) -> None:
        """Queue ``smsq.dispatch_campaign`` for a campaign that has work (the hand-off)."""
        options: dict[str, Any] = {
            "queue": keys.CONTROL_QUEUE,
            "argsrepr": f"campaign={campaign_id}",
        }
        self.app.send_task(keys.DISPATCH_CAMPAIGN_TASK, (campaign_id,), **options)

    def send_now(self, campaign_id: int, batch_id: int, account: str) -> None:
        """Publish a single message's batch on its account's priority queue (the hand-off's
        sender: the message was released as it was stored)."""
        self.enqueue([BatchRef(batch_id, campaign_id, account, priority=True)])

    def queue_depth(self, account: str) -> int | None:
        """Messages ready in the account's queues, batches and single messages (Redis or AMQP
        alike); None if unknown."""
        depths = [self._depth(name) for name in (keys.send_queue(account), keys.now_queue(account))]
        return None if None in depths else sum(d for d in depths if d is not None)

    def _depth(self, queue: str) -> int | None:
        try:
            with self.app.connection_for_read() as conn:
                # One try: the tick asks every account's queues and must not hang on a
                # broker that is down (kombu's default retries for about 12 s).
                conn.ensure_connection(max_retries=1)
                channel: Any = conn.default_channel  # kombu's stubs omit queue_declare
                return int(channel.queue_declare(queue=queue, passive=True).message_count)
        except ChannelError as exc:
            # NOT_FOUND: nobody declared the queue (yet, or since Redis restarted empty), so
            # nothing is in it. AMQP raises NotFound; kombu's Redis transport a ChannelError 404.
            # (amqp's exceptions carry the code as kombu gives it: the string "404".)
            if isinstance(exc, NotFound) or str(getattr(exc, "reply_code", "")) == "404":
                return 0
            log.info("queue depth of %s unknown: %s", queue, exc)
            return None
        except (BrokerError, OSError) as exc:
            log.info("queue depth of %s unknown: %s", queue, exc)
            return None


def install(app: Celery | None = None) -> Dispatcher:
    """Make ``campaigns.handoff.notify`` and ``send_now`` publish through ``app`` (default:
    the process's app, configured from settings); returns the dispatcher. ``uninstall()``
    undoes it."""
    if app is None:
        from worker.celery_app import app as default_app

        app = default_app
    dispatcher = Dispatcher(app)
    set_dispatcher(dispatcher.notify)
    set_sender(dispatcher.send_now)
    return dispatcher


def uninstall() -> None:
    """Stop handing campaigns off from this process (the tick still releases them)."""
    set_dispatcher(None)
    set_sender(None)
