"""``smsq status`` (table, one id, JSON), steering a campaign (pause, resume, cancel,
retry-failed) and ``smsq accounts`` (with balances from the sandbox).

Every change is checked the way a user would see it: through ``smsq status --json``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from campaigns.db import get_engine
from campaigns.models import Batch as BatchRow
from campaigns.models import Recipient
from providers import Batch
from providers.registry import get_adapter
from providers.sandbox.client import SandboxClient
from tests.cli.helpers import (
    NOWHERE,
    CliEnv,
    Dispatches,
    Result,
    assert_one_line_error,
    funded_accounts,
)

Smsq = Callable[..., Result]


def _submit(smsq: Smsq, name: str, *numbers: str) -> int:
    result = smsq("submit", "--account", "aakashsms_v1", *numbers, "--text", "Hi", "--name", name)
    assert result.code == 0, result
    return result.campaign_id()


def _status(smsq: Smsq, campaign_id: int) -> dict[str, Any]:
    result = smsq("status", str(campaign_id), "--json")
    assert result.code == 0, result
    info: dict[str, Any] = result.json()
    return info


def test_status_table_lists_recent_campaigns(cli_env: CliEnv, smsq: Smsq) -> None:
    empty = smsq("status")
    assert empty.code == 0 and "campaigns" in empty.out
    first = _submit(smsq, "tihar", "9841000001", "9841000002", "12345")
    second = _submit(smsq, "dashain", "9841000003")
    table = smsq("status")
    assert table.code == 0, table
    rows = {line.split()[0]: line.split() for line in table.out.splitlines()
            if line.strip() and line.split()[0].isdigit()}  # fmt: skip
    assert rows[str(first)][1:3] == ["tihar", "scheduled"]
    assert rows[str(second)][1:3] == ["dashain", "scheduled"]
    assert "pending" in table.out and "inval" in table.out  # a column per state present
    only_last = smsq("status", "--limit", "1", "--json").json()
    assert [c["id"] for c in only_last] == [second]


def test_status_json_of_one_and_of_all(cli_env: CliEnv, smsq: Smsq) -> None:
    first = _submit(smsq, "a", "9841000001", "9841000002")
    second = _submit(smsq, "b", "9841000003")
    one = _status(smsq, first)
    assert one["id"] == first and one["recipients"] == {"pending": 2}
    assert one["state"] == "scheduled" and one["batches_total"] == 1
    every = smsq("status", "--json").json()
    assert [c["id"] for c in every] == [first, second]
    assert smsq("status", str(second)).out.count("\n") > 2  # the table of one


def test_status_says_how_many_unknown_numbers_are_still_being_checked(
    cli_env: CliEnv, smsq: Smsq
) -> None:
    first = _submit(smsq, "lost", "9841000001", "9841000002", "9841000003")
    later = datetime.now(UTC) + timedelta(hours=1)
    with get_engine(cli_env.database_url).begin() as conn:  # as the tick leaves a dead worker's
        conn.execute(update(BatchRow).values(state="unknown", archive_check_until=later))
        conn.execute(update(Recipient).values(state="unknown"))
    info = _status(smsq, first)
    assert info["recipients"] == {"unknown": 3} and info["unknown_checking"] == 3
    table = smsq("status", str(first))
    header = next(line.split() for line in table.out.splitlines() if "checking" in line)
    row = next(line.split() for line in table.out.splitlines() if line.split()[:1] == [str(first)])
    assert row[header.index("checking")] == "3" and row[header.index("unkn")] == "3"
    with get_engine(cli_env.database_url).begin() as conn:  # the check ran out
        conn.execute(update(BatchRow).values(archive_check_until=datetime.now(UTC)))
    assert _status(smsq, first)["unknown_checking"] == 0
    assert "checking" not in smsq("status", str(first)).out


def test_pause_resume_cancel_are_seen_by_status(
    cli_env: CliEnv, smsq: Smsq, dispatched: Dispatches
) -> None:
    campaign_id = _submit(smsq, "steer", "9841000001", "9841000002", "9841000003")
    assert dispatched == [campaign_id]

    paused = smsq("pause", str(campaign_id))
    assert (paused.code, paused.out.strip()) == (0, f"campaign {campaign_id} paused")
    info = _status(smsq, campaign_id)
    assert (info["state"], info["pause_kind"], info["reason"]) == (
        "paused",
        "user",
        "paused by user",
    )

    resumed = smsq("resume", str(campaign_id))
    assert (resumed.code, resumed.out.strip()) == (0, f"campaign {campaign_id} running")
    assert _status(smsq, campaign_id)["state"] == "running"
    assert dispatched == [campaign_id, campaign_id]  # the worker hears of it again

    cancelled = smsq("cancel", str(campaign_id))
    assert cancelled.code == 0, cancelled
    assert cancelled.out.strip() == f"campaign {campaign_id} cancelled (3 numbers not sent)"
    info = _status(smsq, campaign_id)
    assert info["state"] == "cancelled" and info["recipients"] == {"cancelled": 3}


def test_resume_of_a_campaign_still_ahead_goes_back_to_scheduled(
    cli_env: CliEnv, smsq: Smsq
) -> None:
    result = smsq("submit", "--account", "aakashsms_v1", "9841000001", "--text", "Hi",
                  "--at", "2030-01-01T09:30+05:45")  # fmt: skip
    campaign_id = result.campaign_id()
    assert smsq("pause", str(campaign_id)).code == 0
    resumed = smsq("resume", str(campaign_id))
    assert resumed.out.strip() == f"campaign {campaign_id} scheduled"
    assert _status(smsq, campaign_id)["state"] == "scheduled"


def test_retry_failed_with_nothing_failed_changes_nothing(
    cli_env: CliEnv, smsq: Smsq, dispatched: Dispatches
) -> None:
    campaign_id = _submit(smsq, "r", "9841000001")
    early = smsq("retry-failed", str(campaign_id))  # nothing was tried yet
    assert_one_line_error(early, f"campaign {campaign_id} is scheduled", "cannot retry")
    assert smsq("pause", str(campaign_id)).code == 0
    result = smsq("retry-failed", str(campaign_id))
    assert result.code == 0, result
    assert result.out.strip() == f"campaign {campaign_id}: 0 failed numbers planned again"
    assert _status(smsq, campaign_id)["state"] == "paused"
    assert dispatched == [campaign_id]  # only the submit's hand-off


def test_accounts_lists_every_configured_account(cli_env: CliEnv, smsq: Smsq) -> None:
    accounts = funded_accounts(NOWHERE)
    accounts["presto_small"] = accounts["smspresto"].model_copy(update={"max_recipients": 20})
    cli_env.write_accounts(accounts)
    result = smsq("accounts")
    assert result.code == 0, result
    rows = {row[0]: row for row in map(str.split, result.out.splitlines()) if row}
    for name in accounts:
        assert rows[name][1] == accounts[name].provider  # names whole, never cut to fit
    assert rows["smspresto"][-1] == "500"  # the adapter's numbers per request
    assert rows["presto_small"][-1] == "20"  # the account's own limit wins


def test_accounts_balance_asks_each_gateway(
    cli_env: CliEnv, smsq: Smsq, sandbox: SandboxClient
) -> None:
    accounts = funded_accounts(sandbox.url)
    cli_env.write_accounts(accounts)
    # One message each first, so the balances are not round: 99,999,999.75 BDT and
    # 99,999,999 credits must show in full (not as 1e+08).
    for name, number in (("aamarsms", "8801711000001"), ("smspresto", "2250701000001")):
        account = accounts[name]
        request = get_adapter(account.provider).build_request(
            account, Batch(msisdns=(number,), text="Hi", sender=account.sender)
        )
        with httpx.Client(timeout=5) as client:
            assert client.send(request).status_code == 200
    balances = sandbox.balances()
    assert balances["aamarsms"] % 1 == 0.75 and balances["smspresto"] % 1 == 0

    result = smsq("accounts", "--balance")
    assert result.code == 0, result
    rows = {row[0]: row for row in map(str.split, result.out.splitlines()) if row}
    assert rows["aamarsms"][-1] == f"{balances['aamarsms']:,.2f}"
    assert rows["smspresto"][-1] == f"{balances['smspresto']:,.0f}"
    for name in ("aakashsms_v1", "aakashsms_v3", "smsplus_az"):  # no balance query there
        assert rows[name][-1] == "n/a"
    assert "smsplus_az: smsplus_az reports no balance" in result.out
    estimate = smsq("submit", "--account", "aamarsms", "01711000002", "--text", "Hi", "--dry-run",
                    "--json").json()  # fmt: skip
    assert estimate["balance"] == balances["aamarsms"] and estimate["balance_error"] is None
