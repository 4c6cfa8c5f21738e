"""Pause, resume, cancel and retry_failed: state transitions, on SQLite and PostgreSQL.

The worker's part (claiming batches, recording outcomes) is played here by plain SQL
updates, as the worker would leave the rows.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select, update

from campaigns import (
    CampaignNotFound,
    InvalidState,
    cancel_campaign,
    get_campaign,
    iter_recipients,
    pause_campaign,
    resume_campaign,
    retry_failed,
    submit_campaign,
)
from campaigns.tables import BATCHES, CAMPAIGNS, RECIPIENTS
from tests.campaigns.helpers import ci_numbers, nepal, nepal_numbers, planned_requests, presto


def _execute(url: str, *statements: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(statement)
    finally:
        engine.dispose()


def _batch_ids(url: str, campaign_id: int) -> list[int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = select(BATCHES.c.id).where(BATCHES.c.campaign_id == campaign_id)
            return list(conn.execute(query.order_by(BATCHES.c.seq)).scalars())
    finally:
        engine.dispose()


def _set_campaign(url: str, campaign_id: int, **values: Any) -> None:
    _execute(url, update(CAMPAIGNS).where(CAMPAIGNS.c.id == campaign_id).values(**values))


def _set_batch(url: str, batch_id: int, batch_state: str, recipient_state: str | None) -> None:
    statements: list[Any] = [
        update(BATCHES).where(BATCHES.c.id == batch_id).values(state=batch_state)
    ]
    if recipient_state is not None:
        statements.append(
            update(RECIPIENTS).where(RECIPIENTS.c.batch_id == batch_id)
            .values(state=recipient_state, gateway_code="4006" if recipient_state == "failed"
                    else None, credits=1.0)
        )  # fmt: skip
    _execute(url, *statements)


def test_pause_and_resume(db_url: str, dispatched: list[int]) -> None:
    campaign_id = submit_campaign(nepal(), nepal_numbers(3), text="Hi", database_url=db_url)
    pause_campaign(campaign_id, database_url=db_url)
    info = get_campaign(campaign_id, database_url=db_url)
    assert (info.state, info.pause_kind, info.reason) == ("paused", "user", "paused by user")

    assert resume_campaign(campaign_id, database_url=db_url) == "running"
    info = get_campaign(campaign_id, database_url=db_url)
    assert (info.state, info.pause_kind, info.reason) == ("running", None, None)
    assert info.started_at is not None
    assert dispatched == [campaign_id, campaign_id]

    with pytest.raises(InvalidState, match=f"campaign {campaign_id} is running: cannot resume"):
        resume_campaign(campaign_id, database_url=db_url)


def test_resume_before_send_time_goes_back_to_scheduled(db_url: str) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    campaign_id = submit_campaign(
        nepal(), nepal_numbers(1), text="Hi", send_at=later, database_url=db_url
    )
    pause_campaign(campaign_id, "holiday", database_url=db_url)
    assert get_campaign(campaign_id, database_url=db_url).reason == "holiday"
    assert resume_campaign(campaign_id, database_url=db_url) == "scheduled"
    assert get_campaign(campaign_id, database_url=db_url).started_at is None


def test_user_pause_overrides_a_window_pause(db_url: str) -> None:
    campaign_id = submit_campaign(nepal(), nepal_numbers(1), text="Hi", database_url=db_url)
    _set_campaign(db_url, campaign_id, state="paused", pause_kind="window")
    pause_campaign(campaign_id, database_url=db_url)
    assert get_campaign(campaign_id, database_url=db_url).pause_kind == "user"


@pytest.mark.parametrize("state", ["completed", "cancelled", "failed"])
def test_finished_campaigns_cannot_be_paused_or_resumed(db_url: str, state: str) -> None:
    campaign_id = submit_campaign(nepal(), nepal_numbers(1), text="Hi", database_url=db_url)
    _set_campaign(db_url, campaign_id, state=state)
    with pytest.raises(InvalidState, match=f"is {state}: cannot pause it"):
        pause_campaign(campaign_id, database_url=db_url)
    with pytest.raises(InvalidState, match=f"is {state}: cannot resume it"):
        resume_campaign(campaign_id, database_url=db_url)
    assert get_campaign(campaign_id, database_url=db_url).state == state


def test_unknown_campaign(db_url: str) -> None:
    for call in (pause_campaign, resume_campaign, cancel_campaign, retry_failed, get_campaign):
        with pytest.raises(CampaignNotFound, match="campaign 999 does not exist"):
            call(999, database_url=db_url)
    with pytest.raises(CampaignNotFound):
        iter_recipients(999, database_url=db_url)


def test_cancel_leaves_in_flight_batches_to_finish(db_url: str) -> None:
    account = nepal(max_recipients=2)
    campaign_id = submit_campaign(account, nepal_numbers(10), text="Hi", database_url=db_url)
    done, flying, claimed, waiting, _pending = _batch_ids(db_url, campaign_id)
    _set_campaign(db_url, campaign_id, state="running")
    _set_batch(db_url, done, "done", "sent")
    _set_batch(db_url, flying, "in_flight", "in_flight")
    _set_batch(db_url, claimed, "claimed", None)
    _set_batch(db_url, waiting, "retry_wait", None)

    assert cancel_campaign(campaign_id, database_url=db_url) == 6
    info = get_campaign(campaign_id, database_url=db_url)
    assert info.state == "cancelled" and info.finished_at is not None
    assert info.recipients == {"sent": 2, "in_flight": 2, "cancelled": 6}
    assert info.batches == {"done": 1, "in_flight": 1, "cancelled": 3}
    with pytest.raises(InvalidState, match="is cancelled: cannot cancel it"):
        cancel_campaign(campaign_id, database_url=db_url)


def test_retry_failed_replans_only_failed_numbers(db_url: str, dispatched: list[int]) -> None:
    account = nepal(max_recipients=3)
    campaign_id = submit_campaign(account, nepal_numbers(9), text="Hi", database_url=db_url)
    first, second, third = _batch_ids(db_url, campaign_id)
    _set_batch(db_url, first, "done", "sent")
    _set_batch(db_url, second, "failed", "failed")
    _set_batch(db_url, third, "failed", "failed")
    _set_campaign(db_url, campaign_id, state="completed", finished_at=datetime.now(UTC))
    dispatched.clear()

    assert retry_failed(campaign_id, accounts={"nepal": account}, database_url=db_url) == 6
    info = get_campaign(campaign_id, database_url=db_url)
    assert (info.state, info.finished_at) == ("running", None)
    assert info.recipients == {"sent": 3, "pending": 6}
    assert info.batches == {"done": 1, "failed": 2, "pending": 2} and info.batches_total == 5
    assert dispatched == [campaign_id]

    retried = list(iter_recipients(campaign_id, "pending", database_url=db_url))
    assert {r.attempts for r in retried} == {1}
    assert {r.gateway_code for r in retried} == {None}
    assert not {r.batch_id for r in retried} & {second, third}
    sent = list(iter_recipients(campaign_id, "sent", database_url=db_url))
    assert {r.attempts for r in sent} == {0} and {r.batch_id for r in sent} == {first}

    pending = [p for p in planned_requests(db_url, campaign_id, account) if p.batch_id > third]
    assert [p.seq for p in pending] == [4, 5] and [p.size for p in pending] == [3, 3]
    assert all(p.batch.text == "Hi" for p in pending)


def test_retry_keeps_per_recipient_texts(db_url: str) -> None:
    account = presto()
    rows = [{"msisdn": n, "name": f"N{i}"} for i, n in enumerate(ci_numbers(4))]
    campaign_id = submit_campaign(account, rows, text="Hi {name}", database_url=db_url)
    (batch_id,) = _batch_ids(db_url, campaign_id)
    _set_campaign(db_url, campaign_id, state="running")
    _set_batch(db_url, batch_id, "failed", "failed")
    assert retry_failed(campaign_id, accounts={"presto": account}, database_url=db_url) == 4
    (planned,) = [p for p in planned_requests(db_url, campaign_id, account) if p.seq == 2]
    assert Counter(planned.batch.texts or ()) == Counter(f"Hi N{i}" for i in range(4))


def test_retry_without_failures_changes_nothing(db_url: str) -> None:
    campaign_id = submit_campaign(nepal(), nepal_numbers(2), text="Hi", database_url=db_url)
    _set_campaign(db_url, campaign_id, state="completed")
    assert retry_failed(campaign_id, accounts={"nepal": nepal()}, database_url=db_url) == 0
    assert get_campaign(campaign_id, database_url=db_url).state == "completed"


def test_retry_refused_for_cancelled_campaigns(db_url: str) -> None:
    campaign_id = submit_campaign(nepal(), nepal_numbers(2), text="Hi", database_url=db_url)
    cancel_campaign(campaign_id, database_url=db_url)
    with pytest.raises(InvalidState, match="is cancelled: cannot retry failed numbers of it"):
        retry_failed(campaign_id, accounts={"nepal": nepal()}, database_url=db_url)
