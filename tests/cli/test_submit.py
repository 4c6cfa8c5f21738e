"""``smsq submit``: every way of giving recipients, text and timing, as the README shows them.

Each campaign is read back through the database and the Python API, so a flag the CLI
dropped on the way (a sender, a window, a send time) fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from campaigns import api
from tests.cli.helpers import (
    CliEnv,
    Dispatches,
    Result,
    campaign_count,
    campaign_row,
    texts_by_number,
    write_csv,
)

Smsq = Callable[..., Result]


def test_numbers_as_arguments_and_comma_lists(
    cli_env: CliEnv, smsq: Smsq, dispatched: Dispatches
) -> None:
    result = smsq(
        "submit", "--account", "aakashsms_v1", "9841000001,9841000002", "9841000003",
        "9841000004, 9841000005", "--text", "Hello from smsq", "--name", "plain",
    )  # fmt: skip
    assert result.code == 0, result
    campaign_id = result.campaign_id()
    assert f"campaign {campaign_id} scheduled: 5 rows, 1 batches, 5 credits planned" in result.out
    info = api.get_campaign(campaign_id)
    assert (info.name, info.account, info.recipients_total) == ("plain", "aakashsms_v1", 5)
    assert set(texts_by_number(cli_env.database_url, campaign_id)) == {
        f"984100000{i}" for i in range(1, 6)
    }
    assert dispatched == [campaign_id]  # handed to the worker at once


def test_csv_with_placeholders_gives_each_number_its_text(cli_env: CliEnv, smsq: Smsq) -> None:
    path = write_csv(
        cli_env.tmp_path / "people.csv",
        [{"msisdn": "+2250701000001", "name": "Awa"}, {"msisdn": "+2250701000002", "name": "Yao"}],
    )
    result = smsq(
        "submit", "--account", "smspresto", "--csv", str(path), "--text", "Bonjour {name}"
    )
    assert result.code == 0, result
    texts = texts_by_number(cli_env.database_url, result.campaign_id())
    assert texts == {"2250701000001": "Bonjour Awa", "2250701000002": "Bonjour Yao"}


def test_template_id_for_smsplus_az(cli_env: CliEnv, smsq: Smsq) -> None:
    path = write_csv(
        cli_env.tmp_path / "az.csv",
        [{"phone": "0501000001", "name": "Aysel"}, {"phone": "0511000002", "name": "Elvin"}],
    )
    result = smsq("submit", "--account", "smsplus_az", "--csv", str(path), "--template-id", "2")
    assert result.code == 0, result
    campaign_id = result.campaign_id()
    assert campaign_row(cli_env.database_url, campaign_id)["template_id"] == 2
    texts = texts_by_number(cli_env.database_url, campaign_id)
    assert set(texts) == {"994501000001", "994511000002"}
    assert texts["994501000001"] == "Salam Aysel! Sifarişiniz hazırdır, ünvanınıza çatdırılacaq."


def test_sender_overrides_the_accounts(cli_env: CliEnv, smsq: Smsq) -> None:
    result = smsq("submit", "--account", "aakashsms_v3", "9841000001", "--text", "Hi",
                  "--sender", "31002")  # fmt: skip
    assert result.code == 0, result
    assert campaign_row(cli_env.database_url, result.campaign_id())["sender"] == "31002"
    default = smsq("submit", "--account", "aakashsms_v3", "9841000001", "--text", "Hi")
    assert campaign_row(cli_env.database_url, default.campaign_id())["sender"] == "31001"


def test_at_with_an_offset_schedules_the_campaign(cli_env: CliEnv, smsq: Smsq) -> None:
    result = smsq("submit", "--account", "aakashsms_v1", "9841000001", "--text", "Later",
                  "--at", "2030-01-01T09:30+05:45", "--json")  # fmt: skip
    assert result.code == 0, result
    info = result.json()
    assert info["state"] == "scheduled"
    assert datetime.fromisoformat(info["send_at"]) == datetime(2030, 1, 1, 3, 45, tzinfo=UTC)
    zulu = smsq("submit", "--account", "aakashsms_v1", "9841000002", "--text", "Later",
                "--at", "2030-01-01T03:45:00Z", "--json")  # fmt: skip
    assert datetime.fromisoformat(zulu.json()["send_at"]) == datetime(2030, 1, 1, 3, 45, tzinfo=UTC)


def test_a_send_window_in_a_time_zone(cli_env: CliEnv, smsq: Smsq) -> None:
    result = smsq("submit", "--account", "aakashsms_v1", "9841000001", "--text", "Hi",
                  "--window", "09:00-17:00", "--tz", "Asia/Kathmandu")  # fmt: skip
    assert result.code == 0, result
    info = api.get_campaign(result.campaign_id())
    assert info.window == ("09:00", "17:00") and info.window_tz == "Asia/Kathmandu"


def test_the_same_idempotency_key_returns_the_same_campaign(
    cli_env: CliEnv, smsq: Smsq, dispatched: Dispatches
) -> None:
    args = ("submit", "--account", "aakashsms_v1", "9841000001", "9841000002", "--text", "Once",
            "--idempotency-key", "order-42")  # fmt: skip
    first, second = smsq(*args), smsq(*args)
    assert first.code == second.code == 0, (first, second)
    assert first.campaign_id() == second.campaign_id()
    assert campaign_count(cli_env.database_url) == 1
    other = smsq(*args[:-1], "order-43")
    assert other.campaign_id() != first.campaign_id()
    assert campaign_count(cli_env.database_url) == 2


def test_dry_run_writes_nothing_and_prints_the_estimate(
    cli_env: CliEnv, smsq: Smsq, dispatched: Dispatches
) -> None:
    numbers = ("9841000001", "9841000002", "9841000001", "12345")  # a repeat, an invalid one
    args = ("submit", "--account", "aakashsms_v1", *numbers, "--text", "Hi", "--dry-run")
    table = smsq(*args)
    assert table.code == 0, table
    assert "estimate (nothing written)" in table.out
    rows = {line.split()[1]: line.split()[-2] for line in table.out.splitlines()
            if line.count("│") == 3}  # fmt: skip
    assert (rows["rows"], rows["valid"], rows["invalid"], rows["duplicate"]) == ("4", "2", "1", "1")
    estimate = smsq(*args, "--json").json()
    assert (estimate["rows"], estimate["valid"], estimate["invalid"], estimate["duplicate"]) == (
        4, 2, 1, 1,
    )  # fmt: skip
    assert estimate["credits"] == 2 and estimate["balance"] is None
    assert campaign_count(cli_env.database_url) == 0
    assert dispatched == []


def test_dry_run_shows_the_balance_error_without_failing(cli_env: CliEnv, smsq: Smsq) -> None:
    # The account's gateway refuses the connection: the estimate says so, and still succeeds.
    result = smsq("submit", "--account", "smspresto", "2250701000001", "--text", "Hi",
                  "--dry-run", "--json")  # fmt: skip
    assert result.code == 0, result
    estimate = result.json()
    assert estimate["balance"] is None and "balance query failed" in estimate["balance_error"]


def test_submit_json_is_the_campaign(cli_env: CliEnv, smsq: Smsq) -> None:
    result = smsq("submit", "--account", "aamarsms", "01711000001", "01811000002", "--text",
                  "প্রিয় গ্রাহক", "--name", "bangla", "--json")  # fmt: skip
    assert result.code == 0, result
    info = result.json()
    assert info["name"] == "bangla" and info["state"] == "scheduled"
    assert info["recipients_total"] == 2 and info["recipients"] == {"pending": 2}
    assert info["encoding"] == "UCS-2"
    assert api.get_campaign(info["id"]).recipients_total == 2


def test_suppress_and_unsuppress_change_what_would_be_sent(cli_env: CliEnv, smsq: Smsq) -> None:
    def suppressed() -> int:
        args = ("submit", "--account", "aakashsms_v1", "9841000001", "9841000002",
                "--text", "Hi", "--dry-run", "--json")  # fmt: skip
        count: int = smsq(*args).json()["suppressed"]
        return count

    assert suppressed() == 0
    added = smsq("suppress", "+977 984-1000001", "--reason", "complaint")
    assert (added.code, added.out.strip()) == (0, "1 numbers suppressed")
    assert suppressed() == 1
    removed = smsq("unsuppress", "+9779841000001")
    assert (removed.code, removed.out.strip()) == (0, "1 numbers unsuppressed")
    assert suppressed() == 0
