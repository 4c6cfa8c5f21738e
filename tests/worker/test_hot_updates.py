"""On PostgreSQL every outcome update of a recipient stays on the row's page (migration
0011 keeps room there), and so is a HOT update: it changes no indexed column, so no index
gains an entry and the old version is pruned in place. Outcomes here carry a message id, a
network and credits, as AakashSMS v3's do: the longest new versions the worker writes."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
from sqlalchemy import text

from campaigns.db import get_engine
from providers import Account
from worker import dispatch, sending
from worker.sending import Outcome

from .conftest import Harness

NEPAL = "aakashsms_v3"
NUMBERS = 3_000
PER_REQUEST = 100  # AakashSMS v3's numbers per request


def v3_ok(request: httpx.Request) -> httpx.Response:
    numbers = parse_qs(request.content.decode())["to"][0].split(",")
    valid = [
        {"mobile": n, "id": 10_000_000 + i, "network": "ntc", "credit": 1}
        for i, n in enumerate(numbers)
    ]
    return httpx.Response(200, json={"error": False, "data": {"valid": valid}})


def _pages(pg_url: str) -> dict[int, tuple[int, str]]:
    """Each recipient's page (the block of its current version) and state."""
    page = text("SELECT id, (ctid::text::point)[0]::bigint, state FROM recipients")
    with get_engine(pg_url).connect() as conn:
        return {row[0]: (row[1], row[2]) for row in conn.execute(page)}


def test_every_outcome_update_stays_on_its_page_on_postgresql(
    pg_url: str, accounts: dict[str, Account]
) -> None:
    h = Harness(pg_url, accounts)
    campaign_id = h.submit(NEPAL, [f"98{i:08d}" for i in range(NUMBERS)], text="Hi")
    before = _pages(pg_url)
    ctx = h.ctx(v3_ok)
    refs = dispatch.release(ctx, campaign_id)
    assert len(refs) == NUMBERS // PER_REQUEST
    for ref in refs:
        assert sending.send_batch(ref.batch_id, ctx).outcome is Outcome.DONE

    after = _pages(pg_url)
    assert {state for _page, state in after.values()} == {"sent"}
    moved = [rid for rid, (page, _state) in after.items() if page != before[rid][0]]
    assert moved == []
