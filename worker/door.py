"""Waiting for an account's moment to send, and sending at it: the door of DESIGN.md's
invariant 9, in one worker process.

A batch's task asks its account's ``Door`` for a ``Turn``: a permit of this process (at most
``permits_for(rate)`` campaign batches hold a reservation at once, so the others wait here,
on a semaphore, instead of polling Redis together) and a moment reserved from the shared
limiter. The task claims its batch and builds the request shortly before the moment, then
calls ``Turn.at_door()``, which sleeps until the moment and, when the request is more than
``DOOR_TOLERANCE_S`` late (less ``SEND_ALLOWANCE_S`` for the way to the gateway), reserves a
new one: what the limiter's spacing guarantees holds for what actually leaves. The
limiter's answer says how long after *its* clock's now the moment is, and that now lies
somewhere within the round trip: the door sleeps until the moment read from the trip's
end (never early) and measures lateness from its start (never under-counted), so a reply
held up on the way back (a collection of this process's garbage, a busy Redis) cannot make
a late request look punctual. A single message (priority) waits for no permit and reserves the
next moment whatever the horizon, so it goes out ahead of the batches still waiting here.
It holds one of the account's single-message permits until its answer (``requests_held``,
the account's whole rate's worth): a hung gateway's single messages then hold no more of a
process's threads than that, and the ``now`` process, which sends every account's, is sized
as the sum (``worker.cli_support.now_threads``). A single message that finds none free
goes back to the broker at once, with a countdown (``SINGLE_DEFER_S``, longer while none
finishes), holding no thread.

While a task waits it ``touch``es its batch every ``touch_every_s`` (the lost-batch sweep
then knows the batch's message is held, not lost); past ``hold_s`` it gives up its turn
(``Deferred``) and the batch goes back to the broker once, with the wait as a countdown.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from worker.ratelimit import DOOR_TOLERANCE_S, SEND_ALLOWANCE_S, NotYet, Rate, RateLimiter

# Campaign batches reserve at most this far ahead: a single message waits behind no more
# than this, whatever the campaign (single_message_p95_ms_under_blast in bench.gateway).
HORIZON_S = 0.25
# Claim and build the request this long before the moment. Kept short: a batch claimed
# and not yet sent is in flight, and should its worker die then its numbers end unknown
# though they never left. A longer lead was measured (0.1 s) and not kept: at 100
# requests/s on SQLite the claim waits 25 ms (p50) to 116 ms (p90) behind the other
# writers, so it halved the requests that miss their moment; but the kill of
# tests/worker/test_archive_live.py then left 20 never-sent numbers unknown in 3 runs of 3
# (1 of 3 at 0.02).
CLAIM_LEAD_S = 0.02
MIN_PERMITS = 2
# Real gateways answer in 150-500 ms: a process keeps an account's rate busy for the slowest.
EXPECTED_LATENCY_S = 0.5
# A single message with no permit free waits on the broker, not in a thread: its account has
# its whole rate's worth of requests out. Busy at its rate, a permit frees within a second;
# hung, none does until a request times out, so the wait grows to half the time since one of
# the account's single messages last finished here, up to the bound: a thousand messages
# queued for a hung gateway come back about 30 a second, not a thousand.
SINGLE_DEFER_S = 1.0
SINGLE_DEFER_MAX_S = 30.0


def requests_held(requests_per_s: float) -> int:
    """How many of an account's requests one process holds at once to use its whole rate:
    its requests per second times how long a request takes from its turn at the door to its
    answer (the horizon, then the expected latency), a fifth more for the writes around it,
    and one."""
    return math.ceil(requests_per_s * (EXPECTED_LATENCY_S + HORIZON_S) * 1.2) + 1


def permits_for(rate: Rate) -> int:
    """How many of one account's campaign batches hold a reservation at once, per process:
    a horizon's worth of requests, and one more to have the next ready."""
    return max(MIN_PERMITS, math.ceil(rate.requests_per_s * HORIZON_S) + 1)


@dataclass(frozen=True, slots=True)
class Deferred:
    """No turn within the hold time: try again in ``wait_s`` (nothing reserved or claimed)."""

    wait_s: float
    reason: str = "no turn at the door in time"


class Turn:
    """A reserved moment (and this process's permit, a campaign batch's or a single
    message's) until the request is out; use it as a context manager so the permit is
    returned whatever happens."""

    def __init__(
        self,
        door: Door,
        moment: tuple[float, float],
        *,
        priority: bool,
        permit: threading.BoundedSemaphore | None,
    ) -> None:
        self._door = door
        self._permit = permit  # returned on exit: the door's, or None (an upkeep request)
        # On the door's monotonic clock: when to send, and the last instant the request may
        # leave (the moment at its earliest reading, plus the tolerance).
        self.moment_s, self.deadline_s = moment
        self.priority = priority

    def sleep_until_claim(self) -> None:
        """Sleep until the claim should be made (a little before the moment)."""
        self._door.sleep_until(self.moment_s - CLAIM_LEAD_S)

    def at_door(self, messages: int) -> None:
        """Sleep until the moment; a request later than the tolerance reserves a new one."""
        door = self._door
        door.sleep_until(self.moment_s)
        while door.monotonic() > self.deadline_s:
            self.moment_s, self.deadline_s = door.next_moment(messages, priority=self.priority)
            door.sleep_until(self.moment_s)

    def again(self, messages: int) -> None:
        """A new moment for the next request of the same turn (a quick retry), then wait."""
        self.moment_s, self.deadline_s = self._door.next_moment(messages, priority=self.priority)
        self.at_door(messages)

    def __enter__(self) -> Turn:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._permit is self._door.singles:
            self._door.single_finished_s = self._door.monotonic()
        if self._permit is not None:
            self._permit.release()


class Door:
    """One account's door in this process."""

    def __init__(
        self,
        limiter: RateLimiter,
        account: str,
        rate: Rate,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limiter, self.account, self.rate = limiter, account, rate
        self.sleep, self.monotonic = sleep, monotonic
        self.permits = threading.BoundedSemaphore(permits_for(rate))
        self.singles = threading.BoundedSemaphore(requests_held(rate.requests_per_s))
        self.single_finished_s = monotonic()  # when a single message last gave its permit back

    def turn(
        self,
        messages: int,
        *,
        priority: bool,
        touch: Callable[[], None],
        touch_every_s: float,
        hold_s: float,
    ) -> Turn | Deferred:
        """Wait for a permit and a reserved moment, touching the batch while waiting; a
        single message (``priority``) takes a single-message permit or defers at once."""
        waited_s = touched_s = 0.0  # seconds waited, and waited at the last touch
        permit = self.singles if priority else self.permits
        if priority:
            if not permit.acquire(blocking=False):
                touch()  # its message waits on the broker: held, not lost
                idle_s = self.monotonic() - self.single_finished_s
                wait_s = min(SINGLE_DEFER_MAX_S, max(SINGLE_DEFER_S, idle_s / 2))
                return Deferred(wait_s, "every single-message permit of the account is held")
        else:
            while not permit.acquire(timeout=touch_every_s):
                touch()
                waited_s += touch_every_s
                touched_s = waited_s
                if waited_s > hold_s:
                    return Deferred(touch_every_s)
        try:
            while True:
                found = self._reserve(messages, priority=priority)
                if not isinstance(found, NotYet):
                    return Turn(self, found, priority=priority, permit=permit)
                if waited_s + found.wait_s > hold_s:
                    permit.release()
                    return Deferred(found.wait_s)
                nap_s = min(found.wait_s, touch_every_s)
                self.sleep(nap_s)
                waited_s += nap_s
                # Once per touch_every_s, not per nap: naps until the horizon opens are a few
                # ms, and each touch is a write (bench.gateway at 100 requests/s: 4,016
                # touches beside 5,620 claims, queueing every claim behind them for SQLite's
                # lock).
                if waited_s - touched_s >= touch_every_s:
                    touch()
                    touched_s = waited_s
        except BaseException:  # Redis or the database failed: no turn holds the permit
            permit.release()
            raise

    def at_priority_moment(self) -> None:
        """Return at the account's next moment, ahead of every campaign batch that has not
        reserved yet: for a request of the account's own upkeep, built already and sent at
        once (an archive page, a status call). Campaign batches reserve at most
        ``HORIZON_S`` ahead, so the wait is bounded by that and one spacing, however
        saturated the account (issue 14); a reply held up past the deadline reserves again,
        as at ``Turn.at_door``."""
        Turn(self, self.next_moment(1, priority=True), priority=True, permit=None).at_door(1)

    def next_moment(self, messages: int, *, priority: bool) -> tuple[float, float]:
        """Reserve the next moment at once for a request already holding a turn (a retry, or
        one that reached the door late): it keeps its permit and waits for the horizon.
        Returns the moment and the deadline, as a ``Turn`` holds them."""
        while True:
            found = self._reserve(messages, priority=priority)
            if not isinstance(found, NotYet):
                return found
            self._nap(found)

    def _reserve(self, messages: int, *, priority: bool) -> tuple[float, float] | NotYet:
        """Ask the limiter once: the moment and deadline of a ``Turn``, or ``NotYet``."""
        asked_s = self.monotonic()
        found = self.limiter.reserve(
            self.account, self.rate, messages, horizon_s=None if priority else HORIZON_S
        )
        if isinstance(found, NotYet):
            return found
        deadline_s = asked_s + found.wait_s + DOOR_TOLERANCE_S - SEND_ALLOWANCE_S
        return self.monotonic() + found.wait_s, deadline_s

    def sleep_until(self, moment_s: float) -> None:
        """Sleep until ``moment_s`` on this door's monotonic clock (no-op when past)."""
        left = moment_s - self.monotonic()
        if left > 0:
            self.sleep(left)

    def _nap(self, found: NotYet) -> None:
        self.sleep(found.wait_s)
