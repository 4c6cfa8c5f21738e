"""Benchmark: two worker processes sharing one account's rate limit through Redis.

Two Celery workers (separate processes, as on two machines) send one campaign through one
AakashSMS v3 account limited to ``RATE_PER_S`` requests per second, with two numbers per
request so that the limit, not the work, sets the pace. The sandbox records when each
request arrived; from those times:

- ``ratelimit_achieved_fraction``: requests per second achieved over the run, divided by
  the limit (target >= 0.9: the limiter does not waste the account's capacity);
- ``ratelimit_max_window_over_limit``: the most requests seen in any sliding one-second
  window, minus the limit (target <= 0: the limit is never exceeded, wherever the window).

    python -m bench.ratelimit      # prints JSON; about 20 s
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from bench.measure import achieved_per_s, request_arrivals, window_excess
from campaigns import submit_campaign
from providers import Account
from providers.sandbox.accounts import sandbox_accounts
from providers.sandbox.client import SandboxClient
from smsq.local import local_stack

RATE_PER_S = 20.0
REQUESTS = 200  # ten seconds at the limit
PER_REQUEST = 2
ACCOUNT = "aakashsms_v3"
TIMEOUT_S = 120.0


def _arrivals(sandbox: SandboxClient, expected: int) -> list[float]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        messages = sandbox.messages(account=ACCOUNT)
        if len(messages) >= expected:
            return request_arrivals(messages)
        time.sleep(0.2)
    raise TimeoutError(f"only {len(sandbox.messages(account=ACCOUNT))} of {expected} sent")


def _accounts(sandbox_url: str) -> dict[str, Account]:
    account = sandbox_accounts(sandbox_url)[ACCOUNT].model_copy(
        update={"rate_per_s": RATE_PER_S, "max_recipients": PER_REQUEST}
    )
    return {ACCOUNT: account}


def run() -> dict[str, float]:
    """Run the benchmark; returns the achieved fraction and the worst window's excess."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        local_stack(
            workdir=Path(tmp), accounts=_accounts, workers={"w1": 1, "w2": 1}, beat=False
        ) as stack,
    ):
        config = stack.cluster.config
        numbers = [f"98{i:08d}" for i in range(REQUESTS * PER_REQUEST)]
        submit_campaign(
            ACCOUNT, numbers, text="rate", database_url=config.database_url,
            accounts=config.accounts,
        )  # fmt: skip
        arrivals = _arrivals(stack.sandbox, len(numbers))
    return {
        "ratelimit_achieved_fraction": achieved_per_s(arrivals) / RATE_PER_S,
        "ratelimit_max_window_over_limit": window_excess(arrivals, RATE_PER_S),
        "ratelimit_requests": float(len(arrivals)),
        "ratelimit_limit_per_s": RATE_PER_S,
    }


def main() -> None:
    """Print the benchmark's results as JSON."""
    print(json.dumps(run(), indent=2))


if __name__ == "__main__":
    main()
