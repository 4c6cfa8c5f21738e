"""The shared limiter on fakeredis with a fake clock: bursts, steady rates, sharing, throttling."""

from __future__ import annotations

import fakeredis
import pytest

from worker import keys
from worker.ratelimit import Rate, RateLimiter, RateLimitTimeout

SECOND_US = 1_000_000


class Clock:
    """Microseconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now_us = 1_700_000_000 * SECOND_US

    def __call__(self) -> int:
        return self.now_us

    def advance(self, seconds: float) -> None:
        self.now_us += round(seconds * SECOND_US)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


def limiter(server: fakeredis.FakeServer, clock: Clock) -> RateLimiter:
    """A limiter with its own connection to the shared fake server (a "worker")."""
    return RateLimiter(fakeredis.FakeRedis(server=server), headroom=1.0, clock_us=clock)


def granted_in(lim: RateLimiter, clock: Clock, rate: Rate, seconds: float) -> int:
    """Requests granted in ``seconds`` to a caller that sleeps exactly as long as told."""
    granted, end_us = 0, clock.now_us + round(seconds * SECOND_US)
    while clock.now_us < end_us:
        wait = lim.try_acquire("acc", rate)
        if wait == 0.0:
            granted += 1
        clock.advance(wait)
    return granted


def test_a_burst_is_allowed_then_requests_are_paced(
    server: fakeredis.FakeServer, clock: Clock
) -> None:
    lim = limiter(server, clock)
    rate = Rate(requests_per_s=10, requests_burst=5)
    assert [lim.try_acquire("acc", rate) for _ in range(5)] == [0.0] * 5
    wait = lim.try_acquire("acc", rate)
    assert wait == pytest.approx(0.1, abs=1e-3)
    clock.advance(wait)
    assert lim.try_acquire("acc", rate) == 0.0


def test_a_steady_rate_is_held_over_time(server: fakeredis.FakeServer, clock: Clock) -> None:
    lim = limiter(server, clock)
    granted = granted_in(lim, clock, Rate(requests_per_s=20), seconds=10)
    assert 199 <= granted <= 201


def test_two_workers_share_one_account_and_accounts_are_separate(
    server: fakeredis.FakeServer, clock: Clock
) -> None:
    first, second = limiter(server, clock), limiter(server, clock)
    rate = Rate(requests_per_s=10)
    granted = 0
    for _ in range(500):  # one second, both asking every 2 ms
        granted += sum(w.try_acquire("acc", rate) == 0.0 for w in (first, second))
        clock.advance(0.002)
    assert 10 <= granted <= 11
    assert second.try_acquire("other", rate) == 0.0  # another account has its own bucket


def test_messages_per_second_count_batch_sizes(server: fakeredis.FakeServer, clock: Clock) -> None:
    lim = limiter(server, clock)
    rate = Rate(requests_per_s=1000, messages_per_s=100)
    assert lim.try_acquire("acc", rate, messages=100) == 0.0  # a second's worth at once
    wait = lim.try_acquire("acc", rate, messages=50)
    assert wait == pytest.approx(0.5, abs=1e-3)
    clock.advance(wait)
    assert lim.try_acquire("acc", rate, messages=50) == 0.0
    # A batch larger than the burst still goes when the bucket is empty, and borrows ahead.
    clock.advance(10)
    assert lim.try_acquire("acc", rate, messages=300) == 0.0
    assert lim.try_acquire("acc", rate, messages=1) == pytest.approx(2.01, abs=1e-3)


def test_a_refused_request_takes_nothing(server: fakeredis.FakeServer, clock: Clock) -> None:
    lim = limiter(server, clock)
    rate = Rate(requests_per_s=10, messages_per_s=100)
    assert lim.try_acquire("acc", rate, messages=10) == 0.0
    before = server_values(server)
    assert lim.try_acquire("acc", rate, messages=10) > 0
    assert server_values(server) == before


def server_values(server: fakeredis.FakeServer) -> dict[bytes | str, bytes | str | None]:
    """Every limiter key and its value."""
    client = fakeredis.FakeRedis(server=server)
    return {k: client.get(k) for k in client.keys("smsq:rl:*")}


def test_throttle_pauses_the_account_doubling_on_a_streak(
    server: fakeredis.FakeServer, clock: Clock
) -> None:
    lim = limiter(server, clock)
    rate = Rate(requests_per_s=1000)
    assert lim.throttle("acc") == 1.0
    assert lim.try_acquire("acc", rate) == pytest.approx(1.0)
    assert lim.throttle("acc") == 2.0
    assert lim.try_acquire("acc", rate) == pytest.approx(2.0)
    clock.advance(2.0)
    assert lim.try_acquire("acc", rate) == 0.0
    client = fakeredis.FakeRedis(server=server)
    assert client.ttl(keys.throttle("acc")) > 0  # the streak is forgotten after a calm spell


def test_acquire_sleeps_within_its_bound_and_refuses_beyond_it(
    server: fakeredis.FakeServer, clock: Clock
) -> None:
    lim = limiter(server, clock)
    rate = Rate(requests_per_s=2)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    assert lim.acquire("acc", rate, max_wait_s=1, sleep=sleep) == 0.0
    assert lim.acquire("acc", rate, max_wait_s=1, sleep=sleep) == pytest.approx(0.5)
    lim.throttle("acc", base_s=5)
    with pytest.raises(RateLimitTimeout) as raised:
        lim.acquire("acc", rate, max_wait_s=1, sleep=sleep)
    assert raised.value.wait_s == pytest.approx(5.0)
    assert slept == [pytest.approx(0.5)]


def test_headroom_paces_slightly_below_the_configured_rate(
    server: fakeredis.FakeServer, clock: Clock
) -> None:
    lim = RateLimiter(fakeredis.FakeRedis(server=server), headroom=0.95, clock_us=clock)
    granted = granted_in(lim, clock, Rate(requests_per_s=20), seconds=10)
    assert 189 <= granted <= 191
