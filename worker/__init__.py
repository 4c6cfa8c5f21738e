"""smsq's worker: Celery tasks that send batches, and the tick that keeps time and repairs.

- ``celery_app``: the Celery application (``celery -A worker.celery_app worker|beat``).
- ``tasks``: ``smsq.send_batch``, ``smsq.dispatch_campaign``, ``smsq.tick`` (thin: ids in).
- ``dispatch``: releasing a due campaign and enqueuing its batches; the hand-off.
- ``sending``: one batch from claim to stored outcomes, and what each error means.
- ``store``: the compare-and-set SQL that moves batches and recipients between states.
- ``ratelimit``: one shared limit per account in Redis (requests/s, messages/s, throttling).
- ``tick``, ``recovery``, ``reconcile``, ``windows``: schedules, send windows, lost messages,
  dead workers, archive reconciliation.
- ``context``, ``clock``, ``keys``: per-process resources, time, and every Redis/queue name.
- ``cli_support``, ``local``, ``redis_server``: command lines for ``smsq worker``/``beat``, a
  whole deployment as child processes, and a private redis-server where none runs.

``connect()`` is the one call a Python API user makes to have submitted campaigns handed to
the workers at once; without it the tick picks them up within ``tick_interval_s``.
"""

from __future__ import annotations


def connect() -> None:
    """Hand campaigns submitted, resumed or re-planned in this process to the workers at once.

    Installs ``worker.dispatch``'s dispatcher (on the broker the settings name now) as
    ``campaigns.handoff``'s; ``worker.dispatch.uninstall()`` removes it. Nothing is lost
    without it: the periodic tick releases due campaigns from the database anyway.
    """
    from worker.celery_app import make_app
    from worker.dispatch import install

    install(make_app())  # the broker of the settings as they are now
