"""Status callbacks for real: a cluster with its callbacks worker, a receiver on loopback.

One deployment serves the module: a sending worker, the callbacks' own worker process and
a beat, on the session's Redis and sandbox, with short retry timings. The receiver is a
threaded ``http.server`` on 127.0.0.1 that keeps every request as it came; the checks run
on those raw requests: each signature verified with the secret the submit returned, the
campaign's states in order, every number's final state exactly once after deduplication
by event id, none missing after the callbacks worker is killed mid-POST.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from campaigns import get_campaign, submit_campaign
from campaigns.api import callback_secret
from campaigns.callbacks import list_callbacks, verify
from campaigns.settings import get_settings
from providers.sandbox.accounts import sandbox_accounts
from providers.sandbox.client import SandboxProcess
from tests.fixtures.cluster import StartCluster
from worker.local import LocalCluster
from worker.redis_server import free_port

pytestmark = pytest.mark.integration

MASTER_KEY = "e2e-master-key-for-callbacks-0123"
ACCOUNT = "aakashsms_v3"
RETRY_FOR_S = 6.0
TIMINGS = {
    "SMSQ_CALLBACK_MASTER_KEY": MASTER_KEY,
    "SMSQ_CALLBACK_TIMEOUT_S": "2",  # so a killed delivery's lease (2 x 2 + 5 s) ends soon
    "SMSQ_CALLBACK_RETRY_FOR_S": str(RETRY_FOR_S),
    "SMSQ_CALLBACK_BACKOFF_S": "0.2",
    "SMSQ_CALLBACK_BACKOFF_MAX_S": "1",
}


@dataclass(frozen=True)
class Received:
    signature: str | None
    event_id: str | None
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class Receiver:
    """A loopback HTTP receiver: keeps every POST, answers ``status()``; may hang once."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status: Callable[[], int] = lambda: 200
        self.hang_at: int | None = None  # the request (1-based) that waits for ``release``
        self.hanging = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(
                        Received(self.headers.get("X-Smsq-Signature"),
                                 self.headers.get("X-Smsq-Event-Id"), body)
                    )  # fmt: skip
                    count = len(receiver.received)
                if count == receiver.hang_at:
                    receiver.hanging.set()
                    receiver.release.wait(30)
                try:
                    self.send_response(receiver.status())
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the worker that asked is dead

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/smsq/events"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def cluster(start_cluster: StartCluster, sandbox_proc: SandboxProcess) -> Iterator[LocalCluster]:
    accounts = {ACCOUNT: sandbox_accounts(sandbox_proc.url)[ACCOUNT]}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SMSQ_CALLBACK_MASTER_KEY", MASTER_KEY)  # this process shows the secret
        get_settings.cache_clear()
        with start_cluster(
            accounts, folder="callbacks", workers={"w1": 2}, callbacks=True,
            tick_interval_s=0.3, stale_after_s=5.0, extra_env=TIMINGS,
        ) as started:  # fmt: skip
            started.install_dispatcher()
            yield started
    get_settings.cache_clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _submit(cluster: LocalCluster, numbers: list[str], url: str) -> int:
    return submit_campaign(
        ACCOUNT, numbers, text="Your code is 4711", callback_url=url,
        database_url=cluster.config.database_url, accounts=dict(cluster.config.accounts),
    )  # fmt: skip


def _numbers(start: int, count: int) -> list[str]:
    return [f"98{start + i:08d}" for i in range(count)]


def _wait(what: str, done: Callable[[], bool], cluster: LocalCluster, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.1)
    logs = "\n".join(cluster.log(n)[-2000:] for n in ("callbacks", "w1", "beat"))
    pytest.fail(f"timed out waiting for {what}\n{logs}")


def _all_delivered(cluster: LocalCluster, campaign_id: int) -> Callable[[], bool]:
    def check() -> bool:
        info = get_campaign(campaign_id, database_url=cluster.config.database_url)
        counts = info.callbacks
        return info.state == "completed" and set(counts) == {"delivered"}

    return check


def _check_stream(
    received: list[Received], campaign_id: int, numbers: list[str]
) -> list[dict[str, Any]]:
    """Every request signed right; seqs 1..n each once after dedupe, first seen in order;
    the states in order; every number's final state exactly once. The unique events."""
    secret = callback_secret(campaign_id)
    for request in received:
        verify(secret, request.signature, request.body)  # raises on a bad one
        assert request.event_id == request.event["id"]
    unique: dict[str, dict[str, Any]] = {}
    for request in received:
        event = request.event
        if event["id"] in unique:
            assert unique[event["id"]] == event  # a redelivery is the same event
        unique.setdefault(event["id"], event)
    events = list(unique.values())
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1)), seqs  # in order, none missing
    assert {e["campaign_id"] for e in events} == {campaign_id}
    states = [e["data"]["state"] for e in events if e["type"] == "campaign.state"]
    assert states == ["scheduled", "running", "completed"]
    assert events[-1]["type"] == "campaign.state"  # completed comes after every outcome
    finals = Counter(
        r["number"] for e in events if e["type"] == "recipients.final"
        for r in e["data"]["recipients"]
    )  # fmt: skip
    assert set(finals.values()) == {1}
    assert sorted(finals) == sorted(numbers)
    return events


def test_a_campaign_reports_its_states_and_every_number_once_signed(
    cluster: LocalCluster, receiver: Receiver
) -> None:
    numbers = _numbers(0, 250) + ["12345"]  # and one invalid row: reported as such
    campaign_id = _submit(cluster, numbers, receiver.url)
    _wait("every callback delivered", _all_delivered(cluster, campaign_id), cluster, 60)
    events = _check_stream(receiver.received, campaign_id, numbers)
    recipients = [r for e in events if e["type"] == "recipients.final"
                  for r in e["data"]["recipients"]]  # fmt: skip
    by_state = Counter(r["state"] for r in recipients)
    assert by_state == {"sent": 250, "invalid": 1}
    assert all(r["message_id"] for r in recipients if r["state"] == "sent")
    assert max(len(e["data"]["recipients"]) for e in events if "recipients" in e["data"]) <= 500
    assert len(receiver.received) == len(events)  # nothing failed: each sent once


def test_no_event_is_missing_after_the_callbacks_worker_is_killed_mid_delivery(
    cluster: LocalCluster, receiver: Receiver
) -> None:
    receiver.hang_at = 3  # the first batch of outcomes, after scheduled and running
    numbers = _numbers(1000, 300)
    campaign_id = _submit(cluster, numbers, receiver.url)
    assert receiver.hanging.wait(30), "no callback arrived"
    cluster.kill("callbacks")  # SIGKILL, its whole process group, while the POST is open
    receiver.release.set()
    _wait(
        "the campaign to complete without callbacks",
        lambda: (
            get_campaign(campaign_id, database_url=cluster.config.database_url).state == "completed"
        ),
        cluster,
        60,
    )
    open_events = get_campaign(campaign_id, database_url=cluster.config.database_url).callbacks
    assert set(open_events) - {"delivered"}, open_events  # some wait for the dead worker
    cluster.start_callbacks_worker()
    _wait("every callback delivered", _all_delivered(cluster, campaign_id), cluster, 60)
    _check_stream(receiver.received, campaign_id, numbers)
    ids = Counter(r.event_id for r in receiver.received)
    assert ids[receiver.received[2].event_id] == 2  # the one in flight came again


def test_a_receiver_failing_then_recovering_gets_every_event_retried(
    cluster: LocalCluster, receiver: Receiver
) -> None:
    recovers_at = time.monotonic() + 1.5
    receiver.status = lambda: 500 if time.monotonic() < recovers_at else 200
    numbers = _numbers(2000, 40)
    campaign_id = _submit(cluster, numbers, receiver.url)
    _wait("every callback delivered", _all_delivered(cluster, campaign_id), cluster, 60)
    delivered = [r for r in receiver.received if r.event["seq"] == 1]
    assert len(delivered) >= 2  # refused with 500, then retried
    _check_stream(receiver.received, campaign_id, numbers)
    _url, events = list_callbacks(campaign_id, database_url=cluster.config.database_url)
    assert events[0].attempts >= 2 and events[0].last_error is None


def test_a_receiver_down_past_the_retry_bound_is_recorded_as_given_up(
    cluster: LocalCluster,
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/hooks"  # nothing listens there
    campaign_id = _submit(cluster, _numbers(3000, 10), nobody)

    def given_up() -> bool:
        info = get_campaign(campaign_id, database_url=cluster.config.database_url)
        return info.state == "completed" and set(info.callbacks) == {"given_up"}

    _wait("every callback given up", given_up, cluster, RETRY_FOR_S + 30)
    _url, events = list_callbacks(campaign_id, database_url=cluster.config.database_url)
    assert [e.state for e in events] == ["given_up"] * len(events)
    assert events[0].attempts >= 2 and events[0].last_error == "ConnectError"
    states = [e.type for e in events]
    assert states[0] == states[-1] == "campaign.state"
