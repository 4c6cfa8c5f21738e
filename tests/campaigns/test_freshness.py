"""FreshnessCache: a value may be served while fresh and of the same version; concurrent
callers of a stale key share one load (single flight)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from campaigns.freshness import FreshnessCache


def test_a_fresh_value_of_the_same_version_is_served_without_a_load() -> None:
    cache: FreshnessCache[str, int] = FreshnessCache()
    loads = iter(range(100))
    assert cache.get("a", "running", 10.0, lambda: next(loads)) == 0
    assert cache.get("a", "running", 10.0, lambda: next(loads)) == 0
    assert cache.get("a", "paused", 10.0, lambda: next(loads)) == 1  # another version
    assert cache.get("a", "paused", 0.0, lambda: next(loads)) == 2  # max_age 0: always loads
    assert cache.get("a", "paused", 10.0, lambda: next(loads)) == 2  # ... and serves after
    time.sleep(0.02)
    assert cache.get("a", "paused", 0.01, lambda: next(loads)) == 3  # too old


def test_concurrent_callers_of_a_stale_key_share_one_load() -> None:
    cache: FreshnessCache[str, int] = FreshnessCache()
    calls = 0
    gate = threading.Event()

    def slow() -> int:
        nonlocal calls
        calls += 1
        gate.wait(5)
        return 7

    with ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(cache.get, "a", 1, 5.0, slow) for _ in range(20)]
        time.sleep(0.1)
        gate.set()
        assert [f.result() for f in futures] == [7] * 20
    assert calls == 1


def test_the_cache_keeps_a_bounded_number_of_keys() -> None:
    cache: FreshnessCache[int, int] = FreshnessCache(max_entries=3)
    for key in range(10):
        cache.get(key, None, 60.0, lambda key=key: key)  # type: ignore[misc]
    loads: list[int] = []
    cache.get(0, None, 60.0, lambda: loads.append(0) or 0)  # type: ignore[func-returns-value]
    cache.get(9, None, 60.0, lambda: loads.append(9) or 9)  # type: ignore[func-returns-value]
    assert loads == [0]  # 0 was evicted, 9 was kept


def test_a_value_past_half_its_age_is_renewed_in_the_background_without_a_wait() -> None:
    cache: FreshnessCache[str, int] = FreshnessCache()
    values = iter(range(100))
    renewed = threading.Event()

    def load() -> int:
        value = next(values)
        if value:
            renewed.set()
        return value

    assert cache.get("a", 1, 0.2, load) == 0
    time.sleep(0.12)  # past half of 0.2 s
    started = time.monotonic()
    assert cache.get("a", 1, 0.2, load) == 0  # the stored value, at once
    assert time.monotonic() - started < 0.05
    assert renewed.wait(2)
    deadline = time.monotonic() + 2
    while cache.get("a", 1, 0.2, load) == 0:  # until the background read is stored
        assert time.monotonic() < deadline
        time.sleep(0.005)
