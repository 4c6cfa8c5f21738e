"""smsq's worker: Celery tasks that send batches, and the tick that keeps time and repairs.

- ``celery_app``: the Celery application (``celery -A worker.celery_app worker|beat``).
- ``tasks``: ``smsq.send_batch``, ``smsq.dispatch_campaign``, ``smsq.tick`` (thin: ids in).
- ``sending``: one batch from claim to stored outcomes, and what each error means.
- ``store``: the compare-and-set SQL that moves batches and recipients between states.
- ``ratelimit``: one shared limit per account in Redis (requests/s, messages/s, throttling).
- ``tick``, ``recovery``, ``reconcile``, ``windows``: schedules, send windows, lost messages,
  dead workers, archive reconciliation.
- ``context``, ``clock``, ``keys``: per-process resources, time, and every Redis/queue name.
- ``cli_support``, ``local``, ``redis_server``: command lines for ``smsq worker``/``beat``, a
  whole deployment as child processes, and a private redis-server where none runs.
"""
