"""The callbacks' tick is published by the main tick, and stops at a backlog: a deployment
whose callbacks queue nobody reads does not grow it for ever (a real Redis broker)."""

from __future__ import annotations

import json
from contextlib import ExitStack
from types import SimpleNamespace
from typing import Any

import pytest
import redis

from campaigns.settings import Settings
from worker import callbacks, keys, tasks
from worker.celery_app import make_app
from worker.cli_support import CALLBACK_THREADS
from worker.dispatch import CALLBACKS_BACKLOG_MAX, Dispatcher


def test_the_callbacks_tick_is_published_until_the_queue_holds_the_backlog(
    redis_url: str,
) -> None:
    app = make_app(Settings(broker_url=redis_url))
    client = redis.Redis.from_url(redis_url)
    try:
        dispatcher = Dispatcher(app)
        published = [
            dispatcher.callbacks_tick(expires_s=3.0) for _ in range(CALLBACKS_BACKLOG_MAX + 7)
        ]
        assert published == [True] * CALLBACKS_BACKLOG_MAX + [False] * 7
        assert client.llen(keys.CALLBACKS_QUEUE) == CALLBACKS_BACKLOG_MAX
        message = json.loads(client.lindex(keys.CALLBACKS_QUEUE, 0) or b"{}")
        assert message["headers"]["task"] == keys.CALLBACKS_TICK_TASK
        assert message["headers"]["expires"] is not None  # a stale one is dropped, not run
        client.delete(keys.CALLBACKS_QUEUE)
        assert dispatcher.callbacks_tick(expires_s=3.0)  # drained: published again
        delivered = dispatcher.deliver_callbacks([7, 8], expires_s=3.0)
        assert delivered == 2
        bodies = [json.loads(m) for m in client.lrange(keys.CALLBACKS_QUEUE, 0, -1)]
        tasks = sorted(b["headers"]["task"] for b in bodies)
        assert tasks == [keys.CALLBACKS_TICK_TASK, *[keys.DELIVER_CALLBACKS_TASK] * 2]
        argsrepr = sorted(b["headers"]["argsrepr"] for b in bodies)
        assert argsrepr == ["()", "campaign=7", "campaign=8"]  # ids only: nothing for Flower
    finally:
        client.delete(keys.CALLBACKS_QUEUE)
        client.close()
        app.close()


def test_deliveries_hold_no_more_than_their_threads_of_a_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In the now process, single messages share the threads: a hung receiver's deliveries,
    # one per campaign with an event due, may hold CALLBACK_THREADS of them and no more.
    delivering: list[int] = []

    def deliver(_engine: object, _client: object, campaign_id: int, _policy: object) -> Any:
        delivering.append(campaign_id)
        return 1, 0

    monkeypatch.setattr(callbacks, "deliver_campaign", deliver)
    monkeypatch.setattr(tasks, "get_context", lambda: SimpleNamespace(engine=None))
    with ExitStack() as held:
        slots = [held.enter_context(callbacks.delivery_slot()) for _ in range(CALLBACK_THREADS)]
        assert all(slots)  # every slot taken, as by deliveries waiting on a hung receiver
        busy = tasks.deliver_callbacks(7)
        assert busy.startswith("every delivery slot of this process is busy"), busy
        assert delivering == []  # not even its lease was asked for
    assert tasks.deliver_callbacks(7) == "1 delivered, 0 failed"
    assert delivering == [7]
