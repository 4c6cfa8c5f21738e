"""Gateway archives for real: workers SIGKILLed mid-campaign on a saturated SMSPresto account,
and delivery fates, on a real cluster (Celery workers and beat, Redis, the sandbox).

The account sends at 5 requests/s with 20 numbers a request, so its campaign keeps the
rate limit saturated (batches wait at the door) while the tick reads the archive: the
archive's pages take priority slots. The sandbox's record is the ground truth: a number it
accepted must end ``sent`` (the archive shows it), never ``unknown``, and none twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from campaigns import get_campaign, submit_campaign
from campaigns.db import get_engine
from campaigns.models import Batch, Recipient
from providers import Account
from providers.sandbox.accounts import sandbox_accounts
from providers.sandbox.client import SandboxClient, SandboxProcess
from tests.fixtures.cluster import StartCluster
from worker.local import LocalCluster

pytestmark = pytest.mark.integration

WORKERS = {"w1": 1, "w2": 1}
RUNS = 3
NUMBERS_PER_RUN = 400  # 20 requests of 20: four seconds at the account's pace


def _accounts(url: str) -> dict[str, Account]:
    presto = sandbox_accounts(url)["smspresto"]
    slow = {"rate_per_s": 5.0, "max_recipients": 20, "timeout_s": 1.0}
    return {
        "presto_busy": presto.model_copy(update={"name": "presto_busy", **slow}),
        "presto_fates": presto.model_copy(update={"name": "presto_fates", **slow}),
    }


@pytest.fixture(scope="module")
def cluster(start_cluster: StartCluster, sandbox_proc: SandboxProcess) -> Iterator[LocalCluster]:
    with start_cluster(
        _accounts(sandbox_proc.url), folder="archive", workers=WORKERS,
        tick_interval_s=0.3, stale_after_s=2.0, visibility_timeout_s=120,
    ) as running:  # fmt: skip
        running.install_dispatcher()
        yield running


def _states(db_url: str, campaign_id: int) -> dict[str, tuple[str, str | None]]:
    """msisdn -> (state, gateway_message)."""
    with get_engine(db_url).connect() as conn:
        rows = conn.execute(
            select(Recipient.msisdn, Recipient.state, Recipient.gateway_message).where(
                Recipient.campaign_id == campaign_id
            )
        ).all()
    return {m: (str(s), g) for m, s, g in rows}


def _in_flight(db_url: str, campaign_id: int) -> bool:
    with get_engine(db_url).connect() as conn:
        found = conn.execute(
            select(Batch.id).where(Batch.campaign_id == campaign_id, Batch.state == "in_flight")
        ).first()
    return found is not None


def _wait(condition: object, timeout_s: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _kill_mid_request(cluster: LocalCluster, sandbox: SandboxClient, campaign_id: int) -> None:
    db_url = cluster.config.database_url
    start = sandbox.next_index()
    _wait(lambda: sandbox.next_index() - start >= 100, 20, "the campaign did not start")
    _wait(lambda: _in_flight(db_url, campaign_id), 5, "no batch in flight")
    for name in WORKERS:
        cluster.kill(name)  # SIGKILL to the worker and its pool, mid-request
    sandbox.set_faults(latency_ms=0)
    cluster.start(WORKERS)


def test_killed_workers_on_a_saturated_account_leave_every_accepted_number_sent(
    cluster: LocalCluster, sandbox: SandboxClient
) -> None:
    db_url, accounts = cluster.config.database_url, dict(cluster.config.accounts)
    runs = []
    for run in range(RUNS):
        numbers = [f"22507{run + 1:02d}{i:06d}" for i in range(NUMBERS_PER_RUN)]
        sandbox.set_faults(latency_ms=150)  # a request is in flight most of its 0.2 s
        campaign_id = submit_campaign(
            "presto_busy", numbers, text=f"Run {run}", database_url=db_url, accounts=accounts
        )
        _kill_mid_request(cluster, sandbox, campaign_id)
        _wait(
            lambda c=campaign_id: get_campaign(c, database_url=db_url).state == "completed",
            40, f"run {run}: campaign {campaign_id} did not complete",
        )  # fmt: skip
        found = _states(db_url, campaign_id)
        states = {m: s for m, (s, _g) in found.items()}
        record = [m.msisdn for m in sandbox.messages(account="smspresto") if m.msisdn in states]
        accepted = set(record)
        counts = Counter(states.values())
        from_archive = sum(1 for _s, g in found.values() if g and "archive" in g)
        runs.append(
            dict(counts, accepted=len(accepted), twice=len(record) - len(accepted),
                 from_archive=from_archive)
        )  # fmt: skip
        assert len(record) == len(accepted), f"run {run}: sent twice"
        assert {states[m] for m in accepted} == {"sent"}, (run, counts)
        # A request killed before its first byte left was never accepted: only such numbers
        # may stay unknown (none did in any run measured).
        assert {m for m, s in states.items() if s == "unknown"}.isdisjoint(accepted)
        assert counts["sent"] == len(accepted) and counts["pending"] == 0, (run, counts)
    # The figures of each run, for the report (pytest -s shows them).
    print("archive runs:", runs)
    assert sum(r["from_archive"] for r in runs) > 0  # a kill caught a request in flight


def test_sent_numbers_move_to_the_fate_the_gateway_reports(
    cluster: LocalCluster, sandbox: SandboxClient
) -> None:
    db_url, accounts = cluster.config.database_url, dict(cluster.config.accounts)
    numbers = [f"2250790{i:06d}" for i in range(40)]
    sandbox.set_fates("delivered", numbers={n: "undelivered" for n in numbers[:5]})
    campaign_id = submit_campaign(
        "presto_fates", numbers, text="Fates", database_url=db_url, accounts=accounts
    )

    def settled() -> bool:
        info = get_campaign(campaign_id, database_url=db_url)
        return info.recipients.get("delivered", 0) + info.recipients.get("undelivered", 0) == 40

    _wait(settled, 30, "fates did not arrive")
    info = get_campaign(campaign_id, database_url=db_url)
    assert info.recipients == {"delivered": 35, "undelivered": 5}
    assert info.state == "completed" and info.credits_spent == 40
    with get_engine(db_url).connect() as conn:
        words = conn.execute(
            select(Recipient.msisdn, Recipient.delivery_status).where(
                Recipient.campaign_id == campaign_id
            )
        ).all()
    assert {m: w for m, w in words if m in numbers[:5]} == dict.fromkeys(numbers[:5], "2")
    assert {w for m, w in words if m not in numbers[:5]} == {"1"}  # HIS_STATUT verbatim
    # Accepted once each: asking for fates never sends again.
    record = [m.msisdn for m in sandbox.messages(account="smspresto")]
    assert sorted(record) == numbers
