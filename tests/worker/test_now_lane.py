"""The ``now`` process for real: one account's gateway hangs while its single messages keep
coming, and another account's single message still goes at once.

``smsq worker`` runs one process for every account's single messages. Each account may hold
only its whole rate's worth of them at a time there (``worker.door.requests_held``); the
rest go back to the broker with a countdown instead of taking a thread, so a hung gateway
cannot fill the process. The sandbox hangs account A (every request waits an hour); its
record of accepted messages is the ground truth for what reached a gateway.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaigns import get_message, send_message
from campaigns.db import get_engine
from campaigns.models import Batch, BatchState
from providers import Account
from providers.sandbox.accounts import sandbox_accounts
from smsq.local import LocalStack, local_stack
from worker.door import requests_held
from worker.redis_server import RedisHandle

pytestmark = pytest.mark.integration

V1, V3 = "aakashsms_v1", "aakashsms_v3"
HUNG_RATE_PER_S = 4.0
HUNG_TIMEOUT_S = 6.0  # a hung request's thread is back after this
MESSAGES = 25  # more than the now process's threads (now_threads: 21 for these accounts)


def _accounts(url: str) -> dict[str, Account]:
    demo = sandbox_accounts(url)
    hung = demo[V1].model_copy(
        update={"rate_per_s": HUNG_RATE_PER_S, "timeout_s": HUNG_TIMEOUT_S,
                "circuit_failures": 10**9}
    )  # fmt: skip
    return {"hung": hung, "nepal": demo[V3].model_copy(update={"rate_per_s": 5.0})}


@pytest.fixture
def stack(tmp_path: Path, redis_server: RedisHandle) -> Iterator[LocalStack]:
    faults = {"accounts": {V1: {"latency_ms": 3_600_000}}}
    with local_stack(
        workdir=tmp_path, accounts=_accounts, broker_url=redis_server.url, sandbox_faults=faults,
        workers={}, beat=False, stale_after_s=120.0,
    ) as running:  # fmt: skip
        running.cluster.start_now()
        yield running


def _send(stack: LocalStack, account: str, number: str) -> int:
    config = stack.cluster.config
    return send_message(
        number, "Your code is 4821", account=account, database_url=config.database_url,
        accounts=config.accounts,
    )  # fmt: skip


def _in_flight(stack: LocalStack, account: str) -> int:
    engine = get_engine(stack.cluster.config.database_url)
    query = select(func.count()).where(
        Batch.account == account, Batch.state == BatchState.IN_FLIGHT
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _wait(what: str, done: Callable[[], bool], timeout_s: float, stack: LocalStack) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"{what}\n{stack.cluster.log('now')[-3000:]}"
        time.sleep(0.1)


def test_a_hung_gateways_single_messages_leave_the_now_process_to_the_others(
    stack: LocalStack,
) -> None:
    db = stack.cluster.config.database_url
    held = requests_held(HUNG_RATE_PER_S)
    hung = [_send(stack, "hung", f"98410{i:05d}") for i in range(MESSAGES)]

    def out() -> int:  # the hung account's requests that reached its gateway, hanging there
        return stack.sandbox.requests(V1).get("received", 0)

    _wait("the hung account's first requests", lambda: out() >= held, 30, stack)

    called = time.monotonic()
    other = _send(stack, "nepal", "9851000001")
    _wait(
        "the other account's message", lambda: get_message(other, database_url=db).state == "sent",
        # A thread of the now process comes back only when a hung request times out.
        HUNG_TIMEOUT_S / 2, stack,
    )  # fmt: skip
    took_s = time.monotonic() - called
    # At most the account's whole rate's worth of its single messages held a thread; the
    # others waited on the broker (held by one thread each, they would be out by now).
    assert (out(), _in_flight(stack, "hung")) == (held, held), took_s
    [arrived] = stack.sandbox.messages(account=V3)
    assert arrived.msisdn == "9851000001"

    stack.sandbox.set_faults(account=V1, latency_ms=0)  # the gateway is back
    finals = ("sent", "unknown")

    def settled() -> bool:
        return all(get_message(m, database_url=db).state in finals for m in hung)

    _wait("the hung account's messages after it came back", settled, 6 * HUNG_TIMEOUT_S, stack)
    states = Counter(get_message(m, database_url=db).state for m in hung)
    # The requests out while it hung timed out: unknown, never resent. Every other message
    # reached the gateway once.
    assert (states["unknown"], states["sent"]) == (held, MESSAGES - held), states
    sent = Counter(m.msisdn for m in stack.sandbox.messages(account=V1))
    assert sum(sent.values()) == states["sent"] and set(sent.values()) == {1}, sent
