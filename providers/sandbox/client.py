"""Driving a sandbox from Python: its control endpoints, and starting one as a subprocess.

with running_sandbox() as sandbox:          # a fresh process on a free loopback port
    accounts = sandbox.accounts()           # smsq Accounts pointing at sandbox.url
    ...                                     # send through smsq
    assert len(sandbox.messages(account="smsplus_az")) == 3
    sandbox.set_faults(next={"http_503": 2})
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from providers._accounts import Account
from providers.sandbox.accounts import sandbox_accounts
from providers.sandbox.faults import FaultSettings
from providers.sandbox.record import RecordedMessage

FaultsArg = FaultSettings | Mapping[str, Any] | None


class SandboxClient:
    """A client of one running sandbox's ``/_sandbox/`` endpoints."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s)

    def __enter__(self) -> SandboxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client's connections (the sandbox keeps running)."""
        self._http.close()

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        response = self._http.request(method, "/_sandbox/" + path, **kw)
        response.raise_for_status()
        return response.json()

    def health(self) -> bool:
        """True when the sandbox answers."""
        try:
            return bool(self._json("GET", "health")["ok"])
        except httpx.HTTPError:
            return False

    def messages(
        self, account: str | None = None, since_index: int | None = None
    ) -> list[RecordedMessage]:
        """Accepted messages in order, optionally of one account and from a record index."""
        params: dict[str, str | int] = {}
        if account is not None:
            params["account"] = account
        if since_index is not None:
            params["since_index"] = since_index
        data = self._json("GET", "messages", params=params)
        return [RecordedMessage.from_json(m) for m in data["messages"]]

    def pid(self) -> int:
        """The sandbox's process id (the benchmarks count its CPU time)."""
        return int(self._json("GET", "health")["pid"])

    def next_index(self) -> int:
        """The record index the next accepted message will get (for ``since_index``)."""
        return int(self._json("GET", "health")["messages"])

    def requests(self, account: str) -> dict[str, int]:
        """Send requests of ``account`` since the last reset: ``received``, ``accepted`` and
        one count per fault that answered instead (``http_429``, ...)."""
        counts: dict[str, int] = self._json("GET", "requests").get(account, {})
        return counts

    def reset(self) -> None:
        """Clear the record, refill every balance, restore the faults given at start."""
        self._json("POST", "reset")

    def faults(self) -> dict[str, Any]:
        """The current fault settings; ``next`` shows the counters still remaining."""
        data: dict[str, Any] = self._json("GET", "faults")
        return data

    def set_faults(
        self, settings: FaultsArg = None, /, *, account: str | None = None, **spec: Any
    ) -> dict[str, Any]:
        """Replace the faults: whole ``settings``, or one scope given as keywords.

        ``set_faults(next={"http_500": 2})`` sets global faults;
        ``set_faults(account="smsplus_az", next={"gateway_error": 1})`` one account's.
        Validated here first, so a typo fails in the caller with pydantic's message.
        """
        if settings is None:
            settings = {"accounts": {account: spec}} if account is not None else spec
        body = FaultSettings.coerce(settings).model_dump_json(exclude_defaults=True)
        headers = {"content-type": "application/json"}
        data: dict[str, Any] = self._json("POST", "faults", content=body, headers=headers)
        return data

    def balances(self) -> dict[str, float]:
        """Every demo account's balance by name."""
        rows = self._json("GET", "accounts")["accounts"]
        return {row["name"]: float(row["balance"]) for row in rows}

    def set_balances(self, **balances: float) -> dict[str, float]:
        """Set demo accounts' balances (credits, or BDT for AamarSMS) until the next reset;
        returns every balance."""
        rows = self._json("POST", "balances", json=balances)["accounts"]
        return {row["name"]: float(row["balance"]) for row in rows}

    def set_fates(
        self,
        default: str | None = None,
        *,
        numbers: Mapping[str, str] | None = None,
        ids: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Set what became of accepted messages (``pending``, ``delivered`` or
        ``undelivered``), as the gateways' status calls report it, until the next reset:
        the ``default``, and by number or message id; returns every setting."""
        body: dict[str, Any] = {"numbers": dict(numbers or {}), "ids": dict(ids or {})}
        if default is not None:
            body["default"] = default
        data: dict[str, Any] = self._json("POST", "fates", json=body)
        return data

    def accounts(self) -> dict[str, Account]:
        """The demo accounts as smsq ``Account`` objects pointing at this sandbox."""
        return sandbox_accounts(self.url)


class SandboxProcess:
    """A sandbox in a child process on a free loopback port, stopped on exit."""

    def __init__(
        self,
        faults: FaultsArg = None,
        *,
        host: str = "127.0.0.1",
        cpu: int | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout_s: float = 20.0,
    ) -> None:
        self.faults = FaultSettings.coerce(faults)
        self.host, self.cpu, self.extra_args = host, cpu, tuple(extra_args)
        self.startup_timeout_s = startup_timeout_s
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._client: SandboxClient | None = None

    @property
    def pid(self) -> int:
        """The child's process id."""
        if self._proc is None:
            raise RuntimeError("the sandbox is not running")
        return self._proc.pid

    @property
    def client(self) -> SandboxClient:
        """A client of the running sandbox."""
        if self._client is None:
            raise RuntimeError("the sandbox is not running")
        return self._client

    def _command(self, workdir: Path) -> list[str]:
        faults_file = workdir / "faults.json"
        faults_file.write_text(self.faults.model_dump_json(exclude_defaults=True))
        command = [sys.executable, "-m", "providers.sandbox", "--host", self.host, "--port", "0"]
        command += ["--faults", str(faults_file), "--ready-file", str(workdir / "url")]
        if self.cpu is not None:
            command += ["--cpu", str(self.cpu)]
        return command + list(self.extra_args)

    def start(self) -> SandboxClient:
        """Start the child and wait until it answers; raises RuntimeError if it does not."""
        self._dir = Path(tempfile.mkdtemp(prefix="smsq-sandbox-"))
        env = dict(os.environ)
        # The child must import this very tree even when smsq is not installed.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(self._command(self._dir), env=env, stdout=subprocess.DEVNULL)
        try:
            self.url = self._wait_for_url(self._dir / "url")
            self._client = SandboxClient(self.url)
            self._wait_until_answering(self._client)
        except BaseException:
            self.stop()
            raise
        return self._client

    def _wait_for_url(self, ready_file: Path) -> str:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"sandbox exited with code {self._proc.returncode}")
            if ready_file.exists():
                return ready_file.read_text().strip()
            time.sleep(0.02)
        raise RuntimeError(f"sandbox did not listen within {self.startup_timeout_s} s")

    def _wait_until_answering(self, client: SandboxClient) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while not client.health():
            if time.monotonic() > deadline:
                raise RuntimeError(f"sandbox at {self.url} did not answer")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after 5 s) and remove its files."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> SandboxProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def running_sandbox(faults: FaultsArg = None, **options: Any) -> Iterator[SandboxClient]:
    """A sandbox subprocess for the ``with`` block; yields its client (``.url`` is its URL).

    ``options`` are ``SandboxProcess``'s: ``host``, ``cpu``, ``extra_args``,
    ``startup_timeout_s``.
    """
    with SandboxProcess(faults, **options) as process:
        yield process.client
