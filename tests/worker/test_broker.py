"""The Redis broker transport: one kept client per channel, messages as with kombu's own."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue
from kombu.transport import redis as kombu_redis

from worker.broker import TRANSPORT, Channel, broker_transport
from worker.celery_app import make_app


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", TRANSPORT),
        ("rediss://cache.example:6380/1", TRANSPORT),
        ("REDIS://127.0.0.1/0", TRANSPORT),
        ("amqp://guest:guest@127.0.0.1:5672//", None),
        ("sentinel://127.0.0.1:26379", None),
        ("memory://", None),
    ],
)
def test_only_redis_brokers_get_this_transport(url: str, expected: str | None) -> None:
    assert broker_transport(url) == expected


def test_the_app_uses_it_for_a_redis_broker() -> None:
    from campaigns.settings import Settings

    app = make_app(Settings(broker_url="redis://127.0.0.1:6399/0"))
    assert app.conf.broker_transport == TRANSPORT
    with app.connection_for_write() as conn:
        assert isinstance(conn.transport, kombu_redis.Transport)
        assert conn.transport.Channel is Channel


def _counting_creates(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    made: list[bool] = []
    original = kombu_redis.Channel._create_client

    def create(self: Any, asynchronous: bool = False) -> Any:
        made.append(asynchronous)
        return original(self, asynchronous=asynchronous)

    monkeypatch.setattr(kombu_redis.Channel, "_create_client", create)
    return made


def test_publishes_and_acks_share_one_client_and_every_message_arrives(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _counting_creates(monkeypatch)
    exchange = Exchange("smsq-test", type="direct")
    queue = Queue("smsq-test-q", exchange, routing_key="k")
    got: list[int] = []
    with Connection(redis_url, transport=TRANSPORT) as conn:
        channel = conn.channel()
        producer = conn.Producer(channel)
        publishers = [
            threading.Thread(
                target=lambda start=start: [
                    producer.publish({"n": n}, exchange=exchange, routing_key="k", declare=[queue])
                    for n in range(start, start + 25)
                ]
            )
            for start in (0, 25, 50, 75)
        ]
        for thread in publishers:
            thread.start()
        for thread in publishers:
            thread.join()

        def on_message(body: dict[str, int], message: Any) -> None:
            got.append(body["n"])
            message.ack()

        with conn.Consumer(queue, callbacks=[on_message], channel=conn.channel()):
            while len(got) < 100:
                conn.drain_events(timeout=5)
    assert sorted(got) == list(range(100))
    # kombu's channel made a client per publish and per ack: 200 here. Now one per channel
    # for those, besides the consumer's own (asynchronous) clients.
    assert made.count(False) <= 2, made


def test_a_new_pool_gets_a_new_kept_client(redis_url: str) -> None:
    with Connection(redis_url, transport=TRANSPORT) as conn:
        channel = conn.channel()
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as again:
            assert first is again
            assert first.ping()
        channel._pool = None  # what kombu does when it drops the channel's connections
        with channel.conn_or_acquire() as after:
            assert after is not first
            assert after.connection_pool is channel.pool
            assert after.ping()
