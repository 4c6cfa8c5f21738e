"""Does a ``callback_url`` slow sending, and how far behind the campaign do callbacks run?

``python -m bench.callbacks [NUMBERS] [PAIRS]`` (not part of ``make bench``): one local
cluster (a sending worker of 4 threads, the callbacks' worker, beat, SQLite) against the
sandbox, and a receiver on loopback answering 200. It sends PAIRS pairs of campaigns of
NUMBERS numbers each, with and without a callback_url, alternating, and prints for each
the time from submit to ``completed`` and, with callbacks, until every event is delivered.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from campaigns import get_campaign, submit_campaign
from providers.sandbox.accounts import sandbox_accounts
from smsq.local import local_stack

ACCOUNT = "aakashsms_v3"
MASTER_KEY = "bench-callbacks-master-key-0123456789"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _wait(done: Any) -> None:
    while not done():
        time.sleep(0.05)


def main(numbers: int, pairs: int) -> None:
    """Run the pairs and print one line per campaign, then the medians."""
    os.environ["SMSQ_CALLBACK_MASTER_KEY"] = MASTER_KEY  # this process shows the secrets
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    receiver.daemon_threads = True
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
    work = Path(tempfile.mkdtemp(prefix="smsq-bench-callbacks-"))
    times: dict[str, list[float]] = {"with": [], "without": []}
    try:
        with local_stack(
            workdir=work, accounts=lambda u: {ACCOUNT: sandbox_accounts(u)[ACCOUNT]},
            workers={"w1": 4}, callbacks=True, tick_interval_s=0.5,
            extra_env={"SMSQ_CALLBACK_MASTER_KEY": MASTER_KEY},
        ) as stack:  # fmt: skip
            db = stack.cluster.config.database_url
            accounts = dict(stack.cluster.config.accounts)
            for run in range(pairs * 2):
                label = "with" if run % 2 == 0 else "without"
                start = 40_000_000 + run * 1_000_000  # 9840..., 9841...: Nepal mobiles
                listed = [f"98{start + i:08d}" for i in range(numbers)]
                began = time.monotonic()
                campaign_id = submit_campaign(
                    ACCOUNT, listed, text="hello", database_url=db, accounts=accounts,
                    callback_url=url if label == "with" else None,
                )  # fmt: skip

                def info() -> Any:
                    return get_campaign(campaign_id, database_url=db)  # noqa: B023

                _wait(lambda: info().state == "completed")
                done_s = time.monotonic() - began
                line = f"{label:>7} callback_url: {numbers} numbers completed in {done_s:.2f} s"
                if label == "with":
                    _wait(lambda: set(info().callbacks) == {"delivered"})
                    events = sum(info().callbacks.values())
                    behind_s = time.monotonic() - began - done_s
                    line += f", {events} events, the last {behind_s:.2f} s after completion"
                times[label].append(done_s)
                print(line, flush=True)
    finally:
        receiver.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    medians = {k: statistics.median(v) for k, v in times.items()}
    print(f"median completed: with {medians['with']:.2f} s, without {medians['without']:.2f} s "
          f"(ratio {medians['with'] / medians['without']:.2f})")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30_000,
         int(sys.argv[2]) if len(sys.argv) > 2 else 3)  # fmt: skip
