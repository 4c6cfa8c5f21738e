"""A whole smsq deployment on one machine: Celery workers and beat as child processes.

Give it a database URL, a broker URL and the accounts, and it writes a config file, starts
``celery worker``/``celery beat`` with their own environment (no inherited ``SMSQ_*``), and
installs a hand-off so that campaigns submitted from this process are dispatched at once.
Each child runs in its own process group, so ``kill`` can kill a worker with its pool like a
crash would. The Redis, the sandbox and the migrated database around it are brought by the
application layer's ``smsq.local.local_stack`` (the demo, the benchmarks, the tests).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from celery import Celery

from campaigns.settings import Settings
from providers import Account
from worker.celery_app import make_app
from worker.cli_support import beat_argv, callbacks_argv, now_argv, now_threads, worker_argv
from worker.dispatch import Dispatcher, install, uninstall
from worker.supervisor import groups_for

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_REPO_ROOT = Path(__file__).resolve().parents[1]


class ClusterError(RuntimeError):
    """Raised when a worker or beat process does not start, with its log's tail."""


@dataclass(frozen=True)
class ClusterConfig:
    """Where a local deployment keeps its state and how fast its clock runs."""

    database_url: str
    broker_url: str
    accounts: Mapping[str, Account]
    workdir: Path
    tick_interval_s: float = 0.5
    stale_after_s: float = 5.0
    visibility_timeout_s: int = 300
    extra_env: Mapping[str, str] = field(default_factory=dict)


def accounts_toml(accounts: Mapping[str, Account]) -> str:
    """The ``[accounts.*]`` tables of a config file for ``accounts``, secrets included."""
    lines: list[str] = []
    for name, account in accounts.items():
        data = account.model_dump(exclude={"name", "credentials", "options", "templates"})
        lines.append(f"[accounts.{_key(name)}]")
        lines += [f"{_key(k)} = {_value(v)}" for k, v in data.items() if v is not None]
        tables: dict[str, Mapping[Any, Any]] = {
            "credentials": {k: v.get_secret_value() for k, v in account.credentials.items()},
            "options": account.options,
            "templates": {str(k): v for k, v in account.templates.items()},
        }
        for table, values in tables.items():
            if values:
                lines.append(f"[accounts.{_key(name)}.{table}]")
                lines += [f"{_key(str(k))} = {_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)


def _key(name: str) -> str:
    return json.dumps(name)  # a quoted TOML key is a JSON string


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


class LocalCluster:
    """Workers and a beat for one database, broker and set of accounts."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        config.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = config.workdir / "smsq.toml"
        self.config_path.write_text(accounts_toml(config.accounts))
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        # name -> (ready marker, how many times it must appear, log offset)
        self._starting: dict[str, tuple[str, int, int]] = {}
        self.app: Celery = make_app(
            Settings(
                database_url=config.database_url,
                broker_url=config.broker_url,
                tick_interval_s=config.tick_interval_s,
                visibility_timeout_s=config.visibility_timeout_s,
            )
        )

    @property
    def env(self) -> dict[str, str]:
        """The children's environment: ours without SMSQ_*, plus this cluster's settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSQ_")}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_REPO_ROOT), env.get("PYTHONPATH")) if p
        )
        env.update(
            SMSQ_DATABASE_URL=self.config.database_url,
            SMSQ_BROKER_URL=self.config.broker_url,
            SMSQ_CONFIG=str(self.config_path),
            SMSQ_TICK_INTERVAL_S=str(self.config.tick_interval_s),
            SMSQ_STALE_AFTER_S=str(self.config.stale_after_s),
            SMSQ_VISIBILITY_TIMEOUT_S=str(self.config.visibility_timeout_s),
        )
        env.update(self.config.extra_env)
        return env

    def start_worker(
        self,
        name: str = "w1",
        *,
        concurrency: int = 1,
        accounts: Sequence[str] | None = None,
        loglevel: str = "INFO",
        extra_args: Sequence[str] = (),
        wait: bool = True,
    ) -> None:
        """Start ``celery worker`` named ``name``; with ``wait``, until it consumes.

        ``extra_args`` go to ``celery worker`` as they are (e.g. ``["-I", "bench.e2e"]``).
        Start several with ``wait=False``, then ``wait_ready()``: they boot in parallel.
        """
        names = list(self.config.accounts) if accounts is None else list(accounts)
        argv = worker_argv(
            accounts=names, concurrency=concurrency, hostname=f"{name}@%h", loglevel=loglevel
        )
        self._spawn(name, [*argv, *extra_args], ready_marker=" ready.")
        if wait:
            self.wait_ready()

    def start_supervised(self, name: str = "smsq", *, wait: bool = True) -> None:
        """Start the default ``smsq worker`` (a process per account, ``worker.supervisor``),
        as a user would; with ``wait``, until every one of its processes consumes."""
        argv = [sys.executable, "-m", "smsq", "worker"]
        # Every account's processes, and the one for single messages and callbacks.
        processes = sum(g.processes for g in groups_for(self.config.accounts)) + 1
        self._spawn(name, argv, ready_marker=" ready.", times=processes)
        if wait:
            self.wait_ready()

    def start_now(self, name: str = "now", *, wait: bool = True) -> None:
        """Start the process ``smsq worker`` runs for what must not wait: every account's
        single messages and the status callbacks, with the threads it would have."""
        accounts = self.config.accounts
        argv = now_argv(accounts, concurrency=now_threads(accounts), hostname=f"{name}@%h")
        self._spawn(name, argv, ready_marker=" ready.")
        if wait:
            self.wait_ready()

    def start_callbacks_worker(self, name: str = "callbacks", *, wait: bool = True) -> None:
        """Start the worker of the status callbacks' queue alone (as ``smsq worker`` does)."""
        argv = callbacks_argv(hostname=f"{name}@%h")
        self._spawn(name, argv, ready_marker=" ready.")
        if wait:
            self.wait_ready()

    def start_beat(self, *, wait: bool = True) -> None:
        """Start ``celery beat`` (the periodic tick); with ``wait``, until it runs."""
        argv = beat_argv(loglevel="INFO")
        self._spawn("beat", argv, ready_marker="beat: Starting")
        if wait:
            self.wait_ready()

    def start(
        self,
        workers: Mapping[str, int],
        *,
        beat: bool = False,
        callbacks: bool = False,
        extra_args: Sequence[str] = (),
    ) -> None:
        """Start ``workers`` (name -> concurrency) and, with ``beat``, a beat, with
        ``callbacks`` the callbacks' worker; wait for all.

        They boot in parallel, so several take about as long as one.
        """
        for name, concurrency in workers.items():
            self.start_worker(name, concurrency=concurrency, extra_args=extra_args, wait=False)
        if beat:
            self.start_beat(wait=False)
        if callbacks:
            self.start_callbacks_worker(wait=False)
        self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until every child started since the last wait says it is ready."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while self._starting:
            for name, (marker, times, offset) in list(self._starting.items()):
                if self.log(name, offset).count(marker) >= times:
                    del self._starting[name]
                elif self.processes[name].poll() is not None or time.monotonic() > deadline:
                    del self._starting[name]
                    raise ClusterError(f"{name} did not start:\n{self.log(name, offset)[-3000:]}")
            time.sleep(0.05)

    def _spawn(self, name: str, argv: list[str], *, ready_marker: str, times: int = 1) -> None:
        if name in self.processes and self.processes[name].poll() is None:
            raise ClusterError(f"{name} is already running")
        log_path = self.log_path(name)
        offset = log_path.stat().st_size if log_path.exists() else 0
        with log_path.open("ab") as log:
            self.processes[name] = subprocess.Popen(
                argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, cwd=self.config.workdir,
            )  # fmt: skip
        self._starting[name] = (ready_marker, times, offset)

    def log_path(self, name: str) -> Path:
        """The file a child's stdout and stderr go to."""
        return self.config.workdir / f"{name}.log"

    def log(self, name: str, offset: int = 0) -> str:
        """A child's log from byte ``offset``."""
        try:
            with self.log_path(name).open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to a child's whole process group (a worker and its pool)."""
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGKILL:
            process.wait(timeout=STOP_TIMEOUT_S)

    def stop(self, name: str) -> None:
        """Stop a child gracefully (warm shutdown: running tasks finish), then by force."""
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return
        self.kill(name, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill(name, signal.SIGKILL)

    def stop_all(self) -> None:
        """Stop every child, beat first."""
        for name in sorted(self.processes, key=lambda n: n != "beat"):
            self.stop(name)

    def dispatch(self, campaign_id: int) -> None:
        """Queue ``smsq.dispatch_campaign`` on this cluster's broker."""
        Dispatcher(self.app).notify(campaign_id)

    def install_dispatcher(self) -> None:
        """Make ``campaigns.handoff.notify`` in this process dispatch on this cluster."""
        install(self.app)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        uninstall()
        self.stop_all()
        self.app.close()
