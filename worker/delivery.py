"""Asking a gateway's per-message status call what became of sent numbers, at a bounded pace.

A gateway with a status call (``Adapter.status``, AamarSMS's ``/smsstatus?smsid=``) answers
for a message id it gave. Each tick asks about a few ``sent`` numbers of such an account that
have a message id and went out within ``archive_apply.DELIVERY_WINDOW_S``, least recently
asked first, each at most once per ``RECHECK_S``, with priority slots of the account's rate
and no more than ``STATUS_SHARE`` of it. The answer moves a number forward only: ``sent ->
delivered`` (SENT, Delivered) or ``sent -> undelivered`` (Failed), and the gateway's word is
recorded verbatim (``delivery_status``); any other word is recorded and the number stays sent.

AamarSMS's bulk ``/api`` returns no message id, so its bulk numbers have none to ask about;
the call serves numbers whose id smsq learned otherwise. Gateways with an archive learn
fates there instead (``worker.archive_apply``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import case, select, update

from campaigns.models import Batch, Recipient
from campaigns.models import RecipientState as RS
from providers import Account, GatewayError, ResultState, StatusQuery
from providers.registry import get_adapter
from worker import keys, upkeep
from worker.archive_apply import DELIVERY_WINDOW_S
from worker.context import WorkerContext
from worker.sending import rate_for

log = logging.getLogger(__name__)

STATUS_SHARE = 0.1  # of the account's requests/s, at most
RECHECK_S = 60.0  # the same message is asked about at most this often
MAX_CALLS_PER_TICK = 20
PACE_KEEP_S = 3600

_FATES = {ResultState.SENT: RS.DELIVERED, ResultState.FAILED: RS.UNDELIVERED}


@dataclass
class Fates:
    """What one tick's status calls settled."""

    asked: int = 0
    delivered: int = 0
    undelivered: int = 0


def ask_statuses(ctx: WorkerContext, now: datetime) -> Fates:
    """Ask every account with a status call about a few of its recently sent numbers."""
    fates = Fates()
    for account in ctx.accounts.values():
        try:
            query = get_adapter(account.provider).status
        except KeyError:
            continue
        if query is not None:
            _ask_account(ctx, account, query, now, fates)
    return fates


def _ask_account(
    ctx: WorkerContext, account: Account, query: StatusQuery, now: datetime, fates: Fates
) -> None:
    rate = rate_for(account, get_adapter(account.provider))
    per_s = rate.requests_per_s * STATUS_SHARE
    pace_key = keys.status_pace(account.name)
    due = ctx.redis.get(pace_key) if ctx.redis is not None else None
    if due is not None and now.timestamp() < float(due):
        return
    rest = upkeep.rest_of(ctx, account.name)
    if rest.resting(now.timestamp()):
        return
    calls = max(1, min(MAX_CALLS_PER_TICK, int(per_s * ctx.timings.tick_interval_s)))
    rows = _due(ctx, account.name, now, calls)
    if ctx.redis is not None:
        ctx.redis.set(pace_key, repr(now.timestamp() + calls / per_s), ex=PACE_KEEP_S)
    for recipient_id, message_id in rows:
        request = query.build_request(account, message_id)
        request.extensions["timeout"] = upkeep.timeout_for(account).as_dict()
        try:
            ctx.door(account.name, rate).at_priority_moment()
            response = ctx.http.send(request)
        except httpx.TransportError as exc:  # no answer: the tick leaves the gateway alone
            rest_s = rest.unanswered(now.timestamp())
            log.warning("status call of account %r failed: %s (the tick leaves its gateway "
                        "alone for %.0f s)", account.name, exc, rest_s)  # fmt: skip
            return
        rest.answered()
        try:
            state, word = query.parse(response)
        except GatewayError as exc:
            log.warning("status call of account %r failed: %s", account.name, exc)
            return
        fates.asked += 1
        _record(ctx, recipient_id, _FATES.get(state, RS.SENT), word, now, fates)


def _due(ctx: WorkerContext, account: str, now: datetime, limit: int) -> list[tuple[int, str]]:
    """Sent numbers of the account with a message id, least recently asked first."""
    asked_before = now - timedelta(seconds=RECHECK_S)
    never_first = case((Recipient.delivery_checked_at.is_(None), 0), else_=1)
    query = (
        select(Recipient.id, Recipient.provider_message_id)
        .join(Batch, Batch.id == Recipient.batch_id)
        .where(
            Batch.account == account,
            Batch.sent_at > now - timedelta(seconds=DELIVERY_WINDOW_S),
            Recipient.state == RS.SENT,
            Recipient.provider_message_id.is_not(None),
            (Recipient.delivery_checked_at.is_(None))
            | (Recipient.delivery_checked_at < asked_before),
        )
        .order_by(never_first, Recipient.delivery_checked_at, Recipient.id)
        .limit(limit)
    )
    with ctx.engine.connect() as conn:
        return [(i, m) for i, m in conn.execute(query) if m]


def _record(
    ctx: WorkerContext, recipient_id: int, state: RS, word: str, now: datetime, fates: Fates
) -> None:
    with ctx.transaction() as conn:
        done = conn.execute(
            update(Recipient)
            .where(Recipient.id == recipient_id, Recipient.state == RS.SENT)
            .values(state=state, delivery_status=word[:50], delivery_checked_at=now, updated_at=now)
        )
    if done.rowcount and state == RS.DELIVERED:
        fates.delivered += 1
    elif done.rowcount and state == RS.UNDELIVERED:
        fates.undelivered += 1
