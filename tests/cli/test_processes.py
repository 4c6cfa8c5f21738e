"""The long-running commands as real processes: ``smsq sandbox``, ``smsq worker``, ``smsq beat``,
and ``smsq db upgrade`` / ``smsq submit`` as a user's shell runs them.

Each child gets this test's private Redis, SQLite file and config file, and nothing else of
``SMSQ_*``; each is stopped with SIGTERM, as a process manager would, and must exit.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import create_engine, inspect

from campaigns.settings import Settings
from providers import load_accounts
from tests.cli.helpers import (
    FUNDED,
    NOWHERE,
    SMSQ,
    Child,
    CliEnv,
    Result,
    funded_accounts,
    run_smsq,
)
from worker import keys
from worker.celery_app import make_app
from worker.cli_support import processes_for

pytestmark = pytest.mark.integration
Smsq = Callable[..., Result]


def _control_messages(broker_url: str) -> list[dict[str, Any]]:
    """The messages waiting in the control queue (kombu keeps a Redis list per queue)."""
    client = redis.Redis.from_url(broker_url)
    try:
        raw = client.lrange(keys.CONTROL_QUEUE, 0, -1)
    finally:
        client.close()
    return [json.loads(item) for item in raw]


def test_sandbox_serves_until_terminated(cli_env: CliEnv) -> None:
    ready = cli_env.tmp_path / "sandbox.url"
    argv = [str(SMSQ), "sandbox", "--port", "0", "--ready-file", str(ready)]
    with Child(argv, cli_env.environ(), cli_env.tmp_path, cli_env.tmp_path / "sandbox.log") as sb:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert time.monotonic() < deadline, sb.output()
            assert sb.process is not None and sb.process.poll() is None, sb.output()
            time.sleep(0.05)
        url = ready.read_text().strip()
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        health = httpx.get(f"{url}/_sandbox/health", timeout=5)
        assert health.status_code == 200 and health.json()["ok"] is True
        sb.stop()
        assert f"SANDBOX_URL={url}" in sb.output()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/_sandbox/health", timeout=2)


def test_worker_runs_a_process_per_account_on_its_queues_and_the_control_queue_and_callbacks(
    cli_env: CliEnv,
) -> None:
    argv = [str(SMSQ), "worker", "--concurrency", "2"]
    log = cli_env.tmp_path / "worker.log"
    # The sandbox's accounts allow 10,000 requests/s: more than a core's worth; a real
    # gateway's rate is less. One of each (every Celery process costs seconds to boot).
    fast, slow = FUNDED[:2]
    funded = funded_accounts(NOWHERE)
    slowed = funded[slow].model_copy(update={"rate_per_s": 5.0})
    cli_env.write_accounts({fast: funded[fast], slow: slowed})
    configured = load_accounts()
    processes = {name: processes_for(configured[name]) for name in (fast, slow)}
    assert processes == {fast: os.cpu_count() or 1, slow: 1}
    with Child(argv, cli_env.environ(), cli_env.tmp_path, log) as worker:
        deadline = time.monotonic() + 60
        while worker.output().count(" ready.") < sum(processes.values()) + 1:  # + now
            assert time.monotonic() < deadline, worker.output()
            time.sleep(0.1)
        app = make_app(Settings(database_url=cli_env.database_url, broker_url=cli_env.broker_url))
        try:
            replies = app.control.inspect(timeout=10).active_queues() or {}
        finally:
            app.close()
        banner = worker.output()
        assert worker.stop() == 0, worker.output()
    by_process = {
        host.split("@")[0]: {queue["name"] for queue in queues} for host, queues in replies.items()
    }
    # A process per account, or per core for a fast one: a hung gateway holds only its own.
    assert by_process == {
        **{
            process: {keys.now_queue(name), keys.send_queue(name), keys.CONTROL_QUEUE}
            for name, count in processes.items()
            for process in ([name] if count == 1 else [f"{name}-{i}" for i in range(1, count + 1)])
        },
        # Single messages, free of campaigns' threads; status callbacks too, whose slow
        # receiver holds no sending thread.
        "now": {keys.now_queue(name) for name in configured} | {keys.CALLBACKS_QUEUE},
    }
    assert "concurrency: 2 (thread)" in banner
    assert "Traceback" not in worker.output()


def test_beat_starts_and_sends_the_tick(cli_env: CliEnv) -> None:
    env = cli_env.environ(SMSQ_TICK_INTERVAL_S="0.3")
    log = cli_env.tmp_path / "beat.log"
    with Child([str(SMSQ), "beat"], env, cli_env.tmp_path, log) as beat:
        beat.wait_for("beat: Starting")
        deadline = time.monotonic() + 15
        while not (ticks := _control_messages(cli_env.broker_url)):
            assert time.monotonic() < deadline, beat.output()
            time.sleep(0.1)
        assert beat.stop() == 0, beat.output()
    assert ticks[0]["headers"]["task"] == "smsq.tick"
    assert "scheduler -> celery.beat.Scheduler" in beat.output()
    assert not (cli_env.tmp_path / "var").exists()  # in memory: beat writes no schedule file


def test_submit_as_a_program_hands_the_campaign_to_the_broker(cli_env: CliEnv) -> None:
    argv = ("submit", "--account", "aakashsms_v1", "9841000001", "--text", "Hi", "--json")
    result = run_smsq(argv, cli_env.environ(), cwd=cli_env.tmp_path)
    assert result.code == 0 and result.err == "", result
    info = result.json()
    assert info["state"] == "scheduled"
    [message] = _control_messages(cli_env.broker_url)
    headers = message["headers"]
    assert headers["task"] == "smsq.dispatch_campaign"
    assert headers["argsrepr"] == f"campaign={info['id']}"


def test_db_upgrade_creates_the_schema_in_a_fresh_file(cli_env: CliEnv, smsq: Smsq) -> None:
    path = cli_env.tmp_path / "new" / "folder" / "smsq.db"
    url = f"sqlite:///{path}"
    cli_env.set(SMSQ_DATABASE_URL=url)
    result = smsq("db", "upgrade")
    assert (result.code, result.out.strip()) == (0, f"database at {url} is up to date"), result
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"campaigns", "batches", "recipients", "suppressions", "alembic_version"} <= tables
    again = smsq("db", "upgrade")  # nothing to do the second time
    assert again.code == 0, again
    assert smsq("status", "--json").json() == []
