"""SMSPresto imitated: ``GET`` or ``POST /console/api/``: sendsms, counters, list-archive.

Choices where the manual (smspresto.txt) is silent:

- Parameters: the query string, overlaid by the POST form; a form field ``data`` holding a
  JSON object (the manual's POST form) is overlaid last. Anything else in ``data`` counts as
  no credentials.
- Authentication: ``user`` or ``pass`` absent is 1, an unknown key 10, a wrong password 11.
- sendsms, in order: 100 (no sender), 101 (sender over 11 characters), 102 (no recipient, or
  any recipient that is not 8-15 digits after an optional "+", or in the faults'
  ``fail_numbers``: the whole request is refused), 103 (a recipient's text, its own or the
  top-level ``message``, empty). ``message-count`` is the number of recipients. A recipient
  costs one credit per segment; a stock too small answers ``{"status": 12, "message":
  "Insufficient stock."}``, a code the manual does not document (the sandbox's choice).
- Counters: ``get-stock`` (credits left), ``get-send`` and ``get-success`` (messages
  recorded), ``get-failed`` (0) as a bare integer; the six ``get-*-total`` as
  ``{"TOTAL": "0"}``. An unknown action is HTTP 400 "Unknown action".
- list-archive: the account's recorded messages in order, filtered by ``dateFrom`` and
  ``dateTo`` (YYYY-MM-DD, inclusive, UTC) when given, then rows ``from`` (offset, default
  0) up to ``to`` (exclusive end index, default ``from + 100``). A bad date or index is
  HTTP 400. ``HIS_STATUT`` is the message's fate (``POST /_sandbox/fates``): "0" pending
  (the default), "1" delivered (the manual's sample), "2" undelivered.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from providers._accounts import ProviderName
from providers.sandbox.accounts import DemoAccount
from providers.sandbox.gate import Gate
from providers.sandbox.gateways._common import comma_list, draft
from providers.sandbox.record import Draft, RecordedMessage
from providers.sandbox.state import Fates, Outcome
from providers.sandbox.wire import Reply, Request, json_reply, text_reply

PROVIDER: ProviderName = "smspresto"
PATH = "/console/api/"
MAX_SENDER_CHARS = 11
ARCHIVE_PAGE_DEFAULT = 100
CUSTOMER_REF = "SP2250700000001"  # the archive's CPT_REF
TOTALS = frozenset(
    f"get-{what}-total" for what in ("contact", "group", "order", "bill", "scheduled", "predefined")
)

MESSAGES = {
    0: "Message sent successfully.",
    1: "Authentication failed",
    10: "Invalid API key",
    11: "Invalid password",
    12: "Insufficient stock.",  # undocumented: the sandbox's choice
    100: "Invalid sender",
    101: "The sender's character limit is exceeded",
    102: "Invalid recipient",
    103: "Invalid message",
}


class Refused(Exception):
    """Raised inside validation to answer with one of the gateway's status codes."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def answer(status: int) -> Reply:
    """The gateway's ``{"status", "message"}`` answer."""
    return json_reply({"status": status, "message": MESSAGES[status]})


def _params(req: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(req.query())
    if req.method == "POST":
        form = req.form()
        data = form.pop("data", None)
        params.update(form)
        if data is not None:
            try:
                decoded = json.loads(data)
            except ValueError:
                decoded = None
            params.update(decoded if isinstance(decoded, dict) else {"user": None, "pass": None})
    return params


async def api(req: Request, gate: Gate) -> Outcome:
    """Handle one call of the API, whatever its action."""
    params = _params(req)
    user, action = params.get("user"), str(params.get("action", ""))
    account = gate.state.find(PROVIDER, user) if isinstance(user, str) else None
    refused = await gate.admit(req, account, PROVIDER, send=action == "sendsms")
    if refused is not None:
        return Outcome(PROVIDER, account, refused)
    if not user or not params.get("pass"):
        return Outcome(PROVIDER, account, answer(1))
    if account is None or params["pass"] != account.credentials["api_pass"]:
        return Outcome(PROVIDER, account, answer(10 if account is None else 11))
    if action == "sendsms":
        return _sendsms(params, account, gate)
    return Outcome(PROVIDER, account, _account_data(action, params, account, gate))


def _sendsms(params: dict[str, Any], account: DemoAccount, gate: Gate) -> Outcome:
    try:
        drafts = _drafts(params, account, gate)
    except Refused as refusal:
        return Outcome(PROVIDER, account, answer(refusal.status))

    def render(records: list[RecordedMessage]) -> Reply:
        body = {"status": 0, "message": MESSAGES[0], "message-count": len(records)}
        return json_reply(body)

    return Outcome(PROVIDER, account, drafts=drafts, render=render)


def _drafts(params: dict[str, Any], account: DemoAccount, gate: Gate) -> list[Draft]:
    sender = params.get("from")
    if not isinstance(sender, str) or not sender.strip():
        raise Refused(100)
    if len(sender) > MAX_SENDER_CHARS:
        raise Refused(101)
    pairs = _recipients(params)
    bad = gate.fail_numbers(account)
    numbers = [n.removeprefix("+") for n, _ in pairs]
    if not pairs or any(not (n.isdigit() and 8 <= len(n) <= 15) or n in bad for n in numbers):
        raise Refused(102)
    texts = [t for _, t in pairs]
    if any(not t.strip() for t in texts):
        raise Refused(103)
    drafts = [draft(n, t, sender=sender) for n, t in zip(numbers, texts, strict=True)]
    if sum(d.credits for d in drafts) > gate.state.balance(account):
        raise Refused(12)
    return drafts


def _recipients(params: dict[str, Any]) -> list[tuple[str, str]]:
    """(recipient, text) pairs from the GET comma list or the POST ``to`` objects."""
    message = params.get("message")
    common = message if isinstance(message, str) else ""
    to = params.get("to")
    if isinstance(to, str):
        return [(n, common) for n in comma_list(to)]
    if not isinstance(to, list):
        return []
    pairs: list[tuple[str, str]] = []
    for item in to:
        if not isinstance(item, dict) or "recipient" not in item:
            raise Refused(102)
        own = item.get("message", common)
        pairs.append((str(item["recipient"]).strip(), own if isinstance(own, str) else ""))
    return pairs


def _account_data(action: str, params: dict[str, Any], account: DemoAccount, gate: Gate) -> Reply:
    sent = len(gate.state.record.by_account.get(account.name, ()))
    counters = {
        "get-stock": int(gate.state.balance(account)),
        "get-send": sent,
        "get-success": sent,
        "get-failed": 0,
    }
    if action in counters:
        return text_reply(str(counters[action]))
    if action in TOTALS:
        return json_reply({"TOTAL": "0"})
    if action == "list-archive":
        messages = gate.state.record.by_account.get(account.name, [])
        return _archive(params, messages, gate.state.fates)
    return text_reply("Unknown action", 400)


def _archive(params: dict[str, Any], messages: list[RecordedMessage], fates: Fates) -> Reply:
    try:
        first = _day(params.get("dateFrom"))
        last = _day(params.get("dateTo"))
        start = int(params.get("from") or 0)
        end = int(params.get("to") or start + ARCHIVE_PAGE_DEFAULT)
    except ValueError as exc:
        return text_reply(f"Invalid parameter: {exc}", 400)
    rows = [
        m
        for m in messages
        if (first is None or _utc_day(m) >= first) and (last is None or _utc_day(m) <= last)
    ]
    return json_reply([_archive_row(m, fates) for m in rows[max(start, 0) : max(end, 0)]])


def _day(value: object) -> date | None:
    if value is None or value == "":
        return None
    return date.fromisoformat(str(value))


def _utc_day(message: RecordedMessage) -> date:
    return datetime.fromtimestamp(message.wall_time, UTC).date()


STATUT = {"pending": "0", "delivered": "1", "undelivered": "2"}


def _archive_row(m: RecordedMessage, fates: Fates) -> dict[str, str]:
    stamp = datetime.fromtimestamp(m.wall_time, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "IDHISTORIQUE": m.message_id,
        "HIS_DESTINATAIRE": "+" + m.msisdn,
        "HIS_MESSAGE": m.text,
        "HIS_STATUT": STATUT[fates.of(m)],
        "HIS_NOMBRESMS": str(m.segments),
        "HIS_DATEHEURECREA": stamp,
        "HIS_DATEHEUREENVOI": stamp,
        "IDDATEHEURE": stamp,
        "CPT_REF": CUSTOMER_REF,
        "IDSMSFILATTENTE": m.message_id,
        "HIS_EXPEDITEUR": m.sender or "",
        "NOMCONTACT": "",
    }
