"""Writing a plan's rows in bulk: batches, then recipients, a chunk at a time.

Recipients never go through the ORM row by row. SQLite gets one ``INSERT ... SELECT FROM
json_each(?)`` per chunk (``executemany`` of a prepared INSERT before SQLite 3.38);
PostgreSQL (psycopg 3) gets ``COPY ... FROM STDIN``. All of it runs on the caller's
connection, inside its one transaction: a failure anywhere leaves nothing behind.

At submit, ``DbSink`` splits the work over two threads: the planner's thread turns each
chunk into ready-to-run statements (batch ids allocated up front, rows sorted, JSON made)
and a writer thread runs them. SQLite's and libpq's C code release the GIL while they
write, so the database's work overlaps the planner's.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, func, insert, select, text

from campaigns.batching import ClosedBatch
from campaigns.models import BatchState, RecipientState
from campaigns.planning import Settled
from campaigns.tables import BATCHES

RECIPIENT_COLUMNS = (
    "campaign_id",
    "row_no",
    "msisdn",
    "batch_id",
    "state",
    "reason",
    "text",
    "params",
    "segments",
    "credits",
    "attempts",
)
# A full recipient row, in RECIPIENT_COLUMNS order (COPY, executemany).
RecipientRow = tuple[
    int, int, str, int | None, str, str | None, str | None, str | None, int | None,
    float | None, int,
]  # fmt: skip
# A sendable row: (row number, msisdn, batch id, text if it differs in its batch, params,
# segments). Its state is pending and its planned credits are its segments.
PendingRow = tuple[int, str, int, str | None, str | None, int]

_MSISDN = itemgetter(1)
_QUEUED_CHUNKS = 2  # chunks waiting for the writer: bounds memory, keeps both threads busy
_SQLITE_JSON_ARROWS = (3, 38, 0)  # the ->> operator
_SQLITE_INSERT = (
    f"INSERT INTO recipients ({', '.join(RECIPIENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in RECIPIENT_COLUMNS)})"
)
# One statement per chunk reads its rows from one JSON parameter, so SQLite inserts the whole
# chunk in one call that releases the GIL (executemany takes the GIL back after every row).
_SQLITE_JSON_PENDING = (
    "INSERT INTO recipients (campaign_id, row_no, msisdn, batch_id, state, text, params, "
    "segments, credits, attempts) "
    f"SELECT ?, value->>0, value->>1, value->>2, '{RecipientState.PENDING}', value->>3, "
    "value->>4, value->>5, value->>5 * 1.0, 0 FROM json_each(?)"
)
_SQLITE_JSON_SETTLED = (
    "INSERT INTO recipients (campaign_id, row_no, msisdn, state, reason, segments, attempts) "
    "SELECT ?, value->>0, value->>1, value->>2, value->>3, value->>4, 0 FROM json_each(?)"
)
_COPY = f"COPY recipients ({', '.join(RECIPIENT_COLUMNS)}) FROM STDIN"


def batch_rows(
    campaign_id: int, closed: Sequence[ClosedBatch], ids: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """The batches table rows of ``closed`` (pending), with explicit ``ids`` when given."""
    rows = [
        {
            "campaign_id": campaign_id,
            "seq": batch.seq,
            "state": BatchState.PENDING,
            "size": len(batch.items),
            "text": batch.text,
            "attempts": 0,
        }
        for batch in closed
    ]
    if ids is not None:
        for row, batch_id in zip(rows, ids, strict=True):
            row["id"] = batch_id
    return rows


def insert_batches(conn: Connection, campaign_id: int, closed: Sequence[ClosedBatch]) -> list[int]:
    """Insert ``closed`` as pending batches; their new ids, in the same order."""
    if not closed:
        return []
    # insertmanyvalues: multi-row INSERT ... RETURNING, ids matched to rows by position.
    statement = insert(BATCHES).returning(BATCHES.c.id, sort_by_parameter_order=True)
    return list(conn.execute(statement, batch_rows(campaign_id, closed)).scalars())


def pending_rows(closed: Sequence[ClosedBatch], batch_ids: Sequence[int]) -> list[PendingRow]:
    """The recipient rows of ``closed`` batches (text kept only where a batch mixes texts)."""
    rows: list[PendingRow] = []
    for batch, batch_id in zip(closed, batch_ids, strict=True):
        if batch.text is None:
            rows.extend((k, m, batch_id, t, p, s) for k, m, t, p, s in batch.items)
        else:
            rows.extend((k, m, batch_id, None, p, s) for k, m, _t, p, s in batch.items)
    return rows


@dataclass(slots=True)
class PreparedChunk:
    """One chunk as statements ready to run: batch rows, then recipients as JSON or rows."""

    batches: list[dict[str, Any]]
    settled_json: str | None = None
    pending_json: str | None = None
    rows: list[RecipientRow] | None = None


def prepare_chunk(
    dialect: str,
    campaign_id: int,
    settled: list[Settled],
    closed: Sequence[ClosedBatch],
    ids: Sequence[int],
) -> PreparedChunk:
    """Turn one chunk into statements for ``dialect`` (the CPU-bound half of writing).

    Rows go in number order: the unique (campaign, msisdn) index is then filled in one sweep
    per chunk instead of at random places, several times faster on a million rows.
    """
    pending = pending_rows(closed, ids)
    settled.sort(key=_MSISDN)
    pending.sort(key=_MSISDN)
    prepared = PreparedChunk(batch_rows(campaign_id, closed, ids))
    if dialect == "sqlite" and sqlite3.sqlite_version_info >= _SQLITE_JSON_ARROWS:
        prepared.settled_json = json.dumps(settled) if settled else None
        prepared.pending_json = json.dumps(pending) if pending else None
        return prepared
    rows: list[RecipientRow] = [
        (campaign_id, k, m, None, state, reason, None, None, segs, None, 0)
        for k, m, state, reason, segs in settled
    ]
    rows.extend(
        (campaign_id, k, m, b, RecipientState.PENDING, None, t, p, s, float(s), 0)
        for k, m, b, t, p, s in pending
    )
    prepared.rows = rows
    return prepared


def write_chunk(conn: Connection, campaign_id: int, chunk: PreparedChunk) -> None:
    """Run a prepared chunk's statements on ``conn`` (the I/O-bound half of writing)."""
    if chunk.batches:
        conn.execute(insert(BATCHES), chunk.batches)
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:  # the DBAPI cursor of SQLAlchemy's connection: the rows join its transaction
        if chunk.settled_json is not None:
            cursor.execute(_SQLITE_JSON_SETTLED, (campaign_id, chunk.settled_json))
        if chunk.pending_json is not None:
            cursor.execute(_SQLITE_JSON_PENDING, (campaign_id, chunk.pending_json))
        if chunk.rows and conn.dialect.name == "sqlite":
            cursor.executemany(_SQLITE_INSERT, chunk.rows)
        elif chunk.rows:
            with cursor.copy(_COPY) as copy:
                for row in chunk.rows:
                    copy.write_row(row)
    finally:
        cursor.close()


class BatchIds:
    """Batch ids handed out before the batches are inserted, so rows can be built at once.

    SQLite: the transaction holds the database's write lock from its first statement
    (BEGIN IMMEDIATE), so nobody else inserts batches and ids continue from the largest.
    PostgreSQL: taken from the table's own sequence, as its default would, a block at a time
    so that the planner seldom waits for the writer's lock.
    """

    def __init__(self, conn: Connection, lock: threading.Lock) -> None:
        if conn.dialect.name not in ("sqlite", "postgresql"):
            raise NotImplementedError(
                f"bulk planning needs SQLite or PostgreSQL, not {conn.dialect.name}"
            )
        self._conn = conn
        self._lock = lock
        self._pool: list[int] = []
        self._next: int | None = None

    def take(self, count: int) -> list[int]:
        """``count`` new batch ids."""
        if count == 0:
            return []
        if self._conn.dialect.name == "postgresql":
            if len(self._pool) < count:
                with self._lock:
                    fetched = self._conn.execute(_PG_NEXTVALS, {"n": max(count, _PG_ID_BLOCK)})
                    self._pool.extend(fetched.scalars())
            taken, self._pool = self._pool[:count], self._pool[count:]
            return taken
        if self._next is None:
            with self._lock:
                largest = self._conn.execute(select(func.max(BATCHES.c.id))).scalar_one()
            self._next = (largest or 0) + 1
        first, self._next = self._next, self._next + count
        return list(range(first, first + count))


_PG_ID_BLOCK = 1024  # ids fetched per sequence query; unused ones are gaps, as after a rollback
_PG_NEXTVALS = text(
    "SELECT nextval(pg_get_serial_sequence('batches', 'id')) FROM generate_series(1, :n)"
)


class DbSink:
    """The planner's sink at submit: each chunk prepared here, written by a writer thread.

    Use it as a context manager: leaving it waits for every chunk and re-raises a writer's
    error, before the transaction ends. ``lock`` serializes every use of the connection:
    whoever else queries it during planning (the suppression lookup) takes it too.
    """

    def __init__(self, conn: Connection, campaign_id: int) -> None:
        self.lock = threading.Lock()
        self._conn = conn
        self._campaign_id = campaign_id
        self._ids = BatchIds(conn, self.lock)
        self._queue: queue.Queue[PreparedChunk | None] = queue.Queue(maxsize=_QUEUED_CHUNKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="smsq-plan-writer", daemon=True)

    def __enter__(self) -> DbSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if exc[0] is None and self._error is not None:
            raise self._error

    def write(self, settled: list[Settled], closed: list[ClosedBatch]) -> None:
        """Prepare one chunk and queue it (blocks while the writer is two chunks behind)."""
        if self._error is not None:
            raise self._error
        ids = self._ids.take(len(closed))
        dialect = self._conn.dialect.name
        self._queue.put(prepare_chunk(dialect, self._campaign_id, settled, closed, ids))

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so that the planner never blocks on a dead writer
            try:
                with self.lock:
                    write_chunk(self._conn, self._campaign_id, chunk)
            except BaseException as exc:  # handed to the planner's thread, raised there
                self._error = exc
