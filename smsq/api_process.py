"""``smsq api`` as a child process on a loopback port: ``ApiProcess``, for ``local_stack``.

It runs in its own process group with the environment it is given (a local deployment's
database, broker and config file), its output in a log file; ``start()`` returns once it
answers, ``stop()`` sends SIGTERM (uvicorn finishes the requests in progress) and kills it
if it has not exited in time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ApiProcessError(RuntimeError):
    """Raised when ``smsq api`` does not answer in time, with its log's tail."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS's choice)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class ApiProcess:
    """``python -m smsq api`` on ``127.0.0.1:port``; a context manager that stops it."""

    def __init__(self, env: Mapping[str, str], workdir: Path, port: int | None = None) -> None:
        self.env, self.workdir = dict(env), workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "api.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers (ApiProcessError if it does not)."""
        argv = [
            sys.executable,
            "-m",
            "smsq",
            "api",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, env=self.env, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_bytes().decode(errors="replace")[-3000:]
                raise ApiProcessError(f"smsq api did not start:\n{tail}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            return httpx.get(self.url + "/login", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to its group after STOP_TIMEOUT_S."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)

    def __enter__(self) -> ApiProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()
