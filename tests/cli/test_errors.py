"""Every mistake a user can make ends in ONE line ``smsq: error: ...`` naming it, a non-zero exit,
nothing on stdout and no traceback.

Most cases run ``main(argv)`` in this process (an unexpected exception would fail the test
instead of printing a traceback); ``test_as_a_program_*`` runs the installed script for a few
of them, to prove what reaches a real terminal.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import update

from campaigns.db import get_engine
from campaigns.tables import CAMPAIGNS
from tests.cli.helpers import (
    UNREACHABLE_BROKER,
    CliEnv,
    Dispatches,
    Result,
    assert_one_line_error,
    campaign_count,
    run_smsq,
    write_csv,
)

Smsq = Callable[..., Result]
AAKASH = ("submit", "--account", "aakashsms_v1")
LONG_NAME = "Aysel" * 30  # SMSPlus.az template 2 with it is over 160 characters


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """The inputs a user gets wrong: CSVs of every kind of broken, and a folder."""
    write_csv(tmp_path / "people.csv", [{"msisdn": "9841000001", "name": "Sita"},
                                        {"msisdn": "9841000002", "name": " "}])  # fmt: skip
    write_csv(tmp_path / "nonum.csv", [{"phone_2": "9841000001", "name": "Sita"}])
    long_az = [{"msisdn": f"99450100000{i}", "name": LONG_NAME} for i in (1, 2)]
    write_csv(tmp_path / "long_az.csv", long_az)
    (tmp_path / "garbage.csv").write_bytes(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    )
    (tmp_path / "adir").mkdir()
    with (tmp_path / "huge.csv").open("wb") as f:  # a 2 GB export with no newline after row 1
        f.write(b"msisdn,name\n9841000001,Sita\n9841000002,")
        f.truncate(2 * 1024**3)
    return tmp_path


# (id, argv with {tmp} for the files' folder, words the error line must hold, exit code)
CASES: list[tuple[str, tuple[str, ...], tuple[str, ...], int]] = [
    ("unknown-account", ("submit", "--account", "nepal", "9841000001", "--text", "Hi"),
     ("account 'nepal' is not configured", "aakashsms_v1"), 1),
    ("unknown-account-dry-run",
     ("submit", "--account", "nepal", "9841000001", "--text", "Hi", "--dry-run"),
     ("account 'nepal' is not configured",), 1),
    ("csv-missing", (*AAKASH, "--csv", "{tmp}/missing.csv", "--text", "Hi"),
     ("--csv", "missing.csv"), 1),
    ("csv-is-a-folder", (*AAKASH, "--csv", "{tmp}/adir", "--text", "Hi"), ("--csv", "adir"), 1),
    ("csv-binary-garbage", (*AAKASH, "--csv", "{tmp}/garbage.csv", "--text", "Hi"),
     ("garbage.csv", "not UTF-8"), 1),
    ("csv-binary-garbage-dry-run",
     (*AAKASH, "--csv", "{tmp}/garbage.csv", "--text", "Hi", "--dry-run"),
     ("garbage.csv", "not UTF-8"), 1),
    ("csv-without-number-column", (*AAKASH, "--csv", "{tmp}/nonum.csv", "--text", "Hi"),
     ("nonum.csv", "no number column", "msisdn", "phone_2", "--phone-column"), 1),
    ("phone-column-not-in-the-header",
     (*AAKASH, "--csv", "{tmp}/nonum.csv", "--text", "Hi", "--phone-column", "Mobile"),
     ("nonum.csv", 'phone_column "Mobile" is not in the header', "phone_2"), 1),
    ("csv-row-of-2-gigabytes", (*AAKASH, "--csv", "{tmp}/huge.csv", "--text", "Hi {name}"),
     ("huge.csv", "row 2 is longer than 100,000 characters"), 1),
    ("csv-row-of-2-gigabytes-dry-run",
     (*AAKASH, "--csv", "{tmp}/huge.csv", "--text", "Hi", "--dry-run"),
     ("huge.csv", "row 2 is longer than"), 1),
    ("placeholder-without-column",
     (*AAKASH, "--csv", "{tmp}/people.csv", "--text", "Hi {surname}"),
     ("people.csv", 'no column "surname"', "{surname}"), 1),
    ("placeholder-value-missing-in-a-row-strict",
     (*AAKASH, "--csv", "{tmp}/people.csv", "--text", "Hi {name}", "--strict"),
     ("row 2", 'column "name" is empty', "{name}"), 1),
    ("placeholder-value-missing-dry-run-strict",
     (*AAKASH, "--csv", "{tmp}/people.csv", "--text", "Hi {name}", "--dry-run", "--strict"),
     ("row 2", 'column "name"'), 1),
    ("placeholder-for-plain-numbers", (*AAKASH, "9841000001", "--text", "Hi {name}"),
     ("row 1", 'column "name" has no value'), 1),
    ("smsplus-template-over-160",
     ("submit", "--account", "smsplus_az", "--csv", "{tmp}/long_az.csv", "--template-id", "2"),
     ("over the gateway's limits", "2 rejected", "at most 160"), 1),
    ("text-over-max-segments", (*AAKASH, "9841000001", "--text", "x" * 400, "--max-segments", "2"),
     ("text is 3 segments", "max_segments is 2"), 1),
    ("text-over-default-max-segments", (*AAKASH, "9841000001", "--text", "x" * 2000),
     ("max_segments is 10",), 1),
    ("empty-text", (*AAKASH, "9841000001", "--text", " "), ("text is empty",), 1),
    ("no-recipients", (*AAKASH, "--text", "Hi"), ("no recipients",), 1),
    ("csv-and-numbers", (*AAKASH, "--csv", "{tmp}/people.csv", "9841000001", "--text", "Hi"),
     ("either --csv or numbers",), 1),
    ("template-id-for-a-text-gateway", (*AAKASH, "9841000001", "--template-id", "2"),
     ("template_id 2 cannot be used",), 1),
    ("text-for-smsplus", ("submit", "--account", "smsplus_az", "994501000001", "--text", "Hi"),
     ("give template_id", "1, 2, 3"), 1),
    ("unknown-template",
     ("submit", "--account", "smsplus_az", "994501000001", "--template-id", "9"),
     ("template_id 9", "known: 1, 2, 3"), 1),
    ("at-without-offset", (*AAKASH, "9841000001", "--text", "Hi", "--at", "2030-12-01T09:30"),
     ("--at", "'2030-12-01T09:30'", "no time zone offset"), 1),
    ("at-garbage", (*AAKASH, "9841000001", "--text", "Hi", "--at", "next tuesday"),
     ("--at", "'next tuesday'", "ISO"), 1),
    ("at-in-the-past", (*AAKASH, "9841000001", "--text", "Hi", "--at", "2020-12-01T09:30Z"),
     ("--at", "send_at 2020-12-01T09:30:00+00:00 is in the past"), 1),
    ("window-without-dash", (*AAKASH, "9841000001", "--text", "Hi", "--window", "0900"),
     ("--window", "'0900'", "HH:MM-HH:MM"), 1),
    ("window-bad-hours", (*AAKASH, "9841000001", "--text", "Hi", "--window", "9-17"),
     ("window start", "'9'", "HH:MM"), 1),
    ("window-25-hours", (*AAKASH, "9841000001", "--text", "Hi", "--window", "09:00-25:00"),
     ("window end", "'25:00'"), 1),
    ("window-empty", (*AAKASH, "9841000001", "--text", "Hi", "--window", "09:00-09:00"),
     ("both 09:00",), 1),
    ("window-unknown-zone",
     (*AAKASH, "9841000001", "--text", "Hi", "--window", "09:00-17:00", "--tz", "Mars/Olympus"),
     ("'Mars/Olympus' is not a known time zone",), 1),
    ("zone-without-window", (*AAKASH, "9841000001", "--text", "Hi", "--tz", "Asia/Kathmandu"),
     ("'Asia/Kathmandu' given without a window",), 1),
    ("suppress-not-a-number", ("suppress", "12345"), ("'12345'", "not a valid phone number"), 1),
    ("suppress-several-not-numbers", ("suppress", "12345", "abc", "--region", "NP"),
     ("2 numbers are not valid phone numbers", "'abc' (row 2): contains letters"), 1),
    ("suppress-unknown-region", ("suppress", "9841000001", "--region", "XX"),
     ("region 'XX'",), 1),
    ("suppress-unknown-account", ("suppress", "9841000001", "--account", "nepal"),
     ("account 'nepal' is not configured",), 1),
    ("suppress-region-and-account",
     ("suppress", "9841000001", "--region", "NP", "--account", "aakashsms_v1"),
     ("a region or an account", "not both"), 1),
    ("suppress-nothing", ("suppress",), ("no recipients",), 1),
    *[
        (f"unknown-campaign-{command}", (command, "999"), ("campaign 999 does not exist",), 1)
        for command in ("status", "watch", "pause", "resume", "cancel", "retry-failed",
                        "recipients")
    ],
    ("unknown-command", ("sned",), ("No such command 'sned'",), 2),
    ("missing-account", ("submit", "9841000001", "--text", "Hi"),
     ("Missing option '--account'", "smsq submit --help"), 2),
    ("id-not-a-number", ("pause", "last"), ("campaign_id", "valid integer"), 2),
    ("unknown-option", ("status", "--verbose"), ("--verbose",), 2),
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "words", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_mistake_is_one_line(
    cli_env: CliEnv, smsq: Smsq, files: Path, argv: tuple[str, ...], words: tuple[str, ...],
    code: int, dispatched: Dispatches,
) -> None:  # fmt: skip
    result = smsq(*(arg.replace("{tmp}", str(files)) for arg in argv))
    assert_one_line_error(result, *words, code=code)
    assert campaign_count(cli_env.database_url) == 0  # nothing written
    assert dispatched == []


def test_a_bare_smsq_prints_its_help(cli_env: CliEnv, smsq: Smsq) -> None:
    result = smsq()
    assert result.code == 2 and result.err == "", result
    assert "Usage: smsq" in result.out and "submit" in result.out


def test_pausing_a_completed_campaign_names_its_state(cli_env: CliEnv, smsq: Smsq) -> None:
    campaign_id = smsq(*AAKASH, "9841000001", "--text", "Hi").campaign_id()
    # Only a worker completes a campaign (see test_live.py); here the row says so directly.
    with get_engine(cli_env.database_url).begin() as conn:
        conn.execute(
            update(CAMPAIGNS).where(CAMPAIGNS.c.id == campaign_id).values(state="completed")
        )
    for command in ("pause", "resume", "cancel"):
        result = smsq(command, str(campaign_id))
        assert_one_line_error(result, f"campaign {campaign_id} is completed", f"cannot {command}")


def test_an_unreachable_broker_fails_fast_and_writes_nothing(
    cli_env: CliEnv, smsq: Smsq, dispatched: Dispatches
) -> None:
    paused = smsq(*AAKASH, "9841000001", "--text", "Hi").campaign_id()
    assert smsq("pause", str(paused)).code == 0
    cli_env.set(SMSQ_BROKER_URL=UNREACHABLE_BROKER)
    for argv in ((*AAKASH, "9841000002", "--text", "Hi"), ("resume", str(paused)),
                 ("retry-failed", str(paused))):  # fmt: skip
        started = time.monotonic()
        result = smsq(*argv)
        took = time.monotonic() - started
        assert_one_line_error(result, "broker unreachable at redis://127.0.0.1:1/0", "refused")
        assert took < 1.5, f"{argv[0]}: the broker check took {took:.1f} s"
    assert campaign_count(cli_env.database_url) == 1  # only the first, submitted before
    info = smsq("status", str(paused), "--json").json()
    assert info["state"] == "paused"
    assert dispatched == [paused]


def test_input_mistakes_are_reported_before_an_unreachable_broker(
    cli_env: CliEnv, smsq: Smsq, files: Path
) -> None:
    # A typo should be heard about first: fixing the broker would not make it work.
    cli_env.set(SMSQ_BROKER_URL=UNREACHABLE_BROKER)
    cases = [
        (("submit", "--account", "nepal", "9841000001", "--text", "Hi"), "account 'nepal'"),
        ((*AAKASH, "--csv", str(files / "nonum.csv"), "--text", "Hi"), "no number column"),
        ((*AAKASH, "--csv", str(files / "people.csv"), "--text", "Hi {x}"), 'no column "x"'),
        ((*AAKASH, "9841000001", "--text", "Hi", "--window", "9-5"), "window start"),
        ((*AAKASH, "9841000001", "--text", "x" * 2000), "max_segments"),
        (("retry-failed", "999"), "campaign 999 does not exist"),
        (("resume", "999"), "campaign 999 does not exist"),
    ]
    for argv, words in cases:
        assert_one_line_error(smsq(*argv), words)


def test_a_database_folder_that_cannot_be_created(cli_env: CliEnv, smsq: Smsq) -> None:
    (cli_env.tmp_path / "a-file").write_text("not a folder")
    url = f"sqlite:///{cli_env.tmp_path}/a-file/smsq/smsq.db"
    cli_env.set(SMSQ_DATABASE_URL=url)
    for argv in (("status",), ("db", "upgrade"), ("suppress", "+9779841000001"),
                 (*AAKASH, "9841000001", "--text", "Hi", "--dry-run")):  # fmt: skip
        result = smsq(*argv)
        assert_one_line_error(result, f"database at {url} unusable", "a-file", code=2)


def test_an_unreachable_postgresql(cli_env: CliEnv, smsq: Smsq) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/x"
    cli_env.set(SMSQ_DATABASE_URL=url)
    for argv in (("status",), ("db", "upgrade"), ("pause", "1")):
        line = assert_one_line_error(smsq(*argv), f"database at {url} unusable", code=2)
        assert "smsq db upgrade" not in line  # no schema would help: the server is not there


def test_a_database_without_the_schema_suggests_the_upgrade(cli_env: CliEnv, smsq: Smsq) -> None:
    path = cli_env.tmp_path / "empty.db"
    path.touch()  # a file, with no schema in it
    cli_env.set(SMSQ_DATABASE_URL=f"sqlite:///{path}")
    assert_one_line_error(smsq("status"), "no such table", "try `smsq db upgrade`", code=2)


def test_commands_never_create_a_database_that_does_not_exist(cli_env: CliEnv, smsq: Smsq) -> None:
    path = cli_env.tmp_path / "typo" / "smsq.db"
    url = f"sqlite:///{path}"
    cli_env.set(SMSQ_DATABASE_URL=url)
    for argv in (("status",), ("status", "1"), ("watch", "1"), ("suppressions",),
                 ("recipients", "1"), ("pause", "1"), ("suppress", "+9779841000001"),
                 (*AAKASH, "9841000001", "--text", "Hi", "--dry-run")):  # fmt: skip
        line = assert_one_line_error(smsq(*argv), f"database at {url} unusable", code=2)
        assert "does not exist" in line and "smsq db upgrade" in line
    assert not path.exists() and not path.parent.exists()  # neither the file nor its folder
    assert smsq("db", "upgrade").code == 0 and path.exists()  # the one command that creates


def test_running_out_of_memory_is_one_line(
    cli_env: CliEnv, smsq: Smsq, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_memory(*args: object, **kwargs: object) -> object:
        raise MemoryError

    monkeypatch.setattr(csv, "reader", no_memory)  # what a machine short of memory does
    result = smsq(*AAKASH, "--csv", str(files / "people.csv"), "--text", "Hi", "--dry-run")
    assert_one_line_error(result, "out of memory", code=1)


def test_an_idempotency_key_reused_for_another_text_is_refused(cli_env: CliEnv, smsq: Smsq) -> None:
    args = (*AAKASH, "9841000001", "--idempotency-key", "bills-12")
    first = smsq(*args, "--text", "Hi").campaign_id()
    assert smsq(*args, "--text", "Hi").campaign_id() == first
    result = smsq(*args, "--text", "Hello")
    assert_one_line_error(result, f"'bills-12' is campaign {first}'s", "a different text")
    assert campaign_count(cli_env.database_url) == 1


def test_a_database_url_that_is_not_one(cli_env: CliEnv, smsq: Smsq) -> None:
    cli_env.set(SMSQ_DATABASE_URL="smsq.db")
    assert_one_line_error(smsq("status"), "database at smsq.db unusable", code=2)


def test_a_database_smsq_does_not_support(cli_env: CliEnv, smsq: Smsq) -> None:
    cli_env.set(SMSQ_DATABASE_URL="mysql://root@127.0.0.1/test")
    assert_one_line_error(smsq("status"), "unusable", "'mysql' is not supported", code=2)


def test_a_config_file_named_but_missing(cli_env: CliEnv, smsq: Smsq) -> None:
    missing = cli_env.tmp_path / "typo.toml"
    cli_env.set(SMSQ_CONFIG=str(missing))
    for argv in (("accounts",), ("submit", "--account", "nepal", "9841000001", "--text", "Hi")):
        assert_one_line_error(smsq(*argv), "configuration", f"SMSQ_CONFIG={missing}: no such file")


def test_a_sandbox_flag_mistake_is_one_line(cli_env: CliEnv, smsq: Smsq) -> None:
    assert_one_line_error(smsq("sandbox", "--bogus"), "sandbox", "--bogus", code=2)


def test_a_config_file_with_an_unknown_provider(cli_env: CliEnv, smsq: Smsq) -> None:
    cli_env.config.write_text('[accounts.nepal]\nprovider = "sparrow"\nbase_url = "http://x"\n')
    for argv in (("accounts",), ("submit", "--account", "nepal", "9841000001", "--text", "Hi")):
        assert_one_line_error(smsq(*argv), "configuration", "accounts.nepal.provider", "'sparrow'")


def test_a_config_file_that_is_not_toml(cli_env: CliEnv, smsq: Smsq) -> None:
    cli_env.config.write_text("[accounts.nepal\nprovider = \n")
    assert_one_line_error(smsq("accounts"), "configuration", "line 1")


def test_as_a_program_no_traceback_reaches_the_terminal(cli_env: CliEnv, files: Path) -> None:
    """The installed script, as a user runs it (two at a time: each takes a second to start)."""
    (files / "a-file").write_text("")
    (files / "bad.toml").write_text('[accounts.x]\nprovider = "sparrow"\nbase_url = "http://x"\n')
    broker_down = {"SMSQ_BROKER_URL": UNREACHABLE_BROKER}
    cases: list[tuple[tuple[str, ...], dict[str, str], tuple[str, ...], int]] = [
        (("submit", "--account", "nepal", "9841000001", "--text", "Hi"), broker_down,
         ("account 'nepal' is not configured",), 1),
        ((*AAKASH, "9841000001", "--text", "Hi"), broker_down,
         ("broker unreachable at redis://127.0.0.1:1/0",), 1),
        (("status",), {"SMSQ_DATABASE_URL": f"sqlite:///{files}/a-file/x/smsq.db"},
         ("database at", "does not exist"), 2),
        (("db", "upgrade"), {"SMSQ_DATABASE_URL": f"sqlite:///{files}/a-file/x/smsq.db"},
         ("database at", "cannot create"), 2),
        (("accounts",), {"SMSQ_CONFIG": str(files / "bad.toml")}, ("'sparrow'",), 1),
        (("status", "abc"), {}, ("campaign_id",), 2),
    ]  # fmt: skip

    def run(case: tuple[tuple[str, ...], dict[str, str], tuple[str, ...], int]) -> None:
        argv, env, words, code = case
        assert_one_line_error(run_smsq(argv, cli_env.environ(**env), cwd=files), *words, code=code)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, cases))
