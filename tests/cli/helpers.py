"""Helpers of the CLI tests: results of ``smsq`` runs, the test's environment, database reads.

``run_smsq`` runs the installed ``smsq`` script (``Path(sys.executable).parent / "smsq"``) for
the tests that must see exactly what a terminal would: one line, no traceback.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from campaigns.db import dispose_engines, get_engine
from campaigns.settings import get_settings
from campaigns.tables import BATCHES, CAMPAIGNS, RECIPIENTS
from providers import Account
from providers.sandbox.accounts import sandbox_accounts
from worker import keys
from worker.local import accounts_toml

SMSQ = Path(sys.executable).parent / "smsq"
FUNDED = ("aakashsms_v1", "aakashsms_v3", "aamarsms", "smsplus_az", "smspresto")
# Loopback, and nothing listens there: a balance query is refused at once.
NOWHERE = "http://127.0.0.1:9"
UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


@dataclass(frozen=True)
class Result:
    """What one ``smsq`` run left: its exit code and output."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as JSON (fails the test with the output if it is not)."""
        try:
            return json.loads(self.out)
        except json.JSONDecodeError as exc:
            pytest.fail(f"stdout is not JSON ({exc}):\n{self.out}\nstderr:\n{self.err}")

    def campaign_id(self) -> int:
        """The id in ``campaign N <state>: ...`` printed by submit."""
        found = re.search(r"^campaign (\d+) \w+:", self.out, re.MULTILINE)
        assert found is not None, (self.out, self.err)
        return int(found.group(1))


class Dispatches:
    """The campaign ids in ``smsq.dispatch_campaign`` messages waiting on a Redis broker's
    control queue, oldest first; compares equal to a list of ids (``dispatched == [7]``)."""

    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url

    def ids(self) -> list[int]:
        """What the control queue holds now (kombu pushes on the left: newest first)."""
        client = redis.Redis.from_url(self.broker_url)
        try:
            raw = client.lrange(keys.CONTROL_QUEUE, 0, -1)
        finally:
            client.close()
        found = []
        for item in reversed(raw):
            message = json.loads(item)
            if message["headers"]["task"] == keys.DISPATCH_CAMPAIGN_TASK:
                args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
                found.append(int(args[0]))
        return found

    def __eq__(self, other: object) -> bool:
        return isinstance(other, list) and self.ids() == other

    def __repr__(self) -> str:
        return f"Dispatches({self.ids()})"


def assert_one_line_error(result: Result, *words: str, code: int | None = None) -> str:
    """The run failed with one ``smsq: error:`` line on stderr naming ``words``; returns it."""
    assert result.code != 0, result
    if code is not None:
        assert result.code == code, result
    assert result.err.startswith("smsq: error: "), result
    assert result.err.endswith("\n") and result.err.count("\n") == 1, result
    assert "Traceback" not in result.err, result
    assert result.out == "", result
    for word in words:
        assert word in result.err, (word, result.err)
    return result.err


def funded_accounts(base_url: str) -> dict[str, Account]:
    """The sandbox's funded account of each gateway, reached at ``base_url``."""
    demo = sandbox_accounts(base_url)
    return {name: demo[name] for name in FUNDED}


def write_csv(path: Path, rows: Sequence[Mapping[str, str]]) -> Path:
    """A UTF-8 CSV with the first row's keys as header."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


class CliEnv:
    """The ``SMSQ_*`` environment of one test, for in-process runs and child processes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> None:
        self._monkeypatch = monkeypatch
        self.tmp_path = tmp_path
        self.config = tmp_path / "smsq.toml"
        for name in [k for k in os.environ if k.startswith("SMSQ_")]:
            monkeypatch.delenv(name)
        self.set(SMSQ_CONFIG=str(self.config), **env)

    @property
    def database_url(self) -> str:
        return os.environ["SMSQ_DATABASE_URL"]

    @property
    def broker_url(self) -> str:
        return os.environ["SMSQ_BROKER_URL"]

    def set(self, **env: str) -> None:
        """Set ``SMSQ_*`` variables for the rest of the test; settings are read again."""
        for name, value in env.items():
            self._monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        dispose_engines()

    def write_accounts(self, accounts: Mapping[str, Account], routes: str = "") -> None:
        """The config file holds ``accounts`` (credentials included, as a user's would), and
        ``routes`` as written (TOML ``[routes.NAME]`` tables)."""
        self.config.write_text(accounts_toml(accounts) + routes)

    def environ(self, **extra: str) -> dict[str, str]:
        """A child's environment: this process's, with this test's ``SMSQ_*`` only."""
        return {**os.environ, **extra}  # __init__ removed every other SMSQ_* variable


def run_smsq(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout_s: float = 30.0
) -> Result:
    """Run the installed ``smsq`` script as a user would."""
    done = subprocess.run(
        [str(SMSQ), *args], env=dict(env), cwd=cwd, capture_output=True, text=True,
        timeout=timeout_s, check=False,
    )  # fmt: skip
    return Result(done.returncode, done.stdout, done.stderr)


def campaign_count(database_url: str) -> int:
    """How many campaigns the database holds."""
    with get_engine(database_url).connect() as conn:
        count: int = conn.execute(select(func.count()).select_from(CAMPAIGNS)).scalar_one()
    return count


def campaign_row(database_url: str, campaign_id: int) -> dict[str, Any]:
    """The campaign's row as stored."""
    with get_engine(database_url).connect() as conn:
        row = conn.execute(select(CAMPAIGNS).where(CAMPAIGNS.c.id == campaign_id)).one()
    return dict(row._mapping)


def texts_by_number(database_url: str, campaign_id: int) -> dict[str, str | None]:
    """msisdn -> the text it is to receive (its own, else its batch's)."""
    query = (
        select(RECIPIENTS.c.msisdn, func.coalesce(RECIPIENTS.c.text, BATCHES.c.text))
        .select_from(RECIPIENTS.outerjoin(BATCHES, RECIPIENTS.c.batch_id == BATCHES.c.id))
        .where(RECIPIENTS.c.campaign_id == campaign_id)
    )
    with get_engine(database_url).connect() as conn:
        return {msisdn: text for msisdn, text in conn.execute(query)}


class Child:
    """A command in its own process group, its output in a file; killed on exit if still running.

    ``stop()`` sends SIGTERM to the process itself (not its group): ``smsq worker`` and
    ``smsq beat`` replace themselves with celery, so the signal must reach celery directly.
    """

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path) -> None:
        self.argv, self.env, self.cwd, self.log = list(argv), dict(env), cwd, log
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Child:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # the group this test started
            self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_bytes().decode(errors="replace")

    def wait_for(self, marker: str, timeout_s: float = 30.0) -> str:
        """Wait until ``marker`` is in the output; fails with the output if it never comes."""
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while marker not in (text := self.output()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{self.argv[1:]}: no {marker!r} (exit {self.process.poll()}):\n{text}")
            time.sleep(0.05)
        return text

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM, then wait for the exit; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)
