"""Benchmark: the sending engine's choice, threads beside asyncio, side by side in one run.

The worker keeps many requests in flight per process. Two ways to do it were measured: a
pool of threads sharing one ``httpx.Client`` (what ``smsq worker`` runs), and one event
loop with an ``httpx.AsyncClient`` and a semaphore. Each sends the same ``REQUESTS``
AakashSMS v3 requests of 100 numbers, ``IN_FLIGHT`` at a time, to the sandbox answering
200 ms late, building each request and parsing each answer with the real adapter, as the
worker does. The database writes around each batch are the same in both and are left out.

- ``engine_threads_per_s`` / ``engine_asyncio_per_s``: requests per second.
- ``engine_threads_cpu_ms_per_request`` / ``engine_asyncio_cpu_ms_per_request``: this
  process's CPU per request (every thread's).
- ``engine_threads_vs_asyncio_cpu_ratio``: threads' CPU per request ÷ asyncio's.

    python -m bench.engine_choice        # prints JSON; about a minute
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from providers import Account, Batch
from providers.registry import get_adapter
from providers.sandbox.accounts import sandbox_accounts
from providers.sandbox.client import SandboxProcess

REQUESTS = 1_000
IN_FLIGHT = 50  # a rate of 100 requests/s at 200 ms of latency keeps about 25 out
PER_REQUEST = 100
LATENCY_MS = 200.0
ROUNDS = 2  # each engine runs this often, alternating; the figures are medians
TEXT = "Your smsq engine benchmark message."
# Both engines keep a connection per request in flight.
POOL = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)


def _batches() -> list[Batch]:
    first = 9_840_000_000
    return [
        Batch(tuple(str(first + i * PER_REQUEST + j) for j in range(PER_REQUEST)), text=TEXT)
        for i in range(REQUESTS)
    ]


def _threads(account: Account, batches: list[Batch]) -> float:
    """Seconds to send ``batches`` from a pool of threads sharing one client."""
    adapter = get_adapter(account.provider)
    with httpx.Client(limits=POOL, timeout=30.0) as client:

        def send(batch: Batch) -> int:
            response = client.send(adapter.build_request(account, batch))
            return len(adapter.parse_response(batch, response))

        began = time.perf_counter()
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            sent = sum(pool.map(send, batches))
        took_s = time.perf_counter() - began
    assert sent == REQUESTS * PER_REQUEST
    return took_s


def _asyncio(account: Account, batches: list[Batch]) -> float:
    """Seconds to send ``batches`` from one event loop, ``IN_FLIGHT`` at a time."""
    adapter = get_adapter(account.provider)

    async def main() -> float:
        gate = asyncio.Semaphore(IN_FLIGHT)
        async with httpx.AsyncClient(limits=POOL, timeout=30.0) as client:

            async def send(batch: Batch) -> int:
                async with gate:
                    response = await client.send(adapter.build_request(account, batch))
                    await response.aread()
                return len(adapter.parse_response(batch, response))

            began = time.perf_counter()
            sent = sum(await asyncio.gather(*(send(b) for b in batches)))
            took_s = time.perf_counter() - began
        assert sent == REQUESTS * PER_REQUEST
        return took_s

    return asyncio.run(main())


def _measure(
    engine: Callable[[Account, list[Batch]], float], account: Account
) -> tuple[float, float]:
    """(requests/s, CPU ms per request) of one round."""
    batches = _batches()
    cpu_before_s = time.process_time()
    took_s = engine(account, batches)
    cpu_ms = (time.process_time() - cpu_before_s) * 1000 / REQUESTS
    return REQUESTS / took_s, cpu_ms


def run() -> dict[str, float]:
    """Both engines, alternating; returns the figures named in the module's docstring."""
    engines = {"threads": _threads, "asyncio": _asyncio}
    rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in engines}
    with SandboxProcess({"latency_ms": LATENCY_MS}) as sandbox:
        account = sandbox_accounts(sandbox.url)["aakashsms_v3"].model_copy(
            update={"max_recipients": PER_REQUEST}
        )
        for _ in range(ROUNDS):
            for name, engine in engines.items():
                rounds[name].append(_measure(engine, account))
    figures: dict[str, float] = {}
    for name, measured in rounds.items():
        figures[f"engine_{name}_per_s"] = statistics.median(r for r, _ in measured)
        figures[f"engine_{name}_cpu_ms_per_request"] = statistics.median(c for _, c in measured)
    figures["engine_threads_vs_asyncio_cpu_ratio"] = (
        figures["engine_threads_cpu_ms_per_request"] / figures["engine_asyncio_cpu_ms_per_request"]
    )
    return figures


def main() -> None:
    """Print the benchmark's results as JSON."""
    print(json.dumps(run(), indent=2))


if __name__ == "__main__":
    main()
