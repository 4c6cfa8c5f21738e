"""The sending loop's decisions, one gateway behaviour per test, through httpx.MockTransport.

Each test plans a real campaign (``submit_campaign``), releases it with ``dispatch.release``
and runs ``sending.send_batch`` against a mock gateway; it then reads the database, the
decision and the requests the gateway saw. Sleeps are recorded, never slept.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import select, update

from campaigns.models import Batch, Campaign, Recipient
from worker import dispatch, keys, sending, store
from worker.clock import utcnow
from worker.sending import Outcome

from .conftest import Harness

PRESTO_NUMBERS = ["2250700000001", "2250700000002", "2250700000003"]


def presto_ok(request: httpx.Request) -> httpx.Response:
    """SMSPresto's success answer for however many numbers the request carried."""
    return httpx.Response(
        200, json={"status": 0, "message": "ok", "message-count": _count(request)}
    )


def _count(request: httpx.Request) -> int:
    data = json.loads(parse_qs(request.content.decode())["data"][0])
    return len(data["to"])


def _numbers(request: httpx.Request) -> list[str]:
    data = json.loads(parse_qs(request.content.decode())["data"][0])
    return [entry["recipient"] for entry in data["to"]]


def recipients(h: Harness, campaign_id: int) -> dict[str, tuple[Any, ...]]:
    """msisdn -> (state, gateway_code, gateway_message, attempts)."""
    with h.ctx(presto_ok).engine.connect() as conn:
        rows = conn.execute(
            select(
                Recipient.msisdn, Recipient.state, Recipient.gateway_code,
                Recipient.gateway_message, Recipient.attempts,
            ).where(Recipient.campaign_id == campaign_id)
        ).all()  # fmt: skip
    return {r[0]: tuple(r[1:]) for r in rows}


def campaign(h: Harness, campaign_id: int) -> tuple[Any, ...]:
    with h.ctx(presto_ok).engine.connect() as conn:
        row = conn.execute(
            select(Campaign.state, Campaign.pause_kind, Campaign.reason).where(
                Campaign.id == campaign_id
            )
        ).one()
    return tuple(row)


def batches(h: Harness, campaign_id: int) -> list[tuple[Any, ...]]:
    with h.ctx(presto_ok).engine.connect() as conn:
        rows = conn.execute(
            select(Batch.id, Batch.state, Batch.size, Batch.attempts, Batch.parent_id)
            .where(Batch.campaign_id == campaign_id)
            .order_by(Batch.id)
        ).all()
    return [tuple(r) for r in rows]


def start(h: Harness, account: str, numbers: list[Any], **kwargs: Any) -> tuple[int, list[int]]:
    """Submit and release a campaign; returns its id and its batch ids."""
    campaign_id = h.submit(account, numbers, **kwargs)
    refs = dispatch.release(h.ctx(presto_ok), campaign_id)
    return campaign_id, [r.batch_id for r in refs]


class Gateway:
    """A mock gateway answering from a script of responses (the last one repeats)."""

    def __init__(self, *answers: httpx.Response | Exception | Any) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            result: httpx.Response = answer(request)
            return result
        assert isinstance(answer, httpx.Response)
        return answer


def test_a_batch_is_sent_once_and_the_campaign_completes(harness: Harness) -> None:
    campaign_id, [batch_id] = start(harness, "smspresto", PRESTO_NUMBERS, text="Hello")
    gateway = Gateway(presto_ok)
    decision = sending.send_batch(batch_id, harness.ctx(gateway))
    assert decision.outcome is Outcome.DONE
    assert sorted(_numbers(gateway.requests[0])) == PRESTO_NUMBERS
    assert {r[0] for r in recipients(harness, campaign_id).values()} == {"sent"}
    assert campaign(harness, campaign_id)[0] == "completed"
    # A duplicate or redelivered message finds the batch done and sends nothing.
    again = sending.send_batch(batch_id, harness.ctx(gateway))
    assert again.outcome is Outcome.SKIPPED and len(gateway.requests) == 1


def test_a_claim_is_won_once_and_a_paused_campaign_sends_nothing(harness: Harness) -> None:
    campaign_id, [batch_id] = start(harness, "smspresto", PRESTO_NUMBERS, text="Hello")
    with harness.ctx(presto_ok).engine.begin() as conn:
        conn.execute(update(Campaign).values(state="paused", pause_kind="user"))
    gateway = Gateway(presto_ok)
    assert sending.send_batch(batch_id, harness.ctx(gateway)).outcome is Outcome.SKIPPED
    assert gateway.requests == []
    with harness.ctx(presto_ok).engine.begin() as conn:
        conn.execute(update(Campaign).values(state="running", pause_kind=None))
        # The compare-and-set itself: a second claim of the same batch matches no row.
        assert store.claim_in_flight(conn, batch_id, "first", utcnow()) is not None
        assert store.claim_in_flight(conn, batch_id, "second", utcnow()) is None


def test_a_5xx_is_retried_in_process_then_sent(harness: Harness) -> None:
    campaign_id, [batch_id] = start(harness, "smspresto", PRESTO_NUMBERS, text="Hello")
    gateway = Gateway(httpx.Response(503), httpx.ConnectError("refused"), presto_ok)
    decision = sending.send_batch(batch_id, harness.ctx(gateway))
    assert decision.outcome is Outcome.DONE
    assert len(gateway.requests) == 3
    assert 0 < sum(harness.sleeps) < 0.5  # tenacity's short backoff, recorded not slept
    assert {r[0] for r in recipients(harness, campaign_id).values()} == {"sent"}


def test_persistent_5xx_waits_in_the_broker_then_fails_when_attempts_run_out(
    harness: Harness,
) -> None:
    campaign_id, [batch_id] = start(harness, "smspresto", PRESTO_NUMBERS, text="Hello")
    gateway = Gateway(httpx.Response(500))
    decision = sending.send_batch(batch_id, harness.ctx(gateway))
    assert decision.outcome is Outcome.RETRY
    assert len(gateway.requests) == sending.QUICK_ATTEMPTS
    [ref] = decision.enqueue
    assert ref.batch_id == batch_id and 0 < (ref.delay_s or 0) <= sending.RETRY_MAX_S
    assert batches(harness, campaign_id)[0][1] == "retry_wait"
    assert {r[0] for r in recipients(harness, campaign_id).values()} == {"pending"}
    # Not due yet: an early message does nothing.
    _make_due(harness, batch_id, in_s=60)
    assert sending.send_batch(batch_id, harness.ctx(gateway)).outcome is Outcome.SKIPPED
    for _ in range(sending.MAX_ATTEMPTS - 1):
        _make_due(harness, batch_id)
        decision = sending.send_batch(batch_id, harness.ctx(gateway))
    assert decision.outcome is Outcome.FAILED
    assert len(gateway.requests) == sending.QUICK_ATTEMPTS * sending.MAX_ATTEMPTS
    states = recipients(harness, campaign_id)
    assert {r[0] for r in states.values()} == {"failed"}
    assert all("HTTP 500" in r[2] for r in states.values())
    assert campaign(harness, campaign_id)[0] == "completed"


def _make_due(h: Harness, batch_id: int, in_s: float = -1) -> None:
    """Move the batch's retry time (the past by default: the countdown has run out)."""
    with h.ctx(presto_ok).engine.begin() as conn:
        conn.execute(
            update(Batch)
            .where(Batch.id == batch_id)
            .values(next_attempt_at=utcnow() + timedelta(seconds=in_s))
        )


def test_429_throttles_the_whole_account_without_a_quick_retry(harness: Harness) -> None:
    _campaign_id, [batch_id] = start(harness, "smspresto", PRESTO_NUMBERS, text="Hello")
    gateway = Gateway(httpx.Response(429))
    decision = sending.send_batch(batch_id, harness.ctx(gateway))
    assert decision.outcome is Outcome.RETRY and len(gateway.requests) == 1
    assert harness.redis.hget(keys.throttle("smspresto"), "until") is not None
    assert (decision.enqueue[0].delay_s or 0) >= 0.5


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("reset"),
        httpx.Response(504),
        httpx.Response(200, text="<html>oops</html>"),
    ],
    ids=["read-timeout", "reset-after-send", "504", "garbage-200"],
)
def test_an_ambiguous_answer_leaves_numbers_unknown_and_unsent(
    harness: Harness, answer: Any
) -> None:
    campaign_id, [batch_id] = start(harness, "smspresto", PRESTO_NUMBERS, text="Hello")
    gateway = Gateway(answer)
    decision = sending.send_batch(batch_id, harness.ctx(gateway))
    assert decision.outcome is Outcome.UNKNOWN and len(gateway.requests) == 1
    assert {r[0] for r in recipients(harness, campaign_id).values()} == {"unknown"}
    assert campaign(harness, campaign_id)[0] == "completed"


def test_resend_ambiguous_accounts_retry_a_timeout(harness: Harness) -> None:
    account = harness.accounts["smspresto"]
    harness.accounts["smspresto"] = account.model_copy(update={"resend_ambiguous": True})
    _campaign_id, [batch_id] = start(harness, "smspresto", PRESTO_NUMBERS, text="Hello")
    gateway = Gateway(httpx.ReadTimeout("slow"), presto_ok)
    assert sending.send_batch(batch_id, harness.ctx(gateway)).outcome is Outcome.RETRY
    _make_due(harness, batch_id)
    assert sending.send_batch(batch_id, harness.ctx(gateway)).outcome is Outcome.DONE


def test_an_account_error_pauses_the_campaign_with_the_gateways_message(
    harness: Harness,
) -> None:
    campaign_id, [batch_id] = start(harness, "smspresto", PRESTO_NUMBERS, text="Hello")
    refusal = httpx.Response(200, json={"status": 10, "message": "Cle API invalide"})
    gateway = Gateway(refusal)
    decision = sending.send_batch(batch_id, harness.ctx(gateway))
    assert decision.outcome is Outcome.PAUSED and len(gateway.requests) == 1
    state, kind, reason = campaign(harness, campaign_id)
    assert (state, kind) == ("paused", "account") and "Cle API invalide" in reason
    assert batches(harness, campaign_id)[0][1:4] == ("pending", 3, 0)
    assert {r[0] for r in recipients(harness, campaign_id).values()} == {"pending"}


def test_a_request_error_fails_the_numbers_with_the_code(harness: Harness) -> None:
    campaign_id, [batch_id] = start(harness, "smspresto", PRESTO_NUMBERS, text="Hello")
    gateway = Gateway(httpx.Response(200, json={"status": 103, "message": "Message invalide"}))
    assert sending.send_batch(batch_id, harness.ctx(gateway)).outcome is Outcome.FAILED
    states = recipients(harness, campaign_id)
    assert {(r[0], r[1]) for r in states.values()} == {("failed", "103")}


def test_one_bad_number_is_isolated_by_splitting(harness: Harness) -> None:
    numbers = [f"99450{i:07d}" for i in range(1, 9)]
    bad = numbers[5]

    def smsplus(request: httpx.Request) -> httpx.Response:
        if bad in json.loads(request.content)["mobile_numbers"]:
            return httpx.Response(200, json={"success": False, "code": 121, "message": "format"})
        return httpx.Response(200, json={"success": True, "code": 100, "message": "ok"})

    campaign_id, queue = start(harness, "smsplus_az", numbers, template_id=1)
    gateway = Gateway(smsplus)
    while queue:
        decision = sending.send_batch(queue.pop(0), harness.ctx(gateway))
        queue += [r.batch_id for r in decision.enqueue]
    states = recipients(harness, campaign_id)
    assert states[bad][:2] == ("failed", "121")
    assert all(states[n][0] == "sent" for n in numbers if n != bad)
    assert len(gateway.requests) <= 2 * 3 + 1  # log2(8) levels of two halves, plus the first
    assert campaign(harness, campaign_id)[0] == "completed"
    assert {b[1] for b in batches(harness, campaign_id)} == {"split", "done", "failed"}


def test_per_number_outcomes_are_stored_with_ids_networks_and_credits(
    harness: Harness,
) -> None:
    numbers = ["9841000001", "9841000002", "9841000003"]

    def aakash(request: httpx.Request) -> httpx.Response:
        data = {
            "valid": [
                {"id": 11, "mobile": "9779841000001", "network": "ntc", "credit": 1},
                {"id": 12, "mobile": "9841000003", "network": "ncell", "credit": 2},
            ],
            "invalid": [{"mobile": "9841000002", "status": "aborted"}],
        }
        return httpx.Response(200, json={"error": False, "message": "ok", "data": data})

    campaign_id, [batch_id] = start(harness, "aakashsms_v3", numbers, text="Namaste")
    assert sending.send_batch(batch_id, harness.ctx(Gateway(aakash))).outcome is Outcome.DONE
    with harness.ctx(presto_ok).engine.connect() as conn:
        rows = {
            r[0]: tuple(r[1:])
            for r in conn.execute(
                select(
                    Recipient.msisdn, Recipient.state, Recipient.provider_message_id,
                    Recipient.network, Recipient.credits, Recipient.gateway_code,
                ).where(Recipient.campaign_id == campaign_id)
            )
        }  # fmt: skip
    assert rows["9841000001"] == ("sent", "11", "ntc", 1.0, None)
    assert rows["9841000002"][0:1] + rows["9841000002"][4:] == ("failed", "aborted")
    assert rows["9841000003"] == ("sent", "12", "ncell", 2.0, None)


def test_a_cancel_during_the_wait_for_a_retry_cancels_the_batch(harness: Harness) -> None:
    from campaigns import cancel_campaign

    campaign_id, [batch_id] = start(harness, "smspresto", PRESTO_NUMBERS, text="Hello")
    assert sending.send_batch(batch_id, harness.ctx(Gateway(httpx.Response(503)))).enqueue
    cancel_campaign(campaign_id, database_url=harness.db_url)
    assert batches(harness, campaign_id)[0][1] == "cancelled"
    assert {r[0] for r in recipients(harness, campaign_id).values()} == {"cancelled"}
    _make_due(harness, batch_id)
    gateway = Gateway(presto_ok)
    assert sending.send_batch(batch_id, harness.ctx(gateway)).outcome is Outcome.SKIPPED
    assert gateway.requests == []


def test_an_unconfigured_account_pauses_the_campaign(harness: Harness) -> None:
    campaign_id, [batch_id] = start(harness, "smspresto", PRESTO_NUMBERS, text="Hello")
    del harness.accounts["smspresto"]
    decision = sending.send_batch(batch_id, harness.ctx(Gateway(presto_ok)))
    assert decision.outcome is Outcome.PAUSED
    assert campaign(harness, campaign_id)[:2] == ("paused", "account")
