"""``smsq submit --route``: a campaign across accounts, its estimate, and status per account."""

from __future__ import annotations

from collections.abc import Callable

from tests.cli.helpers import (
    NOWHERE,
    CliEnv,
    Dispatches,
    Result,
    assert_one_line_error,
    funded_accounts,
)

Smsq = Callable[..., Result]
ROUTES = """
[routes.everywhere]
default_region = "NP"
"977" = ["aakashsms_v3", "aakashsms_v1"]
"880" = [{account = "aamarsms", weight = 1}]
"994" = ["smsplus_az"]
"""
NUMBERS = ("9841000001", "9841000002", "+8801711000003", "+994501000004", "+971501234567")


def _routed(env: CliEnv) -> None:
    env.write_accounts(funded_accounts(NOWHERE), ROUTES)


def test_a_routed_dry_run_shows_every_accounts_share_and_the_numbers_without_a_route(
    cli_env: CliEnv, smsq: Smsq
) -> None:
    _routed(cli_env)
    args = ("submit", "--route", "everywhere", *NUMBERS, "--text", "Hi", "--template-id", "1")
    estimate = smsq(*args, "--dry-run", "--json").json()
    assert (estimate["valid"], estimate["rejected"], estimate["no_route"]) == (4, 1, 1)
    shares = {s["account"]: s for s in estimate["accounts"]}
    assert list(shares) == ["aakashsms_v3", "aakashsms_v1", "aamarsms", "smsplus_az"]
    assert shares["aakashsms_v3"]["numbers"] == 2 and shares["aakashsms_v1"]["numbers"] == 0
    assert shares["aamarsms"]["credit_unit"] == "BDT" and shares["aamarsms"]["credits"] is None
    assert shares["aakashsms_v3"]["balance_error"] == "aakashsms_v3 reports no balance"
    assert "refused" in shares["aamarsms"]["balance_error"]  # asked: NOWHERE refuses at once
    table = smsq(*args, "--dry-run")
    assert table.code == 0, table
    assert "account aakashsms_v3" in table.out and "no_route" in table.out
    assert "no route for +971…" in table.out  # the example of the rejected row


def test_a_routed_campaign_is_submitted_and_status_shows_a_row_per_account(
    cli_env: CliEnv, smsq: Smsq, dispatched: Dispatches
) -> None:
    _routed(cli_env)
    submitted = smsq("submit", "--route", "everywhere", *NUMBERS, "--text", "Hi",
                     "--template-id", "1", "--name", "blast")  # fmt: skip
    assert submitted.code == 0, submitted
    campaign_id = submitted.campaign_id()
    assert dispatched == [campaign_id]
    info = smsq("status", str(campaign_id), "--json").json()
    assert info["route"] == "everywhere" and info["account"] is None
    assert info["recipients"] == {"pending": 4, "rejected": 1}
    by_account = {a["account"]: a["recipients"] for a in info["accounts"]}
    assert by_account == {
        "aakashsms_v3": {"pending": 2}, "aakashsms_v1": {}, "aamarsms": {"pending": 1},
        "smsplus_az": {"pending": 1},
    }  # fmt: skip
    table = smsq("status", str(campaign_id))
    lines = [line for line in table.out.splitlines() if line.strip()]
    rows = {line.split()[0]: line for line in lines if line.split()[0] in by_account}
    assert set(rows) == set(by_account), table.out  # a row per account under the campaign's
    assert "mixed" in next(line for line in lines if line.lstrip().startswith(str(campaign_id)))


def test_account_and_route_together_or_neither_is_one_line(cli_env: CliEnv, smsq: Smsq) -> None:
    _routed(cli_env)
    both = smsq("submit", "--account", "aakashsms_v3", "--route", "everywhere", "1", "--text", "x")
    assert_one_line_error(both, "not both", code=2)
    unknown = smsq("submit", "--route", "nowhere", "9841000001", "--text", "x")
    assert_one_line_error(unknown, "route 'nowhere' is not configured (known: everywhere)")
