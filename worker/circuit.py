"""A circuit breaker per provider account, shared through Redis by every worker.

Each send the gateway did not accept (a batch attempt, up to three requests, ending in a
connect error, a 5xx or throttling) counts against the account; an accepted request clears
the count. The circuit is open once ``circuit_failures`` sends in a row were not accepted,
or none was accepted for ``circuit_open_after_s`` since the first of them: the account has
stopped being usable, and a routed campaign moves its numbers to their next account
(``campaigns.failover``). A one-account campaign keeps retrying as before: it has nowhere
else to go.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from worker import keys

# KEYS: the circuit hash. ARGV: now µs ("" = Redis TIME), keep seconds.
# Returns {failures, since µs}.
_FAIL = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSETNX', KEYS[1], 'since', string.format('%d', now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
local since = tonumber(redis.call('HGET', KEYS[1], 'since'))
return {failures, now - since}
"""
KEEP_S = 3600  # a streak no request has touched for an hour is forgotten
CLEAR_EVERY_S = 0.5


@dataclass(frozen=True, slots=True)
class Trip:
    """Why a circuit opened: how many requests failed in a row, over how long."""

    failures: int
    over_s: float

    def reason(self, last: str) -> str:
        """The words a campaign's account record and pause reason show."""
        return (
            f"circuit open: {self.failures} sends not accepted in a row over "
            f"{self.over_s:.0f} s (last: {last})"
        )


class Circuits:
    """Every account's circuit, over one Redis connection pool."""

    def __init__(self, client: redis.Redis, *, monotonic: Callable[[], float] = time.monotonic):
        self._client = client
        self._fail = client.register_script(_FAIL)
        self._monotonic = monotonic
        self._cleared_at: dict[str, float] = {}  # account -> when this process last cleared it

    def not_accepted(self, account: str, failures_to_open: int, open_after_s: float) -> Trip | None:
        """Count one send the gateway did not accept; the Trip when the circuit is open."""
        self._cleared_at.pop(account, None)  # the next acceptance must clear the streak
        failures, elapsed_us = self._fail(keys=[keys.circuit(account)], args=["", KEEP_S])
        elapsed_s = float(elapsed_us) / 1e6
        if int(failures) >= failures_to_open or elapsed_s >= open_after_s:
            return Trip(int(failures), elapsed_s)
        return None

    def accepted(self, account: str) -> None:
        """The gateway accepted a request: the account's streak is over.

        A busy account is accepted a hundred times a second; after a failure seen here the
        streak is cleared at once, otherwise at most every ``CLEAR_EVERY_S``: failures other
        processes count meanwhile may go on that much longer before this success ends them.
        """
        now = self._monotonic()
        cleared = self._cleared_at.get(account)
        if cleared is not None and now - cleared < CLEAR_EVERY_S:
            return
        self._client.delete(keys.circuit(account))
        self._cleared_at[account] = now
