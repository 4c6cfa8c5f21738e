"""``python -m providers.sandbox``: serve the sandbox, faults from a JSON file and flags.

Prints ``SANDBOX_URL=http://HOST:PORT`` on stdout once listening (``--port 0`` picks a free
port) and writes the URL to ``--ready-file`` when given. Flags override the file's global
scope; ``--rate`` and ``--next`` add to its ``rates`` and ``next``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from providers.sandbox.faults import FaultKind, FaultSettings
from providers.sandbox.server import serve

DEFAULT_PORT = 8765
KINDS = ", ".join(k.value for k in FaultKind)


class _OneLineParser(argparse.ArgumentParser):
    """An argparse parser whose mistakes are one line, like every other smsq command's."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"smsq: error: sandbox: {message} (see --help)\n")


def parser() -> argparse.ArgumentParser:
    """The command line of the sandbox."""
    p = _OneLineParser(
        prog="python -m providers.sandbox",
        description="Serve imitations of the five SMS gateways on one port, with faults.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    p.add_argument("--faults", type=Path, help="JSON fault settings (see providers.sandbox.faults)")
    p.add_argument("--seed", type=int, help="seed of the fault rate draws")
    p.add_argument("--latency-ms", type=float, help="latency added to every gateway request")
    p.add_argument("--hold-s", type=float, help="how long timeout_after_accept holds answers")
    p.add_argument("--rate-ceiling-per-s", type=float, help="per-account send ceiling (429)")
    p.add_argument(
        "--rate", action="append", default=[], metavar="KIND=P", help=f"fault rate; {KINDS}"
    )
    p.add_argument("--next", action="append", default=[], metavar="KIND=N", help="next N sends")
    p.add_argument("--fail-number", action="append", default=[], metavar="MSISDN")
    p.add_argument("--ready-file", type=Path, help="write the base URL here once listening")
    p.add_argument("--cpu", type=int, help="pin the process to this CPU (Linux)")
    return p


def settings_from(args: argparse.Namespace) -> FaultSettings:
    """The fault settings of the file, overridden and extended by the flags."""
    data: dict[str, Any] = json.loads(args.faults.read_text()) if args.faults else {}
    for flag in ("seed", "latency_ms", "hold_s", "rate_ceiling_per_s"):
        if getattr(args, flag) is not None:
            data[flag] = getattr(args, flag)
    data["rates"] = {**data.get("rates", {}), **_pairs(args.rate, float)}
    data["next"] = {**data.get("next", {}), **_pairs(args.next, int)}
    data["fail_numbers"] = [*data.get("fail_numbers", []), *args.fail_number]
    return FaultSettings.model_validate(data)


def _pairs(items: Sequence[str], convert: type[float] | type[int]) -> dict[str, float]:
    pairs: dict[str, float] = {}
    for item in items:
        kind, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected KIND=VALUE, got {item!r}")
        pairs[kind.strip()] = convert(value)
    return pairs


def _announce(url: str, ready_file: Path | None) -> None:
    print(f"SANDBOX_URL={url}", flush=True)
    if ready_file is not None:
        partial = ready_file.with_name(ready_file.name + ".partial")
        partial.write_text(url + "\n")
        partial.replace(ready_file)  # atomic: a watcher never reads half a URL


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until interrupted; 2 on bad arguments or fault settings."""
    p = parser()
    args = p.parse_args(argv)
    try:
        settings = settings_from(args)
    except (ValueError, OSError) as exc:  # pydantic's ValidationError is a ValueError
        p.error(str(exc))
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    serve(args.host, args.port, settings, lambda url: _announce(url, args.ready_file))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
