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

from dataclasses import dataclass

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


@dataclass
class Rest:
    """An account's rest from the tick's requests, read once when a tick turns to it
    (``rest_of``): its requests then say how each went without asking Redis again."""

    ctx: WorkerContext
    account: str
    until_s: float | None  # epoch seconds; None: no streak of unanswered requests

    def resting(self, now_s: float) -> bool:
        """True while the account rests from the tick's requests."""
        return self.until_s is not None and now_s < self.until_s

    def unanswered(self, now_s: float) -> float:
        """The gateway did not answer a tick's request: rest the account; returns for how
        long (without Redis: no rest)."""
        redis = self.ctx.redis
        if redis is None:
            return 0.0
        key = keys.upkeep_rest(self.account)
        streak = int(redis.hincrby(key, "streak", 1))
        rest_s = min(REST_MAX_S, REST_FIRST_S * 2.0 ** min(streak - 1, 16))
        self.until_s = now_s + rest_s
        pipe = redis.pipeline(transaction=False)
        pipe.hset(key, "until", repr(self.until_s))
        pipe.expire(key, int(2 * REST_MAX_S))
        pipe.execute()
        return rest_s

    def answered(self) -> None:
        """The gateway answered a tick's request (whatever it said): the streak is over.
        Redis is written only when there was one, not for every answer."""
        if self.until_s is not None and self.ctx.redis is not None:
            self.ctx.redis.delete(keys.upkeep_rest(self.account))
        self.until_s = None


def rest_of(ctx: WorkerContext, account: str) -> Rest:
    """The account's rest as Redis holds it now (without Redis: none)."""
    until = ctx.redis.hget(keys.upkeep_rest(account), "until") if ctx.redis is not None else None
    return Rest(ctx, account, float(until) if until is not None else None)
