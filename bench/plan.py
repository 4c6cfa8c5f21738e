"""Benchmark: planning a 1,000,000-number campaign, one account and routed, beside raw inserts.

``run()`` writes two CSVs of 1,000,000 numbers each (with a name column, about 2% invalid
and 2% repeated): Nepali numbers for one account, and a list spread over four countries
(Nepal, Bangladesh, Azerbaijan, Côte d'Ivoire) for a route over five accounts (AakashSMS v3
and, for Ncell's 980 range, v1; AamarSMS; SMSPlus.az with a template; SMSPresto). Then,
three times each and interleaved, in a child process of its own (so the peak memory measured
is the planner's alone):

- plans the Nepali list with ``submit_campaign`` for an AakashSMS v3 account into a fresh,
  migrated SQLite file (seconds and peak RSS of the child);
- plans the mixed list through the route the same way;
- inserts the Nepali rows (read from the CSV and made into recipient tuples beforehand, in
  file order) into a fresh migrated file with ``sqlite3.executemany`` and one commit: what
  the bare insert costs on this schema (its three recipient indexes) and machine.

Medians are returned. Run it as ``python -m bench.plan``. Targets: one account <= 10 s and
< 300 MB; routed <= 1.3x one account (same run), < 300 MB.
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


# Share of the mixed list per country, and how people write each country's numbers.
_MIXED = (
    (0.40, lambda rng: rng.choice(_NEPALI_MOBILE_PREFIXES) + f"{rng.randrange(10**7):07d}"),
    (0.25, lambda rng: f"+88017{rng.randrange(10**8):08d}"),
    (0.10, lambda rng: f"+99450{rng.randrange(10**7):07d}"),
    (0.25, lambda rng: f"+22507{rng.randrange(10**8):08d}"),
)
ROUTE = {
    "name": "bench",
    "default_region": "NP",
    "977": ["nepal"],
    "977980": ["ncell", "nepal"],
    "880": ["dhaka"],
    "994": ["baku", "abidjan"],
    "225": ["abidjan"],
}


def write_mixed_csv(path: Path, rows: int = ROWS, seed: int = 11) -> None:
    """A recipient CSV over four countries, with a few invalid and repeated numbers."""
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
                pick, cumulative = rng.random(), 0.0
                for share, make in _MIXED:
                    cumulative += share
                    if pick < cumulative:
                        number = make(rng)
                        break
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


def _route_accounts() -> dict[str, object]:
    from pydantic import SecretStr

    from providers import Account

    nowhere = "http://127.0.0.1:9"

    def account(name: str, provider: str, **fields: object) -> Account:
        return Account(name=name, provider=provider, base_url=nowhere, **fields)  # type: ignore[arg-type]

    return {
        "nepal": account("nepal", "aakashsms_v3", credentials={"auth_token": SecretStr("t")}),
        "ncell": account("ncell", "aakashsms_v1", credentials={"auth_token": SecretStr("t")}),
        "dhaka": account(
            "dhaka", "aamarsms", sender="Brand",
            credentials={"user": SecretStr("u"), "password": SecretStr("p")},
        ),
        "baku": account(
            "baku", "smsplus_az", sender="Brand", templates={1: "Your bill is ready."},
            credentials={"token": SecretStr("t")},
        ),
        "abidjan": account(
            "abidjan", "smspresto", sender="Brand",
            credentials={"api_key": SecretStr("k"), "api_pass": SecretStr("p")},
        ),
    }  # fmt: skip


def _plan_routed_child(csv_path: str, db_path: str, out: Connection) -> None:
    from campaigns import get_campaign, submit_campaign
    from campaigns.routes import Route
    from campaigns.schema import upgrade

    url = f"sqlite:///{db_path}"
    upgrade(url)
    accounts = _route_accounts()
    started = time.perf_counter()
    campaign_id = submit_campaign(
        recipients=csv_path, route=Route.model_validate(ROUTE), text=TEXT, template_id=1,
        database_url=url, accounts=accounts,  # type: ignore[arg-type]
    )  # fmt: skip
    elapsed_s = time.perf_counter() - started
    info = get_campaign(campaign_id, database_url=url)
    shares = {a.account: a.planned for a in info.accounts}
    out.send({"s": elapsed_s, "rss_mb": _peak_rss_mb(), "recipients": info.recipients,
              "shares": shares})  # fmt: skip


def _raw_rows(csv_path: str) -> list[tuple[object, ...]]:
    """The CSV's rows as recipient tuples, states as planning gives them (not timed)."""
    seen: set[str] = set()
    rows: list[tuple[object, ...]] = []
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for row_no, (number, _name) in enumerate(reader, start=1):
            if len(number) != 10:
                rows.append(
                    (1, row_no, number, None, "invalid", "too short", *_NULLS, 0, False, None)
                )
            elif number in seen:
                rows.append(
                    (1, row_no, number, None, "duplicate", "repeat", *_NULLS, 0, False, None)
                )
            else:
                seen.add(number)
                rows.append((1, row_no, number, row_no // 100 + 1, "pending", None,
                             None, None, 1, 1.0, 0, True, None))  # fmt: skip
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


def _median(runs: list[dict[str, object]], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)  # type: ignore[arg-type]


def run() -> dict[str, float]:
    """Median seconds and peak memory of planning 1M numbers for one account and through a
    route, beside raw executemany, interleaved in one run."""
    with tempfile.TemporaryDirectory(prefix="smsq-bench-") as tmp:
        folder = Path(tmp)
        csv_path, mixed_path = folder / "numbers.csv", folder / "mixed.csv"
        write_csv(csv_path)
        write_mixed_csv(mixed_path)
        plans, routed, raws = [], [], []
        for i in range(RUNS):
            plans.append(_in_child(_plan_child, str(csv_path), str(folder / f"plan{i}.db")))
            routed.append(
                _in_child(_plan_routed_child, str(mixed_path), str(folder / f"routed{i}.db"))
            )
            raws.append(_in_child(_executemany_child, str(csv_path), str(folder / f"raw{i}.db")))
    plan_s, routed_s, raw_s = _median(plans, "s"), _median(routed, "s"), _median(raws, "s")
    return {
        "plan_1m_s": round(plan_s, 3),
        "plan_recipients_per_s": round(ROWS / plan_s),
        "plan_peak_rss_mb": round(_median(plans, "rss_mb"), 1),
        "sqlite_executemany_1m_s": round(raw_s, 3),
        "plan_vs_executemany_ratio": round(plan_s / raw_s, 2),
        "plan_routed_1m_s": round(routed_s, 3),
        "plan_routed_peak_rss_mb": round(_median(routed, "rss_mb"), 1),
        "plan_routed_vs_single_ratio": round(routed_s / plan_s, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
