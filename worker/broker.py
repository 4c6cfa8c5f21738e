"""The Redis broker transport, with one client object per channel for publishing.

kombu's Redis channel builds a new ``redis.Redis`` for every message it publishes and every
acknowledgement (``Channel.conn_or_acquire``: about 400 clients for 100 messages in
tests/worker/test_broker.py), and redis-py fills each new client's table of response
callbacks. In a sending worker at 50 requests/s that was 5-8% of the time a thread held the
interpreter lock (py-spy): each task's message, its events and its ack. A client is only a
handle on the channel's connection pool and safe to share between threads, so this channel
makes one and keeps it (bench.gateway, side by side: 29.6 and 31.0 ms of worker CPU per
request before, 24.6 and 27.0 after).

``install()`` (called by ``worker.celery_app``) makes ``redis://`` and ``rediss://`` brokers
use it; any other broker keeps kombu's own transport.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    """kombu's Redis channel, publishing and acknowledging through one kept client."""

    _kept: Any = None
    _kept_lock = threading.Lock()

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        kept = self._kept
        if kept is None or kept.connection_pool is not self.pool:  # a new pool after a reset
            with self._kept_lock:
                kept = self._kept
                if kept is None or kept.connection_pool is not self.pool:
                    kept = self._kept = self._create_client()  # type: ignore[attr-defined]
        yield kept


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with ``Channel`` above."""

    Channel = Channel


# kombu's name for a transport it loads by path: the class above.
TRANSPORT = f"{__name__}:Transport"
REDIS_SCHEMES = ("redis", "rediss")


def install() -> None:
    """Make every ``redis://`` and ``rediss://`` broker of this process use ``Transport``.

    Through kombu's table of transport names rather than Celery's ``broker_transport``: the
    connection keeps the name ``redis``, which Flower reads (from the URI) to show the
    broker's queues, and which any other broker does not have.
    """
    for scheme in REDIS_SCHEMES:
        TRANSPORT_ALIASES[scheme] = TRANSPORT
