"""`make bench`'s runner works: one real benchmark through it, figures in the JSON file.

The benchmarks themselves measure speed; this only proves the runner that `make bench`
calls runs one and records what it measured with the machine's facts (no speed asserted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_make_bench_runner_records_a_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    env = {**os.environ, "SMSQ_BENCH_JSON": str(out)}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "sandbox_rate"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(out.read_text())
    assert record["sandbox_requests_per_s"] > 0
    assert record["sandbox_errors"] == 0  # every answer had the success shape
    assert record["cpu_count"] == os.cpu_count()
    assert record["date"].startswith("20")
    assert "sandbox_requests_per_s" in done.stdout


def test_the_makefile_targets_call_these_entry_points() -> None:
    """`make -n` shows what each README target runs; each of those is run by a test."""
    expected = {
        "bench": "-m bench",
        "demo": "smsq demo",
        "flower": "smsq flower",
        "test": "pytest",
    }
    for target, command in expected.items():
        dry = subprocess.run(
            ["make", "-n", "-W", "pyproject.toml", target],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert dry.returncode == 0, dry.stderr
        assert command in dry.stdout, (target, dry.stdout)
