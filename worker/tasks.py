"""The five Celery tasks: ids in, a call into ``worker.sending`` or the tick, decisions out.

Importing this module registers the tasks on ``worker.celery_app.app`` and nothing else: the
hand-off from ``campaigns`` is installed on purpose, by ``worker.connect()``.
"""

from __future__ import annotations

from campaigns.settings import get_settings
from worker import callbacks, keys, sending, tick
from worker.celery_app import TICK_EXPIRES_TICKS, app
from worker.context import get_context
from worker.dispatch import Dispatcher, release

_dispatcher = Dispatcher(app)


@app.task(name=keys.SEND_BATCH_TASK, ignore_result=True)
def send_batch(batch_id: int) -> str:
    """Send one batch (if it is still ours to send) and enqueue what the outcome calls for."""
    decision = sending.send_batch(batch_id, get_context())
    _dispatcher.enqueue(decision.enqueue)
    return f"{decision.outcome.value}: {decision.detail}" if decision.detail else decision.outcome


@app.task(name=keys.DISPATCH_CAMPAIGN_TASK, ignore_result=True)
def dispatch_campaign(campaign_id: int) -> str:
    """Release a due campaign and enqueue every batch it may send now."""
    refs = release(get_context(), campaign_id)
    _dispatcher.enqueue(refs)
    return f"{len(refs)} batches enqueued"


@app.task(name=keys.TICK_TASK, ignore_result=True)
def tick_task() -> str:
    """The periodic tick: schedules, windows, lost messages, stale batches, completion."""
    ctx = get_context()
    report = tick.run_tick(ctx, _dispatcher.queue_depth)
    _dispatcher.enqueue(report.enqueue)
    _dispatcher.callbacks_tick(ctx.timings.tick_interval_s * TICK_EXPIRES_TICKS)
    return report.summary()


@app.task(name=keys.CALLBACKS_TICK_TASK, ignore_result=True)
def callbacks_tick() -> str:
    """The callbacks' tick (on their queue): finished batches into the outbox, and a
    delivery queued for each campaign with an event due."""
    ctx = get_context()
    written, due = callbacks.tick(ctx.engine)
    expires_s = ctx.timings.tick_interval_s * TICK_EXPIRES_TICKS
    _dispatcher.deliver_callbacks(due, expires_s)
    return f"{written} events written, {len(due)} campaigns due" if written or due else "idle"


@app.task(name=keys.DELIVER_CALLBACKS_TASK, ignore_result=True)
def deliver_callbacks(campaign_id: int) -> str:
    """POST the campaign's due callback events, in order (on the callbacks queue)."""
    with callbacks.delivery_slot() as free:
        if not free:
            return "every delivery slot of this process is busy: handed out at the next tick"
        policy = callbacks.policy_of(get_settings())
        delivered, failed = callbacks.deliver_campaign(
            get_context().engine, callbacks.http_client(), campaign_id, policy
        )
    return f"{delivered} delivered, {failed} failed"
