"""Writing a plan's rows in bulk: batches, then recipients, a chunk at a time.

Recipients never go through the ORM row by row. SQLite gets one ``INSERT ... SELECT FROM
json_each(?)`` per chunk (``executemany`` of a prepared INSERT before SQLite 3.38);
PostgreSQL (psycopg 3) gets ``COPY ... FROM STDIN``, the common batches (one text, no
parameters) as one text in COPY's format and the rest row by row. All of it runs on the caller's
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
from campaigns.models import REPEATABLE, BatchState, RecipientState
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
    "unique_in_campaign",
    "fields",
)
# A full recipient row as COPY and executemany take it, in RECIPIENT_COLUMNS order.
CopyRow = tuple[
    int, int, str, int | None, str, str | None, str | None, str | None, int | None,
    float | None, int, bool, str | None,
]  # fmt: skip
# A sendable row: (row number, msisdn, batch id, text if it differs in its batch, params,
# segments, fields). Its state is pending and its planned credits are its segments.
PendingRow = tuple[int, str, int, str | None, str | None, int, str | None]

_MSISDN = itemgetter(1)
INLINE_ROWS = 1_000  # a plan smaller than this is written without the writer thread
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
    "segments, credits, attempts, unique_in_campaign, fields) "
    f"SELECT ?, value->>0, value->>1, value->>2, '{RecipientState.PENDING.value}', value->>3, "
    "value->>4, value->>5, value->>5 * 1.0, 0, 1, value->>6 FROM json_each(?)"
)
_SQLITE_JSON_BATCHES = (
    "INSERT INTO batches (id, campaign_id, seq, state, size, text, attempts, account, "
    "provider) "
    f"SELECT value->>0, ?, value->>1, '{BatchState.PENDING.value}', value->>2, value->>3, 0, "
    "value->>4, value->>5 FROM json_each(?)"
)
# The common case (one text per batch, no template parameters) as strings
# "msisdn,row_no,BBBBBBBBBBBBSSS" (batch id and segments in fixed width at the end), cut with
# instr and substr: extracting each column with ->> re-parses the row's JSON once per column,
# which was a third of the insert's time, and the strings sort by msisdn as they are.
_PACKED_BATCH_IDS = 10**12
_PACKED_SEGMENTS = 10**3
_SQLITE_PACKED_PENDING = (
    "INSERT INTO recipients (campaign_id, row_no, msisdn, batch_id, state, segments, "
    "credits, attempts, unique_in_campaign) "
    "SELECT ?, CAST(substr(value, instr(value, ',') + 1) AS INTEGER), "
    "substr(value, 1, instr(value, ',') - 1), CAST(substr(value, -15, 12) AS INTEGER), "
    f"'{RecipientState.PENDING}', CAST(substr(value, -3) AS INTEGER), "
    "CAST(substr(value, -3) AS REAL), 0, 1 FROM json_each(?)"
)
_REPEATABLE = tuple(sorted(s.value for s in REPEATABLE))  # a tuple of str: its repr is SQL's IN
_SQLITE_JSON_SETTLED = (
    "INSERT INTO recipients (campaign_id, row_no, msisdn, state, reason, segments, attempts, "
    "unique_in_campaign) "
    "SELECT ?, value->>0, value->>1, value->>2, value->>3, value->>4, 0, "
    f"value->>2 NOT IN {_REPEATABLE!r} FROM json_each(?)"
)
_COPY = f"COPY recipients ({', '.join(RECIPIENT_COLUMNS)}) FROM STDIN"
_COPY_PACKED = (
    "COPY recipients (msisdn, row_no, campaign_id, batch_id, state, segments, credits, "
    "attempts, unique_in_campaign) FROM STDIN"
)


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
            "account": batch.account,
            "provider": batch.provider,
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
            rows.extend((k, m, batch_id, t, p, s, f) for k, m, t, p, s, f in batch.items)
        else:
            rows.extend((k, m, batch_id, None, p, s, f) for k, m, _t, p, s, f in batch.items)
    return rows


@dataclass(slots=True)
class PreparedChunk:
    """One chunk as statements ready to run: batch rows, then recipients as JSON or rows."""

    batches: list[dict[str, Any]]
    batches_json: str | None = None
    settled_json: str | None = None
    pending_json: str | None = None
    packed_json: str | None = None  # pending rows as "msisdn,row,batch+segments" strings
    rows: list[CopyRow] | None = None
    copy_text: bytes | None = None  # PostgreSQL: plain pending rows in COPY's text format


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
    settled.sort(key=_MSISDN)
    if dialect == "sqlite" and sqlite3.sqlite_version_info >= _SQLITE_JSON_ARROWS:
        return _prepare_sqlite(settled, closed, ids)
    if dialect == "postgresql":
        return _prepare_postgres(campaign_id, settled, closed, ids)
    prepared = PreparedChunk(batch_rows(campaign_id, closed, ids))
    prepared.rows = plain_rows(campaign_id, settled, closed, ids)
    return prepared


def plain_rows(
    campaign_id: int, settled: list[Settled], closed: Sequence[ClosedBatch], ids: Sequence[int]
) -> list[CopyRow]:
    """Every recipient row of a chunk as a full tuple, settled rows first, each part in
    number order: what every other form of a chunk stores (executemany takes it as it is)."""
    settled = sorted(settled, key=_MSISDN)
    pending = pending_rows(closed, ids)
    pending.sort(key=_MSISDN)
    rows: list[CopyRow] = [
        (campaign_id, k, m, None, st, reason, None, None, segs, None, 0, st not in _REPEATABLE,
         None)
        for k, m, st, reason, segs in settled
    ]  # fmt: skip
    rows.extend(
        (campaign_id, k, m, b, RecipientState.PENDING, None, t, p, s, float(s), 0, True, f)
        for k, m, b, t, p, s, f in pending
    )
    return rows


def _prepare_postgres(
    campaign_id: int, settled: list[Settled], closed: Sequence[ClosedBatch], ids: Sequence[int]
) -> PreparedChunk:
    """The common batches as one text in COPY's format, the others as rows for ``write_row``.

    The text is made here, in the planner's thread: a ``write_row`` call per number took the
    GIL back from the planner once per row in the writer thread.
    """
    prepared = PreparedChunk(batch_rows(campaign_id, closed, ids))
    lines: list[str] = []
    others: list[tuple[ClosedBatch, int]] = []
    pending = RecipientState.PENDING.value
    for batch, batch_id in zip(closed, ids, strict=True):
        if not _packable(batch, batch_id):
            others.append((batch, batch_id))
            continue
        segs = batch.items[0][4]
        suffix = f"\t{campaign_id}\t{batch_id}\t{pending}\t{segs}\t{segs}\t0\tt\n"
        lines.extend([f"{m}\t{k}{suffix}" for k, m, _t, _p, _s, _f in batch.items])
    if lines:
        lines.sort()  # by msisdn: a tab sorts before every digit
        prepared.copy_text = "".join(lines).encode()
    prepared.rows = plain_rows(campaign_id, settled, [b for b, _ in others], [i for _, i in others])
    return prepared


def write_chunk(conn: Connection, campaign_id: int, chunk: PreparedChunk) -> None:
    """Run a prepared chunk's statements on ``conn`` (the I/O-bound half of writing)."""
    if chunk.batches:
        conn.execute(insert(BATCHES), chunk.batches)
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:  # the DBAPI cursor of SQLAlchemy's connection: the rows join its transaction
        if chunk.batches_json is not None:
            cursor.execute(_SQLITE_JSON_BATCHES, (campaign_id, chunk.batches_json))
        if chunk.settled_json is not None:
            cursor.execute(_SQLITE_JSON_SETTLED, (campaign_id, chunk.settled_json))
        if chunk.packed_json is not None:
            cursor.execute(_SQLITE_PACKED_PENDING, (campaign_id, chunk.packed_json))
        if chunk.pending_json is not None:
            cursor.execute(_SQLITE_JSON_PENDING, (campaign_id, chunk.pending_json))
        if chunk.rows and conn.dialect.name == "sqlite":
            cursor.executemany(_SQLITE_INSERT, chunk.rows)
        elif chunk.rows:
            with cursor.copy(_COPY) as copy:
                for row in chunk.rows:
                    copy.write_row(row)
        if chunk.copy_text:
            with cursor.copy(_COPY_PACKED) as copy:
                copy.write(chunk.copy_text)
    finally:
        cursor.close()


def _prepare_sqlite(
    settled: list[Settled], closed: Sequence[ClosedBatch], ids: Sequence[int]
) -> PreparedChunk:
    """One chunk as JSON parameters: each of its statements runs in one call without the GIL.

    A writer thread that took the GIL back once per row (executemany) would wait out the
    planner's switch interval each time; that was a third of planning's time.
    """
    prepared = PreparedChunk([])
    if closed:
        prepared.batches_json = json.dumps(
            [
                (i, b.seq, len(b.items), b.text, b.account, b.provider)
                for b, i in zip(closed, ids, strict=True)
            ]
        )
    if settled:
        prepared.settled_json = json.dumps(settled)
    packed: list[str] = []
    others: list[tuple[ClosedBatch, int]] = []
    for batch, batch_id in zip(closed, ids, strict=True):
        segs = batch.items[0][4]  # one text per batch: one segment count
        if _packable(batch, batch_id):
            # A sendable msisdn is digits only, so the first comma ends it.
            suffix = f",{batch_id:012d}{segs:03d}"
            packed.extend([f"{m},{k}{suffix}" for k, m, _t, _p, _s, _f in batch.items])
        else:
            others.append((batch, batch_id))
    if packed:
        packed.sort()  # by msisdn: "," sorts before every digit
        prepared.packed_json = json.dumps(packed)
    if others:
        pending = pending_rows([b for b, _ in others], [i for _, i in others])
        pending.sort(key=_MSISDN)
        prepared.pending_json = json.dumps(pending)
    return prepared


def _packable(batch: ClosedBatch, batch_id: int) -> bool:
    """A batch of the common case: one text and one segment count, no template parameters or
    placeholder values (its rows are digits and numbers only: nothing to quote or escape)."""
    return (
        batch.text is not None
        and batch.items[0][4] < _PACKED_SEGMENTS
        and batch_id < _PACKED_BATCH_IDS
        and all(p is None and f is None for _k, _m, _t, p, _s, f in batch.items)
    )


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

    The thread starts once ``INLINE_ROWS`` rows are planned: a smaller plan (a single message,
    a small campaign) is written whole in the planner's thread as it leaves, without a
    thread's start and hand-overs while the transaction holds the write lock. Use it as a
    context manager: leaving it waits for every chunk and re-raises a writer's error, before
    the transaction ends. ``lock`` serializes every use of the connection: whoever else
    queries it during planning (the suppression lookup) takes it too.
    """

    def __init__(self, conn: Connection, campaign_id: int) -> None:
        self.lock = threading.Lock()
        self._conn = conn
        self._campaign_id = campaign_id
        self._ids = BatchIds(conn, self.lock)
        self._queue: queue.Queue[PreparedChunk | None] = queue.Queue(maxsize=_QUEUED_CHUNKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="smsq-plan-writer", daemon=True)
        self._held: tuple[list[Settled], list[ClosedBatch]] = ([], [])  # until the thread starts
        self._held_rows = 0
        self._started = False

    def __enter__(self) -> DbSink:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._started:
            if exc[0] is None and self._held_rows:
                chunk = self._prepare(*self._held)  # takes the lock itself, for the ids
                with self.lock:
                    write_chunk(self._conn, self._campaign_id, chunk)
            return
        self._queue.put(None)
        self._thread.join()
        if exc[0] is None and self._error is not None:
            raise self._error

    def write(self, settled: list[Settled], closed: list[ClosedBatch]) -> None:
        """Prepare one chunk and queue it (blocks while the writer is two chunks behind)."""
        if self._error is not None:
            raise self._error
        if not self._started:
            held_settled, held_closed = self._held
            held_settled += settled
            held_closed += closed
            self._held_rows += len(settled) + sum(len(batch.items) for batch in closed)
            if self._held_rows < INLINE_ROWS:
                return
            self._started = True
            self._thread.start()
            settled, closed, self._held = held_settled, held_closed, ([], [])
        self._queue.put(self._prepare(settled, closed))

    def _prepare(self, settled: list[Settled], closed: list[ClosedBatch]) -> PreparedChunk:
        ids = self._ids.take(len(closed))
        return prepare_chunk(self._conn.dialect.name, self._campaign_id, settled, closed, ids)

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so that the planner never blocks on a dead writer
            try:
                with self.lock:
                    write_chunk(self._conn, self._campaign_id, chunk)
            except BaseException as exc:  # handed to the planner's thread, raised there
                self._error = exc
