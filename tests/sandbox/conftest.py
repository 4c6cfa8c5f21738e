"""A plain httpx client on the sandbox: requests are built by hand from the manuals."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from providers.sandbox.client import SandboxClient, SandboxProcess


@pytest.fixture(scope="session")
def sandbox_http(sandbox_proc: SandboxProcess) -> Iterator[httpx.Client]:
    """One keep-alive httpx client on the session's sandbox (building one costs ~50 ms)."""
    with httpx.Client(base_url=sandbox_proc.url, timeout=5.0) as client:
        yield client


@pytest.fixture
def http(sandbox: SandboxClient, sandbox_http: httpx.Client) -> httpx.Client:
    """An httpx client on the sandbox, which has just been reset."""
    return sandbox_http
