"""The sandbox's loop does not stop to walk its growing record (server._Unpaused): every
``FREEZE_EVERY_REQUESTS`` requests, what survived is frozen out of full collections."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import httpx
import pytest

from providers.sandbox import server
from providers.sandbox.app import SandboxApp


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # give the test process's objects back to the collector


def test_survivors_are_frozen_every_so_many_requests(
    unfrozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "FREEZE_EVERY_REQUESTS", 3)
    app = server._Unpaused(SandboxApp())

    async def requests(count: int) -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            return [(await client.get("/_sandbox/messages")).status_code for _ in range(count)]

    assert asyncio.run(requests(2)) == [200, 200]
    assert gc.get_freeze_count() == 0
    assert asyncio.run(requests(1)) == [200]
    assert gc.get_freeze_count() > 0
