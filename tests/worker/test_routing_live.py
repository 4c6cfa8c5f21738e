"""Routed campaigns for real: Celery workers and beat, a private Redis, the sandbox.

One route over all five gateways, and failover when an account runs out of credits part
way or answers 503 to everything. The sandbox's record of accepted messages is the ground
truth: each number reached the gateway its route names, once, in that gateway's format,
with its own text or template parameters.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from campaigns import get_campaign, submit_campaign
from campaigns.db import get_engine
from campaigns.models import Batch, Recipient
from campaigns.routes import Route
from providers import Account
from providers.sandbox.accounts import sandbox_accounts
from providers.sandbox.client import SandboxClient, SandboxProcess
from tests.fixtures.cluster import StartCluster
from worker.local import LocalCluster

pytestmark = pytest.mark.integration

V1, V3, AAMAR, SMSPLUS, PRESTO = (
    "aakashsms_v1",
    "aakashsms_v3",
    "aamarsms",
    "smsplus_az",
    "smspresto",
)
EVERYWHERE = Route.model_validate(
    {
        "name": "everywhere",
        "default_region": "NP",
        "977": [V3, V1],
        "977980": [V1, V3],  # Ncell's range goes to the other AakashSMS API
        "880": [AAMAR],
        "994": [SMSPLUS, PRESTO],
        "225": [PRESTO],
    }
)


def _accounts(sandbox_url: str) -> dict[str, Account]:
    demo = sandbox_accounts(sandbox_url)
    quick = {"timeout_s": 2.0, "max_recipients": 40, "circuit_failures": 2}
    return {name: demo[name].model_copy(update=quick) for name in (V1, V3, AAMAR, SMSPLUS, PRESTO)}


@pytest.fixture(scope="module")
def cluster(start_cluster: StartCluster, sandbox_proc: SandboxProcess) -> Iterator[LocalCluster]:
    with start_cluster(
        _accounts(sandbox_proc.url), folder="routing", workers={"w1": 1, "w2": 1},
        tick_interval_s=0.3, stale_after_s=5.0, visibility_timeout_s=120,
    ) as running:  # fmt: skip
        yield running


def _submit(cluster: LocalCluster, rows: list[Any], **kwargs: Any) -> int:
    cluster.install_dispatcher()
    return submit_campaign(
        recipients=rows, route=EVERYWHERE, database_url=cluster.config.database_url,
        accounts=dict(cluster.config.accounts), **kwargs,
    )  # fmt: skip


def _wait_completed(cluster: LocalCluster, campaign_id: int, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = get_campaign(campaign_id, database_url=cluster.config.database_url)
        if info.state in ("completed", "paused", "failed"):
            return info
        time.sleep(0.1)
    logs = "\n".join(cluster.log(n)[-2000:] for n in ("w1", "w2", "beat"))
    pytest.fail(f"campaign {campaign_id} did not end: {info}\n{logs}")


def _outcomes(cluster: LocalCluster, campaign_id: int) -> list[tuple[str, str, str, str | None]]:
    """(msisdn, state, account of its batch, move_reason) of every number in a batch."""
    with get_engine(cluster.config.database_url).connect() as conn:
        rows = conn.execute(
            select(Recipient.msisdn, Recipient.state, Batch.account, Recipient.move_reason)
            .join(Batch, Batch.id == Recipient.batch_id)
            .where(Recipient.campaign_id == campaign_id, Batch.state.not_in(("moved", "split")))
        ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_a_campaign_over_all_five_gateways_reaches_each_number_once_where_its_route_says(
    cluster: LocalCluster, sandbox: SandboxClient
) -> None:
    people = ["Sita", "Ram", "Aysel", "Koffi", "Rina"]
    shapes = {
        V3: ("+977 984{:07d}", "984{:07d}"),
        V1: ("980{:07d}", "980{:07d}"),
        AAMAR: ("+88017{:08d}", "88017{:08d}"),
        SMSPLUS: ("+99450{:07d}", "99450{:07d}"),
        PRESTO: ("+22507{:08d}", "22507{:08d}"),
    }
    rows, expected = [], {}
    for account, (written, at_gateway) in shapes.items():
        for i in range(60):
            name = people[i % len(people)]
            rows.append({"msisdn": written.format(i), "name": name})
            expected[at_gateway.format(i)] = (account, name)
    rows.append({"msisdn": "+971501234567", "name": "Nobody"})  # no route: rejected
    campaign_id = _submit(cluster, rows, text="Hello {name} from smsq", template_id=2)
    info = _wait_completed(cluster, campaign_id)
    assert info.state == "completed" and info.recipients == {"sent": 300, "rejected": 1}
    shares = {a.account: a.recipients for a in info.accounts}
    assert all(shares[account] == {"sent": 60} for account in shapes), shares

    record = [m for m in sandbox.messages() if m.msisdn in expected]
    assert Counter(m.msisdn for m in record) == dict.fromkeys(expected, 1)  # once, no more
    for message in record:
        account, name = expected[message.msisdn]
        assert message.account == account, message
        if account == SMSPLUS:  # the approved template with this number's parameter
            assert message.text.startswith(f"Salam {name}!"), message
        else:
            assert message.text == f"Hello {name} from smsq", message


def test_credits_running_out_part_way_move_the_rest_to_the_fallback(
    cluster: LocalCluster, sandbox: SandboxClient
) -> None:
    sandbox.set_balances(aakashsms_v3=100.0)  # two and a half batches of 40
    numbers = [f"9841{i:06d}" for i in range(400)]
    campaign_id = _submit(cluster, numbers, text="Namaste")
    info = _wait_completed(cluster, campaign_id)
    assert info.state == "completed" and info.recipients == {"sent": 400}, info
    primary, backup = (next(a for a in info.accounts if a.account == n) for n in (V3, V1))
    assert primary.state == "failed" and "Insufficient Credits" in (primary.reason or "")
    record = Counter(m.msisdn for m in sandbox.messages() if m.msisdn in set(numbers))
    assert set(record.values()) == {1} and len(record) == 400  # 0 duplicates, every one
    on_v3 = {m.msisdn for m in sandbox.messages(account=V3)}
    assert 0 < len(on_v3) <= 100 and primary.recipients == {"sent": len(on_v3)}
    assert backup.recipients == {"sent": 400 - len(on_v3)}
    for msisdn, state, account, reason in _outcomes(cluster, campaign_id):
        assert state == "sent"
        if account == V1:
            assert reason == "moved from aakashsms_v3: Insufficient Credits (code no_credit)"
        else:
            assert reason is None and msisdn in on_v3


def test_a_primary_answering_503_to_everything_sends_everything_through_the_backup(
    cluster: LocalCluster, sandbox: SandboxClient
) -> None:
    sandbox.set_faults(account=V3, rates={"http_503": 1.0})
    numbers = [f"9852{i:06d}" for i in range(200)]
    campaign_id = _submit(cluster, numbers, text="Namaste")
    info = _wait_completed(cluster, campaign_id)
    assert info.state == "completed" and info.recipients == {"sent": 200}, info
    assert sandbox.messages(account=V3) == []
    assert Counter(m.msisdn for m in sandbox.messages(account=V1)) == dict.fromkeys(numbers, 1)
    primary = next(a for a in info.accounts if a.account == V3)
    assert primary.state == "failed" and (primary.reason or "").startswith("circuit open")
    [reason] = {reason for _m, _s, _a, reason in _outcomes(cluster, campaign_id)}
    assert reason is not None and reason.startswith("moved from aakashsms_v3: circuit open")
