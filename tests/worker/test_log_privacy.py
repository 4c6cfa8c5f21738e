"""Real worker logs hold no number, no text and no credential (DESIGN.md invariant 11).

The three GET gateways put every number, the text and the credentials in the URL: AamarSMS,
AakashSMS v3 with ``method = GET`` and SMSPresto's GET form. Campaigns and a single message
go through each, with a retried 500, a request that times out after the gateway accepted it
and a number the gateway refuses, so the error paths log too. The default ``smsq worker``
runs at INFO, as users run it; a worker at DEBUG shows that nothing below WARNING carries
them either. Credentials appear at no level at all.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from campaigns import (
    get_campaign,
    get_message,
    iter_recipients,
    send_message,
    submit_campaign,
)
from providers import Account
from providers.sandbox import accounts as demo
from providers.sandbox.accounts import sandbox_accounts
from providers.sandbox.client import SandboxClient
from tests.fixtures.cluster import StartCluster
from worker.local import LocalCluster

pytestmark = pytest.mark.integration

TEXT = "Zebra parcel 4821 waits at the depot"
CREDENTIALS = (demo.AAKASH_TOKEN, demo.AAMAR_PASSWORD, demo.PRESTO_API_KEY, demo.PRESTO_API_PASS)
# Per account: numbers as submitted; the last eight digits of each are what the log must lack
# whatever form (national, E.164, with or without +) the gateway was sent.
NUMBERS = {
    "aakashsms_v3": ["9841357911", "9841357922", "9841357933"],
    "aamarsms": ["+8801713579144", "+8801713579155", "+8801713579166"],
    "smspresto": ["+2250713579177", "+2250713579188", "+2250713579199"],
}
REFUSED = {"aakashsms_v3": "9841357933", "aamarsms": "8801713579166"}
MESSAGE_NUMBER = "9841357900"
LEVEL = re.compile(r"^\[[^\]]*: (DEBUG|INFO)/", re.M)


def _accounts(url: str) -> dict[str, Account]:
    found = sandbox_accounts(url)
    get = {"method": "GET"}
    # A gateway's real rate, not the sandbox's 10,000/s: one worker process per account
    # (processes_for), and each costs seconds to boot.
    quick = {"timeout_s": 1.0, "max_recipients": 2, "rate_per_s": 20.0}
    return {
        "aakashsms_v3": found["aakashsms_v3"].model_copy(update={**quick, "options": get}),
        "aamarsms": found["aamarsms"].model_copy(update=quick),
        "smspresto": found["smspresto"].model_copy(update={**quick, "options": get}),
    }


def _send_everything(cluster: LocalCluster, sandbox: SandboxClient) -> None:
    sandbox.set_faults({
        "hold_s": 2.0,
        "accounts": {
            "aamarsms": {"next": {"http_500": 1}, "fail_numbers": [REFUSED["aamarsms"]]},
            "aakashsms_v3": {"fail_numbers": [REFUSED["aakashsms_v3"]]},
            "smspresto": {"next": {"timeout_after_accept": 1}},
        },
    })  # fmt: skip
    config = cluster.config
    cluster.install_dispatcher()
    ids = [
        submit_campaign(
            name, numbers, text=TEXT, database_url=config.database_url, accounts=config.accounts
        )
        for name, numbers in NUMBERS.items()
    ]
    message_id = send_message(
        MESSAGE_NUMBER, TEXT, account="aakashsms_v3", database_url=config.database_url,
        accounts=config.accounts,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while any(get_campaign(i, database_url=config.database_url).state != "completed" for i in ids):
        assert time.monotonic() < deadline, [get_campaign(i, database_url=config.database_url)
                                             for i in ids]  # fmt: skip
        time.sleep(0.1)
    while get_message(message_id, database_url=config.database_url).state == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # SMSPresto's archive may since have shown the unknown numbers sent (then said so).
    outcomes = {
        get_campaign(i, database_url=config.database_url).recipients.get("unknown", 0)
        + sum(
            1
            for r in iter_recipients(i, database_url=config.database_url)
            if (r.gateway_message or "").startswith("found in the gateway's archive")
        )
        for i in ids
    }
    assert outcomes != {0}  # the timeout after accepting happened: the error paths logged


def _private(log: str) -> list[str]:
    """What of the private data the log holds: numbers' tails, the text, credentials."""
    tails = [n[-8:] for numbers in NUMBERS.values() for n in numbers] + [MESSAGE_NUMBER[-8:]]
    return [s for s in (*tails, TEXT, "Zebra", *CREDENTIALS) if s in log]


def _below_warning(log: str) -> str:
    """The DEBUG and INFO records of a Celery log (a record runs until the next one)."""
    records = re.split(r"(?=^\[\d{4}-\d\d-\d\d )", log, flags=re.M)
    return "".join(r for r in records if LEVEL.match(r))


@pytest.fixture()
def fresh_sandbox(sandbox: SandboxClient) -> Iterator[SandboxClient]:
    yield sandbox
    sandbox.reset()  # the faults set here are not the next test's


def test_the_default_worker_at_info_logs_no_number_text_or_credential(
    start_cluster: StartCluster, fresh_sandbox: SandboxClient
) -> None:
    with start_cluster(
        _accounts(fresh_sandbox.url), folder="privacy-info", workers={}, beat=True,
        tick_interval_s=0.3, stale_after_s=10.0,
    ) as cluster:  # fmt: skip
        cluster.start_supervised()
        _send_everything(cluster, fresh_sandbox)
        log = cluster.log("smsq")
    assert "HTTP Request:" not in log  # httpx's request line, full URL and all, stays quiet
    assert " INFO/" in log and "succeeded" in log  # the log is the real one, at INFO
    assert _private(_below_warning(log)) == []
    assert [c for c in CREDENTIALS if c in log] == []


def test_a_worker_at_debug_logs_no_number_text_or_credential(
    start_cluster: StartCluster, fresh_sandbox: SandboxClient
) -> None:
    with start_cluster(
        _accounts(fresh_sandbox.url), folder="privacy-debug", workers={}, beat=True,
        tick_interval_s=0.3, stale_after_s=10.0,
    ) as cluster:  # fmt: skip
        cluster.start_worker("debug", concurrency=4, loglevel="DEBUG")
        _send_everything(cluster, fresh_sandbox)
        log = cluster.log("debug")
    assert " DEBUG/" in log
    assert _private(_below_warning(log)) == []
    assert [c for c in CREDENTIALS if c in log] == []
