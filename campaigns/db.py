"""Database engines and sessions, with the SQLite settings that let several processes share a file.

SQLite is the default (one file, no server); PostgreSQL is the production database. Both are
reached through SQLAlchemy 2; bulk writes of recipients are in ``campaigns.bulk``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from campaigns.writers import QueuedConnection, connection_args, queue_for

# WAL lets readers (status, the API) proceed while a worker writes; the busy timeout makes a
# writer wait for the lock instead of failing at once when several worker processes commit.
SQLITE_BUSY_TIMEOUT_MS = 30_000

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# The execution option that marks a connection as a reader (``read_only``).
READ_ONLY = "smsq_read_only"


def _begin_immediate(conn: Any) -> None:
    # Take the write lock at BEGIN: a compare-and-set read then write inside one transaction
    # can otherwise fail with "database is locked" instead of waiting its turn. A reader
    # begins no transaction: each of its statements reads a snapshot of its own, which in
    # WAL mode never waits for a writer (bench.api measured the API's reads queueing behind
    # the workers' commits: p99 0.6 s while a campaign ran), and it saves BEGIN and ROLLBACK.
    # Writers first queue for the lock on the machine (campaigns.writers says why).
    if conn.get_execution_options().get(READ_ONLY):
        return
    dbapi = conn.connection.dbapi_connection
    queued = dbapi if isinstance(dbapi, QueuedConnection) else None
    if queued is not None:
        queued.take_turn()
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        if queued is not None:
            queued.give_turn()
        raise


SUPPORTED_BACKENDS = ("sqlite", "postgresql")


class DatabaseUrlError(ValueError):
    """Raised when a database URL cannot be used (another database, an uncreatable folder)."""


def make_engine(url: str, **pool: int) -> Engine:
    """A new engine for ``url``; SQLite files get WAL, a busy timeout, and their folder created.

    ``pool`` (``pool_size``, ``max_overflow``) sizes the connection pool: a worker process
    has many threads.

    Raises DatabaseUrlError naming the problem for a URL smsq cannot use (another database, a
    SQLite folder that cannot be created).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise DatabaseUrlError(f"{backend!r} is not supported (use sqlite or postgresql)")
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseUrlError(f"cannot create {folder}: {exc.strerror}") from None
        connect = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        connect |= connection_args(queue_for(parsed.database))
        engine = create_engine(url, connect_args=connect, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        event.listen(engine, "connect", lambda c, _r: setattr(c, "isolation_level", None))
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def existing_database(url: str) -> None:
    """Raise DatabaseUrlError when ``url`` is a SQLite file that does not exist (connecting
    would create it, and its folder, empty); nothing to check for a server database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    if not Path(parsed.database).exists():
        raise DatabaseUrlError(
            f"{parsed.database} does not exist (create it with `smsq db upgrade`, or point "
            "SMSQ_DATABASE_URL at an existing one)"
        )


def get_engine(url: str | None = None, **pool: int) -> Engine:
    """The process's shared engine for ``url`` (default: the configured database); ``pool``
    sizes its connection pool when this call creates it.

    Worker processes are forked: call ``dispose_engines()`` after a fork so that no pooled
    connection is shared between processes.
    """
    if url is None:
        from campaigns.settings import get_settings

        url = get_settings().database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url, **pool)
        return engine


def dispose_engines() -> None:
    """Forget every engine (after a fork, or in tests between databases)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
        _engines.clear()


def read_only(engine: Engine) -> Connection:
    """A connection for reads only. On SQLite it opens no transaction: each statement reads
    its own snapshot beside the workers' writes (WAL) instead of waiting for the write lock,
    so two statements may see two moments. Do not write through it. PostgreSQL is as
    usual (its reads never took a lock)."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def session(url: str | None = None) -> Session:
    """A new ORM session on the shared engine for ``url``."""
    return sessionmaker(get_engine(url), expire_on_commit=False)()
