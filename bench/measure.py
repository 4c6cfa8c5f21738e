"""What the benchmarks measure with, shared: windows over the gateway's arrival times,
waiting on the database without disturbing it, and a process tree's memory and CPU time.

Rates are counted where the gateway counts them: the sandbox records when each request
arrived (``RecordedMessage.arrival_s``, the host's CLOCK_MONOTONIC), so these functions take
arrival times, never the moments a worker was granted a slot.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from contextlib import closing
from typing import Any

import psutil
from sqlalchemy.engine import make_url

from campaigns.db import get_engine
from providers.sandbox.record import RecordedMessage

POLL_S = 0.05


def window_excess(arrivals_s: Iterable[float], limit: float, window_s: float = 1.0) -> float:
    """The most arrivals in any window ``[t, t + window_s)`` starting at an arrival, minus
    ``limit`` (a window that starts anywhere else holds no more than one that starts at
    its first arrival).
    """
    times = sorted(arrivals_s)
    most, end = 0, 0
    for start, t in enumerate(times):
        while end < len(times) and times[end] < t + window_s:
            end += 1
        most = max(most, end - start)
    return most - limit


def achieved_per_s(arrivals_s: Iterable[float]) -> float:
    """Arrivals per second between the first and the last arrival."""
    times = sorted(arrivals_s)
    if len(times) < 2 or times[-1] == times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def request_arrivals(messages: Sequence[RecordedMessage]) -> list[float]:
    """One arrival time per HTTP request (messages of one request share it)."""
    return list({m.request_id: m.arrival_s for m in messages}.values())


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.95 for p95) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.4999))  # ceil without float surprises
    return ordered[min(rank, len(ordered)) - 1]


def scalar(db_url: str, query: str, *params: object) -> Any:
    """One value, read without taking SQLite's write lock (campaigns.db begins every SQLite
    transaction IMMEDIATE; a poller doing that would queue behind, and slow, the workers).
    """
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        with closing(sqlite3.connect(url.database or "", isolation_level=None)) as conn:
            return conn.execute(query.replace("%s", "?"), params).fetchone()[0]
    with get_engine(db_url).connect() as conn:
        return conn.exec_driver_sql(query, params).scalar_one()


def wait_until(
    db_url: str, query: str, params: tuple[object, ...], done: Any, timeout_s: float
) -> None:
    """Poll ``query`` until it returns ``done``; TimeoutError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if scalar(db_url, query, *params) == done:
            return
        time.sleep(POLL_S)
    raise TimeoutError(f"not done after {timeout_s}s: {query} {params}")


def wait_campaign(db_url: str, campaign_id: int, state: str, timeout_s: float) -> None:
    """Wait until the campaign is in ``state`` (``completed``, ``paused``, ...)."""
    query = "SELECT state FROM campaigns WHERE id = %s"
    wait_until(db_url, query, (campaign_id,), state, timeout_s)


def tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants that are alive now."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def rss_mb(pids: Iterable[int]) -> float:
    """Resident memory of the process trees rooted at ``pids``, together, in MB."""
    total = 0
    for pid in pids:
        for process in tree(pid):
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
    return total / 1e6


def cpu_s(pids: Iterable[int]) -> float:
    """CPU seconds (user and system) used so far by the process trees rooted at ``pids``."""
    total = 0.0
    for pid in pids:
        for process in tree(pid):
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    return total


def descendants_cpu_s() -> float:
    """CPU seconds used so far by every live descendant of this process (a deployment the
    benchmark started: its Redis, sandbox and workers), the benchmark itself excluded."""
    return cpu_s(child.pid for child in psutil.Process().children())


class PeakRss:
    """The highest ``rss_mb`` of some process trees, sampled in a thread while in use."""

    def __init__(self, pids: Iterable[int], every_s: float = 0.2) -> None:
        self.pids = list(pids)
        self.every_s = every_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb(self.pids))
            self._stop.wait(self.every_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
