"""``make bench``: every benchmark of smsq in one run, one table, and ``bench/latest.json``.

Each benchmark reports medians of its own repeated runs, and its ratios are measured side
by side in the same run (smsq beside sqlite3.executemany, beside a naive pipeline, beside
full phonenumbers parsing), because the machine is shared and absolute figures wander.
Speed is never asserted in the test suite; this is where it is measured.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

# Benchmark module -> what it measures; run in this order (cheap first).
BENCHMARKS: dict[str, str] = {
    "bench.sandbox_rate": "sandbox requests/s on one core",
    "bench.numbers_rate": "number normalization, fast path beside phonenumbers",
    "bench.plan": "planning 1,000,000 numbers into SQLite beside sqlite3.executemany",
    "bench.ratelimit": "shared rate limit fidelity, two worker processes",
    "bench.e2e": "100,000 numbers end to end beside a naive pipeline, SQLite and PostgreSQL",
    "bench.api": "the HTTP API: submit beside the Python API, 20 pollers, a 1,000,000-row export",
    "bench.engine_choice": "the engine's choice: threads beside asyncio, 200 ms latency",
    "bench.gateway": "at a real gateway's pace: 200 ms latency, its ceiling, a hung account",
}
LATEST = Path(__file__).with_name("latest.json")


def latest_path() -> Path:
    """Where the figures go: ``$SMSQ_BENCH_JSON`` (tests), else ``bench/latest.json``."""
    named = os.environ.get("SMSQ_BENCH_JSON")
    return Path(named) if named else LATEST


def _run_one(module_name: str) -> tuple[dict[str, float], float]:
    started = time.monotonic()
    module = importlib.import_module(module_name)
    figures: dict[str, float] = module.run()
    return figures, time.monotonic() - started


def _format(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def main(selected: list[str]) -> int:
    """Run the benchmarks (all, or those named on the command line) and write latest.json."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    names = [n for n in BENCHMARKS if not selected or n.split(".")[-1] in selected]
    results: dict[str, float] = {}
    table = Table(title="smsq benchmarks (medians; ratios from the same run)")
    for column in ("benchmark", "figure", "value"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for name in names:
        console.print(f"[bold]{name}[/]: {BENCHMARKS[name]} ...")
        figures, took_s = _run_one(name)
        for key, value in figures.items():
            results[key] = value
            table.add_row(name.split(".")[-1], key, _format(value))
        console.print(f"  done in {took_s:.0f} s")
    console.print(table)
    record = {
        **{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in results.items()},
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = latest_path()
    out.write_text(json.dumps(record, indent=2) + "\n")
    console.print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
