"""Fixtures of the HTTP API tests: an application on a fresh database, a key, a client.

``api`` is FastAPI's TestClient (httpx) on ``create_app`` over a migrated SQLite file, with
the sandbox's funded accounts pointing nowhere (planning sends nothing) and ``key`` sent as
``Authorization: Bearer``. ``dispatched`` records the campaign ids handed to the workers.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from campaigns.api_keys import create_key
from providers import Account
from smsq.api import ApiConfig, create_app
from tests.campaigns.conftest import dispatched  # noqa: F401  (the same fixture)
from tests.cli.helpers import NOWHERE, funded_accounts

with warnings.catch_warnings():  # starlette asks for httpx2; httpx is what FastAPI documents
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture
def accounts() -> dict[str, Account]:
    """The sandbox's funded account of each gateway, at an address where nothing listens."""
    return funded_accounts(NOWHERE)


@pytest.fixture
def key(sqlite_url: str) -> str:
    """A key of the test's database."""
    return create_key("tests", database_url=sqlite_url).key


@pytest.fixture
def anonymous(sqlite_url: str, accounts: dict[str, Account]) -> Iterator[TestClient]:
    """A client of the API that sends no key."""
    app = create_app(ApiConfig(database_url=sqlite_url, accounts=accounts))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def api(anonymous: TestClient, key: str) -> TestClient:
    """A client of the API that sends ``key``."""
    anonymous.headers["Authorization"] = f"Bearer {key}"
    return anonymous
