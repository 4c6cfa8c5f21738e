"""Benchmark: the HTTP API beside the Python API, polled while a campaign runs, and exporting.

Every figure is measured against ``smsq api`` as a real process on loopback
(``smsq.api_process.ApiProcess``), with clients in this process:

- ``api_submit_vs_python_ratio``: 100,000 Nepali numbers submitted as one JSON body over the
  API, from the request to the answer, ÷ the same list through ``submit_campaign`` in this
  process; three of each, interleaved, on one SQLite file, both handing the campaign to the
  same broker (``local_stack`` with no worker, so nothing is sent). Medians; target <= 1.5.
- ``api_status_p99_ms``: 20 clients poll ``GET /v1/campaigns/{id}`` (each waits about
  ``POLL_PAUSE_S`` after each answer) for ``POLL_S``, after ``WARM_UP_S``, while the
  campaign really runs:
  ``local_stack`` with the sandbox, a worker and beat, and an account slowed to
  ``RATE_PER_S`` requests/s so that 100,000 numbers take minutes. Target <= 50 ms.
- ``upload_1m_s``, ``upload_1m_peak_rss_mb``: a CSV of 1,000,000 rows (28 MB) uploaded to
  ``POST /v1/campaigns/csv`` and planned into SQLite, and the API process's peak resident
  memory (VmHWM): the file is spooled to disk, so this is the planner's own peak (bench.plan:
  216 MB) on the server's baseline, not the file's size on top.
- ``export_1m_s``, ``export_1m_peak_rss_mb``: that campaign streamed back as
  ``GET /v1/campaigns/{id}/recipients.csv`` three times by a fresh API process; the median
  time, and its peak memory after the three. Targets <= 10 s, <= 200 MB.

    python -m bench.api        # prints JSON; about two minutes
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.plan import write_csv
from campaigns import api
from campaigns.api_keys import create_key
from campaigns.db import dispose_engines
from campaigns.models import RecipientState
from campaigns.schema import upgrade
from providers import Account
from providers.sandbox.accounts import sandbox_accounts
from smsq.api_process import ApiProcess
from smsq.local import local_stack
from worker.local import accounts_toml

SUBMIT_NUMBERS = 100_000
RUNS = 3
ACCOUNT = "smspresto"  # 500 numbers per request
TEXT = "Your smsq benchmark message."
POLLERS = 20
POLL_S = 20.0
# The first reads are left out: the first count of the campaign (a GROUP BY over 100,000
# rows, which 20 cold clients wait for together) and the pool's first connections took
# 190 ms, and they are most of the slowest 1% of a 20 s measurement.
WARM_UP_S = 2.0
POLL_PAUSE_S = 0.25  # what `smsq watch` waits between its own reads (smsq.views.watch)
RATE_PER_S = 1.0  # 500 numbers/s: 100,000 take 200 s, far longer than the polling
EXPORT_ROWS = 1_000_000
NOWHERE_BROKER = "redis://127.0.0.1:1/0"  # the export hands nothing to the workers
NOWHERE = "http://127.0.0.1:9"  # the upload's account: planned, never sent


def _numbers(count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [f"+22507{rng.randrange(10**8):08d}" for _ in range(count)]


def _accounts(sandbox_url: str, rate_per_s: float | None = None) -> dict[str, Account]:
    account = sandbox_accounts(sandbox_url)[ACCOUNT]
    if rate_per_s is not None:
        account = account.model_copy(update={"rate_per_s": rate_per_s})
    return {ACCOUNT: account}


def _headers(database_url: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key('bench', database_url=database_url).key}"}


def submit_ratio(workdir: Path) -> dict[str, float]:
    """Submitting 100,000 numbers as JSON over the API, ÷ the Python API."""
    numbers = _numbers(SUBMIT_NUMBERS)
    body = json.dumps({"account": ACCOUNT, "text": TEXT, "recipients": numbers}).encode()
    with local_stack(workdir=workdir, accounts=_accounts, workers={}, beat=False,
                     api=True) as stack:  # fmt: skip
        assert stack.api is not None
        database_url = stack.cluster.config.database_url
        accounts = dict(stack.cluster.config.accounts)
        headers = {**_headers(database_url), "Content-Type": "application/json"}
        python_s, http_s = [], []
        with httpx.Client(base_url=stack.api.url, timeout=120) as client:
            for _ in range(RUNS):
                started = time.perf_counter()
                api.submit_campaign(ACCOUNT, numbers, text=TEXT, database_url=database_url,
                                    accounts=accounts)  # fmt: skip
                python_s.append(time.perf_counter() - started)
                started = time.perf_counter()
                response = client.post("/v1/campaigns", content=body, headers=headers)
                http_s.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text[:500]
    python, http = statistics.median(python_s), statistics.median(http_s)
    return {"api_submit_100k_s": http, "python_submit_100k_s": python,
            "api_submit_vs_python_ratio": http / python}  # fmt: skip


async def _poll(
    url: str, headers: dict[str, str], path: str, since: float, until: float, rng: random.Random
) -> list[float]:
    """One client: reads, pauses about POLL_PAUSE_S, reads again (independent clients drift
    apart; started in step and paused alike, they would all arrive in the same millisecond).
    Only reads that start after ``since`` count: before it the first reads warm up."""
    took: list[float] = []
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
        await asyncio.sleep(rng.uniform(0, POLL_PAUSE_S))
        while (started := time.monotonic()) < until:
            response = await client.get(path)
            if started >= since:
                took.append(time.monotonic() - started)
            assert response.status_code == 200, response.text[:500]
            await asyncio.sleep(POLL_PAUSE_S * rng.uniform(0.5, 1.5))
    return took


async def _pollers(url: str, headers: dict[str, str], path: str) -> list[float]:
    since = time.monotonic() + WARM_UP_S
    until = since + POLL_S
    rngs = [random.Random(seed) for seed in range(POLLERS)]
    runs = await asyncio.gather(*(_poll(url, headers, path, since, until, rng) for rng in rngs))
    return [t for run in runs for t in run]


def status_p99(workdir: Path) -> dict[str, float]:
    """p99 of reading a running campaign while 20 clients poll it."""
    with local_stack(workdir=workdir, accounts=lambda url: _accounts(url, RATE_PER_S),
                     workers={"w1": 2}, api=True) as stack:  # fmt: skip
        assert stack.api is not None
        database_url = stack.cluster.config.database_url
        campaign_id = api.submit_campaign(ACCOUNT, _numbers(SUBMIT_NUMBERS), text=TEXT,
                                          database_url=database_url,
                                          accounts=dict(stack.cluster.config.accounts))  # fmt: skip
        headers = _headers(database_url)
        path = f"/v1/campaigns/{campaign_id}"
        took = asyncio.run(_pollers(stack.api.url, headers, path))
        info = api.get_campaign(campaign_id, database_url=database_url)
        assert info.state == "running", f"the campaign is {info.state}: too fast to measure"
        sent = info.recipients.get(RecipientState.SENT, 0)
    ms = sorted(t * 1000 for t in took)
    return {
        "api_status_p99_ms": ms[int(len(ms) * 0.99)], "api_status_p50_ms": ms[len(ms) // 2],
        "api_status_reads": float(len(ms)), "api_status_sent_meanwhile": float(sent),
    }  # fmt: skip


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _server_env(workdir: Path, database_url: str) -> dict[str, str]:
    """The environment of an ``smsq api`` child on ``database_url`` with one account."""
    config = workdir / "smsq.toml"
    config.write_text(accounts_toml({"nepal": sandbox_accounts(NOWHERE)["aakashsms_v3"]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSQ_")}
    env.update(SMSQ_DATABASE_URL=database_url, SMSQ_CONFIG=str(config),
               SMSQ_BROKER_URL=NOWHERE_BROKER)  # fmt: skip
    return env


def upload(workdir: Path, env: dict[str, str], headers: dict[str, str]) -> dict[str, float]:
    """A 1,000,000-row CSV uploaded and planned: seconds, and the server's peak memory."""
    source = workdir / "million.csv"
    write_csv(source, EXPORT_ROWS)
    form = {"account": "nepal", "text": TEXT}
    with ApiProcess(env, workdir) as server, source.open("rb") as csv_file:
        assert server.process is not None
        started = time.perf_counter()
        response = httpx.post(
            f"{server.url}/v1/campaigns/csv", headers=headers, data=form, timeout=300,
            files={"recipients": ("million.csv", csv_file, "text/csv")},
        )  # fmt: skip
        took_s = time.perf_counter() - started
        assert response.status_code == 201, response.text[:500]
        peak = _peak_rss_mb(server.process.pid)
    return {"upload_1m_s": took_s, "upload_1m_peak_rss_mb": peak,
            "upload_campaign_id": float(response.json()["id"])}  # fmt: skip


def export(workdir: Path) -> dict[str, float]:
    """The 1,000,000 rows uploaded, then streamed back as CSV three times: seconds (median),
    and the peak memory of the process that streamed them."""
    database_url = f"sqlite:///{workdir / 'export.db'}"
    upgrade(database_url)
    headers = _headers(database_url)
    env = _server_env(workdir, database_url)
    dispose_engines()
    figures = upload(workdir, env, headers)
    path = f"/v1/campaigns/{int(figures.pop('upload_campaign_id'))}/recipients.csv"
    seconds: list[float] = []
    with ApiProcess(env, workdir) as server, httpx.Client(base_url=server.url) as client:
        assert server.process is not None
        for _ in range(RUNS):
            started = time.perf_counter()
            lines = 0
            with client.stream("GET", path, headers=headers, timeout=120) as response:
                assert response.status_code == 200, response.read()[:500]
                for chunk in response.iter_bytes():
                    lines += chunk.count(b"\n")
            seconds.append(time.perf_counter() - started)
            assert lines == EXPORT_ROWS + 1, lines  # and the header
        peak = _peak_rss_mb(server.process.pid)
    return {**figures, "export_1m_s": statistics.median(seconds), "export_1m_peak_rss_mb": peak}


def run() -> dict[str, float]:
    """Every figure of this module (the runner of ``make bench`` calls it)."""
    with tempfile.TemporaryDirectory(prefix="smsq-bench-api-") as folder:
        root = Path(folder)
        figures: dict[str, float] = {}
        for name, measure in (("submit", submit_ratio), ("status", status_p99),
                              ("export", export)):  # fmt: skip
            workdir = root / name
            workdir.mkdir()
            figures.update(measure(workdir))
            dispose_engines()
        return figures


if __name__ == "__main__":
    json.dump(run(), sys.stdout, indent=2)
    sys.stdout.write("\n")
