"""What one worker process shares between tasks: database engine, accounts, limiter, HTTP pool.

Built on first use and dropped after a fork (``reset_context``), so that no pooled database
connection, Redis socket or keep-alive HTTP connection is shared between processes. Tests
build a ``WorkerContext`` themselves with fakes (an ``httpx.MockTransport``, fakeredis).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import redis
from sqlalchemy import Connection, Engine

from campaigns.db import get_engine
from campaigns.settings import (
    STALE_AFTER_S,
    TICK_INTERVAL_S,
    VISIBILITY_TIMEOUT_S,
    Settings,
    get_settings,
)
from providers import Account, load_accounts
from worker.circuit import Circuits
from worker.clock import utcnow
from worker.door import Door
from worker.ratelimit import Rate, RateLimiter

# Enough connections for every request a process has in flight (its threads, sized from its
# accounts' rates by worker.cli_support), so a request never waits for the pool.
HTTP_POOL_CONNECTIONS = 256
# Database connections per worker process: threads hold one only for a short transaction.
DB_POOL_SIZE = 10
DB_POOL_OVERFLOW = 30


@dataclass(frozen=True, slots=True)
class Timings:
    """The worker's timing knobs (from settings; tests shrink them)."""

    tick_interval_s: float = TICK_INTERVAL_S
    stale_after_s: float = STALE_AFTER_S
    visibility_timeout_s: float = float(VISIBILITY_TIMEOUT_S)

    @classmethod
    def from_settings(cls, settings: Settings) -> Timings:
        """The timings a process's settings ask for."""
        return cls(
            tick_interval_s=settings.tick_interval_s,
            stale_after_s=settings.stale_after_s,
            visibility_timeout_s=float(settings.visibility_timeout_s),
        )


@dataclass
class WorkerContext:
    """Per-process dependencies of the sending loop and the tick."""

    engine: Engine
    accounts: Mapping[str, Account]
    limiter: RateLimiter
    http: httpx.Client
    timings: Timings = field(default_factory=Timings)
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    redis: redis.Redis | None = None  # tick lock and circuits; None: unlocked, no circuits
    monotonic: Callable[[], float] = time.monotonic  # the doors' clock
    _circuits: Circuits | None = field(default=None, init=False, repr=False)
    _doors: dict[str, Door] = field(default_factory=dict, init=False, repr=False)
    _doors_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def door(self, account: str, rate: Rate) -> Door:
        """This process's door of ``account`` (one per account, shared by its threads)."""
        with self._doors_lock:
            found = self._doors.get(account)
            if found is None or found.rate != rate:
                found = self._doors[account] = Door(
                    self.limiter, account, rate, sleep=self.sleep, monotonic=self.monotonic
                )
            return found

    @property
    def circuits(self) -> Circuits | None:
        """The accounts' circuit breakers (in ``redis``), or None without Redis."""
        if self._circuits is None and self.redis is not None:
            self._circuits = Circuits(self.redis)
        return self._circuits

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction (on SQLite queued with every other writer on the machine:
        campaigns.writers)."""
        with self.engine.begin() as conn:
            yield conn


def make_http_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """The process's pooled HTTP client; timeouts are set per request from the account."""
    return httpx.Client(
        transport=transport,
        limits=httpx.Limits(
            max_connections=HTTP_POOL_CONNECTIONS, max_keepalive_connections=HTTP_POOL_CONNECTIONS
        ),
        follow_redirects=False,  # a redirect on a send endpoint is a misconfiguration, not a hop
    )


_context: WorkerContext | None = None
_lock = threading.Lock()


def get_context() -> WorkerContext:
    """This process's context, built from settings and the account config on first use."""
    global _context
    with _lock:
        if _context is None:
            settings = get_settings()
            if not settings.limiter_url.startswith(("redis://", "rediss://", "unix://")):
                raise RuntimeError(
                    "the rate limiter needs Redis: set SMSQ_REDIS_URL when the broker is not "
                    f"Redis (broker: {settings.broker_url.split('://')[0]}://...)"
                )
            client = redis.Redis.from_url(settings.limiter_url, health_check_interval=30)
            _context = WorkerContext(
                engine=get_engine(
                    settings.database_url, pool_size=DB_POOL_SIZE, max_overflow=DB_POOL_OVERFLOW
                ),
                accounts=load_accounts(),
                limiter=RateLimiter(client),
                http=make_http_client(),
                timings=Timings.from_settings(settings),
                redis=client,
            )
        return _context


def reset_context() -> None:
    """Forget the context (after a fork: the child builds its own on first use)."""
    global _context
    with _lock:
        _context = None
