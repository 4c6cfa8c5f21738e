"""Reads for pollers and listings: get_campaign's max_age_s, iter_recipients' cursor,
campaign_ids, list_suppressions."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from campaigns import api
from campaigns.db import get_engine
from campaigns.errors import InputError
from campaigns.models import RecipientState
from campaigns.status import campaign_ids
from campaigns.suppression import list_suppressions
from campaigns.tables import RECIPIENTS
from tests.campaigns.helpers import nepal

NUMBERS = [f"98410000{i:02d}" for i in range(10)]


def _submit(url: str, numbers: list[str] = NUMBERS) -> int:
    return api.submit_campaign(nepal(), numbers, text="hi", database_url=url)


def _send_one(url: str) -> None:
    with get_engine(url).begin() as conn:
        conn.execute(
            update(RECIPIENTS).where(RECIPIENTS.c.row_no == 1).values(state=RecipientState.SENT)
        )


def test_counts_may_be_as_old_as_asked_but_the_state_is_read_now(db_url: str) -> None:
    campaign_id = _submit(db_url)
    assert api.get_campaign(campaign_id, database_url=db_url, max_age_s=60).recipients == {
        "pending": 10
    }
    _send_one(db_url)
    cached = api.get_campaign(campaign_id, database_url=db_url, max_age_s=60)
    assert cached.recipients == {"pending": 10}  # counted under a minute ago
    assert api.get_campaign(campaign_id, database_url=db_url).recipients == {
        "pending": 9, "sent": 1,
    }  # fmt: skip
    _send_one(db_url)  # no change in counts; now change the state
    api.pause_campaign(campaign_id, database_url=db_url)
    paused = api.get_campaign(campaign_id, database_url=db_url, max_age_s=60)
    assert paused.state == "paused" and paused.recipients == {"pending": 9, "sent": 1}


def test_a_new_state_is_never_shown_with_old_counts(db_url: str) -> None:
    campaign_id = _submit(db_url)
    api.get_campaign(campaign_id, database_url=db_url, max_age_s=60)
    _send_one(db_url)
    api.pause_campaign(campaign_id, database_url=db_url)
    info = api.get_campaign(campaign_id, database_url=db_url, max_age_s=60)
    assert (info.state, info.recipients) == ("paused", {"pending": 9, "sent": 1})


def test_recipients_continue_after_a_cursor(sqlite_url: str) -> None:
    campaign_id = _submit(sqlite_url)
    every = list(api.iter_recipients(campaign_id, database_url=sqlite_url))
    after = list(api.iter_recipients(campaign_id, database_url=sqlite_url, after_id=every[3].id))
    assert after == every[4:]


def test_campaign_ids_newest_first_by_page_and_state(sqlite_url: str) -> None:
    ids = [_submit(sqlite_url, [n]) for n in NUMBERS[:4]]
    api.pause_campaign(ids[1], database_url=sqlite_url)
    assert campaign_ids(2, database_url=sqlite_url) == ids[:1:-1]
    assert campaign_ids(10, before_id=ids[2], database_url=sqlite_url) == ids[1::-1]
    assert campaign_ids(10, state="paused", database_url=sqlite_url) == [ids[1]]
    with pytest.raises(InputError, match="'lost' is not a campaign state"):
        campaign_ids(state="lost", database_url=sqlite_url)


def test_the_opt_out_list_reads_a_page_at_a_time(sqlite_url: str) -> None:
    api.suppress(["+9779841000002", "+9779841000001", "+8801711000003"], "STOP",
                 database_url=sqlite_url)  # fmt: skip
    first = list_suppressions(2, database_url=sqlite_url)
    rest = list_suppressions(2, after=first[-1].msisdn, database_url=sqlite_url)
    assert [s.msisdn for s in first + rest] == ["8801711000003", "9779841000001", "9779841000002"]
    assert first[0].reason == "STOP" and first[0].created_at.tzinfo is not None


def test_a_reader_does_not_wait_for_a_writer_on_sqlite(sqlite_url: str) -> None:
    """read_only connections begin deferred: WAL lets them read beside a writer."""
    import time

    from sqlalchemy import func, insert, select

    from campaigns.db import read_only
    from campaigns.tables import SUPPRESSIONS

    engine = get_engine(sqlite_url)
    with engine.begin() as writer:  # BEGIN IMMEDIATE: holds the write lock until the end
        writer.execute(insert(SUPPRESSIONS).values(msisdn="9779841000001", created_at=now()))
        started = time.monotonic()
        with read_only(engine) as reader:
            seen = reader.execute(select(func.count()).select_from(SUPPRESSIONS)).scalar_one()
        assert time.monotonic() - started < 1.0  # a writer's BEGIN would wait 30 s here
    assert seen == 0  # the writer had not committed


def now() -> object:
    from datetime import UTC, datetime

    return datetime.now(UTC)
