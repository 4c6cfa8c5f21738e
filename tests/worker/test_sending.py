"""The sending loop's decisions, through httpx.MockTransport.

Each test plans a real campaign (``submit_campaign``), releases it with ``dispatch.release``
and runs ``sending.send_batch`` against a mock gateway; it then reads the database, the
decision and the requests the gateway saw. Sleeps are recorded, never slept.

How each kind of gateway error is routed (retried in process, retried through the broker,
throttled, left unknown, paused, failed) is one table, ``ROUTING``: a row names the
gateway's answers and the calls of ``send_batch``, each with the decision and the state it
must leave; ``run_routing_case`` plays a row. The other behaviours are tests of their own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
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


def _make_due(h: Harness, batch_id: int, in_s: float = -1) -> None:
    """Move the batch's retry time (the past by default: the countdown has run out)."""
    with h.ctx(presto_ok).engine.begin() as conn:
        conn.execute(
            update(Batch)
            .where(Batch.id == batch_id)
            .values(next_attempt_at=utcnow() + timedelta(seconds=in_s))
        )


PASSED = -1.0  # a retry time moved into the past: the countdown has run out
NOT_YET = 60.0  # a retry time a minute ahead: an early message must do nothing
QUICK = sending.QUICK_ATTEMPTS
# A retry through the broker: the batch alone, re-enqueued with a countdown within these
# bounds (the backoff is at least half of RETRY_BASE_S on the first attempt, and capped).
BACKOFF_S = (sending.RETRY_BASE_S / 2, sending.RETRY_MAX_S)
THROTTLED = sending.THROTTLED_IN_PROCESS  # 429s a task absorbs, each at a new turn
RUNNING = ("running", None)
COMPLETED = ("completed", None)
PAUSED_BY_ACCOUNT = ("paused", "account")


@dataclass(frozen=True)
class Send:
    """One call of ``send_batch`` in a routing case, and the state it must leave."""

    outcome: Outcome  # the decision of every call of this step
    requests: int  # requests the gateway has seen so far, in all
    batch: tuple[str, int]  # the batch's (state, attempts)
    numbers: str  # the state of every number of the batch
    campaign: tuple[str, str | None]  # (state, pause kind)
    countdown_s: tuple[float, float] | None = None  # re-enqueued within; None: nothing enqueued
    due_in_s: float | None = None  # before each call, move the retry time this far from now
    times: int = 1  # the step (retry time moved, then the call) made this many times


@dataclass(frozen=True)
class Routing:
    """A row of the routing table: the gateway's answers, the calls, the final checks."""

    label: str  # the test id: a sentence
    answers: tuple[Any, ...]  # the gateway's script (``Gateway``: the last one repeats)
    sends: tuple[Send, ...]
    code: str | None = None  # every number's gateway code at the end
    message: str = ""  # in every number's gateway message at the end
    reason: str = ""  # in the campaign's reason at the end
    throttled: bool = False  # the account is throttled in Redis at the end
    slept_s: tuple[float, float] | None = None  # all recorded sleeps, strictly between
    account: Mapping[str, Any] | None = field(default_factory=dict)  # updates; None: removed


def _ambiguous(label: str, answer: Any) -> Routing:
    unknown = Send(Outcome.UNKNOWN, 1, ("unknown", 1), "unknown", COMPLETED)
    return Routing(label, (answer,), (unknown,))


MAX = sending.MAX_ATTEMPTS
# The columns of a Send: decision, requests so far, batch (state, attempts), numbers' state,
# campaign (state, pause kind), countdown of the retry enqueued; then when and how often.
# fmt: off
ROUTING = [
    Routing(
        "a 5xx is retried in process then sent",
        (httpx.Response(503), httpx.ConnectError("refused"), presto_ok),
        (Send(Outcome.DONE, 3, ("done", 1), "sent", COMPLETED),),
        slept_s=(0, 0.5),  # tenacity's short backoff, recorded not slept
    ),
    Routing(
        "persistent 5xx waits in the broker then fails when attempts run out",
        (httpx.Response(500),),
        (
            Send(Outcome.RETRY, QUICK, ("retry_wait", 1), "pending", RUNNING, BACKOFF_S),
            Send(Outcome.SKIPPED, QUICK, ("retry_wait", 1), "pending", RUNNING,
                 due_in_s=NOT_YET),
            Send(Outcome.RETRY, QUICK * (MAX - 1), ("retry_wait", MAX - 1), "pending", RUNNING,
                 BACKOFF_S, due_in_s=PASSED, times=MAX - 2),
            Send(Outcome.FAILED, QUICK * MAX, ("failed", MAX), "failed", COMPLETED,
                 due_in_s=PASSED),
        ),
        message="HTTP 500",  # no gateway code: the HTTP status says it
    ),
    Routing(
        "a 429 lowers the accounts rate and the batch goes again in the same task",
        (httpx.Response(429), presto_ok),
        (Send(Outcome.DONE, 2, ("done", 1), "sent", COMPLETED),),  # the 429 counts no attempt
        throttled=True,
    ),
    Routing(
        "a 429 that never clears goes back to the broker once the tasks share is used",
        (httpx.Response(429),),
        (Send(Outcome.RETRY, THROTTLED + 1, ("retry_wait", 1), "pending", RUNNING, BACKOFF_S),),
        throttled=True,
    ),
    _ambiguous("a read timeout leaves the numbers unknown and unsent", httpx.ReadTimeout("slow")),
    _ambiguous("a connection reset after sending leaves the numbers unknown and unsent",
               httpx.RemoteProtocolError("reset")),
    _ambiguous("a 504 leaves the numbers unknown and unsent", httpx.Response(504)),
    _ambiguous("a 200 with a garbage body leaves the numbers unknown and unsent",
               httpx.Response(200, text="<html>oops</html>")),
    Routing(
        "an account with resend_ambiguous retries a timeout",
        (httpx.ReadTimeout("slow"), presto_ok),
        (
            Send(Outcome.RETRY, 1, ("retry_wait", 1), "pending", RUNNING, BACKOFF_S),
            Send(Outcome.DONE, 2, ("done", 2), "sent", COMPLETED, due_in_s=PASSED),
        ),
        account={"resend_ambiguous": True},
    ),
    Routing(
        "an account error pauses the campaign with the gateways message",
        (httpx.Response(200, json={"status": 10, "message": "Cle API invalide"}),),
        (Send(Outcome.PAUSED, 1, ("pending", 0), "pending", PAUSED_BY_ACCOUNT),),
        reason="Cle API invalide",
    ),
    Routing(
        "a request error fails the numbers with the code",
        (httpx.Response(200, json={"status": 103, "message": "Message invalide"}),),
        (Send(Outcome.FAILED, 1, ("failed", 1), "failed", COMPLETED),),
        code="103",
        message="Message invalide",
    ),
    Routing(
        "an unconfigured account pauses the campaign",
        (presto_ok,),
        (Send(Outcome.PAUSED, 0, ("pending", 0), "pending", PAUSED_BY_ACCOUNT),),
        reason="not configured",
        account=None,
    ),
]
# fmt: on


def run_routing_case(h: Harness, case: Routing) -> None:
    """Play one row: plan a three-number SMSPresto campaign, make the calls, check each."""
    if case.account is not None:
        account = h.accounts["smspresto"]
        h.accounts["smspresto"] = account.model_copy(update=dict(case.account))
    campaign_id, [batch_id] = start(h, "smspresto", PRESTO_NUMBERS, text="Hello")
    if case.account is None:
        del h.accounts["smspresto"]  # planned with it; the worker does not know it
    gateway = Gateway(*case.answers)
    for step, send in enumerate(case.sends, 1):
        where = f"{case.label}, step {step}"
        for _ in range(send.times):
            if send.due_in_s is not None:
                _make_due(h, batch_id, in_s=send.due_in_s)
            decision = sending.send_batch(batch_id, h.ctx(gateway))
            assert decision.outcome is send.outcome, (where, decision)
        assert len(gateway.requests) == send.requests, where
        if send.countdown_s is None:
            assert decision.enqueue == (), where
        else:
            [ref] = decision.enqueue
            low, high = send.countdown_s
            assert ref.batch_id == batch_id and low <= (ref.delay_s or 0) <= high, (where, ref)
        [(_id, state, size, attempts, _parent)] = batches(h, campaign_id)
        assert size == len(PRESTO_NUMBERS) and (state, attempts) == send.batch, where
        assert {r[0] for r in recipients(h, campaign_id).values()} == {send.numbers}, where
        assert campaign(h, campaign_id)[:2] == send.campaign, where
    numbers = recipients(h, campaign_id).values()
    assert {r[1] for r in numbers} == {case.code}
    assert all(case.message in (r[2] or "") for r in numbers), list(numbers)
    assert case.reason in (campaign(h, campaign_id)[2] or "")
    assert (h.redis.hget(keys.throttle("smspresto"), "rate") is not None) is case.throttled
    if case.slept_s is not None:
        low, high = case.slept_s
        assert low < sum(h.sleeps) < high, h.sleeps


@pytest.mark.parametrize("case", ROUTING, ids=[case.label for case in ROUTING])
def test_each_gateway_error_is_routed_as_the_table_says(harness: Harness, case: Routing) -> None:
    run_routing_case(harness, case)


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
