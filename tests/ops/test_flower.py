"""Flower on a real deployment: it names our tasks, shows ids only, and keeps its login.

One deployment serves the module: a private redis-server that requires a password (so the
broker URL holds a secret too), a SQLite file, the session's sandbox, one Celery worker
started with ``-E`` and a beat (``start_cluster``), and Flower started the way
operators start it, ``smsq flower`` with ``FLOWER_BASIC_AUTH``, bound to 127.0.0.1.

Two small campaigns (numbers for two gateways, a recognisable text, the sandbox's demo
credentials; one number refused by the gateway and one transient 503 so that the split and
retry paths run too) are sent to completion; then everything Flower serves to a logged-in
user is read and searched for a phone number, the text, a credential or the broker
password. Flower 2 has no ``/dashboard`` page: its dashboard is ``/`` (= ``/workers``).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
import pytest
import redis
from sqlalchemy import select

from campaigns import submit_campaign
from campaigns.db import get_engine
from campaigns.models import Batch, Campaign
from providers import Account
from providers.sandbox.accounts import sandbox_accounts
from providers.sandbox.client import SandboxProcess
from tests.fixtures.cluster import StartCluster
from worker.local import LocalCluster
from worker.redis_server import RedisHandle, free_port, start_private_redis

pytestmark = pytest.mark.integration

WORKER = "ops"
HOSTNAME = f"{WORKER}@{socket.gethostname()}"
FLOWER_LOGIN = ("ops-admin", "flower-pw-Q7v2")
BROKER_PASSWORD = "broker-pw-Zx81"
TEXT = "smsq-ops canary 4711: your parcel waits at the depot"
NEPAL = [f"98491372{i:02d}" for i in range(1, 5)]  # aakashsms_v3
IVORY = [f"22507491372{i:02d}" for i in range(1, 6)]  # smspresto
REFUSED = IVORY[2]  # the gateway refuses it alone: the batch is split
CAMPAIGNS = {"aakashsms_v3": NEPAL, "smspresto": IVORY}
REGIONS = {"aakashsms_v3": "NP", "smspresto": "CI"}
START_TIMEOUT_S = 20.0
SEEN_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


def _smsq() -> str:
    path = Path(sys.executable).with_name("smsq")
    assert path.is_file(), f"the smsq console script is not installed next to {sys.executable}"
    return str(path)


class FlowerProcess:
    """``smsq flower`` on a free loopback port, in its own process group; stdout and stderr
    go to files in ``workdir``.
    """

    def __init__(self, env: Mapping[str, str], workdir: Path, name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = workdir / f"{name}.err"
        argv = [_smsq(), "flower", "--port", str(self.port), "--address", "127.0.0.1"]
        with (workdir / f"{name}.out").open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                argv, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                cwd=workdir, start_new_session=True,
            )  # fmt: skip

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_healthy(self) -> None:
        """Wait until Flower answers /healthcheck (served without a login)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/healthcheck", timeout=1.0).text == "OK":
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"flower did not start (exit {self.process.poll()}):\n{self.stderr()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except ProcessLookupError:
            pass


@dataclass
class Sent:
    """What the module's campaigns put through Flower."""

    flower: FlowerProcess
    client: httpx.Client  # logged in
    campaigns: dict[str, int]  # account -> campaign id
    batches: dict[int, int]  # batch id -> campaign id
    tasks: dict[str, dict[str, Any]]  # Flower's /api/tasks once every task was seen
    cluster: LocalCluster


def _accounts(sandbox_url: str) -> dict[str, Account]:
    demo = sandbox_accounts(sandbox_url)
    small = {"max_recipients": 2, "timeout_s": 2.0}  # several batches per campaign
    return {name: demo[name].model_copy(update=small) for name in CAMPAIGNS}


def _protect(handle: RedisHandle) -> str:
    """Make the private server require a password; the broker URL that carries it."""
    client = redis.Redis.from_url(handle.url)
    try:
        client.config_set("requirepass", BROKER_PASSWORD)
    finally:
        client.close()
    return handle.url.replace("redis://", f"redis://:{BROKER_PASSWORD}@", 1)


@pytest.fixture(scope="module")
def redis_with_password() -> Iterator[str]:
    handle = start_private_redis()  # our own: the session's server must stay open
    try:
        yield _protect(handle)
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def cluster(
    start_cluster: StartCluster, redis_with_password: str, sandbox_proc: SandboxProcess
) -> Iterator[LocalCluster]:
    with start_cluster(
        _accounts(sandbox_proc.url), folder="ops-flower", broker_url=redis_with_password,
        workers={WORKER: 1}, beat=False,  # worker_argv passes -E
        tick_interval_s=0.3, stale_after_s=5.0, visibility_timeout_s=120,
    ) as local:  # fmt: skip
        yield local  # beat starts once Flower listens (see ``sent``)


def _flower_env(cluster: LocalCluster, basic_auth: str | None) -> dict[str, str]:
    env = {k: v for k, v in cluster.env.items() if not k.startswith("FLOWER_")}
    if basic_auth is not None:
        env["FLOWER_BASIC_AUTH"] = basic_auth
    return env


@pytest.fixture(scope="module")
def flower(cluster: LocalCluster) -> Iterator[FlowerProcess]:
    process = FlowerProcess(
        _flower_env(cluster, ":".join(FLOWER_LOGIN)), cluster.config.workdir, "flower"
    )
    try:
        process.wait_healthy()
        yield process
    finally:
        process.stop()


def _wait_for_worker_events(client: httpx.Client, flower: FlowerProcess) -> None:
    """Flower keeps only the events it receives: wait until it hears the worker's heartbeat."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        workers = client.get("/workers", params={"json": "1"}).json()["data"]
        if any(w.get("hostname") == HOSTNAME for w in workers):
            return
        time.sleep(0.2)
    pytest.fail(f"flower never heard from {HOSTNAME}:\n{flower.stderr()[-2000:]}")


def _wait_completed(cluster: LocalCluster, campaign_ids: list[int]) -> dict[int, int]:
    """Wait until every campaign is completed; its batches' ids -> campaign id."""
    engine = get_engine(cluster.config.database_url)
    deadline = time.monotonic() + SEEN_TIMEOUT_S
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            states = conn.execute(
                select(Campaign.id, Campaign.state).where(Campaign.id.in_(campaign_ids))
            ).all()
        if all(state == "completed" for _id, state in states):
            with engine.connect() as conn:
                rows = conn.execute(
                    select(Batch.id, Batch.campaign_id).where(Batch.campaign_id.in_(campaign_ids))
                ).all()
            return {batch_id: campaign_id for batch_id, campaign_id in rows}
        time.sleep(0.1)
    logs = "\n".join(cluster.log(name)[-2500:] for name in (WORKER, "beat"))
    pytest.fail(f"campaigns not completed: {states}\n{logs}")


def _expected_args(campaigns: dict[str, int], batches: dict[int, int]) -> set[tuple[str, str]]:
    dispatches = {("smsq.dispatch_campaign", f"campaign={c}") for c in campaigns.values()}
    sends = {("smsq.send_batch", f"campaign={c} batch={b}") for b, c in batches.items()}
    # And a tick: beat started before the submits, but the campaigns may finish before its
    # first tick (their dispatches need none), so this waits for one.
    return dispatches | sends | {("smsq.tick", "()")}


def _wait_seen(
    client: httpx.Client, expected: set[tuple[str, str]], flower: FlowerProcess
) -> dict[str, dict[str, Any]]:
    """Poll /api/tasks until each expected (name, args) has a task that succeeded."""
    deadline = time.monotonic() + SEEN_TIMEOUT_S
    missing = expected
    while time.monotonic() < deadline:
        tasks: dict[str, dict[str, Any]] = client.get("/api/tasks").json()
        done = {(t.get("name"), t.get("args")) for t in tasks.values() if t["state"] == "SUCCESS"}
        missing = expected - done
        if not missing:
            return tasks
        time.sleep(0.2)
    pytest.fail(f"flower never showed {sorted(missing)}:\n{flower.stderr()[-2000:]}")


@pytest.fixture(scope="module")
def sent(
    cluster: LocalCluster, flower: FlowerProcess, sandbox_proc: SandboxProcess
) -> Iterator[Sent]:
    sandbox = sandbox_proc.client
    sandbox.reset()
    sandbox.set_faults(
        {"fail_numbers": [REFUSED], "accounts": {"aakashsms_v3": {"next": {"http_503": 1}}}}
    )
    with httpx.Client(base_url=flower.url, auth=FLOWER_LOGIN, timeout=10.0) as client:
        try:
            _wait_for_worker_events(client, flower)
            # From now on Flower receives every event, so each task it lists has a name.
            cluster.start_beat()
            # start_cluster installed the hand-off: submits are dispatched on its broker.
            campaigns = {
                account: submit_campaign(
                    account,
                    numbers,
                    text=TEXT,
                    database_url=cluster.config.database_url,
                    accounts=cluster.config.accounts,
                )
                for account, numbers in CAMPAIGNS.items()
            }
            batches = _wait_completed(cluster, list(campaigns.values()))
            tasks = _wait_seen(client, _expected_args(campaigns, batches), flower)
            yield Sent(flower, client, campaigns, batches, tasks, cluster)
        finally:
            sandbox.reset()


def test_flower_names_every_task_and_shows_ids_only_as_args(sent: Sent) -> None:
    tasks = sent.tasks
    names = {t["name"] for t in tasks.values()}
    # The tick publishes the callbacks' tick too; no worker of this cluster reads that queue.
    assert names - {"smsq.callbacks_tick"} == {
        "smsq.dispatch_campaign", "smsq.send_batch", "smsq.tick",
    }, names  # fmt: skip
    shown = {(t["name"], t["args"]) for t in tasks.values()}
    assert _expected_args(sent.campaigns, sent.batches) <= shown
    shapes = {
        "smsq.dispatch_campaign": r"campaign=\d+",
        "smsq.send_batch": r"campaign=\d+ batch=\d+",
    }
    ours = [t for t in tasks.values() if t["name"] in shapes]
    for task in ours:
        assert re.fullmatch(shapes[task["name"]], task["args"]), task
        assert task["kwargs"] == "{}", task
        assert task["worker"] == HOSTNAME, task
    ticks = [t for t in tasks.values() if t["name"] in ("smsq.tick", "smsq.callbacks_tick")]
    assert all(t["args"] == "()" for t in ticks), ticks[:3]
    splits = [t for t in ours if str(t.get("result", "")).startswith("'split")]
    assert splits, "the refused number should have split a batch"


def test_flower_lists_the_worker_with_its_queues_and_tasks(sent: Sent) -> None:
    workers = sent.client.get("/api/workers", params={"refresh": "1"}).json()
    assert HOSTNAME in workers, list(workers)
    worker = workers[HOSTNAME]
    queues = {q["name"] for q in worker["active_queues"]}
    assert {"smsq.send.aakashsms_v3", "smsq.send.smspresto"} <= queues, queues
    assert {"smsq.send_batch", "smsq.dispatch_campaign", "smsq.tick"} <= set(worker["registered"])


def _secrets(accounts: Mapping[str, Account]) -> dict[str, str]:
    """Every string that must never appear in what Flower serves, with what it is."""
    found: dict[str, str] = {BROKER_PASSWORD: "broker password", TEXT: "message text"}
    found["canary 4711"] = "message text"
    found[FLOWER_LOGIN[1]] = "Flower's own password"
    for name, numbers in CAMPAIGNS.items():
        for number in numbers:
            parsed = phonenumbers.parse(number, REGIONS[name])
            # The national significant number is inside every written form (E.164, national,
            # gateway format), so finding none of it finds none of them.
            found[str(parsed.national_number)] = f"phone number {number}"
    for account in accounts.values():
        for field, value in account.credentials.items():
            found[value.get_secret_value()] = f"{account.name} credential {field}"
    return found


def _pages(sent: Sent) -> dict[str, httpx.Response]:
    """Everything a logged-in user of Flower can read about this deployment."""
    client = sent.client
    datatable = {
        "draw": "1", "start": "0", "length": "1000", "search[value]": "",
        "order[0][column]": "0", "order[0][dir]": "asc", "columns[0][data]": "name",
    }  # fmt: skip
    listed = client.get("/api/tasks")
    pages = {
        "/api/tasks": listed,
        "/": client.get("/"),
        "/workers": client.get("/workers"),
        "/workers?json=1": client.get("/workers", params={"json": "1"}),
        f"/worker/{HOSTNAME}": client.get(f"/worker/{HOSTNAME}"),
        "/tasks": client.get("/tasks"),
        "/tasks/datatable": client.get("/tasks/datatable", params=datatable),
        "/broker": client.get("/broker"),
        "/api/workers?refresh=1": client.get("/api/workers", params={"refresh": "1"}),
        "/api/task/types": client.get("/api/task/types"),
        "/api/queues/length": client.get("/api/queues/length"),
        "/metrics": client.get("/metrics"),
    }
    for task_id in listed.json():
        pages[f"/api/task/info/{task_id}"] = client.get(f"/api/task/info/{task_id}")
        pages[f"/task/{task_id}"] = client.get(f"/task/{task_id}")
    return pages


def test_nothing_flower_serves_holds_a_number_the_text_or_a_secret(sent: Sent) -> None:
    pages = _pages(sent)
    failed = {path: r.status_code for path, r in pages.items() if r.status_code != 200}
    assert failed == {}, failed
    datatable = pages["/tasks/datatable"].json()
    assert datatable["recordsTotal"] >= len(sent.tasks)  # the table held them (ticks go on)
    assert len(datatable["data"]) == datatable["recordsTotal"]
    # The pages searched do carry the tasks: what is not there was left out, not missed.
    assert HOSTNAME in pages["/"].text
    for task_id, task in pages["/api/tasks"].json().items():
        assert pages[f"/api/task/info/{task_id}"].json()["args"] == task["args"]
        assert task["args"] in pages[f"/task/{task_id}"].text
        assert task["args"] in pages["/tasks/datatable"].text
    secrets = _secrets(sent.cluster.config.accounts)
    leaks = sorted(
        f"{path}: {what} ({needle!r})"
        for path, response in pages.items()
        for needle, what in secrets.items()
        if needle in response.text
    )
    assert leaks == [], "\n".join(leaks)


@pytest.mark.parametrize("path", ["/api/tasks", "/api/workers", "/api/task/types", "/", "/tasks"])
def test_flower_refuses_a_missing_or_wrong_login(sent: Sent, path: str) -> None:
    url = f"{sent.flower.url}{path}"
    assert httpx.get(url, timeout=5.0).status_code == 401
    assert httpx.get(url, auth=(FLOWER_LOGIN[0], "wrong"), timeout=5.0).status_code == 401
    assert httpx.get(url, auth=("admin", FLOWER_LOGIN[1]), timeout=5.0).status_code == 401
    assert httpx.get(url, auth=FLOWER_LOGIN, timeout=5.0).status_code == 200


def test_flower_refuses_a_task_without_the_login(sent: Sent) -> None:
    task_id = next(iter(sent.tasks))
    for path in (f"/api/task/info/{task_id}", f"/task/{task_id}", f"/worker/{HOSTNAME}"):
        url = f"{sent.flower.url}{path}"
        assert httpx.get(url, timeout=5.0).status_code == 401, path
        assert httpx.get(url, auth=FLOWER_LOGIN, timeout=5.0).status_code == 200, path


def test_smsq_flower_without_basic_auth_makes_a_login_and_requires_it(
    cluster: LocalCluster,
) -> None:
    env = _flower_env(cluster, None)  # neither FLOWER_BASIC_AUTH nor FLOWER_UNAUTHENTICATED_API
    process = FlowerProcess(env, cluster.config.workdir, "flower-generated")
    try:
        process.wait_healthy()
        match = re.search(r"login is (\S+):(\S+)", process.stderr())
        assert match, process.stderr()[-2000:]
        login = (match.group(1), match.group(2))
        assert len(login[1]) >= 12, "the generated password is too short"
        for path in ("/api/tasks", "/api/workers", "/", "/tasks"):
            assert httpx.get(f"{process.url}{path}", timeout=5.0).status_code == 401, path
        answer = httpx.get(f"{process.url}/api/tasks", auth=login, timeout=5.0)
        assert answer.status_code == 200
    finally:
        process.stop()
