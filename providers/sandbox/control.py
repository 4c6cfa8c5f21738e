"""The sandbox's own endpoints under ``/_sandbox/``: record, reset, faults, balances, health.

GET  /_sandbox/health                      {"ok": true, "messages": N, "pid": P}
GET  /_sandbox/messages[?account=&since_index=]
                                           {"next_index": N, "messages": [...]}
POST /_sandbox/reset                       clears the record, refills balances,
                                           restores the faults given at start
GET  /_sandbox/faults                      the fault settings, ``next`` = counters left
POST /_sandbox/faults                      replace them (JSON body, see faults.py);
                                           400 with the validation error if invalid
GET  /_sandbox/requests                    {"<account>": {"received": N, "accepted": N,
                                           "<fault kind>": N}}: send requests since reset
GET  /_sandbox/accounts                    {"accounts": [{name, provider, sender, balance}]}
POST /_sandbox/balances                    {"<account>": <balance>, ...} sets balances (until
                                           the next reset); 400 naming an unknown account
GET  /_sandbox/fates                       {"default", "numbers", "ids"}: messages' fates
POST /_sandbox/fates                       {"default"?: F, "numbers"?: {msisdn: F},
                                           "ids"?: {message id: F}} merges them in (until the
                                           next reset); F is pending, delivered or undelivered
"""

from __future__ import annotations

import os

from pydantic import ValidationError

from providers.sandbox.faults import FaultSettings
from providers.sandbox.state import FATES, SandboxState
from providers.sandbox.wire import Reply, Request, json_reply

PREFIX = "/_sandbox/"


def handle(req: Request, state: SandboxState) -> Reply:
    """Answer one control request."""
    name = req.path.removeprefix(PREFIX).rstrip("/")
    routes = {
        ("GET", "health"): _health,
        ("GET", "messages"): _messages,
        ("POST", "reset"): _reset,
        ("GET", "faults"): _faults,
        ("POST", "faults"): _set_faults,
        ("GET", "accounts"): _accounts,
        ("GET", "requests"): _requests,
        ("POST", "balances"): _set_balances,
        ("GET", "fates"): _fates,
        ("POST", "fates"): _set_fates,
    }
    route = routes.get((req.method, name))
    if route is not None:
        return route(req, state)
    known = any(path == name for _, path in routes)
    status = 405 if known else 404
    return json_reply({"error": "method not allowed" if known else "not found"}, status)


def _health(req: Request, state: SandboxState) -> Reply:
    return json_reply({"ok": True, "messages": len(state.record.messages), "pid": os.getpid()})


def _messages(req: Request, state: SandboxState) -> Reply:
    query = req.query()
    try:
        since = int(query.get("since_index") or 0)
    except ValueError:
        return json_reply({"error": "since_index must be an integer"}, 400)
    found = state.record.since(max(since, 0), query.get("account") or None)
    body = {"next_index": len(state.record.messages), "messages": [m.to_json() for m in found]}
    return json_reply(body)


def _requests(req: Request, state: SandboxState) -> Reply:
    return json_reply({name: dict(counts) for name, counts in state.requests.items()})


def _reset(req: Request, state: SandboxState) -> Reply:
    state.reset()
    return json_reply({"ok": True})


def _faults(req: Request, state: SandboxState) -> Reply:
    return json_reply(state.faults.snapshot())


def _set_faults(req: Request, state: SandboxState) -> Reply:
    try:
        settings = FaultSettings.model_validate_json(req.body or b"{}")
    except ValidationError as exc:
        return json_reply({"error": str(exc)}, 400)
    state.set_faults(settings)
    return json_reply(state.faults.snapshot())


def _set_balances(req: Request, state: SandboxState) -> Reply:
    wanted = req.json()
    if not isinstance(wanted, dict):
        return json_reply({"error": "expected a JSON object of account -> balance"}, 400)
    for name, value in wanted.items():
        if name not in state.accounts:
            return json_reply({"error": f"no sandbox account {name!r}"}, 400)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return json_reply({"error": f"balance of {name!r} must be a number >= 0"}, 400)
    state.balances.update({name: float(value) for name, value in wanted.items()})
    return _accounts(req, state)


def _accounts(req: Request, state: SandboxState) -> Reply:
    rows = [
        {"name": a.name, "provider": a.provider, "sender": a.sender, "balance": state.balance(a)}
        for a in state.accounts.values()
    ]
    return json_reply({"accounts": rows})


def _fates(req: Request, state: SandboxState) -> Reply:
    return json_reply(state.fates.snapshot())


def _set_fates(req: Request, state: SandboxState) -> Reply:
    wanted = req.json()
    if not isinstance(wanted, dict) or set(wanted) - {"default", "numbers", "ids"}:
        return json_reply({"error": "expected {default?, numbers?, ids?}"}, 400)
    default = wanted.get("default", state.fates.default)
    maps = {name: wanted.get(name) or {} for name in ("numbers", "ids")}
    if not all(isinstance(m, dict) for m in maps.values()):
        return json_reply({"error": "numbers and ids must be objects of key -> fate"}, 400)
    fates = [default, *maps["numbers"].values(), *maps["ids"].values()]
    bad = [f for f in fates if f not in FATES]
    if bad:
        return json_reply({"error": f"fate {bad[0]!r} is not one of {', '.join(FATES)}"}, 400)
    state.fates.default = default
    state.fates.by_number.update({str(k): v for k, v in maps["numbers"].items()})
    state.fates.by_id.update({str(k): v for k, v in maps["ids"].items()})
    return json_reply(state.fates.snapshot())
