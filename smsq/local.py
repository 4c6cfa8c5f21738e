"""A whole smsq deployment on one machine, assembled in one call: ``local_stack``.

``make demo``, the benchmarks and the tests that need real processes all want the same
thing: a Redis, the sandbox standing in for the gateways, a migrated database, Celery
workers and beat as child processes (``worker.local.LocalCluster``), optionally ``smsq api``
(``smsq.api_process.ApiProcess``), and this process's hand-off pointed at them.
``local_stack`` starts what the caller does not bring (a private Redis when no broker is
given, a sandbox when no sandbox URL is given), yields a ``LocalStack`` once every child is
ready, and on the way out, errors and Ctrl-C included, stops everything it started in the
reverse order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from campaigns.db import dispose_engines
from campaigns.schema import upgrade
from providers import Account
from providers.sandbox.client import FaultsArg, SandboxClient, running_sandbox
from smsq.api_process import ApiProcess
from worker.local import ClusterConfig, LocalCluster
from worker.redis_server import RedisHandle, ensure_redis, start_private_redis

# The accounts, or how to make them from the sandbox's URL (known only once it listens).
AccountsArg = Mapping[str, Account] | Callable[[str], Mapping[str, Account]]
ONE_WORKER: Mapping[str, int] = MappingProxyType({"w1": 1})


@dataclass(frozen=True)
class LocalStack:
    """What ``local_stack`` runs: the cluster, and the Redis and sandbox behind it."""

    cluster: LocalCluster
    sandbox: SandboxClient  # a client of the sandbox, given or started
    redis: RedisHandle | None  # None when the caller gave the broker
    api: ApiProcess | None = None  # ``smsq api`` on loopback, when asked for

    @property
    def private_redis(self) -> bool:
        """True when the broker is a redis-server this stack started (and stops)."""
        return self.redis is not None and self.redis.private


@contextmanager
def local_stack(
    *,
    workdir: Path,
    accounts: AccountsArg,
    database_url: str | None = None,
    broker_url: str | None = None,
    configured_redis: bool = False,
    sandbox_url: str | None = None,
    sandbox_faults: FaultsArg = None,
    workers: Mapping[str, int] = ONE_WORKER,
    worker_args: Sequence[str] = (),
    beat: bool = True,
    callbacks: bool = False,
    dispatcher: bool = True,
    api: bool = False,
    tick_interval_s: float = 0.5,
    stale_after_s: float = 5.0,
    visibility_timeout_s: int = 300,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[LocalStack]:
    """Start a local deployment, yield it once every child is ready, stop it on exit.

    - ``workdir``: the cluster's config file, logs and beat schedule (created if missing).
    - ``accounts``: the accounts, or a function of the sandbox's URL returning them.
    - ``database_url``: migrated with ``campaigns.schema.upgrade``; by default a SQLite
      file ``smsq.db`` in ``workdir``.
    - ``broker_url``: used as it is (a Redis or an ``amqp://`` URL). Without one, a private
      ``redis-server`` is started, or with ``configured_redis`` the Redis at
      ``$SMSQ_BROKER_URL`` is used when one answers there (``ensure_redis``).
    - ``sandbox_url``: a running sandbox; without one, a sandbox is started with
      ``sandbox_faults``.
    - ``workers``: name -> concurrency, each started with ``worker_args`` (e.g.
      ``["-I", "bench.e2e"]``); ``beat``: start a beat too; ``callbacks``: the worker of the
      status callbacks' queue too (``LocalCluster.start_callbacks_worker``). They boot in
      parallel.
    - ``dispatcher``: install the hand-off, so campaigns submitted from this process are
      dispatched on this cluster at once.
    - ``api``: also run ``smsq api`` on a free loopback port, on the same database, broker
      and accounts (``LocalStack.api.url``; it needs a key: ``campaigns.api_keys``).
    - the timings and ``extra_env`` go to ``worker.local.ClusterConfig``.

    On exit: the hand-off is uninstalled, every child stopped, the database engines
    disposed of, then the sandbox and Redis stopped if this call started them.
    """
    with ExitStack() as stack:
        redis: RedisHandle | None = None
        if broker_url is None:
            redis = ensure_redis() if configured_redis else start_private_redis()
            stack.callback(redis.stop)  # a no-op for a Redis we found running
            broker_url = redis.url
        if sandbox_url is None:
            sandbox = stack.enter_context(running_sandbox(sandbox_faults))
        else:
            sandbox = stack.enter_context(SandboxClient(sandbox_url))
        if callable(accounts):
            accounts = accounts(sandbox.url)
        database_url = database_url or f"sqlite:///{workdir / 'smsq.db'}"
        upgrade(database_url)
        stack.callback(dispose_engines)
        config = ClusterConfig(
            database_url=database_url, broker_url=broker_url, accounts=dict(accounts),
            workdir=workdir, tick_interval_s=tick_interval_s, stale_after_s=stale_after_s,
            visibility_timeout_s=visibility_timeout_s, extra_env=dict(extra_env or {}),
        )  # fmt: skip
        cluster = stack.enter_context(LocalCluster(config))  # its exit uninstalls the hand-off
        cluster.start(workers, beat=beat, callbacks=callbacks, extra_args=worker_args)
        if dispatcher:
            cluster.install_dispatcher()
        server = stack.enter_context(ApiProcess(cluster.env, workdir)) if api else None
        yield LocalStack(cluster, sandbox, redis, server)
