"""One rate limit per provider account, shared through Redis by every worker on every machine,
kept where the gateway counts it: at the door, when the request goes out.

A request first *reserves* a moment to be sent (a GCRA in one Lua script, so that taking a
moment is a single atomic step however many processes ask at once), sleeps until it, and is
sent at that moment. Reserved moments are ``(1 + DOOR_TOLERANCE_S) / rate`` apart; a
request that reaches the door more than ``DOOR_TOLERANCE_S`` late reserves again. So in any
window of one second the requests sent had their moments within ``1 + DOOR_TOLERANCE_S``
seconds: at most ``floor(rate)`` of them, wherever the window starts, whatever the number
of workers, processes or requests in flight (DESIGN.md invariant 9). An account may also
limit messages per second; a batch then pays its size into a second bucket.

Throttling is learned: when the gateway answers "too many requests", ``throttled`` lowers
the account's effective rate for every worker (multiplicatively, at most once a second) and
it grows back by a fixed step each second until it reaches the configured rate again
(additive increase, multiplicative decrease).

Time is Redis's own clock (``TIME``), so workers on machines whose clocks disagree still
share one schedule. Reservations of campaign batches are bounded by a horizon (a request
whose moment would lie further ahead is told to come back later instead of queueing);
priority reservations (single messages) take the next moment whatever the horizon, so they
go out ahead of every batch that has not reserved yet.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import redis

from worker import keys

# How late a request may reach the door after its reserved moment. Moments are spaced by
# (1 + this) / rate, which costs this share of the rate (4.8% at 0.05) and buys the window
# guarantee above against the jitter between waking up and writing the request.
DOOR_TOLERANCE_S = 0.05
# Of that, what a request may take from passing the door check to its first byte reaching
# the gateway (writing it, a context switch, a young collection): the door lets a request
# through at most DOOR_TOLERANCE_S - this late, so that the window guarantee above, with
# its 0.1% margin, does not rest on the request leaving the instant it was checked.
SEND_ALLOWANCE_S = 0.01
# A hair more than the exact spacing, so that a window never holds one request too many when
# moments and window edges coincide.
SPACING_MARGIN = 1.001
THROTTLE_DECREASE = 0.8  # the effective rate after a 429: this share of what it was
THROTTLE_COOLDOWN_S = 1.0  # 429s within this of the last decrease are the same event
THROTTLE_INCREASE_SHARE_PER_S = 0.02  # recovery each second: this share of the configured rate
THROTTLE_FLOOR_SHARE = 0.02  # the effective rate never falls below this share of it
THROTTLE_KEEP_S = 86_400

# KEYS: requests bucket, messages bucket, throttle hash.
# ARGV: configured requests/s, tolerance µs, messages/s (0: none), message burst µs, messages
#       in this request, horizon µs (-1: none), increase per s, now µs ("" = Redis TIME).
# Returns {reserved (1/0), wait µs, effective rate as a string}. A bucket stores its
# theoretical arrival time (TAT) in µs.
_RESERVE = """
local now = tonumber(ARGV[8])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local configured = tonumber(ARGV[1])
local ceiling = configured
if configured >= 1 then ceiling = math.floor(configured) end
local rate = ceiling
local learned = tonumber(redis.call('HGET', KEYS[3], 'rate') or '')
if learned then
  local at = tonumber(redis.call('HGET', KEYS[3], 'at') or '0')
  learned = learned + tonumber(ARGV[7]) * (now - at) / 1000000
  if learned >= ceiling then
    redis.call('DEL', KEYS[3])
  else
    rate = learned
  end
end
local interval = (1000000 + tonumber(ARGV[2])) / rate * 1.001
local stored_req = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(stored_req, now)
local msg_rate = tonumber(ARGV[3])
local msg_interval, cost, stored_msg = 0, tonumber(ARGV[5]), 0
if msg_rate > 0 then
  msg_interval = 1000000 / msg_rate
  stored_msg = tonumber(redis.call('GET', KEYS[2]) or '0')
  if stored_msg > now then
    -- The bucket holds a burst's worth; an empty one admits any batch (it borrows ahead).
    local ready = math.min(stored_msg, stored_msg + msg_interval * cost - tonumber(ARGV[4]))
    slot = math.max(slot, ready)
  end
end
local horizon = tonumber(ARGV[6])
if horizon >= 0 and slot - now > horizon then
  return {0, math.floor(slot - now - horizon), tostring(rate)}
end
-- '%d' of a floored value: Lua would print a bare number with 14 digits, losing µs.
local function store(key, tat)
  local ttl_ms = math.floor((tat - now) / 1000) + 1000
  redis.call('SET', key, string.format('%d', math.floor(tat)), 'PX', ttl_ms)
end
store(KEYS[1], slot + interval)
if msg_rate > 0 then
  store(KEYS[2], math.max(stored_msg, slot) + msg_interval * cost)
end
return {1, math.floor(slot - now), tostring(rate)}
"""

# KEYS: throttle hash. ARGV: configured requests/s, decrease, floor share, cooldown µs,
# increase per s, keep s, now µs ("" = Redis TIME). Returns the effective rate as a string.
_THROTTLED = """
local now = tonumber(ARGV[7])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local configured = tonumber(ARGV[1])
local ceiling = configured
if configured >= 1 then ceiling = math.floor(configured) end
local rate = ceiling
local learned = tonumber(redis.call('HGET', KEYS[1], 'rate') or '')
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '0')
if learned then
  if now - at < tonumber(ARGV[4]) then
    return tostring(learned)  -- the same congestion event: decreased already
  end
  rate = math.min(ceiling, learned + tonumber(ARGV[5]) * (now - at) / 1000000)
end
local lowered = math.max(configured * tonumber(ARGV[3]), rate * tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'rate', tostring(lowered), 'at', string.format('%d', now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return tostring(lowered)
"""


@dataclass(frozen=True, slots=True)
class Rate:
    """An account's limits: requests per second, and optionally messages per second."""

    requests_per_s: float
    messages_per_s: float | None = None
    messages_burst_s: float = 1.0  # the messages bucket holds this many seconds' worth

    def __post_init__(self) -> None:
        if self.requests_per_s <= 0 or (self.messages_per_s or 1) <= 0:
            raise ValueError("rates must be positive")
        if self.messages_burst_s <= 0:
            raise ValueError("bursts must be positive")


@dataclass(frozen=True, slots=True)
class Slot:
    """A reserved moment: ``wait_s`` after the reservation, at ``rate_per_s`` (effective)."""

    wait_s: float
    rate_per_s: float


@dataclass(frozen=True, slots=True)
class NotYet:
    """No moment within the horizon: ask again in ``wait_s`` (nothing was reserved)."""

    wait_s: float
    rate_per_s: float


class RateLimiter:
    """The shared limiter of every account, over one Redis connection pool."""

    def __init__(self, client: redis.Redis, *, clock_us: Callable[[], int] | None = None) -> None:
        """``clock_us`` replaces Redis's clock (tests with a fake time); None uses ``TIME``."""
        self._client = client
        self._clock_us = clock_us
        self._reserve = client.register_script(_RESERVE)
        self._throttled = client.register_script(_THROTTLED)

    def reserve(
        self, account: str, rate: Rate, messages: int = 1, *, horizon_s: float | None = None
    ) -> Slot | NotYet:
        """Reserve the account's next moment to send one request of ``messages``.

        With ``horizon_s``, a moment further ahead than that is not reserved (``NotYet``
        says when to ask again); without, the next moment is always taken (priority).
        """
        msg_rate, burst_us = 0.0, 0.0
        if rate.messages_per_s is not None:
            msg_rate = rate.messages_per_s
            burst_us = rate.messages_burst_s * 1e6
        horizon_us = -1 if horizon_s is None else round(horizon_s * 1e6)
        reserved, wait_us, effective = self._reserve(
            keys=[keys.rate_requests(account), keys.rate_messages(account), keys.throttle(account)],
            args=[
                repr(rate.requests_per_s), round(DOOR_TOLERANCE_S * 1e6), repr(msg_rate),
                round(burst_us), max(1, messages), horizon_us, repr(_increase(rate)),
                self._now_arg(),
            ],
        )  # fmt: skip
        wait_s, rate_per_s = max(0.0, float(wait_us) / 1e6), float(effective)
        return Slot(wait_s, rate_per_s) if int(reserved) else NotYet(max(wait_s, 1e-3), rate_per_s)

    def throttled(self, account: str, rate: Rate) -> float:
        """The gateway said "too many requests": lower the account's effective rate for
        every worker (once per congestion event); returns the new rate."""
        lowered = self._throttled(
            keys=[keys.throttle(account)],
            args=[
                repr(rate.requests_per_s), THROTTLE_DECREASE, THROTTLE_FLOOR_SHARE,
                round(THROTTLE_COOLDOWN_S * 1e6), repr(_increase(rate)), THROTTLE_KEEP_S,
                self._now_arg(),
            ],
        )  # fmt: skip
        return float(lowered)

    def _now_arg(self) -> str:
        return "" if self._clock_us is None else str(self._clock_us())


def _increase(rate: Rate) -> float:
    """Requests per second regained each second after a throttle."""
    return rate.requests_per_s * THROTTLE_INCREASE_SHARE_PER_S


def spacing_s(rate_per_s: float) -> float:
    """The time between two reserved moments at ``rate_per_s`` (for benchmarks and docs)."""
    ceiling = math.floor(rate_per_s) if rate_per_s >= 1 else rate_per_s
    return (1 + DOOR_TOLERANCE_S) / ceiling * SPACING_MARGIN
