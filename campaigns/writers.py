"""The queue of SQLite writers on one machine: every smsq process takes a lock file in turn
before ``BEGIN IMMEDIATE``, and gives it back when its transaction ends.

SQLite lets one writer in at a time, and a connection that finds the database locked polls,
sleeping 1, 2, 5, 10 and up to 100 ms between tries: the lock often sits free while every
waiter sleeps. In ``bench.gateway``'s single messages (eight threads submitting beside the
workers) the callers spent 65% of their time in ``BEGIN IMMEDIATE``. Writers queue on an
``flock`` of ``<database>.smsq-writers`` instead, which the kernel hands to the next waiter
the moment the previous transaction ends. A writer that does not take the queue (the sqlite3
shell, another program) still waits in SQLite's own way: correctness never depends on it.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import weakref
from typing import Any

# How long a thread waits for its own process's turn before going ahead without the queue
# (a second write transaction opened by the thread that holds the turn): the outcome is then
# SQLite's own busy timeout, as without a queue.
THREAD_WAIT_S = 30.0

_queues: weakref.WeakSet[WriterQueue] = weakref.WeakSet()


class WriterQueue:
    """The writers' queue of one SQLite file, in this process."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}.smsq-writers"
        self._fd: int | None = None
        # The threads of one process share the lock file's descriptor, and flock() does not
        # exclude holders of the same open file: they take turns on a thread lock first.
        self._threads = threading.Lock()
        _queues.add(self)

    def acquire(self) -> bool:
        """Wait for this process's turn, then the machine's; False: going ahead without."""
        if not self._threads.acquire(timeout=THREAD_WAIT_S):
            return False
        try:
            _flock(self._descriptor(), exclusive=True)
        except OSError:
            self._threads.release()
            return False
        return True

    def release(self) -> None:
        """Hand the turn to the next writer (only after ``acquire`` returned True)."""
        try:
            _flock(self._descriptor(), exclusive=False)
        finally:
            self._threads.release()

    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def _forked(self) -> None:
        # A child shares its parent's open file, and with it the parent's flock: it opens
        # its own, and no thread of the parent holds the child's turn.
        self._fd = None
        self._threads = threading.Lock()


class QueuedConnection(sqlite3.Connection):
    """A sqlite3 connection that gives its queue turn back when its transaction ends."""

    queue: WriterQueue | None = None
    holding = False

    def take_turn(self) -> None:
        """Queue for the write lock (the ``begin`` of a write transaction)."""
        if self.queue is not None and not self.holding:
            self.holding = self.queue.acquire()

    def give_turn(self) -> None:
        """The transaction is over (or never began): the next writer may go."""
        if self.holding:
            self.holding = False
            assert self.queue is not None
            self.queue.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.give_turn()


def queue_for(database: str | None) -> WriterQueue | None:
    """A queue for the SQLite file ``database``; None for memory databases and on Windows
    (no flock there: SQLite's own busy wait serializes)."""
    if sys.platform == "win32" or database in (None, "", ":memory:"):
        return None
    assert database is not None
    return WriterQueue(database)


def connection_args(queue: WriterQueue | None) -> dict[str, Any]:
    """``sqlite3.connect`` arguments that make its connections take ``queue``'s turns."""
    if queue is None:
        return {}
    factory = type("Queued", (QueuedConnection,), {"queue": queue})
    return {"factory": factory}


def _flock(fd: int, *, exclusive: bool) -> None:
    import fcntl  # not on Windows, where queue_for makes no queue

    fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_UN)


def _after_fork() -> None:
    for queue in list(_queues):
        queue._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
