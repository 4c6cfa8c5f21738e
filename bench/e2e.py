"""Benchmark: a campaign of 100,000 random numbers end to end, beside a naive baseline.

A real deployment on this machine per database (``smsq.local.local_stack``): a private
redis-server, the sandbox (no added latency, demo accounts at 10,000 requests/s so the
limiter never waits), one Celery worker with four threads plus beat, and SQLite (then
PostgreSQL when one answers on 127.0.0.1:5432). The clock runs from ``submit_campaign``
(planning included) to the campaign's ``completed`` state, that is every number's outcome
written; the send phase alone (hand-off to completion) is reported beside it.

The baseline is what a first attempt tends to be: one Celery task and one HTTP request per
number, each outcome committed on its own through the ORM. It is measured on a 2,000-number
sample on the same deployment (its rate does not depend on the campaign's size).

    python -m bench.e2e        # prints JSON; about a minute

Keys: e2e_sqlite_msgs_per_s, e2e_postgres_msgs_per_s (NaN without PostgreSQL),
e2e_postgres_vs_sqlite_ratio (target >= 0.8), naive_msgs_per_s, e2e_vs_naive_ratio,
e2e_cpu_s_per_100k (CPU seconds of every smsq process and the sandbox per 100,000
messages, SQLite, median of the runs; lower is better), plus the send-phase rates, the
planning seconds on each database and the sizes.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from sqlalchemy import select

from bench.measure import cpu_s, scalar, wait_campaign, wait_until
from campaigns import submit_campaign
from campaigns.db import dispose_engines, get_engine, session
from campaigns.models import Campaign, CampaignState, Recipient, RecipientState
from providers import Account, Batch, ResultState
from providers.registry import get_adapter
from providers.sandbox.accounts import sandbox_accounts
from smsq.local import local_stack
from worker.celery_app import app
from worker.clock import utcnow
from worker.context import get_context
from worker.local import LocalCluster

NUMBERS = 100_000
NAIVE_NUMBERS = 2_000
ACCOUNT = "smspresto"  # 500 numbers per request: the largest batches of the five gateways
TEXT = "Your smsq benchmark message."
TIMEOUT_S = 300.0  # a run that takes longer is broken, not slow
RUNS = 3  # campaigns per database; the figures are their medians
# Two per core: a process waiting on the gateway or on SQLite's write lock leaves its core to
# another one (measured: 4 beat 2 by about 1.5x on this 2-core machine, same run).
WORKER_PROCESSES = 4
PG_ADMIN_URL = os.environ.get("SMSQ_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@app.task(name="bench.naive_send", ignore_result=True)
def naive_send(recipient_id: int) -> str:
    """The baseline: one number, one request, one ORM load and one commit."""
    ctx = get_context()
    with session() as db:
        recipient = db.get(Recipient, recipient_id)
        assert recipient is not None
        campaign = db.get(Campaign, recipient.campaign_id)
        assert campaign is not None and campaign.account is not None
        account = ctx.accounts[campaign.account]
        adapter = get_adapter(account.provider)
        batch = Batch((recipient.msisdn,), text=campaign.text, sender=campaign.sender)
        response = ctx.http.send(adapter.build_request(account, batch))
        [result] = adapter.parse_response(batch, response)
        recipient.state = (
            RecipientState.SENT if result.state is ResultState.SENT else RecipientState.FAILED
        )
        recipient.provider_message_id = result.provider_message_id
        recipient.attempts += 1
        recipient.updated_at = utcnow()
        db.commit()
    return "sent"


def _numbers(start: int, count: int) -> list[str]:
    """``count`` distinct Ivorian mobile numbers in random order, as a real list comes.

    Consecutive numbers would sit side by side in every index and flatter the database; a
    random sample spreads each batch's rows over the whole index. Lists at different
    ``start`` (a multiple of NUMBERS) differ in their eighth digit, so they never overlap.
    """
    block = start // NUMBERS
    return [f"22507{block}{i:07d}" for i in random.Random(start).sample(range(10**7), count)]


def _wait_completed(db_url: str, campaign_id: int) -> None:
    wait_campaign(db_url, campaign_id, CampaignState.COMPLETED, TIMEOUT_S)


def _wait_outcomes(db_url: str, campaign_id: int, count: int) -> None:
    query = "SELECT count(*) FROM recipients WHERE campaign_id = %s AND state = 'sent'"
    wait_until(db_url, query, (campaign_id,), count, TIMEOUT_S)


def _campaign_run(
    cluster: LocalCluster, db_url: str, start: int, pids: list[int]
) -> dict[str, float]:
    """One timed campaign; returns the end-to-end and send-phase rates and CPU seconds
    of ``pids`` (every smsq process and the sandbox), planning in this process included."""
    accounts = dict(cluster.config.accounts)
    numbers = _numbers(start, NUMBERS)
    sent_at: list[float] = []
    cpu_before_s = cpu_s(pids) + time.process_time()
    began = time.perf_counter()
    campaign_id = submit_campaign(
        ACCOUNT, numbers, text=TEXT, database_url=db_url, accounts=accounts
    )
    sent_at.append(time.perf_counter())
    _wait_completed(db_url, campaign_id)
    ended = time.perf_counter()
    used_cpu_s = cpu_s(pids) + time.process_time() - cpu_before_s
    _check_all_sent(db_url, campaign_id)
    return {
        "cpu_s_per_100k": used_cpu_s * 100_000 / NUMBERS,
        "messages_per_s": NUMBERS / (ended - began),
        "send_messages_per_s": NUMBERS / (ended - sent_at[0]),
        "plan_s": sent_at[0] - began,
        "total_s": ended - began,
    }


def _check_all_sent(db_url: str, campaign_id: int) -> None:
    query = "SELECT count(*) FROM recipients WHERE campaign_id = %s AND state = 'sent'"
    sent = scalar(db_url, query, campaign_id)
    if sent != NUMBERS:
        raise AssertionError(f"only {sent} of {NUMBERS} numbers sent")


def _naive_run(cluster: LocalCluster, db_url: str) -> float:
    """The baseline's rate: numbers per second, one task each."""
    accounts = dict(cluster.config.accounts)
    later = utcnow().replace(year=utcnow().year + 1)  # never released: only naive tasks send
    campaign_id = submit_campaign(
        ACCOUNT, _numbers(900_000, NAIVE_NUMBERS), text=TEXT, send_at=later,
        database_url=db_url, accounts=accounts,
    )  # fmt: skip
    with get_engine(db_url).connect() as conn:
        ids = (
            conn.execute(select(Recipient.id).where(Recipient.campaign_id == campaign_id))
            .scalars()
            .all()
        )
    began = time.perf_counter()
    with cluster.app.producer_or_acquire() as producer:
        for rid in ids:
            cluster.app.send_task(
                "bench.naive_send", (rid,), queue="smsq.control", producer=producer
            )
    _wait_outcomes(db_url, campaign_id, len(ids))
    return len(ids) / (time.perf_counter() - began)


def _accounts(sandbox_url: str) -> dict[str, Account]:
    return {ACCOUNT: sandbox_accounts(sandbox_url)[ACCOUNT]}


def _warm_up(cluster: LocalCluster, db_url: str) -> None:
    accounts = dict(cluster.config.accounts)
    campaign_id = submit_campaign(
        ACCOUNT, _numbers(800_000, 2_000), text=TEXT, database_url=db_url, accounts=accounts
    )
    _wait_completed(db_url, campaign_id)


def _measure(db_url: str, naive: bool) -> dict[str, float]:
    """The medians of RUNS campaigns on one database, on a deployment of its own."""
    with (
        tempfile.TemporaryDirectory(prefix="smsq-bench-") as tmp,
        local_stack(
            workdir=Path(tmp), database_url=db_url, accounts=_accounts,
            workers={"bench": WORKER_PROCESSES}, worker_args=["-I", "bench.e2e"],
            tick_interval_s=1.0, stale_after_s=60.0,
        ) as stack,
    ):  # fmt: skip
        cluster = stack.cluster
        _warm_up(cluster, db_url)
        pids = [p.pid for p in cluster.processes.values()] + [stack.sandbox.pid()]
        runs = [_campaign_run(cluster, db_url, i * NUMBERS, pids) for i in range(RUNS)]
        result = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        if naive:
            result["naive_messages_per_s"] = _naive_run(cluster, db_url)
    return result


def _postgres_database() -> str | None:
    """A fresh database on the local PostgreSQL, or None when none answers."""
    name = f"smsq_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        print(f"PostgreSQL not used: {exc}".strip(), file=sys.stderr)
        return None
    return name


def _drop_postgres(name: str) -> None:
    dispose_engines()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _pg_url(name: str) -> str:
    base = httpx.URL(PG_ADMIN_URL.replace("postgresql://", "http://", 1))
    user = f"{base.username}@" if base.username else ""
    return f"postgresql+psycopg://{user}{base.host}:{base.port or 5432}/{name}"


def run() -> dict[str, float]:
    """Run the benchmark; returns the rates (messages per second) and their ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = _measure(f"sqlite:///{tmp}/bench.db", naive=True)
    pg: dict[str, float] = {
        "messages_per_s": math.nan, "send_messages_per_s": math.nan, "cpu_s_per_100k": math.nan,
        "plan_s": math.nan,
    }  # fmt: skip
    name = _postgres_database()
    if name is not None:
        try:
            pg = _measure(_pg_url(name), naive=False)
        finally:
            _drop_postgres(name)
    return {
        "e2e_sqlite_msgs_per_s": sqlite["messages_per_s"],
        "e2e_postgres_msgs_per_s": pg["messages_per_s"],
        "e2e_postgres_vs_sqlite_ratio": pg["messages_per_s"] / sqlite["messages_per_s"],
        "e2e_cpu_s_per_100k": sqlite["cpu_s_per_100k"],
        "e2e_postgres_cpu_s_per_100k": pg["cpu_s_per_100k"],
        "naive_msgs_per_s": sqlite["naive_messages_per_s"],
        "e2e_vs_naive_ratio": sqlite["messages_per_s"] / sqlite["naive_messages_per_s"],
        "e2e_sqlite_send_phase_msgs_per_s": sqlite["send_messages_per_s"],
        "e2e_postgres_send_phase_msgs_per_s": pg["send_messages_per_s"],
        "e2e_sqlite_plan_s": sqlite["plan_s"],
        "e2e_postgres_plan_s": pg["plan_s"],
        "campaign_numbers": float(NUMBERS),
        "naive_sample_numbers": float(NAIVE_NUMBERS),
    }


def main() -> None:
    """Print the benchmark's results as JSON."""
    print(json.dumps(run(), indent=2))


if __name__ == "__main__":
    main()
