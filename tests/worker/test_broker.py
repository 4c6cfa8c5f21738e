"""The Redis broker transport: one kept client per channel, messages as with kombu's own."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue
from kombu.transport import redis as kombu_redis
from kombu.transport import resolve_transport

from campaigns.settings import Settings
from worker import broker
from worker.celery_app import make_app


def test_redis_brokers_resolve_to_this_transport_and_others_do_not() -> None:
    broker.install()
    assert resolve_transport("redis") is broker.Transport
    assert resolve_transport("rediss") is broker.Transport
    assert resolve_transport("amqp") is not broker.Transport


def test_the_app_uses_it_under_the_name_flower_reads() -> None:
    app = make_app(Settings(broker_url="redis://127.0.0.1:6399/0"))
    with app.connection_for_write() as conn:
        assert isinstance(conn.transport, broker.Transport)
        # Flower picks its broker view from the URI's scheme and the transport's type.
        assert conn.as_uri().startswith("redis://")
        assert conn.transport.driver_type == "redis"
    amqp = make_app(Settings(broker_url="amqp://guest:guest@127.0.0.1:5672//"))
    with amqp.connection_for_write() as conn:
        assert not isinstance(conn.transport, broker.Transport)


def _counting_creates(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    made: list[bool] = []
    original = kombu_redis.Channel._create_client

    def create(self: Any, asynchronous: bool = False) -> Any:
        made.append(asynchronous)
        return original(self, asynchronous=asynchronous)

    monkeypatch.setattr(kombu_redis.Channel, "_create_client", create)
    return made


PUBLISHERS = 4
EACH = 25


def test_publishes_and_acks_share_their_channels_client_and_every_message_arrives(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker.install()
    made = _counting_creates(monkeypatch)
    exchange = Exchange("smsq-test", type="direct")
    queue = Queue("smsq-test-q", exchange, routing_key="k")
    got: list[int] = []
    with Connection(redis_url) as conn:
        assert isinstance(conn.transport, broker.Transport)
        queue(conn.channel()).declare()

        def publish(start: int) -> None:
            # A channel per thread, as Celery's producer pool gives them (kombu's channels
            # are not shared between threads).
            producer = conn.Producer(conn.channel())
            for n in range(start, start + EACH):
                producer.publish({"n": n}, exchange=exchange, routing_key="k")

        threads = [threading.Thread(target=publish, args=(i * EACH,)) for i in range(PUBLISHERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        def on_message(body: dict[str, int], message: Any) -> None:
            got.append(body["n"])
            message.ack()

        with conn.Consumer(queue, callbacks=[on_message], channel=conn.channel()):
            while len(got) < PUBLISHERS * EACH:
                conn.drain_events(timeout=5)
    assert sorted(got) == list(range(PUBLISHERS * EACH))
    # kombu's channel made a client per publish and per ack (406 here); now one per channel
    # that published, declared or acknowledged.
    assert made.count(False) <= PUBLISHERS + 2, made


def test_a_new_pool_gets_a_new_kept_client(redis_url: str) -> None:
    broker.install()
    with Connection(redis_url) as conn:
        channel = conn.channel()
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as again:
            assert first is again
            assert first.ping()
        channel._pool = None  # what kombu does when it drops the channel's connections
        with channel.conn_or_acquire() as after:
            assert after is not first
            assert after.connection_pool is channel.pool
            assert after.ping()
