"""The worker on RabbitMQ: Celery's broker is AMQP, the rate limiter and tick lock stay in Redis.

A private vhost ``smsq_test_<random>`` on the RabbitMQ at 127.0.0.1:5672 (guest/guest) is
created for the test (with ``rabbitmqctl``, else the management API on 15672) and deleted
afterwards, so runs on the same server never see each other's queues. The test is skipped,
with the reason, when nothing answers on 5672 or no vhost can be created.

Two workers and a beat run with ``SMSQ_BROKER_URL=amqp://.../<vhost>`` and
``SMSQ_REDIS_URL`` on the session's private Redis; this process hands campaigns off over the
same vhost. The sandbox's record is the ground truth that each number went out exactly once;
Redis keyspace notifications show which keys were written there.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
from kombu import Connection
from sqlalchemy import select

from campaigns import set_dispatcher, submit_campaign
from campaigns.db import get_engine
from campaigns.models import Campaign, Recipient
from providers.sandbox.accounts import sandbox_accounts
from providers.sandbox.client import SandboxClient
from tests.fixtures.cluster import StartCluster
from worker import keys
from worker.local import LocalCluster

pytestmark = pytest.mark.integration

AMQP_HOST = "127.0.0.1"
AMQP_PORT = 5672
AMQP_USER = AMQP_PASSWORD = "guest"
MANAGEMENT_API = f"http://{AMQP_HOST}:15672/api"
PROBE_TIMEOUT_S = 2.0
CTL_TIMEOUT_S = 20.0

TICK_S = 0.3
STALE_S = 3.0
TIMEOUT_S = 1.0  # gateway timeouts (the sandbox answers in milliseconds)
WORKERS = ("w1", "w2")
GATEWAYS = {"smspresto": "22507{:08d}", "aakashsms_v3": "98{:08d}"}  # account -> number shape
PER_GATEWAY = 200
BATCH = 20  # numbers per request: ten requests per gateway, so many limiter writes


@dataclass(frozen=True)
class VhostTool:
    """How this machine lets us create and delete a RabbitMQ vhost."""

    name: str
    create: Callable[[str], None]
    delete: Callable[[str], None]


def _ctl(*args: str) -> None:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=CTL_TIMEOUT_S
    )
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(f"rabbitmqctl {args[0]} exited {done.returncode}: {output[-1:]}")


def _ctl_create(vhost: str) -> None:
    _ctl("add_vhost", vhost)
    try:
        _ctl("set_permissions", "-p", vhost, AMQP_USER, ".*", ".*", ".*")
    except Exception:
        _ctl("delete_vhost", vhost)
        raise


def _ctl_delete(vhost: str) -> None:
    _ctl("delete_vhost", vhost)


def _api(method: str, path: str, body: dict[str, str] | None = None) -> None:
    response = httpx.request(
        method, f"{MANAGEMENT_API}/{path}", json=body,
        auth=(AMQP_USER, AMQP_PASSWORD), timeout=PROBE_TIMEOUT_S,
    )  # fmt: skip
    response.raise_for_status()


def _api_create(vhost: str) -> None:
    _api("PUT", f"vhosts/{vhost}")
    try:
        perms = {"configure": ".*", "write": ".*", "read": ".*"}
        _api("PUT", f"permissions/{vhost}/{AMQP_USER}", perms)
    except Exception:
        _api("DELETE", f"vhosts/{vhost}")
        raise


def _api_delete(vhost: str) -> None:
    _api("DELETE", f"vhosts/{vhost}")


def _create_vhost(vhost: str) -> VhostTool:
    """Create ``vhost`` with the first tool that works; skip the test if none does."""
    failures = []
    tools = [VhostTool("management API", _api_create, _api_delete)]
    if shutil.which("rabbitmqctl"):
        tools.insert(0, VhostTool("rabbitmqctl", _ctl_create, _ctl_delete))
    else:
        failures.append("rabbitmqctl: not on PATH")
    for tool in tools:
        try:
            tool.create(vhost)
            return tool
        except (OSError, RuntimeError, subprocess.SubprocessError, httpx.HTTPError) as exc:
            failures.append(f"{tool.name}: {type(exc).__name__}: {exc}")
    pytest.skip(f"cannot create a private RabbitMQ vhost ({'; '.join(failures)})")


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """A broker URL on a fresh private vhost, deleted afterwards; skips without RabbitMQ."""
    try:
        socket.create_connection((AMQP_HOST, AMQP_PORT), timeout=PROBE_TIMEOUT_S).close()
    except OSError as exc:
        pytest.skip(f"no RabbitMQ answers on {AMQP_HOST}:{AMQP_PORT} ({exc})")
    vhost = f"smsq_test_{uuid.uuid4().hex[:12]}"
    tool = _create_vhost(vhost)
    try:
        yield f"amqp://{AMQP_USER}:{AMQP_PASSWORD}@{AMQP_HOST}:{AMQP_PORT}/{vhost}"
    finally:
        tool.delete(vhost)


class KeyWrites:
    """The keys written in a Redis while it is open, from keyspace notifications."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)
        self.saved = str(self.client.config_get("notify-keyspace-events")["notify-keyspace-events"])
        self.client.config_set("notify-keyspace-events", "KA")
        self.pubsub = self.client.pubsub()  # type: ignore[no-untyped-call]
        self.pubsub.psubscribe("__keyspace@*__:*")
        self.keys: Counter[str] = Counter()

    def collect(self) -> Counter[str]:
        """Every key notified so far, with how many events it had."""
        # Subscription confirmations are messages too: None means nothing came for 0.2 s.
        while (message := self.pubsub.get_message(timeout=0.2)) is not None:
            if message["type"] == "pmessage":
                self.keys[message["channel"].decode().split(":", 1)[1]] += 1
        return self.keys

    def close(self) -> None:
        self.pubsub.close()
        self.client.config_set("notify-keyspace-events", self.saved)
        self.client.close()


def _campaign_state(db_url: str, campaign_id: int) -> str:
    with get_engine(db_url).connect() as conn:
        state: str = conn.execute(
            select(Campaign.state).where(Campaign.id == campaign_id)
        ).scalar_one()
    return state


def _recipient_states(db_url: str, campaign_id: int) -> Counter[str]:
    with get_engine(db_url).connect() as conn:
        rows = conn.execute(
            select(Recipient.state).where(Recipient.campaign_id == campaign_id)
        ).scalars()
        return Counter(rows)


def _wait_completed(cluster: LocalCluster, db_url: str, campaigns: dict[str, int]) -> None:
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        if all(_campaign_state(db_url, c) == "completed" for c in campaigns.values()):
            return
        time.sleep(0.1)
    states = {a: (_campaign_state(db_url, c), _recipient_states(db_url, c))
              for a, c in campaigns.items()}  # fmt: skip
    logs = "\n".join(cluster.log(n)[-2500:] for n in (*WORKERS, "beat"))
    pytest.fail(f"campaigns not completed: {states}\n{logs}")


def _queue(url: str, name: str) -> tuple[int, int]:
    """(messages ready, consumers) of an existing queue; raises if it does not exist."""
    with Connection(url, connect_timeout=PROBE_TIMEOUT_S) as conn:
        channel: Any = conn.default_channel  # kombu's stubs omit queue_declare
        declared = channel.queue_declare(queue=name, passive=True)
        return int(declared.message_count), int(declared.consumer_count)


def test_a_campaign_runs_on_rabbitmq_with_the_rate_limiter_in_redis(
    amqp_url: str,
    redis_url: str,
    sandbox: SandboxClient,
    sqlite_url: str,
    start_cluster: StartCluster,
) -> None:
    demo = sandbox_accounts(sandbox.url)
    fast = {"timeout_s": TIMEOUT_S, "max_recipients": BATCH}
    accounts = {name: demo[name].model_copy(update=fast) for name in GATEWAYS}
    writes = KeyWrites(redis_url)
    handed_off: list[int] = []
    try:
        # Nothing starts with the cluster: its configuration is checked first.
        with start_cluster(
            accounts, database_url=sqlite_url, broker_url=amqp_url, workers={}, beat=False,
            dispatcher=False, tick_interval_s=TICK_S, stale_after_s=STALE_S,
            visibility_timeout_s=120, extra_env={"SMSQ_REDIS_URL": redis_url},
        ) as cluster:  # fmt: skip
            # The Redis-only option is configured, and the amqp transport must not mind it.
            options = cluster.app.conf.broker_transport_options
            assert options["visibility_timeout"] == 120, options
            with cluster.app.connection_for_write() as conn:
                assert conn.transport_cls == "amqp"
            cluster.start(dict.fromkeys(WORKERS, 1), beat=True)

            def hand_off(campaign_id: int) -> None:  # the cluster's, over the amqp vhost
                handed_off.append(campaign_id)
                cluster.dispatch(campaign_id)

            set_dispatcher(hand_off)
            campaigns = {
                account: submit_campaign(
                    account,
                    [shape.format(i) for i in range(PER_GATEWAY)],
                    text="Hello from smsq on RabbitMQ",
                    database_url=sqlite_url,
                    accounts=accounts,
                )
                for account, shape in GATEWAYS.items()
            }
            assert handed_off == list(campaigns.values())
            _wait_completed(cluster, sqlite_url, campaigns)

            # The broker is the vhost: our queues exist there, drained, with consumers.
            for queue in (keys.CONTROL_QUEUE, *map(keys.send_queue, GATEWAYS)):
                ready, consumers = _queue(amqp_url, queue)
                assert ready == 0 and consumers == len(WORKERS), (queue, ready, consumers)
            logs = {name: cluster.log(name) for name in (*WORKERS, "beat")}
    finally:
        set_dispatcher(None)
        try:
            written = writes.collect()
        finally:
            writes.close()

    for account, shape in GATEWAYS.items():
        listed = [shape.format(i) for i in range(PER_GATEWAY)]
        assert _recipient_states(sqlite_url, campaigns[account]) == {"sent": PER_GATEWAY}
        record = Counter(m.msisdn for m in sandbox.messages(account=account))
        assert record == Counter(listed), f"{account}: not each number exactly once"

    vhost = amqp_url.rsplit("/", 1)[1]
    for name in WORKERS:
        assert f"Connected to amqp://{AMQP_USER}:**@{AMQP_HOST}:{AMQP_PORT}/{vhost}" in logs[name]
    everything = "\n".join(logs.values())
    # Both hand-offs were consumed from RabbitMQ and run by a worker.
    assert len(re.findall(r"smsq\.dispatch_campaign\[[^\]]+\] succeeded", everything)) == 2
    assert "Traceback" not in everything and "queue depth of" not in everything

    # The limiter (and the tick lock) wrote to the private Redis, and nothing else did: no
    # kombu queue, binding or unacked key, so the broker traffic went to RabbitMQ alone.
    for account in GATEWAYS:
        assert written[keys.rate_requests(account)] >= PER_GATEWAY // BATCH, written
    assert keys.TICK_LOCK in written
    assert [k for k in written if not k.startswith(keys.PREFIX)] == [], written
