"""The broker half of dispatching: what the lost-batch sweep learns from the queues.

A queue nobody declared yet holds nothing (0, not "unknown": an unknown depth makes the
sweep requeue every idle batch, which on a busy account multiplied them); a queue with
messages reports them, batches and single messages together; a broker that does not
answer is unknown.
"""

from __future__ import annotations

import socket

import pytest

from campaigns.settings import Settings
from worker import keys
from worker.celery_app import make_app
from worker.dispatch import Dispatcher
from worker.store import BatchRef

pytestmark = pytest.mark.integration


def _dispatcher(broker_url: str) -> Dispatcher:
    return Dispatcher(make_app(Settings(broker_url=broker_url, database_url="sqlite://")))


def test_a_queue_nobody_declared_holds_nothing(redis_url: str) -> None:
    dispatcher = _dispatcher(redis_url)
    try:
        assert dispatcher.queue_depth("nepal") == 0
    finally:
        dispatcher.app.close()


def test_the_depth_counts_batches_and_single_messages_of_the_account(redis_url: str) -> None:
    dispatcher = _dispatcher(redis_url)
    try:
        batches = [BatchRef(i, 1, "nepal") for i in range(1, 6)]
        message = BatchRef(9, 2, "nepal", priority=True)
        elsewhere = BatchRef(10, 3, "dhaka")
        assert dispatcher.enqueue([*batches, message, elsewhere]) == 7
        assert dispatcher.queue_depth("nepal") == 6
        assert dispatcher.queue_depth("dhaka") == 1
        assert dispatcher._depth(keys.now_queue("nepal")) == 1
    finally:
        dispatcher.app.close()


def test_a_broker_that_does_not_answer_gives_an_unknown_depth() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dispatcher = _dispatcher(f"redis://127.0.0.1:{port}/0")
    dispatcher.app.conf.broker_connection_retry = False
    dispatcher.app.conf.broker_connection_max_retries = 0
    try:
        assert dispatcher.queue_depth("nepal") is None
    finally:
        dispatcher.app.close()
