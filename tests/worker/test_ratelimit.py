"""The shared limiter on fakeredis with a fake clock: reserved moments, sharing, the window
guarantee at the door, horizons, messages per second, and learned throttling."""

from __future__ import annotations

import fakeredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker import keys
from worker.ratelimit import (
    DOOR_TOLERANCE_S,
    THROTTLE_DECREASE,
    NotYet,
    Rate,
    RateLimiter,
    Slot,
    spacing_s,
)

SECOND_US = 1_000_000


class Clock:
    """Microseconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now_us = 1_700_000_000 * SECOND_US

    def __call__(self) -> int:
        return self.now_us

    def advance(self, seconds: float) -> None:
        self.now_us += round(seconds * SECOND_US)

    @property
    def now_s(self) -> float:
        return self.now_us / SECOND_US


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


def limiter(server: fakeredis.FakeServer, clock: Clock) -> RateLimiter:
    """A limiter with its own connection to the shared fake server (a "worker")."""
    return RateLimiter(fakeredis.FakeRedis(server=server), clock_us=clock)


def reserved(found: Slot | NotYet) -> Slot:
    assert isinstance(found, Slot), found
    return found


def test_moments_are_spaced_so_that_no_window_holds_more_than_the_rate(
    server: fakeredis.FakeServer, clock: Clock
) -> None:
    lim = limiter(server, clock)
    rate = Rate(requests_per_s=10)
    waits = [reserved(lim.reserve("acc", rate)).wait_s for _ in range(4)]
    step = (1 + DOOR_TOLERANCE_S) / 10 * 1.001
    assert waits == pytest.approx([0, step, 2 * step, 3 * step], abs=1e-6)
    assert spacing_s(10) == pytest.approx(step)
    # A fractional rate is held to its whole part: "7.5 per second" allows 7 in a window.
    assert spacing_s(7.5) == pytest.approx(spacing_s(7))


def test_a_steady_caller_gets_the_rate_less_the_tolerance(
    server: fakeredis.FakeServer, clock: Clock
) -> None:
    lim = limiter(server, clock)
    rate, sent = Rate(requests_per_s=20), 0
    end_us = clock.now_us + 10 * SECOND_US
    while clock.now_us < end_us:
        found = reserved(lim.reserve("acc", rate))
        clock.advance(found.wait_s)
        sent += 1
    assert 188 <= sent <= 192  # 20 / (1 + 0.05) per second, for ten seconds


def test_two_workers_share_one_account_and_accounts_are_separate(
    server: fakeredis.FakeServer, clock: Clock
) -> None:
    first, second = limiter(server, clock), limiter(server, clock)
    rate = Rate(requests_per_s=10)
    moments = sorted(
        reserved(w.reserve("acc", rate)).wait_s for _ in range(10) for w in (first, second)
    )
    gaps = [b - a for a, b in zip(moments, moments[1:], strict=False)]
    assert min(gaps) == pytest.approx(spacing_s(10), abs=1e-6)  # one schedule for both
    assert reserved(second.reserve("other", rate)).wait_s == 0.0  # its own bucket


def test_a_horizon_refuses_far_moments_and_takes_nothing(
    server: fakeredis.FakeServer, clock: Clock
) -> None:
    lim = limiter(server, clock)
    rate = Rate(requests_per_s=10)
    for _ in range(3):
        reserved(lim.reserve("acc", rate, horizon_s=0.25))
    before = server_values(server)
    found = lim.reserve("acc", rate, horizon_s=0.25)
    assert isinstance(found, NotYet) and found.wait_s == pytest.approx(3 * spacing_s(10) - 0.25)
    assert server_values(server) == before
    # A single message (no horizon) takes the next moment all the same.
    assert reserved(lim.reserve("acc", rate)).wait_s == pytest.approx(3 * spacing_s(10))


def server_values(server: fakeredis.FakeServer) -> dict[bytes | str, bytes | str | None]:
    """Every limiter key and its value."""
    client = fakeredis.FakeRedis(server=server)
    return {k: client.get(k) for k in client.keys("smsq:rl:*")}


def test_messages_per_second_count_batch_sizes(server: fakeredis.FakeServer, clock: Clock) -> None:
    lim = limiter(server, clock)
    rate = Rate(requests_per_s=1000, messages_per_s=100)
    assert reserved(lim.reserve("acc", rate, messages=100)).wait_s == 0.0  # a second's worth
    assert reserved(lim.reserve("acc", rate, messages=50)).wait_s == pytest.approx(0.5, abs=1e-3)
    # A batch larger than the burst still goes when the bucket is empty, and borrows ahead.
    clock.advance(10)
    assert reserved(lim.reserve("acc", rate, messages=300)).wait_s == 0.0
    assert reserved(lim.reserve("acc", rate, messages=1)).wait_s == pytest.approx(2.01, abs=1e-2)


def test_a_throttle_lowers_the_rate_once_per_event_and_it_grows_back(
    server: fakeredis.FakeServer, clock: Clock
) -> None:
    lim = limiter(server, clock)
    rate = Rate(requests_per_s=8)
    assert lim.throttled("acc", rate) == pytest.approx(8 * THROTTLE_DECREASE)
    assert lim.throttled("acc", rate) == pytest.approx(8 * THROTTLE_DECREASE)  # same event
    assert reserved(lim.reserve("acc", rate)).rate_per_s == pytest.approx(6.4)
    clock.advance(1.5)  # a new event: decreases again, from what it had grown back to
    assert lim.throttled("acc", rate) == pytest.approx((6.4 + 8 * 0.02 * 1.5) * 0.8, rel=1e-3)
    clock.advance(60)  # grows back by 2% of the rate per second, up to the rate
    assert reserved(lim.reserve("acc", rate)).rate_per_s == 8
    assert fakeredis.FakeRedis(server=server).exists(keys.throttle("acc")) == 0
    for _ in range(200):  # never below 2% of the rate
        clock.advance(1.1)
        lim.throttled("acc", rate)
    assert reserved(lim.reserve("acc", rate)).rate_per_s >= 8 * 0.02


@settings(max_examples=150, deadline=None)
@given(
    rate_per_s=st.integers(1, 200),
    lateness=st.lists(st.floats(0, DOOR_TOLERANCE_S), min_size=30, max_size=400),
    pauses=st.lists(st.floats(0, 0.3), min_size=30, max_size=400),
)
def test_no_window_of_arrivals_holds_more_than_the_rate_with_lateness_within_tolerance(
    rate_per_s: int, lateness: list[float], pauses: list[float]
) -> None:
    """Whatever the callers' pauses and their lateness at the door (within the tolerance),
    requests sent at their reserved moments plus that lateness never exceed the rate in any
    sliding one-second window."""
    clock = Clock()
    lim = limiter(fakeredis.FakeServer(), clock)
    rate, arrivals = Rate(requests_per_s=rate_per_s), []
    for late_s, pause_s in zip(lateness, pauses, strict=False):
        clock.advance(pause_s / rate_per_s)
        found = reserved(lim.reserve("acc", rate))
        arrivals.append(clock.now_s + found.wait_s + late_s)
    arrivals.sort()
    most, end = 0, 0
    for start, t in enumerate(arrivals):
        while end < len(arrivals) and arrivals[end] < t + 1.0:
            end += 1
        most = max(most, end - start)
    assert most <= rate_per_s
