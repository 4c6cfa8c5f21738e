"""The three Celery tasks: ids in, a call into ``worker.sending`` or ``worker.tick``, decisions out.

Importing this module also installs the hand-off from ``campaigns`` (``submit_campaign``,
``resume``, ``retry_failed`` call ``campaigns.handoff.notify``), so that a process that
imports it enqueues ``smsq.dispatch_campaign`` at once instead of waiting for the tick.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from amqp.exceptions import ChannelError, NotFound
from kombu.exceptions import OperationalError as BrokerError

from campaigns import handoff
from worker import keys, sending, tick
from worker.celery_app import app
from worker.context import get_context
from worker.store import BatchRef

log = logging.getLogger(__name__)


@app.task(name="smsq.send_batch", ignore_result=True)
def send_batch(batch_id: int) -> str:
    """Send one batch (if it is still ours to send) and enqueue what the outcome calls for."""
    decision = sending.send_batch(batch_id, get_context())
    enqueue(decision.enqueue)
    return f"{decision.outcome.value}: {decision.detail}" if decision.detail else decision.outcome


@app.task(name="smsq.dispatch_campaign", ignore_result=True)
def dispatch_campaign(campaign_id: int) -> str:
    """Release a due campaign and enqueue every batch it may send now."""
    refs = tick.dispatch(get_context(), campaign_id)
    enqueue(refs)
    return f"{len(refs)} batches enqueued"


@app.task(name="smsq.tick", ignore_result=True)
def tick_task() -> str:
    """The periodic tick: schedules, windows, lost messages, stale batches, completion."""
    report = tick.run_tick(get_context(), queue_depth)
    enqueue(report.enqueue)
    return report.summary()


def enqueue(refs: Iterable[BatchRef]) -> int:
    """Publish ``send_batch`` for each batch on its account's queue; returns how many."""
    count = 0
    with app.producer_or_acquire() as producer:
        for ref in refs:
            options: dict[str, Any] = {
                "queue": keys.send_queue(ref.account),
                "argsrepr": f"campaign={ref.campaign_id} batch={ref.batch_id}",
            }
            if ref.delay_s:
                options["countdown"] = ref.delay_s
            send_batch.apply_async((ref.batch_id,), producer=producer, **options)
            count += 1
    return count


def notify_worker(campaign_id: int) -> None:
    """The hand-off installed in ``campaigns.handoff``: queue a dispatch of the campaign."""
    options: dict[str, Any] = {"queue": keys.CONTROL_QUEUE, "argsrepr": f"campaign={campaign_id}"}
    dispatch_campaign.apply_async((campaign_id,), **options)


def queue_depth(account: str) -> int | None:
    """Messages ready in the account's queue (Redis or AMQP alike); None if unknown."""
    try:
        with app.connection_for_read() as conn:
            channel: Any = conn.default_channel  # kombu's stubs omit queue_declare
            declared = channel.queue_declare(queue=keys.send_queue(account), passive=True)
            return int(declared.message_count)
    except ChannelError as exc:
        # NOT_FOUND: nobody declared the queue (yet, or since Redis restarted empty), so
        # nothing is in it. AMQP raises NotFound; kombu's Redis transport a ChannelError 404.
        if isinstance(exc, NotFound) or getattr(exc, "reply_code", None) == 404:
            return 0
        log.info("queue depth of %s unknown: %s", account, exc)
        return None
    except (BrokerError, OSError) as exc:
        log.info("queue depth of %s unknown: %s", account, exc)
        return None


def install_dispatcher() -> None:
    """Make ``campaigns.handoff.notify`` enqueue a dispatch (done on import of this module)."""
    handoff.set_dispatcher(notify_worker)


install_dispatcher()
