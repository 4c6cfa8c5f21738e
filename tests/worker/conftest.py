"""Worker test helpers: a sending context on fakes (MockTransport, fakeredis) and a database.

``make_ctx(handler)`` builds a ``WorkerContext`` whose HTTP goes to ``handler`` and whose
limiter lives in fakeredis; ``submit(...)`` plans a campaign through the public API with the
sandbox's demo accounts (pointing at an address nothing listens on: the handler answers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import fakeredis
import httpx
import pytest

from campaigns import set_dispatcher, submit_campaign
from campaigns.db import dispose_engines, get_engine
from providers import Account
from providers.sandbox.accounts import sandbox_accounts
from worker.context import Timings, WorkerContext, make_http_client
from worker.ratelimit import RateLimiter

MOCK_BASE_URL = "http://gateway.invalid"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _no_dispatcher() -> Iterator[None]:
    # Unit tests drive dispatch themselves; nothing may publish to a broker from here.
    set_dispatcher(None)
    yield
    set_dispatcher(None)


@pytest.fixture
def accounts() -> dict[str, Account]:
    """The sandbox's demo accounts, pointed at the mock gateway."""
    return sandbox_accounts(MOCK_BASE_URL)


class Harness:
    """One database, fake Redis and mock gateway, shared by a test's contexts."""

    def __init__(self, db_url: str, accounts: dict[str, Account]) -> None:
        self.db_url = db_url
        self.accounts = accounts
        self.redis = fakeredis.FakeRedis()
        self.sleeps: list[float] = []
        self.now: datetime | None = None  # frozen clock when set

    def ctx(self, handler: Handler, **timings: float) -> WorkerContext:
        """A context sending through ``handler``; sleeps are recorded, not slept."""
        kwargs: dict[str, Any] = {}
        if self.now is not None:
            kwargs["clock"] = lambda: self.now
        return WorkerContext(
            engine=get_engine(self.db_url),
            accounts=self.accounts,
            limiter=RateLimiter(self.redis),
            http=make_http_client(httpx.MockTransport(handler)),
            timings=Timings(**timings),
            sleep=self.sleeps.append,
            redis=self.redis,
            **kwargs,
        )

    def submit(self, account: str, numbers: Sequence[Any], **kwargs: Any) -> int:
        """A campaign through the public API (scheduled; dispatch releases it)."""
        return submit_campaign(
            account, numbers, database_url=self.db_url, accounts=self.accounts, **kwargs
        )


@pytest.fixture
def harness(db_url: str, accounts: dict[str, Account]) -> Iterator[Harness]:
    """A Harness on a fresh migrated database (each test runs on SQLite and PostgreSQL)."""
    yield Harness(db_url, accounts)
    dispose_engines()
