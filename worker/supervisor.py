"""``smsq worker``: one Celery worker process per provider account, kept running.

Why a process per account: every account's requests wait on its own gateway. A process's
threads are shared by whatever its consumer fetches, so a gateway that hangs (every request
waiting out its timeout) would come to hold all of them, and another account's campaign
would wait behind it. A process of its own gives each account its own threads, its own
prefetch and its own connection pool; each is sized from that account's rate
(``worker.cli_support.threads_for``), so the defaults use the gateway's allowed rate
without tuning; an account whose rate is more numbers per second than one process's core
can carry gets a process per core (``processes_for``), sharing its rate limit in Redis.
Every process also consumes the control queue (the tick, dispatches): whichever has a free
thread takes it.

One more process, ``now``, serves what must not wait behind a campaign: the single messages
of every account it is given, and the status callbacks. An account's process takes its
single messages too, but while a campaign fills its threads (most of them waiting for their
turn at the door) a single message would wait for one of them to end: in ``bench.gateway``,
p95 807 ms from ``send_message`` to the gateway under a 200,000-number blast. The ``now``
process has its threads free for them, and they still go through the account's door, so
they share its rate limit and go ahead of the campaign's batches. Its threads are the sum of
every account's whole rate's worth, and an account's single messages hold no more than its
own share of them (``worker.door.requests_held``; the rest wait on the broker), so a hung
gateway's single messages do not hold up another account's.

The supervisor forwards SIGTERM and SIGINT to its children (a warm shutdown: running
tasks finish) and starts again a child that exits on its own, after a pause.
"""

from __future__ import annotations

import logging
import math
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

from providers import Account
from worker.cli_support import (
    THREADS_MIN,
    now_argv,
    now_threads,
    processes_for,
    threads_for,
    worker_argv,
)

log = logging.getLogger(__name__)

RESTART_PAUSE_S = 2.0
POLL_S = 0.5
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Group:
    """The accounts some worker processes serve: their name, threads per process, and how
    many processes (each named ``name-N`` when more than one)."""

    name: str
    accounts: tuple[str, ...]
    threads: int
    processes: int = 1
    now: bool = False  # the process of single messages and status callbacks (``now_group``)

    def process_names(self) -> list[str]:
        """The name of each of the group's processes (its Celery node is ``NAME@host``)."""
        if self.processes == 1:
            return [self.name]
        return [f"{self.name}-{i}" for i in range(1, self.processes + 1)]


def now_group(accounts: Mapping[str, Account]) -> Group:
    """The process for what must not wait: ``accounts``' single messages, status callbacks."""
    return Group("now", tuple(sorted(accounts)), now_threads(accounts), now=True)


def groups_for(
    accounts: Mapping[str, Account],
    *,
    together: Sequence[str] | None = None,
    concurrency: int | None = None,
) -> list[Group]:
    """A group per account, or one group of ``together`` (``smsq worker --accounts a,b``)."""
    if together:
        unknown = sorted(set(together) - set(accounts))
        if unknown:
            raise ValueError(f"unknown accounts: {', '.join(unknown)}")
        chosen = {name: accounts[name] for name in together}
        threads = concurrency or threads_for(chosen)
        return [Group("+".join(sorted(chosen)), tuple(sorted(chosen)), threads)]
    if not accounts:
        return [Group("control", (), concurrency or 4)]  # the tick and dispatches, at least
    return [
        _account_group(name, account, concurrency) for name, account in sorted(accounts.items())
    ]


def _account_group(name: str, account: Account, concurrency: int | None) -> Group:
    processes = processes_for(account)
    # The account's threads, shared out: each process waits on a part of its requests.
    threads = concurrency or max(THREADS_MIN, math.ceil(threads_for({name: account}) / processes))
    return Group(name, (name,), threads, processes)


def argv_of(group: Group, loglevel: str = "INFO", process_name: str | None = None) -> list[str]:
    """The celery command line of one of the group's processes (default: its first)."""
    if group.now:
        return now_argv(
            group.accounts, concurrency=group.threads, hostname=f"{group.name}@%h",
            loglevel=loglevel,
        )  # fmt: skip
    return worker_argv(
        accounts=group.accounts, concurrency=group.threads,
        hostname=f"{process_name or group.process_names()[0]}@%h", loglevel=loglevel,
    )  # fmt: skip


class Supervisor:
    """Runs each group's processes until told to stop."""

    def __init__(self, groups: Sequence[Group], loglevel: str = "INFO") -> None:
        self.groups = list(groups)
        # Each process by its name, and the group it runs.
        self.slots = {name: g for g in self.groups for name in g.process_names()}
        self.loglevel = loglevel
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

    def run(self) -> int:
        """Start every process and keep them running; returns the exit code."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for name in self.slots:
                self._start(name)
            while not self.stopping:
                time.sleep(POLL_S)
                self._restart_exited()
        finally:
            self._stop_children()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _start(self, name: str) -> None:
        group = self.slots[name]
        argv = argv_of(group, self.loglevel, process_name=name)
        self.children[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        log.warning(
            "smsq worker: %s started (%d threads, pid %d)",
            name, group.threads, self.children[name].pid,
        )  # fmt: skip

    def _restart_exited(self) -> None:
        for name, child in list(self.children.items()):
            code = child.poll()
            if code is not None and not self.stopping:
                log.warning("smsq worker: %s exited with %s; restarting", name, code)
                time.sleep(RESTART_PAUSE_S)
                self._start(name)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _stop_children(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def main(groups: Sequence[Group], loglevel: str = "INFO") -> None:
    """Run the supervisor in this process (``smsq worker``)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    raise SystemExit(Supervisor(groups, loglevel).run())
