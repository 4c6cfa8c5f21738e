"""Fixtures of the dashboard tests: the API's application on a fresh database (the fixtures
of tests/api), a browser-less client logged in with a key, and a campaign to look at."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from campaigns import api as domain
from providers import Account
from tests.api.conftest import TestClient, accounts, anonymous, key  # noqa: F401  (fixtures)

LATER = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(page.text)
    assert found is not None, page.text[:2000]
    return found.group(1)


def log_in(client: TestClient, api_key: str, next_path: str = "/") -> httpx.Response:
    """Log in through the form, as a browser does: read the form, post it back."""
    form = client.get("/login")
    assert form.status_code == 200, form.text
    data = {"csrf_token": csrf_of(form), "key": api_key, "next": next_path}
    return client.post("/login", data=data, follow_redirects=False)


@pytest.fixture
def browser(anonymous: TestClient) -> TestClient:  # noqa: F811
    """A client that keeps cookies and does not follow redirects (they are asserted)."""
    anonymous.follow_redirects = False
    return anonymous


@pytest.fixture
def dash(browser: TestClient, key: str) -> TestClient:  # noqa: F811
    """A client logged in to the dashboard."""
    answer = log_in(browser, key)
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
    return browser


@pytest.fixture
def campaign_id(sqlite_url: str, accounts: dict[str, Account]) -> int:  # noqa: F811
    """A scheduled campaign of 3 sendable numbers and one invalid one."""
    numbers = ["9841000001", "9841000002", "9851000003", "12"]
    found: int = domain.submit_campaign(
        "aakashsms_v3", numbers, "Namaste!", name="spring sale", send_at=LATER,
        database_url=sqlite_url, accounts=accounts,
    )  # fmt: skip
    return found
