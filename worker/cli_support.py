"""Command lines for ``smsq worker`` and ``smsq beat`` (the CLI runs what these return).

A worker consumes one queue per provider account (``smsq.send.<account>``) plus the control
queue, with ``-O fair`` so that each process takes a message only when it is free. Run
workers for a subset of accounts (``accounts=[...]``) to give a slow or busy gateway its
own processes; keep exactly one beat per deployment (a second is harmless, only wasteful:
the tick takes a Redis lock and every change it makes is a compare-and-set).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from providers import load_accounts
from worker import keys

APP = "worker.celery_app"
DEFAULT_BEAT_SCHEDULE = Path("var") / "celerybeat-schedule"


def worker_argv(
    *,
    accounts: Iterable[str] | None = None,
    concurrency: int | None = None,
    control: bool = True,
    hostname: str | None = None,
    loglevel: str = "INFO",
) -> list[str]:
    """``celery worker`` for ``accounts`` (default: every configured account).

    ``concurrency``: processes (default: one per core). ``control``: also consume the
    control queue (dispatch and tick); at least one worker must. ``hostname``: the
    worker's name in Flower, e.g. ``"nepal@%h"``.
    """
    names = sorted(load_accounts() if accounts is None else accounts)
    queues = [keys.send_queue(name) for name in names]
    if control:
        queues.append(keys.CONTROL_QUEUE)
    if not queues:
        raise ValueError("no accounts configured and control=False: nothing to consume")
    argv = [sys.executable, "-m", "celery", "-A", APP, "worker"]
    argv += ["-Q", ",".join(queues), "-O", "fair", "--prefetch-multiplier", "1"]
    argv += ["-E", "-l", loglevel]
    if concurrency is not None:
        argv += ["-c", str(concurrency)]
    if hostname is not None:
        argv += ["-n", hostname]
    return argv


def beat_argv(
    *, schedule_path: str | Path = DEFAULT_BEAT_SCHEDULE, loglevel: str = "INFO"
) -> list[str]:
    """``celery beat`` sending ``smsq.tick`` every ``tick_interval_s``.

    The schedule file only remembers when the tick last ran; its folder must exist.
    """
    return [
        sys.executable, "-m", "celery", "-A", APP, "beat",
        "-s", str(schedule_path), "-l", loglevel,
    ]  # fmt: skip
