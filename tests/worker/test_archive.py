"""Gateway archives in the tick: walks that are not starved, unknown numbers found later,
and sent numbers' fates (SMSPresto's archive, AamarSMS's status call), forward only.

A mock SMSPresto keeps an archive of rows like the manual's; the clock is frozen and moved
by hand, so what a tick may read (pages at a share of the account's rate) is exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
from sqlalchemy import select, update

from campaigns import get_campaign
from campaigns.models import Batch, Recipient
from worker import dispatch, keys, reconcile, sending, store, tick, upkeep
from worker.clock import utcnow
from worker.door import HORIZON_S, Door
from worker.ratelimit import NotYet, Rate, RateLimiter, spacing_s

from .conftest import Harness
from .test_sending import PRESTO_NUMBERS, Gateway, presto_ok

TIMINGS = {"tick_interval_s": 1.0, "stale_after_s": 10.0}
Row = dict[str, str]


def row(i: int, msisdn: str, text: str = "Hi", status: str = "0") -> Row:
    """An archive row shaped like the manual's sample, archived now."""
    stamp = utcnow().strftime("%Y-%m-%d %H:%M:%S")
    return {
        "IDHISTORIQUE": str(i), "HIS_DESTINATAIRE": "+" + msisdn, "HIS_MESSAGE": text,
        "HIS_STATUT": status, "HIS_NOMBRESMS": "1", "HIS_DATEHEURECREA": stamp,
    }  # fmt: skip


class Archive:
    """SMSPresto with an archive the test fills; counts list-archive pages asked for."""

    def __init__(self, rows: list[Row] | None = None) -> None:
        self.rows = rows or []
        self.pages: list[int] = []  # the offset of each page asked for
        self.down = False
        self.hung = False  # every list-archive request waits out its timeout
        self.timeouts_s: list[float] = []  # the read timeout of each list-archive request

    def __call__(self, request: httpx.Request) -> httpx.Response:
        fields = parse_qs(request.content.decode())
        if fields.get("action") == ["list-archive"]:
            self.timeouts_s.append(request.extensions["timeout"]["read"])
            if self.hung:
                raise httpx.ReadTimeout("timed out", request=request)
            if self.down:
                return httpx.Response(500, text="down")
            start, end = int(fields["from"][0]), int(fields["to"][0])
            self.pages.append(start)
            return httpx.Response(200, json=self.rows[start:end])
        data = json.loads(fields["data"][0])
        return httpx.Response(200, json={"status": 0, "message-count": len(data["to"])})


def run(h: Harness, at: datetime, gateway: Callable[[httpx.Request], httpx.Response]) -> Any:
    h.now = at
    return tick.run_tick(h.ctx(Gateway(gateway), **TIMINGS), lambda _a: 0)


def in_flight(h: Harness, numbers: list[str], text: str = "Hi") -> tuple[int, int]:
    """A campaign whose one batch a worker took in flight and then died with."""
    campaign_id = h.submit("smspresto", numbers, text=text)
    [ref] = dispatch.release(h.ctx(presto_ok), campaign_id)
    with h.ctx(presto_ok).engine.begin() as conn:
        assert store.claim_in_flight(conn, ref.batch_id, "dead", utcnow())
    return campaign_id, ref.batch_id


def states(h: Harness, campaign_id: int) -> dict[str, tuple[str, str | None, str | None]]:
    """msisdn -> (state, delivery_status, gateway_message)."""
    with h.ctx(presto_ok).engine.connect() as conn:
        rows = conn.execute(
            select(
                Recipient.msisdn, Recipient.state, Recipient.delivery_status,
                Recipient.gateway_message,
            ).where(Recipient.campaign_id == campaign_id)
        ).all()  # fmt: skip
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def batch_times(h: Harness, batch_id: int) -> tuple[Any, Any]:
    with h.ctx(presto_ok).engine.connect() as conn:
        found = conn.execute(
            select(Batch.archive_read_at, Batch.archive_check_until).where(Batch.id == batch_id)
        ).one()
    return found[0], found[1]


def slow(h: Harness, account: str, rate_per_s: float) -> None:
    """Give the account a low rate, as a real gateway has (the demo accounts' is 10,000/s)."""
    h.accounts[account] = h.accounts[account].model_copy(update={"rate_per_s": rate_per_s})


def test_an_archive_read_gets_a_slot_ahead_of_a_saturated_campaign(harness: Harness) -> None:
    limiter, rate = RateLimiter(harness.redis), Rate(requests_per_s=4.0)
    while not isinstance(limiter.reserve("smspresto", rate, horizon_s=HORIZON_S), NotYet):
        pass  # campaign batches hold every moment up to their horizon
    waited: list[float] = []
    Door(limiter, "smspresto", rate, sleep=waited.append).at_priority_moment()
    # Behind the batches that reserved already, ahead of every one still waiting.
    assert waited and waited[0] <= HORIZON_S + spacing_s(4.0) + 0.05
    assert isinstance(limiter.reserve("smspresto", rate, horizon_s=HORIZON_S), NotYet)


def test_a_hung_archive_holds_the_tick_briefly_then_rests_until_it_answers(
    harness: Harness,
) -> None:
    campaign_id, _batch = in_flight(harness, PRESTO_NUMBERS)
    archive = Archive([row(1 + i, n) for i, n in enumerate(PRESTO_NUMBERS)])
    archive.hung = True
    t0 = utcnow() + timedelta(seconds=11)  # the batch is stale: its archive is wanted
    assert harness.accounts["smspresto"].timeout_s > upkeep.UPKEEP_TIMEOUT_S
    first = upkeep.REST_FIRST_S
    for s in (0, 1, first - 1, first + 1, first + 2, 3 * first):
        run(harness, t0 + timedelta(seconds=s), archive)
    # One request each time the rest ran out (15 s, then 30 s), never the campaign's timeout.
    assert archive.timeouts_s == [upkeep.UPKEEP_TIMEOUT_S] * 2 and archive.pages == []
    assert states(harness, campaign_id)[PRESTO_NUMBERS[0]][0] == "pending"  # cannot tell
    archive.hung = False
    for s in (5 * first, 5 * first + 2, 5 * first + 4):
        run(harness, t0 + timedelta(seconds=s), archive)
    # Answered: the rest is over, the walk goes on at its pace and settles the batch.
    assert archive.pages and harness.redis.exists(keys.upkeep_rest("smspresto")) == 0
    assert {s for s, _d, _m in states(harness, campaign_id).values()} == {"sent"}


def test_a_long_archive_is_walked_to_its_end_over_ticks(harness: Harness) -> None:
    # 1,200 older rows come first (the sandbox lists oldest first): the batch's rows are on
    # the third page. Stopping early and taking what was read for the whole archive (as
    # before issue 14) would settle them unknown.
    slow(harness, "smspresto", 4.0)
    campaign_id, _batch = in_flight(harness, PRESTO_NUMBERS)
    older = [row(i, f"22507999{i:05d}") for i in range(1200)]
    archive = Archive(older + [row(2000 + i, n) for i, n in enumerate(PRESTO_NUMBERS)])
    t0 = utcnow() + timedelta(seconds=11)
    reports = [run(harness, t0 + timedelta(seconds=s), archive) for s in (0, 0.5, 1, 2, 3)]
    assert archive.pages == [0, 500, 1000]  # a page a second: a quarter of 4 requests/s
    assert [r.resolved for r in reports] == [0, 0, 0, 1, 0]  # all found: done
    assert {s for s, _d, _m in states(harness, campaign_id).values()} == {"sent"}


def test_the_deadline_counts_from_when_the_archive_could_be_read(harness: Harness) -> None:
    campaign_id, batch_id = in_flight(harness, PRESTO_NUMBERS)
    archive = Archive([row(1, PRESTO_NUMBERS[0])])
    archive.down = True
    start = utcnow()
    for after_s in (11, 21, 31):  # past twice the stale limit, the archive still down
        assert run(harness, start + timedelta(seconds=after_s), archive).resolved == 0
    assert batch_times(harness, batch_id) == (None, None)
    assert get_campaign(campaign_id, database_url=harness.db_url).recipients == {"in_flight": 3}
    archive.down = False
    assert run(harness, start + timedelta(seconds=41), archive).resolved == 0
    read_at, _until = batch_times(harness, batch_id)
    assert read_at is not None  # stored: the gateway gets stale_after_s from here
    assert run(harness, start + timedelta(seconds=50), archive).resolved == 0
    report = run(harness, start + timedelta(seconds=52), archive)
    assert report.resolved == 1 and report.reconciled_sent == 1
    found = states(harness, campaign_id)
    assert [found[n][0] for n in PRESTO_NUMBERS] == ["sent", "unknown", "unknown"]


def test_unknown_numbers_the_archive_shows_later_become_sent(harness: Harness) -> None:
    campaign_id, batch_id = in_flight(harness, PRESTO_NUMBERS)
    archive = Archive()
    start = utcnow()
    run(harness, start + timedelta(seconds=11), archive)
    assert run(harness, start + timedelta(seconds=22), archive).resolved == 1
    info = get_campaign(campaign_id, database_url=harness.db_url)
    assert info.recipients == {"unknown": 3} and info.unknown_checking == 3
    _read_at, until = batch_times(harness, batch_id)
    assert until is not None
    # The gateway files two of them late (its archive lags behind its acceptance).
    archive.rows = [row(7, n) for n in PRESTO_NUMBERS[:2]]
    report = run(harness, start + timedelta(seconds=30), archive)
    assert report.unknown_found_sent == 2
    found = states(harness, campaign_id)
    assert [found[n][0] for n in PRESTO_NUMBERS] == ["sent", "sent", "unknown"]
    assert found[PRESTO_NUMBERS[0]][2] == "found in the gateway's archive 30 s after it was sent"
    info = get_campaign(campaign_id, database_url=harness.db_url)
    assert info.recipients == {"sent": 2, "unknown": 1} and info.unknown_checking == 1
    assert info.state == "completed"  # the campaign ended; its numbers still move forward
    with harness.ctx(presto_ok).engine.begin() as conn:  # the check runs out
        conn.execute(update(Batch).values(archive_check_until=start))
    archive.rows.append(row(8, PRESTO_NUMBERS[2]))
    assert run(harness, start + timedelta(seconds=40), archive).unknown_found_sent == 0
    assert get_campaign(campaign_id, database_url=harness.db_url).unknown_checking == 0
    assert states(harness, campaign_id)[PRESTO_NUMBERS[2]][0] == "unknown"  # never pending


def test_an_ambiguous_send_is_checked_in_the_archive_too(harness: Harness) -> None:
    campaign_id = harness.submit("smspresto", PRESTO_NUMBERS, text="Hi")
    [ref] = dispatch.release(harness.ctx(presto_ok), campaign_id)
    sending.send_batch(ref.batch_id, harness.ctx(Gateway(httpx.ReadTimeout("slow"))))
    assert {s for s, _d, _m in states(harness, campaign_id).values()} == {"unknown"}
    archive = Archive([row(1, n) for n in PRESTO_NUMBERS])
    report = run(harness, utcnow() + timedelta(seconds=1), archive)
    assert report.unknown_found_sent == 3
    assert {s for s, _d, _m in states(harness, campaign_id).values()} == {"sent"}


def test_sent_numbers_move_to_their_fate_forward_only(harness: Harness) -> None:
    campaign_id = harness.submit("smspresto", PRESTO_NUMBERS, text="Hi")
    [ref] = dispatch.release(harness.ctx(presto_ok), campaign_id)
    sending.send_batch(ref.batch_id, harness.ctx(Gateway(presto_ok)))
    a, b, c = PRESTO_NUMBERS
    archive = Archive([row(1, a, status="1"), row(2, b, status="2"), row(3, c, status="0")])
    report = run(harness, utcnow() + timedelta(seconds=1), archive)
    assert (report.delivered, report.undelivered) == (1, 1)
    found = states(harness, campaign_id)
    assert {n: found[n][:2] for n in PRESTO_NUMBERS} == {
        a: ("delivered", "1"), b: ("undelivered", "2"), c: ("sent", "0"),
    }  # fmt: skip
    info = get_campaign(campaign_id, database_url=harness.db_url)
    assert info.recipients == {"delivered": 1, "undelivered": 1, "sent": 1}
    # A later, contradicting archive moves nothing back; the pending one goes forward.
    archive.rows = [row(1, a, status="0"), row(2, b, status="1"), row(3, c, status="1")]
    run(harness, utcnow() + timedelta(seconds=120), archive)
    found = states(harness, campaign_id)
    assert [found[n][0] for n in PRESTO_NUMBERS] == ["delivered", "undelivered", "delivered"]


def test_without_archive_work_the_archive_is_left_alone(harness: Harness) -> None:
    archive = Archive([row(1, PRESTO_NUMBERS[0])])
    run(harness, utcnow(), archive)
    assert archive.pages == []
    assert reconcile.load_state(harness.ctx(presto_ok), "smspresto").started_at is None


def aamar_status(words: dict[str, str], asked: list[str]) -> Callable[..., httpx.Response]:
    """AamarSMS /smsstatus answering the manual's sample shape with ``words[smsid]``."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/smsstatus"
        smsid = request.url.params["smsid"]
        asked.append(smsid)
        body = {"success": 1, "response_code": 100, "message": "SMS send successfully"}
        return httpx.Response(200, json={**body, "STATUS": words[smsid]})

    return handler


def sent_with_ids(harness: Harness, numbers: list[str]) -> int:
    """An AamarSMS campaign whose numbers were sent, with ids the gateway gave (910-i)."""
    slow(harness, "aamarsms", 5.0)
    campaign_id = harness.submit("aamarsms", numbers, text="Hi")
    assert dispatch.release(harness.ctx(presto_ok), campaign_id)
    with harness.ctx(presto_ok).engine.begin() as conn:
        conn.execute(update(Batch).values(state="done", sent_at=utcnow()))
        for i, msisdn in enumerate(numbers):
            conn.execute(
                update(Recipient)
                .where(Recipient.msisdn == msisdn)
                .values(state="sent", provider_message_id=f"910-{i}")
            )
    return campaign_id


def test_a_status_call_settles_sent_numbers_by_their_ids(harness: Harness) -> None:
    numbers = ["8801711111111", "8801711111112", "8801711111113"]
    campaign_id = sent_with_ids(harness, numbers)
    asked: list[str] = []
    words = {"910-0": "SENT", "910-1": "Failed", "910-2": "Pending"}
    report = run(harness, utcnow() + timedelta(seconds=1), aamar_status(words, asked))
    assert report.delivered + report.undelivered <= 1  # half a request a second at most
    for s in range(2, 12, 2):
        run(harness, utcnow() + timedelta(seconds=s), aamar_status(words, asked))
    found = states(harness, campaign_id)
    assert [found[n][:2] for n in numbers] == [
        ("delivered", "SENT"), ("undelivered", "Failed"), ("sent", "Pending"),
    ]  # fmt: skip
    assert sorted(set(asked)) == ["910-0", "910-1", "910-2"] and len(asked) == 3


def test_a_hung_status_call_holds_the_tick_briefly_then_rests(harness: Harness) -> None:
    numbers = ["8801711111111", "8801711111112"]
    campaign_id = sent_with_ids(harness, numbers)
    timeouts_s: list[float] = []
    hung = True

    def gateway(request: httpx.Request) -> httpx.Response:
        timeouts_s.append(request.extensions["timeout"]["read"])
        if hung:
            raise httpx.ReadTimeout("timed out", request=request)
        return aamar_status({"910-0": "SENT", "910-1": "SENT"}, [])(request)

    first = upkeep.REST_FIRST_S
    for s in (1, 3, first - 1, first + 2, first + 4):
        run(harness, utcnow() + timedelta(seconds=s), gateway)
    # A call at once, the next when the rest ran out: each waits the short timeout.
    assert timeouts_s == [upkeep.UPKEEP_TIMEOUT_S] * 2
    hung = False
    for s in range(4 * int(first), 4 * int(first) + 12, 2):
        run(harness, utcnow() + timedelta(seconds=s), gateway)
    assert {state for state, _d, _m in states(harness, campaign_id).values()} == {"delivered"}
