"""The tick's own requests to gateways (archive pages, status calls): short, and an account
whose gateway did not answer one is left alone by them for a while.

Why: one tick does every account's upkeep, under one lock, and every account depends on it
(scheduled releases, lost and stale batches, completion). A tick's request waiting out a
campaign's timeout (``timeout_s``, 30 s by default) on a hung gateway held up the tick for
every account, tick after tick; and once the tick lock had expired (5 s), the next ticks
started and waited on the same gateway, taking the control queue's threads. So a tick's
request waits at most ``UPKEEP_TIMEOUT_S``, and after one the gateway did not answer (a
timeout, a refused or reset connection) the account rests from the tick's requests for
``REST_FIRST_S``, doubling up to ``REST_MAX_S``, until one is answered. What the tick could
not read is read later: nothing is taken for an answer (an unread archive page says
"cannot tell"). The rest is kept in the shared Redis, so every worker's tick sees it.
"""

from __future__ import annotations

import httpx

from providers import Account
from worker import keys
from worker.context import WorkerContext

# An archive page or a status answer comes back in well under a second from a gateway that
# is up (150-500 ms); the rest of the tick waits for it.
UPKEEP_TIMEOUT_S = 5.0
REST_FIRST_S = 15.0
REST_MAX_S = 300.0


def timeout_for(account: Account) -> httpx.Timeout:
    """The timeouts of a tick's request: the account's, but never above UPKEEP_TIMEOUT_S."""
    return httpx.Timeout(min(account.timeout_s, UPKEEP_TIMEOUT_S))


def resting(ctx: WorkerContext, account: str, now_s: float) -> bool:
    """True while ``account`` rests from the tick's requests (without Redis: never)."""
    if ctx.redis is None:
        return False
    until = ctx.redis.hget(keys.upkeep_rest(account), "until")
    return until is not None and now_s < float(until)


def unanswered(ctx: WorkerContext, account: str, now_s: float) -> float:
    """The gateway did not answer a tick's request: rest the account; returns for how long."""
    if ctx.redis is None:
        return 0.0
    key = keys.upkeep_rest(account)
    streak = int(ctx.redis.hincrby(key, "streak", 1))
    rest_s = min(REST_MAX_S, REST_FIRST_S * 2.0 ** min(streak - 1, 16))
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.hset(key, "until", repr(now_s + rest_s))
    pipe.expire(key, int(2 * REST_MAX_S))
    pipe.execute()
    return rest_s


def answered(ctx: WorkerContext, account: str) -> None:
    """The gateway answered a tick's request (whatever it said): no more rest."""
    if ctx.redis is not None:
        ctx.redis.delete(keys.upkeep_rest(account))
