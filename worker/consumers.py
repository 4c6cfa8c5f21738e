"""Whether some worker consumes each account's queue, so that the tick can say when none does.

A campaign whose account no worker reads (an account added to the configuration without
restarting the workers) would otherwise wait in silence: its batches sit in a queue nobody
drains, and the campaign says "running". The tick notices it and says so in the campaign's
reason: "no worker consumes account 'x' ...", which ``status`` and ``watch`` show, until a
worker reads the queue again.

How a worker is known to consume a queue. kombu's Redis transport keeps a queue as a plain
list and knows no consumers (AMQP's ``queue_declare(passive=True).consumer_count`` has no
Redis counterpart); asking the workers (``app.control.inspect().active_queues()``) is a
broadcast that waits out its timeout (a second) for replies on every tick and says nothing
about a worker that did not answer in time. So each worker says it itself: its main process
sets one small key per queue it consumes (``keys.consumed(queue)``) when it is ready and every
``HEARTBEAT_S`` after that, each living ``HEARTBEAT_TTL_S``. The keys are in the rate
limiter's Redis, which every deployment has whatever its broker, so one mechanism serves
Redis and RabbitMQ alike. The tick reads them with one MGET, for the accounts whose queue
holds messages waiting (``Dispatcher.queue_depth``): messages and no key is a queue nobody
reads. A worker killed without a word is noticed once its keys expire.

Importing this module registers the worker-side signal (``worker.tick`` imports it, and every
worker imports the tick through ``worker.tasks``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any, Final

import redis
from celery.signals import worker_ready
from sqlalchemy import Connection, select, update

from campaigns.models import Batch, BatchState, Campaign, CampaignState
from campaigns.settings import get_settings
from worker import keys
from worker.context import WorkerContext
from worker.recovery import QueueDepth

log = logging.getLogger(__name__)

HEARTBEAT_S: Final = 5.0
HEARTBEAT_TTL_S: Final = 20.0  # four heartbeats: a worker slow to write once is not gone
NO_WORKER: Final = "no worker consumes account"


def announce(client: redis.Redis, queues: Iterable[str]) -> None:
    """Say that this worker consumes ``queues``, for the next ``HEARTBEAT_TTL_S``."""
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.set(keys.consumed(queue), "1", ex=int(HEARTBEAT_TTL_S))
    pipe.execute()


def consumed_accounts(client: redis.Redis, accounts: Iterable[str]) -> set[str]:
    """The accounts among ``accounts`` whose queue some worker announced lately."""
    names = sorted(set(accounts))
    if not names:
        return set()
    found = client.mget([keys.consumed(keys.send_queue(a)) for a in names])
    return {name for name, value in zip(names, found, strict=True) if value is not None}


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    """In a worker's main process, once it consumes: announce its queues, then keep at it."""
    consumer = sender
    client = redis.Redis.from_url(
        get_settings().limiter_url, socket_timeout=2, socket_connect_timeout=2
    )

    def queues() -> list[str]:
        return [queue.name for queue in consumer.task_consumer.queues]

    def beat() -> None:
        while True:
            try:
                announce(client, queues())
            except (redis.RedisError, OSError) as exc:  # Redis away: the keys expire
                log.info("consumer heartbeat not written: %s", exc)
            time.sleep(HEARTBEAT_S)

    threading.Thread(target=beat, name="smsq-consumer-heartbeat", daemon=True).start()


def flag_unconsumed(ctx: WorkerContext, queue_depth: QueueDepth) -> int:
    """Give running campaigns whose account's queue waits unread the reason that says so, and
    clear it where a worker reads the queue again; returns how many accounts none consumes.

    Redis and the broker are asked outside any transaction; without Redis (tests) nothing is
    known and nothing changes.
    """
    if ctx.redis is None:
        return 0
    with ctx.engine.connect() as conn:
        waiting = _waiting(conn)
        flagged = _flagged(conn)
    accounts = {account for _campaign, account in waiting}
    unread = accounts - consumed_accounts(ctx.redis, accounts)
    idle = {account for account in sorted(unread) if queue_depth(account)}
    reasons: dict[int, list[str]] = {}
    for campaign_id, account in waiting:
        if account in idle:
            reasons.setdefault(campaign_id, []).append(account)
    cleared = [c for c in flagged if c not in reasons]
    if reasons or cleared:
        with ctx.transaction() as conn:
            _set_reasons(conn, reasons)
            _clear(conn, cleared)
    for account in sorted(idle):
        log.warning("%s %r: its queue %s has messages and no worker reads it", NO_WORKER,
                    account, keys.send_queue(account))  # fmt: skip
    return len(idle)


def _waiting(conn: Connection) -> list[tuple[int, str]]:
    """(campaign, account) of running campaigns with batches waiting for a worker."""
    rows = conn.execute(
        select(Batch.campaign_id, Batch.account)
        .join(Campaign, Campaign.id == Batch.campaign_id)
        .where(Campaign.state == CampaignState.RUNNING, Batch.state == BatchState.PENDING)
        .distinct()
    ).all()
    return [(r[0], r[1]) for r in rows]


def _flagged(conn: Connection) -> list[int]:
    """Campaigns whose reason is this module's (running or since completed)."""
    rows = conn.execute(
        select(Campaign.id).where(
            Campaign.reason.like(f"{NO_WORKER}%"), Campaign.state != CampaignState.PAUSED
        )
    )
    return [r[0] for r in rows]


def reason_for(accounts: Iterable[str]) -> str:
    """The reason a campaign shows while no worker consumes its accounts' queues."""
    names = sorted(accounts)
    queues = ", ".join(keys.send_queue(a) for a in names)
    return (
        f"{NO_WORKER} {', '.join(repr(a) for a in names)} (queue {queues}): start or restart "
        "`smsq worker` with the account configured"
    )


def _set_reasons(conn: Connection, reasons: dict[int, list[str]]) -> None:
    for campaign_id, accounts in reasons.items():
        ours_or_none = Campaign.reason.is_(None) | Campaign.reason.like(f"{NO_WORKER}%")
        conn.execute(
            update(Campaign)
            .where(
                Campaign.id == campaign_id, Campaign.state == CampaignState.RUNNING, ours_or_none
            )
            .values(reason=reason_for(accounts))
        )


def _clear(conn: Connection, campaign_ids: list[int]) -> None:
    if not campaign_ids:
        return
    conn.execute(
        update(Campaign)
        .where(Campaign.id.in_(campaign_ids), Campaign.reason.like(f"{NO_WORKER}%"))
        .values(reason=None)
    )
