"""The database half of delivering callbacks: the per-campaign lease, the next event, results.

Order: a campaign's events go out one at a time, oldest first; the next is not tried
before the one ahead is delivered or given up. One delivery per campaign holds a lease (a
compare-and-set on its stream); a worker killed mid-POST stops renewing it, and once it
expires the next run takes the same event again: delivery is at least once, and receivers
dedupe by event id (``X-Smsq-Event-Id``).

An event's ``seq`` is given at its first attempt from the stream's counter, under the lease,
so sequence numbers follow delivery order with no gaps, whatever order concurrent
transactions committed their events in.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, or_, select, update

from campaigns.db import read_only
from campaigns.models import CALLBACK_OPEN, CallbackState, as_utc
from campaigns.tables import CALLBACK_EVENTS, CALLBACK_STREAMS

EVENT_ID_PREFIX = "evt_"
_OPEN = tuple(CALLBACK_OPEN)


@dataclass(frozen=True, slots=True)
class Policy:
    """How long one attempt may take, and how failing events are retried."""

    timeout_s: float = 10.0
    retry_for_s: float = 24 * 3600.0  # from the event's creation; then it is given up
    backoff_s: float = 5.0  # the first wait; it doubles each attempt, with jitter
    backoff_max_s: float = 3600.0

    @property
    def lease_s(self) -> float:
        """How long a delivery holds its campaign: one attempt and some slack."""
        return self.timeout_s * 2 + 5.0

    def wait_s(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failure, jittered by up to a fifth either way."""
        base = min(self.backoff_s * 2.0 ** max(attempts - 1, 0), self.backoff_max_s)
        return base * random.uniform(0.8, 1.2)


@dataclass(frozen=True, slots=True)
class Event:
    """One event about to be attempted, with where it goes and whose secret signs it."""

    id: int
    campaign_id: int
    seq: int
    type: str
    payload: str
    created_at: datetime
    attempts: int
    url: str
    owner: str

    @property
    def event_id(self) -> str:
        """The id receivers dedupe by: the same on every attempt."""
        return f"{EVENT_ID_PREFIX}{self.id}"

    def body(self) -> bytes:
        """The JSON body; the same bytes on every attempt."""
        document = {
            "id": self.event_id, "type": self.type, "campaign_id": self.campaign_id,
            "seq": self.seq, "created_at": self.created_at.isoformat(),
            "data": json.loads(self.payload),
        }  # fmt: skip
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def ready_campaigns(engine: Engine, now: datetime, limit: int = 1000) -> list[int]:
    """Campaigns with an event due and no live delivery: what the tick hands to the queue."""
    free = or_(CALLBACK_STREAMS.c.lease_until.is_(None), CALLBACK_STREAMS.c.lease_until < now)
    due = or_(CALLBACK_EVENTS.c.next_attempt_at.is_(None), CALLBACK_EVENTS.c.next_attempt_at <= now)
    query = (
        select(CALLBACK_EVENTS.c.campaign_id)
        .join(CALLBACK_STREAMS, CALLBACK_STREAMS.c.campaign_id == CALLBACK_EVENTS.c.campaign_id)
        .where(CALLBACK_EVENTS.c.state.in_(_OPEN), due, free)
        .distinct()
        .limit(limit)
    )
    with read_only(engine) as conn:
        return [r[0] for r in conn.execute(query)]


def take_lease(engine: Engine, campaign_id: int, now: datetime, lease_s: float) -> str | None:
    """Hold the campaign's delivery for ``lease_s``; a token, or None if another holds it."""
    token = secrets.token_hex(8)
    with engine.begin() as conn:
        taken = conn.execute(
            update(CALLBACK_STREAMS)
            .where(
                CALLBACK_STREAMS.c.campaign_id == campaign_id,
                or_(CALLBACK_STREAMS.c.lease_until.is_(None), CALLBACK_STREAMS.c.lease_until < now),
            )
            .values(lease_token=token, lease_until=now + timedelta(seconds=lease_s))
        )
    return token if taken.rowcount == 1 else None


def release_lease(engine: Engine, campaign_id: int, token: str) -> None:
    """Let the next delivery of the campaign start at once."""
    with engine.begin() as conn:
        conn.execute(
            update(CALLBACK_STREAMS)
            .where(_held(campaign_id, token))
            .values(lease_token=None, lease_until=None)
        )


def next_event(
    engine: Engine,
    campaign_id: int,
    token: str,
    now: datetime,
    lease_s: float,
    *,
    delivered: Event | None = None,
) -> Event | None:
    """The campaign's oldest undelivered event if it is due (its seq given), renewing the
    lease; None when there is none, it waits for its backoff, or the lease was lost.

    With ``delivered``, that event is first recorded as delivered, in the same transaction:
    one write per event (on SQLite every write takes the database's one write lock, which
    the sending workers need too).
    """
    with engine.begin() as conn:
        if delivered is not None:
            _mark(conn, delivered, state=CallbackState.DELIVERED, last_error=None,
                  delivered_at=now)  # fmt: skip
        return _next_in(conn, campaign_id, token, now, lease_s)


def _next_in(
    conn: Connection, campaign_id: int, token: str, now: datetime, lease_s: float
) -> Event | None:
    renewed = conn.execute(
        update(CALLBACK_STREAMS)
        .where(_held(campaign_id, token))
        .values(lease_until=now + timedelta(seconds=lease_s))
    )
    if renewed.rowcount != 1:
        return None
    head = conn.execute(
        select(CALLBACK_EVENTS, CALLBACK_STREAMS.c.url, CALLBACK_STREAMS.c.owner)
        .join(CALLBACK_STREAMS, CALLBACK_STREAMS.c.campaign_id == CALLBACK_EVENTS.c.campaign_id)
        .where(CALLBACK_EVENTS.c.campaign_id == campaign_id, CALLBACK_EVENTS.c.state.in_(_OPEN))
        # Those with a seq were tried already: they are ahead of every newer event.
        .order_by(CALLBACK_EVENTS.c.seq.is_(None), CALLBACK_EVENTS.c.seq, CALLBACK_EVENTS.c.id)
        .limit(1)
    ).first()
    if head is None:
        return None
    m = head._mapping
    if m["next_attempt_at"] is not None and as_utc(m["next_attempt_at"]) > now:
        return None
    seq = m["seq"] if m["seq"] is not None else _give_seq(conn, campaign_id, m["id"])
    return Event(
        id=m["id"], campaign_id=campaign_id, seq=seq, type=m["type"], payload=m["payload"],
        created_at=as_utc(m["created_at"]), attempts=m["attempts"], url=m["url"],
        owner=m["owner"],
    )  # fmt: skip


def _held(campaign_id: int, token: str) -> ColumnElement[bool]:
    return and_(
        CALLBACK_STREAMS.c.campaign_id == campaign_id, CALLBACK_STREAMS.c.lease_token == token
    )


def _give_seq(conn: Connection, campaign_id: int, event_id: int) -> int:
    seq: int = conn.execute(
        update(CALLBACK_STREAMS)
        .where(CALLBACK_STREAMS.c.campaign_id == campaign_id)
        .values(next_seq=CALLBACK_STREAMS.c.next_seq + 1)
        .returning(CALLBACK_STREAMS.c.next_seq - 1)
    ).scalar_one()
    conn.execute(update(CALLBACK_EVENTS).where(CALLBACK_EVENTS.c.id == event_id).values(seq=seq))
    return seq


def record_failure(
    engine: Engine, event: Event, now: datetime, error: str, policy: Policy
) -> CallbackState:
    """An attempt failed with ``error`` (a status code or an exception's class name): retry
    after the backoff, or give up once the event is older than ``policy.retry_for_s``."""
    attempts = event.attempts + 1
    if now - event.created_at >= timedelta(seconds=policy.retry_for_s):
        state, next_at = CallbackState.GIVEN_UP, None
    else:
        state = CallbackState.FAILING
        next_at = now + timedelta(seconds=policy.wait_s(attempts))
    with engine.begin() as conn:
        _mark(conn, event, state=state, last_error=error[:200], next_attempt_at=next_at)
    return state


def _mark(conn: Connection, event: Event, **values: Any) -> None:
    """Record one attempt of ``event`` and its outcome (``values``)."""
    conn.execute(
        update(CALLBACK_EVENTS)
        .where(CALLBACK_EVENTS.c.id == event.id, CALLBACK_EVENTS.c.state.in_(_OPEN))
        .values(attempts=CALLBACK_EVENTS.c.attempts + 1, **values)
    )


def counts(conn: Connection, campaign_id: int) -> dict[CallbackState, int]:
    """The campaign's events per delivery state (states with none left out)."""
    rows = conn.execute(
        select(CALLBACK_EVENTS.c.state, func.count())
        .where(CALLBACK_EVENTS.c.campaign_id == campaign_id)
        .group_by(CALLBACK_EVENTS.c.state)
    )
    return {r[0]: r[1] for r in rows}
