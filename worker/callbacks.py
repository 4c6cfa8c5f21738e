"""Delivering status callbacks: POST each event of a campaign, in order, signed, until done.

Runs in the ``smsq.callbacks`` queue's own worker process (``smsq worker`` starts one), so
a slow or dead receiver holds only that process's threads and never a sending thread; the
callbacks' own tick (``tick``: the outbox sweep, and handing out due deliveries) runs
there too, from beat. The
database decides everything (``campaigns.callbacks.delivery``): one delivery per campaign
at a time under a lease, the oldest undelivered event first, each attempt recorded. A POST
counts as delivered on any 2xx; anything else (another status, a timeout, a refused
connection) is a failure, retried with exponential backoff until the event is
``retry_for_s`` old, then given up and the next event goes.

Neither the secret nor the body is ever logged: a failure is recorded as the HTTP status
or the exception's class name.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx
from sqlalchemy import Engine

from campaigns.callbacks import delivery, outbox
from campaigns.callbacks.delivery import Event, Policy
from campaigns.callbacks.secrets import owner_secret
from campaigns.callbacks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, sign
from campaigns.models import CallbackState
from campaigns.settings import Settings
from worker.cli_support import CALLBACK_THREADS
from worker.clock import utcnow

log = logging.getLogger(__name__)

EVENTS_PER_RUN = 200  # then the task returns and the tick hands the campaign out again
# The now process's threads serve single messages too: however many campaigns have events
# due, deliveries hold at most this many of them (a hung receiver makes each wait out its
# timeout); the others end at once and the next callbacks tick hands them out again.
_DELIVERING = threading.BoundedSemaphore(CALLBACK_THREADS)
USER_AGENT = "smsq-callbacks/1"
Clock = Callable[[], datetime]


def policy_of(settings: Settings) -> Policy:
    """The delivery policy a process's settings ask for."""
    return Policy(
        timeout_s=settings.callback_timeout_s, retry_for_s=settings.callback_retry_for_s,
        backoff_s=settings.callback_backoff_s, backoff_max_s=settings.callback_backoff_max_s,
    )  # fmt: skip


def tick(engine: Engine, clock: Clock | None = None) -> tuple[int, list[int]]:
    """The callbacks' periodic step: put finished batches' outcomes into the outbox (the
    sweep) and list the campaigns with an event due; (events written, campaigns)."""
    now = (clock or utcnow)()
    written = outbox.sweep(engine, now)
    return written, delivery.ready_campaigns(engine, now)


@contextmanager
def delivery_slot() -> Iterator[bool]:
    """One of this process's ``CALLBACK_THREADS`` delivery slots for the ``with``: True when
    taken, False when every one is busy (then deliver nothing now)."""
    taken = _DELIVERING.acquire(blocking=False)
    try:
        yield taken
    finally:
        if taken:
            _DELIVERING.release()


def deliver_campaign(
    engine: Engine,
    client: httpx.Client,
    campaign_id: int,
    policy: Policy,
    clock: Clock | None = None,
) -> tuple[int, int]:
    """Deliver the campaign's due events in order; (delivered, failed attempts).

    Stops at the first failure (the event ahead must go first) or after ``EVENTS_PER_RUN``.
    Returns at once when another delivery holds the campaign.
    """
    now = clock or utcnow
    token = delivery.take_lease(engine, campaign_id, now(), policy.lease_s)
    if token is None:
        return 0, 0
    delivered = failed = 0
    try:
        event = delivery.next_event(engine, campaign_id, token, now(), policy.lease_s)
        while event is not None and delivered + failed < EVENTS_PER_RUN:
            error = post(client, event, policy.timeout_s)
            if error is None:
                delivered += 1
                # Recorded with the lookup of the next one: one write per event.
                event = delivery.next_event(
                    engine, campaign_id, token, now(), policy.lease_s, delivered=event
                )
                continue
            failed += 1
            state = delivery.record_failure(engine, event, now(), error, policy)
            log.info("callback %s of campaign %d: %s (%s)", event.event_id, campaign_id,
                     state, error)  # fmt: skip
            if state != CallbackState.GIVEN_UP:
                break  # the next waits for this one
            event = delivery.next_event(engine, campaign_id, token, now(), policy.lease_s)
    finally:
        delivery.release_lease(engine, campaign_id, token)
    return delivered, failed


def post(client: httpx.Client, event: Event, timeout_s: float) -> str | None:
    """POST one event, signed now; None when the receiver answered 2xx, else what failed."""
    body = event.body()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event.event_id,
        SIGNATURE_HEADER: sign(owner_secret(event.owner), body),
    }
    try:
        response = client.post(event.url, content=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


_CLIENT: httpx.Client | None = None
_CLIENT_LOCK = threading.Lock()


def http_client() -> httpx.Client:
    """This process's client for callbacks: its own pool, apart from the gateways'; no
    redirects followed (a receiver that moved must be given its new URL)."""
    global _CLIENT
    with _CLIENT_LOCK:
        if _CLIENT is None:
            _CLIENT = httpx.Client(follow_redirects=False)
        return _CLIENT


def reset_client() -> None:
    """Forget the client (after a fork: its sockets belong to the parent)."""
    global _CLIENT
    with _CLIENT_LOCK:
        _CLIENT = None
