"""Benchmark: planning a 1,000,000-number campaign, beside raw sqlite3 executemany.

``run()`` writes a CSV of 1,000,000 Nepali numbers (with a name column, about 2% invalid and
2% repeated) to a temporary folder, then, three times each, in a child process of its own
(so the peak memory measured is the planner's alone):

- plans it with ``submit_campaign`` for an AakashSMS v3 account into a fresh, migrated
  SQLite file (seconds and peak RSS of the child);
- inserts the same rows (read from the CSV and made into recipient tuples beforehand, in
  file order) into a fresh migrated file with ``sqlite3.executemany`` and one commit: what
  the bare insert costs on this schema (its three recipient indexes) and machine.

Medians are returned. Run it as ``python -m bench.plan``. Targets: <= 10 s and < 300 MB.
"""

from __future__ import annotations

import csv
import json
import multiprocessing as mp
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

ROWS = 1_000_000
RUNS = 3
INVALID_SHARE = 0.02
DUPLICATE_SHARE = 0.02
TEXT = "Namaste! Your bill is ready. Pay before the 15th to avoid a late fee."
_NEPALI_MOBILE_PREFIXES = ("984", "985", "986", "980", "981", "982", "974", "976", "961", "988")


def write_csv(path: Path, rows: int = ROWS, seed: int = 7) -> None:
    """A recipient CSV: msisdn,name with a few invalid and repeated numbers."""
    rng = random.Random(seed)
    recent: list[str] = []
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["msisdn", "name"])
        for i in range(rows):
            roll = rng.random()
            if roll < INVALID_SHARE:
                number = str(rng.randrange(10_000, 99_999))  # too short
            elif roll < INVALID_SHARE + DUPLICATE_SHARE and recent:
                number = rng.choice(recent)
            else:
                number = rng.choice(_NEPALI_MOBILE_PREFIXES) + f"{rng.randrange(10**7):07d}"
                if i % 97 == 0:
                    recent = [*recent[-99:], number]
            writer.writerow([number, f"Customer {i}"])


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _plan_child(csv_path: str, db_path: str, out: Connection) -> None:
    from pydantic import SecretStr

    from campaigns import get_campaign, submit_campaign
    from campaigns.schema import upgrade
    from providers import Account

    url = f"sqlite:///{db_path}"
    upgrade(url)
    account = Account(
        name="bench",
        provider="aakashsms_v3",
        base_url="http://127.0.0.1:9",
        credentials={"auth_token": SecretStr("bench-token")},
    )
    started = time.perf_counter()
    campaign_id = submit_campaign(account, csv_path, text=TEXT, database_url=url)
    elapsed_s = time.perf_counter() - started
    info = get_campaign(campaign_id, database_url=url)
    out.send({"s": elapsed_s, "rss_mb": _peak_rss_mb(), "recipients": info.recipients})


def _raw_rows(csv_path: str) -> list[tuple[object, ...]]:
    """The CSV's rows as recipient tuples, states as planning gives them (not timed)."""
    seen: set[str] = set()
    rows: list[tuple[object, ...]] = []
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for row_no, (number, _name) in enumerate(reader, start=1):
            if len(number) != 10:
                rows.append((1, row_no, number, None, "invalid", "too short", *_NULLS, 0, False))
            elif number in seen:
                rows.append((1, row_no, number, None, "duplicate", "repeat", *_NULLS, 0, False))
            else:
                seen.add(number)
                rows.append((1, row_no, number, row_no // 100 + 1, "pending", None,
                             None, None, 1, 1.0, 0, True))  # fmt: skip
    return rows


_NULLS = (None, None, None, None)  # text, params, segments, credits


def _executemany_child(csv_path: str, db_path: str, out: Connection) -> None:
    import sqlite3

    from campaigns.bulk import RECIPIENT_COLUMNS
    from campaigns.schema import upgrade

    upgrade(f"sqlite:///{db_path}")
    rows = _raw_rows(csv_path)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # as campaigns.db sets it
    conn.execute(
        "INSERT INTO campaigns (id, account, provider, state, max_segments, recipients_total, "
        "batches_total, credits_planned, created_at) "
        "VALUES (1, 'bench', 'aakashsms_v3', 'draft', 10, 0, 0, 0, '2025-01-01 00:00:00')"
    )
    insert = (
        f"INSERT INTO recipients ({', '.join(RECIPIENT_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in RECIPIENT_COLUMNS)})"
    )
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(insert, rows)
    conn.execute("COMMIT")
    out.send({"s": time.perf_counter() - started})


def _in_child(target: Callable[..., None], *args: str) -> dict[str, object]:
    ctx = mp.get_context("spawn")  # a fresh interpreter: its peak RSS is the planner's own
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=target, args=(*args, sender))
    process.start()
    sender.close()
    result: dict[str, object] = receiver.recv()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"benchmark child exited with {process.exitcode}")
    return result


def run() -> dict[str, float]:
    """Median seconds and peak memory of planning 1M numbers, beside raw executemany."""
    with tempfile.TemporaryDirectory(prefix="smsq-bench-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "numbers.csv"
        write_csv(csv_path)
        plans, raws = [], []
        for i in range(RUNS):
            plans.append(_in_child(_plan_child, str(csv_path), str(folder / f"plan{i}.db")))
            raws.append(_in_child(_executemany_child, str(csv_path), str(folder / f"raw{i}.db")))
    plan_s = statistics.median(float(p["s"]) for p in plans)  # type: ignore[arg-type]
    raw_s = statistics.median(float(r["s"]) for r in raws)  # type: ignore[arg-type]
    rss_mb = statistics.median(float(p["rss_mb"]) for p in plans)  # type: ignore[arg-type]
    return {
        "plan_1m_s": round(plan_s, 3),
        "plan_recipients_per_s": round(ROWS / plan_s),
        "plan_peak_rss_mb": round(rss_mb, 1),
        "sqlite_executemany_1m_s": round(raw_s, 3),
        "plan_vs_executemany_ratio": round(plan_s / raw_s, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
