"""One rate limit per provider account, shared through Redis by every worker on every machine.

A GCRA (generic cell rate algorithm) in one Lua script, so that checking and taking a slot
is a single atomic step however many processes ask at once. Each account has a requests/s
limit and, optionally, a messages/s limit that a batch pays its size into; a request goes
out only when both allow it. Time is Redis's own clock (``TIME``), so workers on machines
whose clocks disagree still share one schedule. When a gateway answers "too many
requests", ``throttle`` makes the whole account wait, doubling the wait on a streak.

The limiter never sleeps by itself: ``try_acquire`` says how long to wait and ``acquire``
sleeps and asks again, within a bound the caller chooses.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from worker import keys

# Requests are paced at 95% of the configured rate: a request reaches the gateway a few
# milliseconds after its slot was granted, and that jitter must not push two requests into
# the same one-second window of a gateway that counts strictly per second.
RATE_HEADROOM = 0.95
THROTTLE_BASE_S = 1.0  # first pause after a 429; doubles with each throttle in a streak
THROTTLE_MAX_S = 30.0
THROTTLE_STREAK_RESET_S = 60  # a streak ends after this long without a throttle

# KEYS: requests bucket, messages bucket, throttle hash.
# ARGV: request interval µs, request burst, message interval µs (0: no limit), message burst,
#       messages in this request, now in µs ("" = Redis TIME).
# Returns {granted (1/0), wait µs}. A bucket stores its theoretical arrival time (TAT).
_ACQUIRE = """
local now = tonumber(ARGV[6])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local paused_until = tonumber(redis.call('HGET', KEYS[3], 'until') or '0')
if paused_until > now then
  return {0, paused_until - now}
end
local function gcra(key, interval, burst, cost)
  local stored = tonumber(redis.call('GET', key) or '0')
  local tat = math.max(stored, now)
  local new_tat = tat + interval * cost
  -- An empty bucket admits any cost (a batch larger than the burst borrows ahead and the
  -- next request pays for it); otherwise the usual GCRA test.
  if stored <= now or new_tat - interval * burst <= now then
    return 0, new_tat
  end
  return new_tat - interval * burst - now, new_tat
end
local req_wait, req_tat = gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), 1)
local msg_wait, msg_tat = 0, 0
local msg_interval = tonumber(ARGV[3])
if msg_interval > 0 then
  msg_wait, msg_tat = gcra(KEYS[2], msg_interval, tonumber(ARGV[4]), tonumber(ARGV[5]))
end
local wait = math.max(req_wait, msg_wait)
if wait > 0 then
  return {0, wait}
end
-- '%d' of a floored value: Lua would print a bare number with 14 digits, losing µs.
local function store(key, tat)
  local ttl_ms = math.floor((tat - now) / 1000) + 1000
  redis.call('SET', key, string.format('%d', math.floor(tat)), 'PX', ttl_ms)
end
store(KEYS[1], req_tat)
if msg_interval > 0 then
  store(KEYS[2], msg_tat)
end
return {1, 0}
"""

# KEYS: throttle hash. ARGV: base µs, max µs, streak reset s, now µs ("" = Redis TIME).
# Returns the pause in µs: base doubled per throttle in the current streak, capped.
_THROTTLE = """
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local streak = redis.call('HINCRBY', KEYS[1], 'streak', 1)
local pause = math.min(tonumber(ARGV[1]) * 2 ^ (streak - 1), tonumber(ARGV[2]))
local until_us = math.max(tonumber(redis.call('HGET', KEYS[1], 'until') or '0'), now + pause)
redis.call('HSET', KEYS[1], 'until', string.format('%d', math.floor(until_us)))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]) + math.ceil(pause / 1000000))
return math.floor(pause)
"""


@dataclass(frozen=True, slots=True)
class Rate:
    """An account's limits: requests per second, and optionally messages per second."""

    requests_per_s: float
    messages_per_s: float | None = None
    requests_burst: int = 1  # requests allowed back to back before pacing applies
    messages_burst_s: float = 1.0  # the messages bucket holds this many seconds' worth

    def __post_init__(self) -> None:
        if self.requests_per_s <= 0 or (self.messages_per_s or 1) <= 0:
            raise ValueError("rates must be positive")
        if self.requests_burst < 1 or self.messages_burst_s <= 0:
            raise ValueError("bursts must be positive")


class RateLimitTimeout(Exception):
    """Raised when the limiter would make a caller wait longer than the caller allows."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"rate limit: next slot in {wait_s:.3f}s, beyond the allowed wait")
        self.wait_s = wait_s


class RateLimiter:
    """The shared limiter of every account, over one Redis connection pool."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        headroom: float = RATE_HEADROOM,
        clock_us: Callable[[], int] | None = None,
    ) -> None:
        """``clock_us`` replaces Redis's clock (tests with a fake time); None uses ``TIME``."""
        self._client = client
        self._headroom = headroom
        self._clock_us = clock_us
        self._acquire = client.register_script(_ACQUIRE)
        self._throttle = client.register_script(_THROTTLE)

    def try_acquire(self, account: str, rate: Rate, messages: int = 1) -> float:
        """Take a slot for one request of ``messages`` if free: 0.0, else seconds to wait."""
        req_interval_us = 1e6 / (rate.requests_per_s * self._headroom)
        msg_interval_us, msg_burst = 0.0, 0
        if rate.messages_per_s is not None:
            msg_interval_us = 1e6 / (rate.messages_per_s * self._headroom)
            msg_burst = max(1, math.floor(rate.messages_per_s * rate.messages_burst_s))
        granted, wait_us = self._acquire(
            keys=[keys.rate_requests(account), keys.rate_messages(account), keys.throttle(account)],
            args=[
                f"{req_interval_us:.3f}",
                rate.requests_burst,
                f"{msg_interval_us:.3f}",
                msg_burst,
                max(1, messages),
                self._now_arg(),
            ],
        )
        return 0.0 if int(granted) else max(float(wait_us) / 1e6, 1e-4)

    def acquire(
        self,
        account: str,
        rate: Rate,
        messages: int = 1,
        *,
        max_wait_s: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> float:
        """Wait for a slot and take it; returns seconds waited.

        Raises ``RateLimitTimeout`` (having taken nothing) as soon as the next slot lies
        beyond ``max_wait_s`` from the first call.
        """
        waited = 0.0
        while True:
            wait_s = self.try_acquire(account, rate, messages)
            if wait_s == 0.0:
                return waited
            if waited + wait_s > max_wait_s:
                raise RateLimitTimeout(wait_s)
            sleep(wait_s)
            waited += wait_s

    def throttle(
        self, account: str, *, base_s: float = THROTTLE_BASE_S, max_s: float = THROTTLE_MAX_S
    ) -> float:
        """The gateway said "too many requests": pause the account; returns the pause in s."""
        pause_us = self._throttle(
            keys=[keys.throttle(account)],
            args=[int(base_s * 1e6), int(max_s * 1e6), THROTTLE_STREAK_RESET_S, self._now_arg()],
        )
        return float(pause_us) / 1e6

    def _now_arg(self) -> str:
        return "" if self._clock_us is None else str(self._clock_us())
