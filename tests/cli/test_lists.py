"""The CLI with lists as spreadsheets export them: the dry run that shows every problem at once,
``--rejects``, ``--phone-column``."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

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
