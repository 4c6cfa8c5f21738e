"""The Celery application: broker, queues, reliability settings and the beat schedule.

Run it with ``celery -A worker.celery_app worker`` / ``beat``; ``worker.cli_support`` builds
those command lines for ``smsq worker`` and ``smsq beat``.

Settings chosen so that work is neither lost nor done twice:

- ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only after
  its task returns, so a worker killed mid-task gives the message back to the broker (the
  compare-and-set claim in the database turns that redelivery into a no-op if it had
  already sent).
- ``worker_prefetch_multiplier = 1``: a process reserves one message at a time, so a slow
  gateway does not sit on messages other processes could run.
- ``visibility_timeout`` (Redis) from settings: longer than any task and any countdown,
  else Redis would redeliver a message still being worked on.
- No result backend (``task_ignore_result``): outcomes live in the SQL database.
- JSON only, and task arguments are ids (DESIGN.md invariant 1).

Nothing here is Redis-only: ``SMSQ_BROKER_URL=amqp://...`` runs the same on RabbitMQ (the
limiter and the tick lock then use ``SMSQ_REDIS_URL``).
"""

from __future__ import annotations

import gc
import logging
from typing import Any

import redis
from celery import Celery
from celery.signals import beat_init, worker_init, worker_process_init, worker_ready

from campaigns.db import dispose_engines
from campaigns.settings import Settings, get_settings
from providers import install_log_redaction, load_accounts
from worker import broker, door, keys, sending
from worker.callbacks import reset_client
from worker.context import reset_context
from worker.ratelimit import DOOR_TOLERANCE_S
from worker.redis_server import check_noeviction

log = logging.getLogger(__name__)

# The tick message is worthless once the next one is due: let the broker drop stale ones
# (after a beat restart or a worker outage) instead of running a backlog of ticks.
TICK_EXPIRES_TICKS = 3


def make_app(settings: Settings | None = None) -> Celery:
    """A Celery app configured from ``settings`` (default: this process's settings)."""
    broker.install()  # one Redis client per channel (worker.broker says why)
    settings = settings or get_settings()
    app = Celery("smsq", broker=settings.broker_url, include=["worker.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        broker_connection_retry_on_startup=True,
        # A send in progress when the broker connection drops finishes and records its
        # outcomes; cancelling it would turn a sure answer into "unknown" numbers, and the
        # message it can no longer acknowledge is redelivered into a lost claim.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=keys.CONTROL_QUEUE,
        task_create_missing_queues=True,
        task_send_sent_event=True,  # Flower shows a task from the moment it is queued
        worker_send_task_events=True,
        worker_hijack_root_logger=True,
        beat_schedule={
            keys.TICK_TASK: {
                "task": keys.TICK_TASK,
                "schedule": settings.tick_interval_s,
                "options": {
                    "queue": keys.CONTROL_QUEUE,
                    "expires": settings.tick_interval_s * TICK_EXPIRES_TICKS,
                },
            }
        },
    )
    return app


app = make_app()


@worker_process_init.connect
def _after_fork(**_: Any) -> None:
    # Pooled database connections, Redis sockets and HTTP keep-alives must not be shared
    # with the parent process: every child builds its own on first use.
    dispose_engines()
    reset_context()
    reset_client()
    install_log_redaction()


@worker_ready.connect
def _freeze_what_lives(**_: Any) -> None:
    # Everything that exists once the worker is up (Celery, kombu, SQLAlchemy, httpx, the
    # accounts) lives as long as the process. A full collection walked all of it, about
    # 140,000 objects, and stopped every thread for 90 ms: a request between its door check
    # and its first byte left that much after its moment (bench.ratelimit's windows of 21
    # at a limit of 20). Frozen (``gc.freeze``: never walked again, still freed when no
    # longer referenced), a collection walks only what tasks made. The garbage is collected
    # first in ``_on_worker_start``, before any task can run: here tasks may be sending.
    gc.freeze()


@worker_init.connect
def _on_worker_start(**_: Any) -> None:
    gc.collect()
    gc.freeze()
    install_log_redaction()
    settings = get_settings()
    urls = {settings.limiter_url, settings.broker_url}
    for url in sorted(u for u in urls if u.startswith(("redis://", "rediss://"))):
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            warning = check_noeviction(client)
        finally:
            client.close()
        if warning:
            log.warning("%s", warning)
    timeouts = {name: account.timeout_s for name, account in load_accounts().items()}
    warning = check_stale_after(settings, timeouts)
    if warning:
        log.warning("%s", warning)


def longest_send_s(timeout_s: float) -> float:
    """How long one batch can stay in flight with a live worker: every quick attempt timing
    out, plus the waits between them and for rate-limit slots.
    """
    attempts = sending.QUICK_ATTEMPTS
    # A quick retry waits for a moment of its own: within the door's horizon, give or take.
    per_retry_s = sending.QUICK_WAIT_MAX_S + door.HORIZON_S + DOOR_TOLERANCE_S
    return float(attempts * timeout_s + (attempts - 1) * per_retry_s)


def check_stale_after(settings: Settings, timeouts_s: dict[str, float]) -> str | None:
    """A warning when ``stale_after_s`` is shorter than a live send may take: the tick would
    resolve (as unknown) batches whose worker is still waiting for the gateway.
    """
    slow = {name: longest_send_s(t) for name, t in timeouts_s.items()}
    late = {name: s for name, s in slow.items() if s >= settings.stale_after_s}
    if not late:
        return None
    worst = max(late, key=lambda name: late[name])
    return (
        f"stale_after_s={settings.stale_after_s:g} is shorter than a send to account "
        f"{worst!r} may take ({late[worst]:.0f} s with timeout_s={timeouts_s[worst]:g}): "
        "raise stale_after_s or lower the account's timeout_s"
    )


@beat_init.connect
def _on_beat_start(**_: Any) -> None:
    install_log_redaction()
