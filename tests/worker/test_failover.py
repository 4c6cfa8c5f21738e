"""Failover, decision by decision: a routed campaign's account fails, its numbers move on.

Real campaigns planned through ``submit_campaign`` over a route of two AakashSMS accounts
(v3 first, v1 as the fallback), sent by ``sending.send_batch`` against a mock gateway that
answers each API as scripted. The database is read after each step.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import httpx
from sqlalchemy import select

from campaigns import resume_campaign, submit_campaign
from campaigns.failover import fail_over
from campaigns.models import Batch, BatchState, CampaignAccount, Recipient
from campaigns.routes import Route
from worker import dispatch, sending, store, tick
from worker.clock import utcnow
from worker.sending import Outcome

from .conftest import Harness

PRIMARY, BACKUP = "aakashsms_v3", "aakashsms_v1"
ROUTE = Route.model_validate(
    {"name": "nepal", "default_region": "NP", "977": [PRIMARY, BACKUP], "880": ["aamarsms"]}
)
NUMBERS = [f"984{i:07d}" for i in range(250)]  # three batches of the primary


class Gateways:
    """AakashSMS v3 answering ``v3`` (ok, or an error message), v1 accepting everything."""

    def __init__(self, v3: str | int = "ok") -> None:
        self.v3 = v3
        self.sent: dict[str, list[str]] = {PRIMARY: [], BACKUP: []}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        numbers = form["to"][0].split(",")
        if request.url.path.endswith("/v3/send"):
            if isinstance(self.v3, int):
                return httpx.Response(self.v3, text="<html>down</html>")
            if self.v3 != "ok":
                return httpx.Response(200, json={"error": True, "message": self.v3})
            self.sent[PRIMARY] += numbers
            valid = [{"mobile": m, "id": i, "network": "ntc", "credit": 1} for i, m in
                     enumerate(numbers)]  # fmt: skip
            return httpx.Response(200, json={"error": False, "data": {"valid": valid}})
        self.sent[BACKUP] += numbers
        body = {"response_code": 201, "response": "Sent", "count": len(numbers)}
        return httpx.Response(200, json=body)


def _submit(h: Harness, numbers: list[str] = NUMBERS, **kwargs: Any) -> tuple[int, list[int]]:
    campaign_id = submit_campaign(
        recipients=numbers, route=ROUTE, text="Namaste", database_url=h.db_url,
        accounts=h.accounts, **kwargs,
    )  # fmt: skip
    refs = dispatch.release(h.ctx(Gateways()), campaign_id)
    return campaign_id, [r.batch_id for r in refs]


def _recipients(h: Harness, campaign_id: int) -> list[tuple[Any, ...]]:
    """(msisdn, state, batch account, batch state, move_reason) of every recipient."""
    with h.ctx(Gateways()).engine.connect() as conn:
        rows = conn.execute(
            select(
                Recipient.msisdn, Recipient.state, Batch.account, Batch.state,
                Recipient.move_reason,
            )
            .join(Batch, Batch.id == Recipient.batch_id)
            .where(Recipient.campaign_id == campaign_id)
        ).all()  # fmt: skip
    return [tuple(r) for r in rows]


def _accounts(h: Harness, campaign_id: int) -> dict[str, tuple[str, str | None]]:
    with h.ctx(Gateways()).engine.connect() as conn:
        rows = conn.execute(
            select(CampaignAccount.account, CampaignAccount.state, CampaignAccount.reason).where(
                CampaignAccount.campaign_id == campaign_id
            )
        ).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def _drain(h: Harness, gateways: Gateways, batch_ids: list[int]) -> list[sending.SendDecision]:
    """Send the batches and whatever their decisions enqueue, until nothing is left."""
    decisions, todo = [], list(batch_ids)
    while todo:
        decision = sending.send_batch(todo.pop(0), h.ctx(gateways))
        decisions.append(decision)
        todo += [ref.batch_id for ref in decision.enqueue]
    return decisions


def _campaign(h: Harness, campaign_id: int) -> tuple[Any, ...]:
    from campaigns import get_campaign

    info = get_campaign(campaign_id, database_url=h.db_url)
    return info.state, info.pause_kind, info.reason


def test_an_account_error_moves_the_never_claimed_numbers_to_the_fallback(
    harness: Harness,
) -> None:
    campaign_id, batch_ids = _submit(harness)
    assert len(batch_ids) == 3
    gateways = Gateways(v3="Insufficient Credits")
    decisions = _drain(harness, gateways, batch_ids)
    assert decisions[0].outcome is Outcome.MOVED and len(decisions[0].enqueue) == 3
    assert {d.outcome for d in decisions[1:3]} == {Outcome.SKIPPED}  # the moved originals
    assert {d.outcome for d in decisions[3:]} == {Outcome.DONE}
    rows = _recipients(harness, campaign_id)
    assert Counter((state, account) for _m, state, account, _b, _r in rows) == {
        ("sent", BACKUP): 250
    }
    assert sorted(gateways.sent[BACKUP]) == sorted(NUMBERS) and gateways.sent[PRIMARY] == []
    reasons = {reason for *_rest, reason in rows}
    assert reasons == {"moved from aakashsms_v3: Insufficient Credits (code no_credit)"}
    assert _accounts(harness, campaign_id)[PRIMARY] == (
        "failed", "Insufficient Credits (code no_credit)",
    )  # fmt: skip
    assert _campaign(harness, campaign_id)[0] == "completed"


def test_numbers_sent_in_flight_or_unknown_never_move(harness: Harness) -> None:
    campaign_id, (first, second, third) = _submit(harness)
    gateways = Gateways()
    assert sending.send_batch(first, harness.ctx(gateways)).outcome is Outcome.DONE
    ctx = harness.ctx(gateways)
    with ctx.transaction() as conn:  # another worker holds the third batch mid-send
        assert store.claim_in_flight(conn, third, "other-worker", utcnow()) is not None
    gateways.v3 = "Insufficient Credits"
    decision = sending.send_batch(second, harness.ctx(gateways))
    assert decision.outcome is Outcome.MOVED and len(decision.enqueue) == 1
    rows = _recipients(harness, campaign_id)
    by_batch = Counter(
        (state, account, batch_state) for _m, state, account, batch_state, _r in rows
    )
    assert by_batch == {
        ("sent", PRIMARY, "done"): 100,  # the first batch: sent, stays
        ("pending", PRIMARY, "in_flight"): 50,  # the third: in flight (its batch says), stays
        ("pending", BACKUP, "pending"): 100,  # the second: never accepted, moved
    }
    assert all(r[4] is None for r in rows if r[2] == PRIMARY)


def test_two_workers_noticing_the_failure_at_once_move_each_number_once(
    harness: Harness,
) -> None:
    campaign_id, _batches = _submit(harness)
    ctx = harness.ctx(Gateways())
    moved = []
    for _noticer in range(2):  # both see the account error; the second finds nothing left
        with ctx.transaction() as conn:
            moves = fail_over(conn, campaign_id, PRIMARY, "No credit", utcnow(), ctx.accounts)
            moved.append((moves.moved, len(moves.batches), moves.stranded))
    assert moved == [(250, 3, 0), (0, 0, 0)]
    rows = _recipients(harness, campaign_id)
    live = Counter(m for m, _s, _a, batch_state, _r in rows if batch_state != "moved")
    assert len(live) == 250 and set(live.values()) == {1}


def test_a_number_without_a_fallback_pauses_the_campaign_and_resume_tries_the_first_again(
    harness: Harness,
) -> None:
    bangladesh = [f"88017{i:08d}" for i in range(10)]
    campaign_id, batch_ids = _submit(harness, NUMBERS[:20] + bangladesh)
    gateways = Gateways(v3="Insufficient Credits")
    aamar_ok = harness.ctx(gateways)  # AamarSMS is never asked in this test
    decision = sending.send_batch(batch_ids[0], aamar_ok)
    assert decision.outcome is Outcome.MOVED  # the Nepali numbers have a fallback
    # The fallback fails too: nothing is left for the Nepali numbers.
    with aamar_ok.transaction() as conn:
        moves = fail_over(
            conn, campaign_id, BACKUP, "Invalid AuthToken", utcnow(), harness.accounts
        )
        if moves.stranded:
            store.pause_campaign(conn, campaign_id, "account", "no fallback")
    assert moves.stranded == 20
    assert _campaign(harness, campaign_id)[0] == "paused"

    assert resume_campaign(campaign_id, database_url=harness.db_url, accounts=harness.accounts) == (
        "running"
    )
    assert {a: s for a, (s, _r) in _accounts(harness, campaign_id).items()} == {
        PRIMARY: "active", BACKUP: "active", "aamarsms": "active",
    }  # fmt: skip
    rows = _recipients(harness, campaign_id)
    live = Counter(account for m, _s, account, batch_state, _r in rows if batch_state == "pending")
    assert live == {PRIMARY: 20, "aamarsms": 10}  # back on their first account
    back = [r[4] for r in rows if r[2] == PRIMARY and r[3] == "pending"]
    assert all(reason.endswith("moved back from aakashsms_v1 to aakashsms_v3") for reason in back)


def test_a_primary_answering_503_to_everything_opens_its_circuit_and_fails_over(
    harness: Harness,
) -> None:
    strict = {"circuit_failures": 2}
    harness.accounts[PRIMARY] = harness.accounts[PRIMARY].model_copy(update=strict)
    campaign_id, batch_ids = _submit(harness)
    gateways = Gateways(v3=503)
    first = sending.send_batch(batch_ids[0], harness.ctx(gateways))
    assert first.outcome is Outcome.RETRY  # one send not accepted: the circuit holds
    second = sending.send_batch(batch_ids[1], harness.ctx(gateways))
    assert second.outcome is Outcome.MOVED  # the second opens it
    for ref in second.enqueue:
        assert sending.send_batch(ref.batch_id, harness.ctx(gateways)).outcome is Outcome.DONE
    rows = _recipients(harness, campaign_id)
    assert Counter(state for _m, state, _a, _b, _r in rows) == {"sent": 250}
    reason = _accounts(harness, campaign_id)[PRIMARY][1] or ""
    assert reason.startswith("circuit open: 2 sends not accepted in a row") and "HTTP 503" in reason
    assert all("circuit open" in (r[4] or "") for r in rows)


def test_the_tick_moves_a_batch_sent_back_to_a_failed_account_after_the_failover(
    harness: Harness,
) -> None:
    campaign_id, (first, second, third) = _submit(harness)
    gateways = Gateways(v3="Insufficient Credits")
    ctx = harness.ctx(gateways)
    with ctx.transaction() as conn:  # another worker holds the third batch mid-send
        assert store.claim_in_flight(conn, third, "other-worker", utcnow()) is not None
    assert sending.send_batch(first, ctx).outcome is Outcome.MOVED  # moves the first two
    # The other worker's request was not accepted (a 503): its batch goes back, on the
    # account that has failed meanwhile.
    head = store.load_head(ctx.engine, third)
    assert head is not None
    with ctx.transaction() as conn:
        assert store.send_back(
            conn, head, "other-worker", state=BatchState.RETRY_WAIT, next_attempt_at=utcnow(),
            error_kind="retryable", error="HTTP 503", now=utcnow(),
        ) == BatchState.RETRY_WAIT  # fmt: skip
    report = tick.run_tick(harness.ctx(gateways), lambda _account: 0)
    assert report.moved == 50 and len(report.enqueue) >= 1
    rows = _recipients(harness, campaign_id)
    live = Counter((a, s) for _m, s, a, batch_state, _r in rows if batch_state != "moved")
    assert live == {(BACKUP, "pending"): 250}
    assert tick.run_tick(harness.ctx(gateways), lambda _account: 0).moved == 0  # once


def test_a_worker_dying_in_the_middle_of_a_move_leaves_nothing_moved(harness: Harness) -> None:
    # The fallback sends by GET without its credential: measuring its URL for the first
    # number raises after the move has taken its first batch, as a crash would end it there.
    broken = harness.accounts[BACKUP].model_copy(
        update={"provider": "aakashsms_v3", "options": {"method": "GET"},
                "max_url_chars": 2000, "credentials": {}}
    )  # fmt: skip
    campaign_id, _batches = _submit(harness)
    harness.accounts[BACKUP] = broken  # as the worker's config has it, after planning
    ctx = harness.ctx(Gateways())
    try:
        with ctx.transaction() as conn:
            fail_over(conn, campaign_id, PRIMARY, "No credit", utcnow(), ctx.accounts)
    except Exception as exc:  # the "crash": the transaction is never committed
        assert "cannot build a request to measure its URL" in str(exc)
    else:
        raise AssertionError("the move was expected to fail part way")
    rows = _recipients(harness, campaign_id)
    assert Counter((s, a, b, r) for _m, s, a, b, r in rows) == {
        ("pending", PRIMARY, "pending", None): 250
    }
    assert _accounts(harness, campaign_id)[PRIMARY] == ("active", None)


def test_a_failover_that_cannot_finish_pauses_the_campaign_instead(harness: Harness) -> None:
    campaign_id, batch_ids = _submit(harness)
    harness.accounts[BACKUP] = harness.accounts[BACKUP].model_copy(
        update={"provider": "aakashsms_v3", "options": {"method": "GET"},
                "max_url_chars": 2000, "credentials": {}}
    )  # fmt: skip
    decision = sending.send_batch(batch_ids[0], harness.ctx(Gateways(v3="Insufficient Credits")))
    assert decision.outcome is Outcome.PAUSED and decision.enqueue == ()
    state, kind, reason = _campaign(harness, campaign_id)
    assert (state, kind) == ("paused", "account") and "failover could not move" in reason
    rows = _recipients(harness, campaign_id)
    assert Counter((s, a, b) for _m, s, a, b, _r in rows) == {("pending", PRIMARY, "pending"): 250}
