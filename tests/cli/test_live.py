"""The CLI against a running deployment: real Celery worker and beat processes, the private Redis,
a SQLite file and the session's sandbox standing in for the gateways.

Campaigns go in with ``smsq submit`` and are followed with ``smsq watch`` until they end; the
sandbox's record of accepted messages must agree with what ``smsq status`` says was sent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from campaigns.db import dispose_engines
from providers.sandbox.client import SandboxClient, SandboxProcess
from tests.cli.helpers import (
    CliEnv,
    Result,
    assert_one_line_error,
    funded_accounts,
)
from tests.fixtures.cluster import StartCluster
from worker import keys
from worker.local import LocalCluster

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
Smsq = Callable[..., Result]


@pytest.fixture(scope="module")
def cluster(start_cluster: StartCluster, sandbox_proc: SandboxProcess) -> Iterator[LocalCluster]:
    """One worker process and beat for the module, on its own database."""
    accounts = {
        name: account.model_copy(update={"timeout_s": 2.0})
        for name, account in funded_accounts(sandbox_proc.url).items()
    }
    with start_cluster(
        accounts, folder="cli-cluster", workers={"w1": 2}, tick_interval_s=0.3,
        stale_after_s=15.0,
    ) as running:  # fmt: skip
        yield running


@pytest.fixture
def live(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cluster: LocalCluster, sandbox: SandboxClient
) -> Iterator[CliEnv]:
    """The CLI configured like the cluster, and handing submits to it at once."""
    config = cluster.config
    env = CliEnv(
        monkeypatch, tmp_path,
        SMSQ_DATABASE_URL=config.database_url, SMSQ_BROKER_URL=config.broker_url,
    )  # fmt: skip
    env.write_accounts(config.accounts)
    cluster.install_dispatcher()
    yield env
    dispose_engines()


def _status(smsq: Smsq, campaign_id: int) -> dict[str, Any]:
    result = smsq("status", str(campaign_id), "--json")
    assert result.code == 0, result
    info: dict[str, Any] = result.json()
    return info


def _numbers(shape: str, start: int, count: int) -> list[str]:
    return [shape.format(start + i) for i in range(count)]


def test_watch_follows_campaigns_until_they_complete(
    live: CliEnv, smsq: Smsq, sandbox: SandboxClient
) -> None:
    nepal = _numbers("98410{:05d}", 0, 40)
    presto = _numbers("+225 07{:08d}", 0, 30)
    first = smsq("submit", "--account", "aakashsms_v1", ",".join(nepal), "--text", "Namaste")
    second = smsq("submit", "--account", "smspresto", *presto, "--text", "Bonjour")
    ids = [first.campaign_id(), second.campaign_id()]

    watched = smsq("watch", *map(str, ids))
    assert watched.code == 0, watched
    assert watched.out.count("completed") >= 2, watched.out  # the bars' and the table's

    for campaign_id, account, count in ((ids[0], "aakashsms_v1", 40), (ids[1], "smspresto", 30)):
        info = _status(smsq, campaign_id)
        assert info["state"] == "completed" and info["recipients"] == {"sent": count}, info
        accepted = {m.msisdn for m in sandbox.messages(account=account)}
        assert len(accepted) == count == len(sandbox.messages(account=account))

    # A completed campaign cannot be paused, and says why in one line.
    paused = smsq("pause", str(ids[0]))
    assert_one_line_error(paused, f"campaign {ids[0]} is completed", "cannot pause")


def test_retry_failed_sends_the_failed_numbers_again(
    live: CliEnv, smsq: Smsq, sandbox: SandboxClient
) -> None:
    numbers = _numbers("98420{:05d}", 0, 12)
    refused = numbers[3]
    sandbox.set_faults(fail_numbers=[refused])
    campaign_id = smsq(
        "submit", "--account", "aakashsms_v1", *numbers, "--text", "Hi"
    ).campaign_id()
    assert smsq("watch", str(campaign_id)).code == 0
    info = _status(smsq, campaign_id)
    assert info["state"] == "completed" and info["recipients"] == {"sent": 11, "failed": 1}, info

    sandbox.set_faults()  # the gateway takes the number now
    retried = smsq("retry-failed", str(campaign_id))
    assert retried.code == 0, retried
    assert retried.out.strip() == f"campaign {campaign_id}: 1 failed numbers planned again"
    assert smsq("watch", str(campaign_id)).code == 0
    info = _status(smsq, campaign_id)
    assert info["state"] == "completed" and info["recipients"] == {"sent": 12}, info
    sent = [m.msisdn for m in sandbox.messages(account="aakashsms_v1")]
    assert sorted(sent) == sorted(numbers)  # the refused one once more, no other twice


def test_watch_shows_a_bar_per_account_under_a_routed_campaign(
    live: CliEnv, smsq: Smsq, sandbox: SandboxClient, cluster: LocalCluster
) -> None:
    routes = '\n[routes.two]\ndefault_region = "NP"\n"977" = ["aakashsms_v3"]\n'
    routes += '"225" = ["smspresto"]\n'
    live.write_accounts(cluster.config.accounts, routes)
    numbers = _numbers("98430{:05d}", 0, 30) + _numbers("+225 07{:08d}", 500, 20)
    submitted = smsq("submit", "--route", "two", *numbers, "--text", "Hello")
    assert submitted.code == 0, submitted
    campaign_id = submitted.campaign_id()
    watched = smsq("watch", str(campaign_id))
    assert watched.code == 0, watched
    bars = [line for line in watched.out.splitlines() if "sent" in line and "%" in line]
    assert any("aakashsms_v3" in bar and "30 sent" in bar for bar in bars), watched.out
    assert any("smspresto" in bar and "20 sent" in bar for bar in bars), watched.out
    info = _status(smsq, campaign_id)
    assert info["state"] == "completed" and info["recipients"] == {"sent": 50}, info
    assert len(sandbox.messages(account="aakashsms_v3")) == 30


def test_send_delivers_one_message_ahead_and_waits_for_the_gateways_answer(
    live: CliEnv, smsq: Smsq, sandbox: SandboxClient
) -> None:
    sent = smsq("send", "+977 9840099001", "--text", "Your code is 4821", "--account",
                "aakashsms_v3", "--wait")  # fmt: skip
    assert sent.code == 0, sent
    assert re.fullmatch(r"message \d+ sent via aakashsms_v3\n", sent.out), sent.out
    [message] = [m for m in sandbox.messages(account="aakashsms_v3") if m.msisdn == "9840099001"]
    assert message.text == "Your code is 4821"
    listed = smsq("status", "--json").json()
    assert all(c["name"] != message.msisdn for c in listed)  # messages are not campaigns
    refused = smsq("send", "12345", "--text", "x", "--account", "aakashsms_v3")
    assert_one_line_error(refused, "no sendable number", "invalid")


def test_a_campaign_no_worker_consumes_says_so_in_status_and_watch(
    live: CliEnv, smsq: Smsq, cluster: LocalCluster
) -> None:
    """An account added to the config after the workers started: nobody reads its queue, and
    the campaign says so instead of waiting in silence as "running"."""
    late = cluster.config.accounts["aakashsms_v3"].model_copy(update={"name": "late_account"})
    live.write_accounts({**cluster.config.accounts, "late_account": late})
    campaign_id = smsq(
        "submit", "--account", "late_account", "9841000001", "--text", "Hi"
    ).campaign_id()
    deadline = time.monotonic() + 20
    while "no worker consumes" not in str((info := _status(smsq, campaign_id))["reason"]):
        assert time.monotonic() < deadline, info
        time.sleep(0.3)
    assert info["state"] == "running"
    assert info["reason"].startswith("no worker consumes account 'late_account'")
    for shown in (smsq("status", str(campaign_id)), smsq("watch", str(campaign_id), "--timeout",
                                                          "1")):  # fmt: skip
        words = " ".join(shown.out.split())  # the table's caption wraps at the terminal's width
        assert "no worker consumes account 'late_account'" in words, shown.out
    assert smsq("cancel", str(campaign_id)).code == 0  # its message stays unread: no matter
    client = redis.Redis.from_url(cluster.config.broker_url)  # the limiter's Redis too, here
    try:  # the workers announce what they do read
        assert client.exists(keys.consumed(keys.send_queue("aakashsms_v3")))
        assert not client.exists(keys.consumed(keys.send_queue("late_account")))
    finally:
        client.close()
