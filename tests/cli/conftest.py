"""Fixtures of the CLI tests: a configured environment, and ``smsq`` run in this process.

``cli_env`` points ``SMSQ_CONFIG``, ``SMSQ_DATABASE_URL`` and ``SMSQ_BROKER_URL`` at a config
file of the sandbox's funded accounts, a migrated SQLite file and the session's private Redis
(never a shared one). ``smsq(*args)`` runs ``smsq.cli.main`` and returns its exit code,
stdout and stderr. The CLI hands campaigns to the workers for real (``worker.connect``), on
the private Redis: ``dispatched`` reads what reached its control queue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from campaigns import set_dispatcher
from campaigns.db import dispose_engines
from campaigns.settings import get_settings
from smsq.cli import main
from tests.cli.helpers import NOWHERE, CliEnv, Dispatches, Result, funded_accounts


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str, redis_url: str
) -> Iterator[CliEnv]:
    """A config file of the funded accounts (pointing nowhere), a migrated SQLite database and
    the private Redis as broker."""
    env = CliEnv(monkeypatch, tmp_path, SMSQ_DATABASE_URL=sqlite_url, SMSQ_BROKER_URL=redis_url)
    env.write_accounts(funded_accounts(NOWHERE))
    yield env
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture(autouse=True)
def _no_leftover_dispatcher() -> Iterator[None]:
    # The CLI installs the real hand-off (worker.connect); it must not outlive the test.
    yield
    set_dispatcher(None)


@pytest.fixture
def dispatched(cli_env: CliEnv) -> Dispatches:
    """Campaign ids the CLI handed to the workers, read off the test broker's control queue."""
    return Dispatches(cli_env.broker_url)


@pytest.fixture
def smsq(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``smsq(*args)``: run the CLI's entry point in this process."""

    def run(*args: str) -> Result:
        capsys.readouterr()  # what came before is not this run's output
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
