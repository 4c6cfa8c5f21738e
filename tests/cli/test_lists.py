"""The CLI with lists as spreadsheets export them: the dry run that shows every problem at once,
``--rejects``, ``--phone-column``, ``--strict``; the opt-out list (``--region``, ``--account``,
``--csv``, ``smsq suppressions``); ``smsq recipients``; what ``status`` says of time and
credits."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from campaigns import api
from campaigns.db import get_engine
from campaigns.tables import CAMPAIGNS
from tests.cli.helpers import CliEnv, Result, assert_one_line_error, campaign_count

Smsq = Callable[..., Result]
EXPORT = (
    "Name;Mobile No;City\n"
    "Sita;9762768809.0;Kathmandu\n"
    "Ram;9.82807E+9;Pokhara\n"
    ";9851000003;Lalitpur\n"
    "Hari;9851000004;Dharan\n"
)


def _export(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="utf-8")
    return path


def test_a_dry_run_names_every_problem_and_shows_the_messages(
    cli_env: CliEnv, smsq: Smsq, tmp_path: Path
) -> None:
    rejects = tmp_path / "rejects.csv"
    args = ("submit", "--account", "aakashsms_v1", "--csv", str(_export(tmp_path)), "--text",
            "Namaste {name}", "--dry-run", "--rejects", str(rejects))  # fmt: skip
    shown = smsq(*args)
    assert shown.code == 0, shown
    words = " ".join(shown.out.split())
    expected = [
        "rows not sent, by reason", "shortened by a spreadsheet", "row 2 (9.82807E+9)",
        'column "name" is empty', "row 3 (9851000003)", "messages as they would go out",
        "Namaste Sita", "Namaste Hari", "number_column │ Mobile No",
        f"rows not sent, with their reasons: {rejects}",
    ]  # fmt: skip
    for said in expected:
        assert said in words, (said, shown.out)
    with rejects.open(encoding="utf-8", newline="") as f:
        written = list(csv.reader(f))
    assert written == [
        ["row", "number", "state", "reason"],
        ["2", "9.82807E+9", "invalid", "shortened by a spreadsheet: 9.82807E+9 kept only 6 digits "
         "of 10 (format the column as text and export it again)"],
        ["3", "9851000003", "rejected", 'column "name" is empty (placeholder {name} in text)'],
    ]  # fmt: skip
    estimate = smsq(*args, "--json").json()
    assert (estimate["valid"], estimate["invalid"], estimate["rejected"]) == (2, 1, 1)
    assert [s["text"] for s in estimate["samples"]] == ["Namaste Sita", "Namaste Hari"]
    assert campaign_count(cli_env.database_url) == 0


def test_submit_sends_the_rest_and_strict_refuses_it_all(
    cli_env: CliEnv, smsq: Smsq, tmp_path: Path
) -> None:
    path = _export(tmp_path)
    base = ("submit", "--account", "aakashsms_v1", "--csv", str(path), "--text", "Hi {name}")
    refused = smsq(*base, "--strict")
    assert_one_line_error(refused, "row 3", 'column "name" is empty')
    assert campaign_count(cli_env.database_url) == 0
    campaign_id = smsq(*base).campaign_id()
    rows = smsq("recipients", str(campaign_id))
    assert rows.code == 0, rows
    read = csv.DictReader(io.StringIO(rows.out))
    listed = sorted((int(r["row"]), r["msisdn"], r["state"], r["reason"]) for r in read)
    assert listed == [
        (1, "9762768809", "pending", ""),
        (2, "9.82807E+9", "invalid", "shortened by a spreadsheet: 9.82807E+9 kept only 6 "
         "digits of 10 (format the column as text and export it again)"),
        (3, "9851000003", "rejected", 'column "name" is empty (placeholder {name} in text)'),
        (4, "9851000004", "pending", ""),
    ]  # fmt: skip
    only = smsq("recipients", str(campaign_id), "--state", "rejected", "--json")
    assert [line.count('"row_no": 3') for line in only.out.splitlines()] == [1]


def test_the_phone_column_is_named_when_the_header_is_not_a_known_one(
    cli_env: CliEnv, smsq: Smsq, tmp_path: Path
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("Customer\tWhatsApp 2\n Sita\t9841000001\n", encoding="utf-8")
    args = ("submit", "--account", "aakashsms_v1", "--csv", str(path), "--text", "Hi {customer}")
    assert_one_line_error(smsq(*args), "no number column", "WhatsApp 2", "--phone-column")
    estimate = smsq(*args, "--phone-column", "whatsapp 2", "--dry-run", "--json").json()
    assert estimate["number_column"] == "WhatsApp 2" and estimate["valid"] == 1
    assert estimate["samples"][0]["text"] == "Hi Sita"


def test_suppress_reads_national_numbers_in_a_region_or_an_account_and_lists_them(
    cli_env: CliEnv, smsq: Smsq, tmp_path: Path
) -> None:
    assert smsq("suppress", "9740075654", "--region", "NP", "--reason", "STOP").code == 0
    assert smsq("suppress", "01711000001", "--account", "aamarsms").code == 0
    stop = tmp_path / "stop.csv"
    stop.write_text("Phone Number;Name\n9851000001;Ram\n9.851000002E+9;Sita\n")
    added = smsq("suppress", "--csv", str(stop), "--account", "aakashsms_v1")
    assert (added.code, added.out.strip()) == (0, "2 numbers suppressed")
    listed = smsq("suppressions", "--json").json()
    assert [(s["msisdn"], s["reason"]) for s in listed] == [
        ("8801711000001", "opt-out"), ("9779740075654", "STOP"), ("9779851000001", "opt-out"),
        ("9779851000002", "opt-out"),
    ]  # fmt: skip
    table = smsq("suppressions")
    assert table.code == 0 and table.out.splitlines()[1].startswith("+9779740075654  20")
    assert table.out.splitlines()[1].endswith("STOP")
    assert table.err.strip() == "4 numbers on the opt-out list"
    removed = smsq("unsuppress", "--csv", str(stop), "--region", "np")
    assert removed.out.strip() == "2 numbers unsuppressed"


def test_status_shows_when_a_waiting_campaign_starts_and_its_window_opens(
    cli_env: CliEnv, smsq: Smsq
) -> None:
    at = (datetime.now(UTC) + timedelta(days=2)).replace(hour=3, minute=0, second=0, microsecond=0)
    campaign_id = smsq(
        "submit", "--account", "aakashsms_v1", "9841000001", "--text", "Hi", "--at",
        at.isoformat(), "--window", "09:00-19:00", "--tz", "Asia/Kathmandu",
    ).campaign_id()  # fmt: skip
    info = api.get_campaign(campaign_id)
    # 03:00 UTC is 08:45 in Kathmandu: the window opens a quarter of an hour later.
    assert info.next_window_at == at + timedelta(minutes=15)
    words = " ".join(smsq("status", str(campaign_id)).out.split())
    assert f"starts {at:%Y-%m-%d} 03:00 UTC" in words
    assert f"window opens {at:%Y-%m-%d} 09:00 +0545 (Asia/Kathmandu)" in words


def test_credits_are_labelled_in_the_gateways_unit(cli_env: CliEnv, smsq: Smsq) -> None:
    taka = smsq("submit", "--account", "aamarsms", "01711000001", "--text", "Hi")
    assert "1 rows, 1 batches, n/a BDT planned" in taka.out, taka
    info = smsq("status", str(taka.campaign_id()), "--json").json()
    assert (info["credit_unit"], info["credits_planned"], info["credits_spent"]) == ("BDT", None, 0)
    credits = smsq("submit", "--account", "aakashsms_v1", "9841000001", "--text", "Hi")
    assert "1 credits planned" in credits.out
    estimate = smsq("submit", "--account", "aamarsms", "01711000001", "--text", "Hi",
                    "--dry-run")  # fmt: skip
    assert "credits       │ n/a BDT" in estimate.out


def test_watch_counts_time_from_the_campaigns_start(cli_env: CliEnv, smsq: Smsq) -> None:
    campaign_id = smsq("submit", "--account", "aakashsms_v1", "9841000001", "--text", "Hi")
    started = datetime.now(UTC) - timedelta(minutes=5, seconds=7)
    with get_engine(cli_env.database_url).begin() as conn:  # as a worker would have left it
        conn.execute(
            update(CAMPAIGNS)
            .where(CAMPAIGNS.c.id == campaign_id.campaign_id())
            .values(state="running", started_at=started)
        )
    watched = smsq("watch", str(campaign_id.campaign_id()), "--timeout", "0.1")
    assert watched.code == 0, watched
    assert "0:05:07" in watched.out or "0:05:08" in watched.out, watched.out
