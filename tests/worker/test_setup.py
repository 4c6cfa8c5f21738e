"""The plumbing around the worker: private Redis, Celery configuration, command lines, windows."""

from __future__ import annotations

import gc
import math
import os
import sys
from datetime import UTC, datetime

import pytest
import redis

from campaigns.settings import Settings
from providers import Account
from worker import celery_app, keys, supervisor
from worker.celery_app import make_app
from worker.cli_support import (
    CALLBACK_THREADS,
    beat_argv,
    processes_for,
    threads_for,
    worker_argv,
)
from worker.redis_server import RedisHandle, check_noeviction, ensure_redis
from worker.windows import in_window


def test_a_private_redis_restarts_empty_on_the_same_port(redis_url: str) -> None:
    handle = ensure_redis("redis://127.0.0.1:1/0")  # nothing answers there: a private one
    try:
        assert handle.private and handle.url != redis_url
        client = redis.Redis.from_url(handle.url)
        client.set("k", "v")
        assert check_noeviction(client) is None
        handle.restart_empty()
        assert client.get("k") is None and client.ping()
        client.config_set("maxmemory-policy", "allkeys-lru")
        warning = check_noeviction(client)
        assert warning is not None and "noeviction" in warning
        client.close()
    finally:
        handle.stop()


def test_a_reachable_redis_is_used_as_it_is(redis_server: RedisHandle) -> None:
    handle = ensure_redis(redis_server.url)
    assert handle.url == redis_server.url and not handle.private
    handle.stop()  # a no-op for a server we did not start
    assert redis.Redis.from_url(redis_server.url).ping()


def test_the_app_is_configured_not_to_lose_or_repeat_work() -> None:
    settings = Settings(
        broker_url="amqp://guest@127.0.0.1//", tick_interval_s=1.5, visibility_timeout_s=900
    )
    conf = make_app(settings).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1 and conf.task_ignore_result
    assert conf.broker_transport_options["visibility_timeout"] == 900
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_default_queue == keys.CONTROL_QUEUE
    tick = conf.beat_schedule["smsq.tick"]
    assert tick["schedule"] == 1.5 and tick["options"]["queue"] == keys.CONTROL_QUEUE


def test_a_ready_worker_freezes_what_it_holds_so_collections_skip_it() -> None:
    gc.unfreeze()
    held: dict[str, list[int]] = {"tracked": []}

    def walked() -> bool:
        return any(o is held for o in gc.get_objects())

    try:
        assert walked()
        # What Celery's worker_ready signal runs once the consumer is up. Not the signal
        # itself: its other receiver starts the consumer heartbeat, which needs a consumer.
        celery_app._freeze_what_lives()
        assert gc.get_freeze_count() > 0 and not walked()  # no collection walks it now
    finally:
        gc.unfreeze()


def test_worker_and_beat_command_lines() -> None:
    argv = worker_argv(accounts=["nepal", "dhaka"], concurrency=4, hostname="a@%h")
    assert argv[:6] == [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker"]
    queues = argv[argv.index("-Q") + 1].split(",")
    assert queues == [
        "smsq.now.dhaka", "smsq.send.dhaka", "smsq.now.nepal", "smsq.send.nepal", "smsq.control",
    ]  # fmt: skip
    assert argv[argv.index("-P") + 1] == "threads" and argv[argv.index("-c") + 1] == "4"
    only_send = worker_argv(accounts=["nepal"], concurrency=2, control=False)
    assert only_send[only_send.index("-Q") + 1] == "smsq.now.nepal,smsq.send.nepal"
    beat = beat_argv()
    assert beat[-5:] == ["beat", "-S", "celery.beat:Scheduler", "-l", "INFO"]


@pytest.mark.parametrize(
    ("rates", "threads"),
    [
        ({"a": 5.0}, 2 + 6),  # ceil(5 * 0.75 * 1.2) + 1, and two for control
        ({"a": 50.0}, 2 + 46),
        ({"a": 100.0}, 2 + 91),
        ({"a": 5.0, "b": 50.0}, 2 + 6 + 46),
        ({"a": 10_000.0}, 256),  # capped
        ({"a": 0.5}, 4),  # at least
    ],
)
def test_a_workers_threads_follow_its_accounts_rates(rates: dict[str, float], threads: int) -> None:
    accounts = {
        name: Account(name=name, provider="aakashsms_v3", base_url="http://x", rate_per_s=rate)
        for name, rate in rates.items()
    }
    assert threads_for(accounts) == threads


def test_the_supervisor_runs_a_process_per_account_or_one_for_a_group() -> None:
    accounts = {
        name: Account(name=name, provider="aakashsms_v3", base_url="http://x", rate_per_s=10)
        for name in ("nepal", "dhaka")
    }
    groups = supervisor.groups_for(accounts)
    assert [(g.name, g.accounts) for g in groups] == [("dhaka", ("dhaka",)), ("nepal", ("nepal",))]
    argv = supervisor.argv_of(groups[0])
    assert argv[argv.index("-n") + 1] == "dhaka@%h" and "smsq.control" in argv[argv.index("-Q") + 1]
    [together] = supervisor.groups_for(accounts, together=["nepal", "dhaka"], concurrency=7)
    assert (together.name, together.accounts, together.threads) == (
        "dhaka+nepal", ("dhaka", "nepal"), 7,
    )  # fmt: skip
    with pytest.raises(ValueError, match="unknown accounts: ghost"):
        supervisor.groups_for(accounts, together=["ghost"])


def test_the_now_process_takes_single_messages_and_callbacks_but_no_campaign_batch() -> None:
    accounts = {
        name: Account(name=name, provider="aakashsms_v3", base_url="http://x", rate_per_s=rate)
        for name, rate in (("nepal", 100), ("dhaka", 10))
    }
    group = supervisor.now_group(accounts)
    argv = supervisor.argv_of(group)
    queues = argv[argv.index("-Q") + 1].split(",")
    assert queues == ["smsq.now.dhaka", "smsq.now.nepal", keys.CALLBACKS_QUEUE]
    assert argv[argv.index("-n") + 1] == "now@%h"
    # Threads for both accounts' whole rates of single messages, and the callbacks' own.
    assert group.threads == threads_for(accounts) + CALLBACK_THREADS
    assert int(argv[argv.index("-c") + 1]) == group.threads
    # Serving no account (``smsq worker`` with none configured), it delivers callbacks.
    bare = supervisor.argv_of(supervisor.now_group({}))
    assert bare[bare.index("-Q") + 1] == keys.CALLBACKS_QUEUE


@pytest.mark.parametrize(
    ("rate_per_s", "per_request", "messages_per_s", "cores", "processes"),
    [
        (10, 100, None, 2, 1),  # 1,000 numbers/s: one process's core carries it
        (25, 100, None, 2, 1),  # 2,500/s: still one
        (50, 100, None, 2, 2),  # 5,000/s: a process per core
        (100, 100, None, 2, 2),  # 10,000/s: never more than the cores
        (100, 100, None, 1, 1),  # never more processes than cores
        (500, 100, None, 8, 8),
        (100, 100, 2_000, 2, 1),  # a messages_per_s limit below caps the numbers
        (100, 1, None, 2, 1),  # single-number requests: 100/s
    ],
)
def test_an_account_gets_a_process_per_core_it_can_keep_busy(
    rate_per_s: float, per_request: int, messages_per_s: float | None, cores: int, processes: int
) -> None:
    account = Account(
        name="nepal", provider="aakashsms_v3", base_url="http://x", rate_per_s=rate_per_s,
        max_recipients=per_request, messages_per_s=messages_per_s,
    )  # fmt: skip
    assert processes_for(account, cores=cores) == processes


def test_a_group_of_several_processes_names_each_and_shares_its_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    fast = Account(
        name="nepal", provider="aakashsms_v3", base_url="http://x", rate_per_s=100,
        max_recipients=100,
    )  # fmt: skip
    [group] = supervisor.groups_for({"nepal": fast})
    assert group.process_names() == ["nepal-1", "nepal-2"]
    assert group.threads == math.ceil(threads_for({"nepal": fast}) / 2)
    argv = supervisor.argv_of(group, process_name="nepal-2")
    assert argv[argv.index("-n") + 1] == "nepal-2@%h"


@pytest.mark.parametrize(
    ("hour", "minute", "window", "tz", "inside"),
    [
        (8, 59, ("09:00", "17:00"), "UTC", False),
        (9, 0, ("09:00", "17:00"), "UTC", True),
        (17, 0, ("09:00", "17:00"), "UTC", False),
        (23, 30, ("22:00", "06:00"), "UTC", True),
        (5, 59, ("22:00", "06:00"), "UTC", True),
        (12, 0, ("22:00", "06:00"), "UTC", False),
        (3, 30, ("09:00", "17:00"), "Asia/Kathmandu", True),  # 09:15 in Nepal (UTC+5:45)
        (12, 0, (None, None), None, True),
    ],
)
def test_send_windows_in_local_time(
    hour: int, minute: int, window: tuple[str | None, str | None], tz: str | None, inside: bool
) -> None:
    now = datetime(2025, 3, 1, hour, minute, tzinfo=UTC)
    assert in_window(now, window[0], window[1], tz) is inside


def test_a_stale_limit_shorter_than_a_live_send_is_reported() -> None:
    from worker.celery_app import check_stale_after

    assert check_stale_after(Settings(stale_after_s=120), {"nepal": 30.0}) is None
    warning = check_stale_after(Settings(stale_after_s=60), {"nepal": 30.0, "dhaka": 5.0})
    assert warning is not None and "'nepal'" in warning and "timeout_s=30" in warning
