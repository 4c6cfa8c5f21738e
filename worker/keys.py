"""Every name smsq gives to things in Redis and in the broker, in one place.

Why one place: the limiter and the tick lock share a Redis database with Celery's broker
(kombu keeps its queues as plain lists named after the queues, plus ``unacked*`` and
``_kombu.*`` keys). Everything of ours starts with ``smsq:`` so that nothing collides with
kombu's keys and an operator can find (or delete) our state with one ``SCAN smsq:*``.
The account name sits in ``{braces}``, a Redis Cluster hash tag, so that an account's
request and message buckets land in one slot and one Lua script may touch both.
"""

from __future__ import annotations

PREFIX = "smsq:"

# Broker queue names (not Redis keys: kombu owns those). One sending queue per account, so a
# slow or failing gateway only ever backs up its own queue; dispatch and the tick go on the
# control queue, which every worker consumes.
CONTROL_QUEUE = "smsq.control"

# Task names: the broker carries them, Flower shows them; sent by name (worker.dispatch).
SEND_BATCH_TASK = "smsq.send_batch"
DISPATCH_CAMPAIGN_TASK = "smsq.dispatch_campaign"
TICK_TASK = "smsq.tick"
DELIVER_CALLBACKS_TASK = "smsq.deliver_callbacks"
CALLBACKS_TICK_TASK = "smsq.callbacks_tick"
# Status callbacks go out from a queue of their own, consumed by a process of its own: a
# slow receiver never holds a thread that sends SMS.
CALLBACKS_QUEUE = "smsq.callbacks"
SEND_QUEUE_PREFIX = "smsq.send."


def send_queue(account: str) -> str:
    """The broker queue holding ``send_batch`` messages for ``account``'s campaign batches."""
    return f"{SEND_QUEUE_PREFIX}{account}"


NOW_QUEUE_PREFIX = "smsq.now."


def now_queue(account: str) -> str:
    """The broker queue of ``account``'s single messages, consumed beside its batches: a
    message waits behind no campaign batch in the broker either."""
    return f"{NOW_QUEUE_PREFIX}{account}"


def rate_requests(account: str) -> str:
    """GCRA state (theoretical arrival time, in µs) of the account's requests/s limit."""
    return f"{PREFIX}rl:{{{account}}}:req"


def rate_messages(account: str) -> str:
    """GCRA state of the account's messages/s limit (batches cost their size)."""
    return f"{PREFIX}rl:{{{account}}}:msg"


def throttle(account: str) -> str:
    """When the gateway last said "too many requests": the pause-until time and the streak."""
    return f"{PREFIX}rl:{{{account}}}:throttle"


def queue_empty_since(account: str) -> str:
    """When the lost-batch sweep first saw the account's queues empty (epoch seconds)."""
    return f"{PREFIX}empty-since:{account}"


def circuit(account: str) -> str:
    """Requests of the account not accepted since its last accepted one: count and since."""
    return f"{PREFIX}circuit:{{{account}}}"


def archive_pass(account: str) -> str:
    """Where the tick's walk through the account's gateway archive stands (JSON)."""
    return f"{PREFIX}archive:pass:{account}"


def archive_found(batch_id: int) -> str:
    """Recipient ids of a batch left in flight that the archive showed accepted (a set)."""
    return f"{PREFIX}archive:found:{batch_id}"


def status_pace(account: str) -> str:
    """When the account's next status call may go (epoch seconds)."""
    return f"{PREFIX}status:next:{account}"


def upkeep_rest(account: str) -> str:
    """Until when the tick leaves the account's gateway alone, and the streak of requests
    it did not answer (a hash: ``until`` epoch seconds, ``streak``; ``worker.upkeep``)."""
    return f"{PREFIX}upkeep:rest:{account}"


TICK_LOCK = f"{PREFIX}lock:tick"  # held while one tick runs, so two beats never overlap


def consumed(queue: str) -> str:
    """Present while some worker consumes ``queue``: a heartbeat each worker refreshes
    (``worker.consumers``), since kombu's Redis transport has no consumer count."""
    return f"{PREFIX}consumed:{queue}"
