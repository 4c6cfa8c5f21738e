"""The SQLite writers' queue (campaigns.writers): every write transaction holds the machine's
turn from BEGIN to its end, readers never take it, and a turn is never kept by mistake."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from campaigns import db, writers
from campaigns.db import make_engine, read_only


def _held_elsewhere(lock_path: str) -> bool:
    """Whether another process finds the queue's lock file taken (flock, without waiting)."""
    probe = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept OSError:\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, lock_path], check=False)
    return done.returncode == 3


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = tmp_path / "w.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    engine.dispose()
    return str(path)


def test_a_write_transaction_holds_the_turn_until_commit_and_rollback(database: str) -> None:
    engine = make_engine(f"sqlite:///{database}")
    lock_path = f"{database}.smsq-writers"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert _held_elsewhere(lock_path)
    assert not _held_elsewhere(lock_path)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
        assert _held_elsewhere(lock_path)
        raise RuntimeError("rolled back")
    assert not _held_elsewhere(lock_path)
    with read_only(engine) as reader:
        assert reader.execute(text("SELECT n FROM t")).scalars().all() == [1]
        assert not _held_elsewhere(lock_path)  # a reader never queues
    engine.dispose()


def test_writers_of_two_processes_take_turns(database: str) -> None:
    """A writer of another process waits in the queue, not in SQLite's polling, and goes
    the moment this transaction ends."""
    engine = make_engine(f"sqlite:///{database}")
    other = (
        "import sys, time\n"
        "from sqlalchemy import text\n"
        "from campaigns.db import make_engine\n"
        "engine = make_engine('sqlite:///' + sys.argv[1])\n"
        "with engine.begin() as conn:\n"
        "    conn.execute(text('INSERT INTO t VALUES (2)'))\n"
        "print(time.time())\n"
    )
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        child = subprocess.Popen(
            [sys.executable, "-c", other, database], stdout=subprocess.PIPE, text=True
        )
        time.sleep(1.5)  # the child is waiting for the turn meanwhile
        assert child.poll() is None
        ended = time.time()
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0
    assert float(out) >= ended
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]
    engine.dispose()


def test_threads_of_one_process_take_turns(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """They share the lock file's descriptor, which flock() does not exclude: they wait for
    each other in the queue, not in SQLite (whose busy timeout is made 1 ms here, so a thread
    that met a held write lock would fail at once)."""
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 1)
    engine = make_engine(f"sqlite:///{database}", pool_size=4)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for _ in range(5):
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                    time.sleep(0.02)  # hold the write lock while the others want it
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 20
    engine.dispose()


def test_a_nested_write_goes_ahead_after_the_wait_instead_of_hanging(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread holding the turn opens a second write transaction: it waits THREAD_WAIT_S,
    then meets SQLite's own busy timeout, as it would without the queue."""
    monkeypatch.setattr(writers, "THREAD_WAIT_S", 0.2)
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    engine = make_engine(f"sqlite:///{database}")
    began = time.monotonic()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(OperationalError, match="locked"), engine.begin() as nested:
            nested.execute(text("INSERT INTO t VALUES (2)"))
        assert 0.4 < time.monotonic() - began < 10
    with engine.connect() as conn:  # the outer transaction committed, and the turn is free
        assert conn.execute(text("SELECT n FROM t")).scalars().all() == [1]
    engine.dispose()


def test_a_forked_child_does_not_share_its_parents_turn(database: str) -> None:
    """An inherited descriptor shares the parent's open file, and flock() would let the
    child in beside the parent: the child opens its own and finds the turn taken."""
    queue = writers.queue_for(database)
    assert queue is not None
    assert queue.acquire()
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                fcntl.flock(queue._descriptor(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                code = 4  # went in beside the parent
            except OSError:
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        queue.release()
