"""The tick's decisions on a real database with a frozen clock and a mock gateway."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import httpx
from sqlalchemy import select, update

from campaigns import get_campaign, pause_campaign, resume_campaign
from campaigns.models import Batch, Campaign, Recipient
from worker import consumers, dispatch, keys, reconcile, sending, store, tick
from worker.clock import utcnow
from worker.recovery import REQUEUE_AFTER_TICKS

from .conftest import Harness
from .test_sending import PRESTO_NUMBERS, Gateway, presto_ok

TIMINGS = {"tick_interval_s": 1.0, "stale_after_s": 10.0}


def empty_queues(_account: str) -> int:
    return 0


def campaign_state(h: Harness, campaign_id: int) -> tuple[str, str | None]:
    with h.ctx(presto_ok).engine.connect() as conn:
        row = conn.execute(
            select(Campaign.state, Campaign.pause_kind).where(Campaign.id == campaign_id)
        ).one()
    return row[0], row[1]


def recipient_states(h: Harness, campaign_id: int) -> dict[str, str]:
    with h.ctx(presto_ok).engine.connect() as conn:
        rows = conn.execute(
            select(Recipient.msisdn, Recipient.state).where(Recipient.campaign_id == campaign_id)
        ).all()
    return {r[0]: r[1] for r in rows}


def run(h: Harness, at: datetime, handler: Gateway | None = None) -> tick.TickReport:
    h.now = at
    return tick.run_tick(h.ctx(handler or Gateway(presto_ok), **TIMINGS), empty_queues)


def test_a_scheduled_campaign_is_released_at_its_time(harness: Harness) -> None:
    send_at = utcnow() + timedelta(hours=1)
    campaign_id = harness.submit("smspresto", PRESTO_NUMBERS, text="Hi", send_at=send_at)
    report = run(harness, send_at - timedelta(seconds=1))
    assert report.released == 0 and campaign_state(harness, campaign_id)[0] == "scheduled"
    assert dispatch.release(harness.ctx(presto_ok), campaign_id) == []  # not due: nothing
    report = run(harness, send_at + timedelta(seconds=1))
    assert report.released == 1 and len(report.enqueue) == 1
    assert campaign_state(harness, campaign_id)[0] == "running"


def test_a_send_window_holds_sends_back_and_lets_them_go(harness: Harness) -> None:
    now = utcnow().replace(hour=12, minute=0) + timedelta(days=1)  # send_at may not be past
    campaign_id = harness.submit(
        "smspresto", PRESTO_NUMBERS, text="Hi", send_at=now - timedelta(minutes=1),
        window=("13:00", "14:00"), window_tz="UTC",
    )  # fmt: skip
    report = run(harness, now)
    assert report.enqueue == [] and campaign_state(harness, campaign_id) == ("paused", "window")
    report = run(harness, now + timedelta(hours=1, minutes=5))
    assert report.window_resumed == 1 and len(report.enqueue) == 1
    assert campaign_state(harness, campaign_id) == ("running", None)
    report = run(harness, now + timedelta(hours=2, minutes=5))
    assert report.window_paused == 1
    assert campaign_state(harness, campaign_id) == ("paused", "window")


def test_lost_messages_are_requeued_only_when_the_queue_is_empty(harness: Harness) -> None:
    campaign_id = harness.submit("smspresto", PRESTO_NUMBERS, text="Hi")
    first = dispatch.release(harness.ctx(presto_ok), campaign_id)
    assert len(first) == 1
    later = utcnow() + timedelta(seconds=TIMINGS["tick_interval_s"] * 4)
    harness.now = later
    busy = tick.run_tick(harness.ctx(presto_ok, **TIMINGS), lambda _a: 5)
    assert busy.enqueue == []
    # Only just empty: the batch may be the queue's last message, delivered to a worker
    # that has not touched it yet.
    emptied = tick.run_tick(harness.ctx(presto_ok, **TIMINGS), empty_queues)
    assert emptied.enqueue == []
    harness.now = later + timedelta(seconds=TIMINGS["tick_interval_s"] * 2)
    assert tick.run_tick(harness.ctx(presto_ok, **TIMINGS), empty_queues).enqueue == []
    harness.now = later + timedelta(seconds=TIMINGS["tick_interval_s"] * 3)
    idle = tick.run_tick(harness.ctx(presto_ok, **TIMINGS), empty_queues)
    assert [r.batch_id for r in idle.enqueue] == [first[0].batch_id]
    again = tick.run_tick(harness.ctx(presto_ok, **TIMINGS), empty_queues)
    assert again.enqueue == []  # just requeued: give the message time to be taken
    # Messages in the queue again restart the count.
    harness.now = later + timedelta(seconds=TIMINGS["tick_interval_s"] * 10)
    assert tick.run_tick(harness.ctx(presto_ok, **TIMINGS), lambda _a: 1).enqueue == []
    assert tick.run_tick(harness.ctx(presto_ok, **TIMINGS), empty_queues).enqueue == []


def test_a_batch_a_waiting_task_touches_is_held_not_lost(harness: Harness) -> None:
    """A task waiting for its account's turn (a throttle, a long queue at the door) holds
    the batch's message and touches the batch each tick: however long the queue has been
    empty, the sweep leaves it alone; once the touches stop, it is requeued."""
    campaign_id = harness.submit("smspresto", PRESTO_NUMBERS, text="Hi")
    [ref] = dispatch.release(harness.ctx(presto_ok), campaign_id)
    start = harness.now = utcnow() + timedelta(seconds=TIMINGS["tick_interval_s"] * 4)
    ctx = harness.ctx(presto_ok, **TIMINGS)  # its clock reads harness.now
    for ticks in range(12):  # the queue stays empty all along: its message is in a worker
        harness.now = start + timedelta(seconds=TIMINGS["tick_interval_s"] * ticks)
        store.touch(ctx.engine, ref.batch_id, harness.now)
        assert tick.run_tick(ctx, empty_queues).enqueue == []
    # The worker died: the batch idles, and the sweep requeues it once the queue has been
    # seen empty beside it for as long (each at most REQUEUE_AFTER_TICKS ticks).
    requeued = []
    for _ in range(2 * REQUEUE_AFTER_TICKS + 1):
        harness.now += timedelta(seconds=TIMINGS["tick_interval_s"])
        requeued += [r.batch_id for r in tick.run_tick(ctx, empty_queues).enqueue]
    assert requeued == [ref.batch_id]


def test_a_dispatch_behind_the_tick_does_not_double_the_batches(harness: Harness) -> None:
    numbers = [f"2250701{i:06d}" for i in range(1200)]  # three batches of 500 at most
    campaign_id = harness.submit("smspresto", numbers, text="Hi")
    released = run(harness, utcnow())
    assert len(released.enqueue) == 3
    # The submit's dispatch task waited behind a busy worker's tasks, longer than a tick.
    harness.now = utcnow() + timedelta(seconds=TIMINGS["tick_interval_s"] * 20)
    assert dispatch.release(harness.ctx(presto_ok), campaign_id) == []
    # A resumed campaign's batches lost their messages while it was paused: all go again.
    pause_campaign(campaign_id, database_url=harness.db_url)
    resume_campaign(campaign_id, database_url=harness.db_url, accounts=harness.accounts)
    resumed = dispatch.release(harness.ctx(presto_ok), campaign_id)
    assert sorted(r.batch_id for r in resumed) == sorted(r.batch_id for r in released.enqueue)
    assert dispatch.release(harness.ctx(presto_ok), campaign_id) == []


def test_a_batch_left_in_flight_by_a_dead_worker_becomes_unknown(harness: Harness) -> None:
    campaign_id = harness.submit("aakashsms_v3", ["9841000001", "9841000002"], text="Hi")
    [ref] = dispatch.release(harness.ctx(presto_ok), campaign_id)
    with harness.ctx(presto_ok).engine.begin() as conn:  # a worker claims, then dies
        assert store.claim_in_flight(conn, ref.batch_id, "dead", utcnow())
    report = run(harness, utcnow() + timedelta(seconds=TIMINGS["stale_after_s"] + 1))
    assert report.resolved == 1
    assert set(recipient_states(harness, campaign_id).values()) == {"unknown"}
    assert campaign_state(harness, campaign_id)[0] == "completed"


def archive(found: list[str], text: str) -> Gateway:
    """SMSPresto answering list-archive with ``found`` and sends with success."""

    def handler(request: httpx.Request) -> httpx.Response:
        fields = parse_qs(request.content.decode())
        if fields.get("action") == ["list-archive"]:
            if int(fields["from"][0]) > 0:
                return httpx.Response(200, json=[])
            stamp = utcnow().strftime("%Y-%m-%d %H:%M:%S")
            rows = [
                {
                    "IDHISTORIQUE": str(i), "HIS_DESTINATAIRE": "+" + msisdn,
                    "HIS_MESSAGE": text, "HIS_DATEHEURECREA": stamp,
                }
                for i, msisdn in enumerate(found)
            ]  # fmt: skip
            return httpx.Response(200, json=rows)
        data = json.loads(fields["data"][0])
        return httpx.Response(200, json={"status": 0, "message-count": len(data["to"])})

    return Gateway(handler)


def test_a_stale_batch_is_reconciled_through_the_archive(harness: Harness) -> None:
    campaign_id = harness.submit("smspresto", PRESTO_NUMBERS, text="Hi")
    [ref] = dispatch.release(harness.ctx(presto_ok), campaign_id)
    with harness.ctx(presto_ok).engine.begin() as conn:
        assert store.claim_in_flight(conn, ref.batch_id, "dead", utcnow())
    gateway = archive(PRESTO_NUMBERS[:2], "Hi")
    stale_s = TIMINGS["stale_after_s"]
    # Stale, but the archive lacks a number: the gateway gets time to file it.
    report = run(harness, utcnow() + timedelta(seconds=stale_s + 1), gateway)
    assert report.resolved == 0
    # Still in flight: the batch says so, its numbers' rows wait, pending, for an outcome.
    assert set(recipient_states(harness, campaign_id).values()) == {"pending"}
    assert get_campaign(campaign_id, database_url=harness.db_url).recipients == {"in_flight": 3}
    report = run(harness, utcnow() + timedelta(seconds=2 * stale_s + 1), gateway)
    assert report.resolved == 1 and report.reconciled_sent == 2
    states = recipient_states(harness, campaign_id)
    assert [states[n] for n in PRESTO_NUMBERS] == ["sent", "sent", "unknown"]


def test_a_fully_archived_batch_is_done_at_once(harness: Harness) -> None:
    campaign_id = harness.submit("smspresto", PRESTO_NUMBERS, text="Hi")
    [ref] = dispatch.release(harness.ctx(presto_ok), campaign_id)
    with harness.ctx(presto_ok).engine.begin() as conn:
        assert store.claim_in_flight(conn, ref.batch_id, "dead", utcnow())
    report = run(harness, utcnow() + timedelta(seconds=11), archive(PRESTO_NUMBERS, "Hi"))
    assert report.reconciled_sent == 3
    assert set(recipient_states(harness, campaign_id).values()) == {"sent"}
    with harness.ctx(presto_ok).engine.connect() as conn:
        assert conn.execute(select(Batch.state)).scalar_one() == "done"


def test_only_adapters_declaring_an_archive_are_reconciled() -> None:
    assert reconcile.has_archive("smspresto")
    assert not reconcile.has_archive("aamarsms")  # balance and status, but no archive
    assert not reconcile.has_archive("no_such_gateway")  # its batches resolve as unknown


def test_the_late_worker_cannot_overwrite_what_the_tick_resolved(harness: Harness) -> None:
    campaign_id = harness.submit("aakashsms_v3", ["9841000001"], text="Hi")
    [ref] = dispatch.release(harness.ctx(presto_ok), campaign_id)
    head = store.load_head(harness.ctx(presto_ok).engine, ref.batch_id)
    with harness.ctx(presto_ok).engine.begin() as conn:
        assert store.claim_in_flight(conn, ref.batch_id, "slow", utcnow())
    run(harness, utcnow() + timedelta(seconds=11))
    assert head is not None
    with harness.ctx(presto_ok).engine.begin() as conn:
        assert not store.write_results(conn, head, "slow", [], utcnow())


def test_only_one_tick_runs_at_a_time(harness: Harness) -> None:
    ctx = harness.ctx(presto_ok, **TIMINGS)
    assert ctx.redis is not None
    with ctx.redis.lock("smsq:lock:tick", timeout=5):
        assert tick.run_tick(ctx, empty_queues).skipped_locked
    assert not tick.run_tick(ctx, empty_queues).skipped_locked


def test_a_campaign_with_nothing_to_send_completes_on_release(harness: Harness) -> None:
    campaign_id = harness.submit("smspresto", PRESTO_NUMBERS, text="Hi")
    [ref] = dispatch.release(harness.ctx(presto_ok), campaign_id)
    assert sending.send_batch(ref.batch_id, harness.ctx(Gateway(presto_ok))).enqueue == ()
    assert campaign_state(harness, campaign_id)[0] == "completed"
    assert run(harness, utcnow()).completed == 0


def campaign_reason(h: Harness, campaign_id: int) -> str | None:
    with h.ctx(presto_ok).engine.connect() as conn:
        reason: str | None = conn.execute(
            select(Campaign.reason).where(Campaign.id == campaign_id)
        ).scalar_one()
    return reason


def test_a_queue_no_worker_reads_is_named_in_the_campaigns_reason(harness: Harness) -> None:
    campaign_id = harness.submit("smspresto", PRESTO_NUMBERS, text="Hi")
    dispatch.release(harness.ctx(presto_ok), campaign_id)  # running, its batch enqueued
    waiting = tick.run_tick(harness.ctx(presto_ok, **TIMINGS), lambda _a: 1)
    assert waiting.unconsumed == 1 and "unconsumed=1" in waiting.summary()
    reason = campaign_reason(harness, campaign_id)
    assert reason is not None and reason.startswith("no worker consumes account 'smspresto'")
    assert "smsq.send.smspresto" in reason
    assert campaign_state(harness, campaign_id) == ("running", None)  # still sendable
    # A worker that consumes the queue announces it: the next tick takes the reason back.
    consumers.announce(harness.redis, [keys.send_queue("smspresto")])
    read = tick.run_tick(harness.ctx(presto_ok, **TIMINGS), lambda _a: 1)
    assert read.unconsumed == 0 and campaign_reason(harness, campaign_id) is None


def test_an_empty_queue_or_a_consumed_one_is_no_alarm(harness: Harness) -> None:
    campaign_id = harness.submit("smspresto", PRESTO_NUMBERS, text="Hi")
    dispatch.release(harness.ctx(presto_ok), campaign_id)
    assert tick.run_tick(harness.ctx(presto_ok, **TIMINGS), empty_queues).unconsumed == 0
    consumers.announce(harness.redis, [keys.send_queue("smspresto")])
    assert tick.run_tick(harness.ctx(presto_ok, **TIMINGS), lambda _a: 9).unconsumed == 0
    assert campaign_reason(harness, campaign_id) is None


def test_the_alarm_never_hides_another_reason(harness: Harness) -> None:
    campaign_id = harness.submit("smspresto", PRESTO_NUMBERS, text="Hi")
    dispatch.release(harness.ctx(presto_ok), campaign_id)
    with harness.ctx(presto_ok).engine.begin() as conn:
        conn.execute(update(Campaign).values(reason="moved from x: no credit"))
    tick.run_tick(harness.ctx(presto_ok, **TIMINGS), lambda _a: 1)
    assert campaign_reason(harness, campaign_id) == "moved from x: no credit"
