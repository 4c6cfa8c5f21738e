"""One real keep-alive httpx client for the round trips, and the sandbox's demo accounts."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from providers import Account
from providers.sandbox.client import SandboxClient, SandboxProcess


@pytest.fixture(scope="session")
def http_session(sandbox_proc: SandboxProcess) -> Iterator[httpx.Client]:
    """A plain client with no base_url: adapters build absolute URLs from the account."""
    with httpx.Client(timeout=5.0) as client:
        yield client


@pytest.fixture
def http(sandbox: SandboxClient, http_session: httpx.Client) -> httpx.Client:
    """The session's client, on a sandbox that has just been reset."""
    return http_session


@pytest.fixture
def accounts(sandbox: SandboxClient) -> dict[str, Account]:
    """The demo accounts as smsq Accounts whose base_url is the running sandbox."""
    return sandbox.accounts()
