"""Command lines for ``smsq worker`` and ``smsq beat`` (the CLI runs what these return).

A worker process consumes two queues per provider account (``smsq.now.<account>`` for single
messages, ``smsq.send.<account>`` for campaign batches) plus the control queue, with a pool
of threads sized from the accounts' rates. ``smsq worker`` runs one such process per account
(``worker.supervisor``), so a slow or hung gateway only ever holds its own process's threads;
keep exactly one beat per deployment (a second is harmless, only wasteful: the tick takes a
Redis lock and every change it makes is a compare-and-set).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable, Mapping

from providers import Account, load_accounts
from worker import keys

APP = "worker.celery_app"
# In memory, not celery's shelve file: the tick is idempotent and frequent, so a restarted
# beat loses nothing by forgetting when it last ran, and the shelve store has a shutdown
# race (SIGTERM mid-tick exits 1 with "invalid operation on closed shelf").
BEAT_SCHEDULER = "celery.beat:Scheduler"


THREADS_MIN = 4
THREADS_MAX = 256
# Numbers per second one worker process plans to send; an account planned above this gets
# a second process, as many as there are cores (the rate limit in Redis is shared by all).
# The Python around each batch (claim, parse, write) is what a process runs on one core, and
# what that core carries follows the machine: near 8,000/s on a fast one (bench.gateway at
# rate 100, 100 numbers a request: 0.75-0.88 of the limit from one process), but on a slow
# one a request cost the worker 25-33 ms of CPU, so one process could not carry 5,000/s
# (rate 50: 0.59 and 0.69 of the limit from one process, 0.79 and 0.74 from two, runs
# interleaved). Planned for the slow machine: a second process costs about 120 MB.
NUMBERS_PER_PROCESS_S = 2_500.0


def threads_for(accounts: Mapping[str, Account]) -> int:
    """Threads a worker process needs to use its accounts' whole rates, without tuning: for
    each account, the requests it holds at once at its rate (``worker.door.requests_held``),
    and two for the control queue."""
    from providers.registry import get_adapter
    from worker.door import requests_held

    needed = 2
    for account in accounts.values():
        rate = account.rate_per_s or get_adapter(account.provider).limits.default_rate_per_s
        needed += requests_held(rate)
    return max(THREADS_MIN, min(THREADS_MAX, needed))


def processes_for(account: Account, cores: int | None = None) -> int:
    """Worker processes an account needs for its whole rate: its numbers per second (its
    requests per second times numbers per request, or ``messages_per_s`` when lower) over
    what one process sends, at least one and at most one per core."""
    from providers.registry import get_adapter

    limits = get_adapter(account.provider).limits
    rate = account.rate_per_s or limits.default_rate_per_s
    numbers_per_s = rate * (account.max_recipients or limits.max_recipients)
    if account.messages_per_s is not None:
        numbers_per_s = min(numbers_per_s, account.messages_per_s)
    wanted = math.ceil(numbers_per_s / NUMBERS_PER_PROCESS_S)
    return max(1, min(cores or os.cpu_count() or 1, wanted))


def worker_argv(
    *,
    accounts: Iterable[str] | None = None,
    concurrency: int | None = None,
    control: bool = True,
    callbacks: bool = False,
    campaigns: bool = True,
    hostname: str | None = None,
    loglevel: str = "INFO",
) -> list[str]:
    """``celery worker`` for ``accounts`` (default: every configured account), one process
    with a pool of threads: a request waits on the gateway, not on a core.

    ``concurrency``: threads (default: ``threads_for`` the accounts). ``control``: also
    consume the control queue (dispatch and tick); at least one worker must. ``callbacks``:
    also consume the status callbacks' queue (``smsq worker`` gives it a process of its
    own, ``now_argv``). ``campaigns``: False consumes the accounts' single messages alone.
    ``hostname``: the worker's name in Flower, e.g. ``"nepal@%h"``. Each account has two
    queues, its single messages' first, then its campaign batches'.
    """
    configured = load_accounts() if accounts is None or concurrency is None else {}
    names = sorted(configured if accounts is None else accounts)
    lanes = (keys.now_queue, keys.send_queue) if campaigns else (keys.now_queue,)
    queues = [lane(name) for name in names for lane in lanes]
    if control:
        queues.append(keys.CONTROL_QUEUE)
    if callbacks:
        queues.append(keys.CALLBACKS_QUEUE)
    if not queues:
        raise ValueError("no accounts configured and control=False: nothing to consume")
    if concurrency is None and not names:
        concurrency = THREADS_MIN
    if concurrency is None:
        concurrency = threads_for({n: configured[n] for n in names if n in configured})
    argv = [sys.executable, "-m", "celery", "-A", APP, "worker"]
    argv += ["-Q", ",".join(queues), "-P", "threads", "-c", str(concurrency)]
    argv += ["--prefetch-multiplier", "1", "-E", "-l", loglevel]
    if hostname is not None:
        argv += ["-n", hostname]
    return argv


# Callbacks wait on receivers, not on a gateway's rate: a few threads deliver hundreds of
# events a second to a receiver that answers in 10 ms, and one campaign's events go out one
# at a time anyway (they are ordered). A process never delivers on more threads than this
# (``worker.callbacks.delivery_slot``), so in the now process they leave the rest to single
# messages.
CALLBACK_THREADS = 8


def callbacks_argv(
    *, concurrency: int = CALLBACK_THREADS, hostname: str | None = None, loglevel: str = "INFO"
) -> list[str]:
    """``celery worker`` for the status callbacks' queue alone."""
    return worker_argv(
        accounts=(), concurrency=concurrency, control=False, callbacks=True, hostname=hostname,
        loglevel=loglevel,
    )  # fmt: skip


def now_threads(accounts: Mapping[str, Account]) -> int:
    """Threads of the process for what must not wait: enough for every account's whole rate
    in single messages (``threads_for``), and the callbacks' own. An account's single
    messages hold at most its own share (``worker.door.requests_held``)."""
    if not accounts:
        return CALLBACK_THREADS
    return min(THREADS_MAX, threads_for(accounts) + CALLBACK_THREADS)


def now_argv(
    accounts: Iterable[str],
    *,
    concurrency: int,
    hostname: str | None = None,
    loglevel: str = "INFO",
) -> list[str]:
    """``celery worker`` for what must not wait behind a campaign: the single messages of
    ``accounts`` (their ``smsq.now.<account>`` queues, which their own processes consume
    too) and the status callbacks."""
    return worker_argv(
        accounts=accounts, concurrency=concurrency, control=False, callbacks=True,
        campaigns=False, hostname=hostname, loglevel=loglevel,
    )  # fmt: skip


def beat_argv(*, loglevel: str = "INFO") -> list[str]:
    """``celery beat`` sending ``smsq.tick`` every ``tick_interval_s``; it writes no file."""
    return [
        sys.executable, "-m", "celery", "-A", APP, "beat", "-S", BEAT_SCHEDULER, "-l", loglevel,
    ]  # fmt: skip
