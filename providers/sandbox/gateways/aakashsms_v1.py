"""AakashSMS API v1 imitated: ``POST /admin/public/sms/v1/send``, codes 4000-4010.

Choices where the manual (aakashsms-v1.txt) is silent:

- Fields are read from the form body, falling back to the query string (Laravel merges
  both). A method other than POST answers 4002 "Invalid URL".
- Checks run in this order: 4000 (auth_token, from, to or text absent, or one of the first
  three empty), 4003, 4001 (the account's allowed IPs), 4004, 4005, 4007 (``from`` is not
  the account's sender), 4008 (text empty), 4006 (any number not 10 digits starting
  98/97/96, or a fault ``fail_numbers`` entry: v1 has no per-number answer, so one bad
  number refuses the request), 4009 (balance 0), 4010 (balance below the cost).
- Every answer is HTTP 200; a number costs one credit per segment.
"""

from __future__ import annotations

from providers._accounts import ProviderName
from providers.sandbox.accounts import DemoAccount, Refusal
from providers.sandbox.gate import Gate
from providers.sandbox.gateways._common import comma_list, draft, np_mobile_ok
from providers.sandbox.record import RecordedMessage
from providers.sandbox.state import Outcome
from providers.sandbox.wire import Reply, Request, json_reply

PROVIDER: ProviderName = "aakashsms_v1"
PATH = "/admin/public/sms/v1/send"

MESSAGES = {
    4000: "A required field is missing",
    4001: "Invalid IP Address",
    4002: "Invalid URL",
    4003: "Invalid AuthToken",
    4004: "Account is not active",
    4005: "Account has been expired",
    4006: "Invalid phone number",
    4007: "Invalid sender",
    4008: "Text cannot be empty",
    4009: "No Credits Available",
    4010: "Insufficient Credits",
}
_REQUIRED = ("auth_token", "from", "to", "text")


def answer(code: int) -> Reply:
    """The gateway's error answer for ``code``."""
    return json_reply({"response": MESSAGES[code], "response_code": code})


async def send(req: Request, gate: Gate) -> Outcome:
    """Handle one send request."""
    fields = req.fields()
    account = gate.state.find(PROVIDER, fields.get("auth_token", ""))
    refused = await gate.admit(req, account, PROVIDER, send=True)
    if refused is not None:
        return Outcome(PROVIDER, account, refused)
    code = _refusal(req, fields, account)
    if code is not None or account is None:
        return Outcome(PROVIDER, account, answer(code or 4003))
    numbers, text = comma_list(fields["to"]), fields["text"]
    bad = gate.fail_numbers(account)
    if any(not np_mobile_ok(n) or n in bad for n in numbers):
        return Outcome(PROVIDER, account, answer(4006))
    drafts = [draft(n, text, sender=fields["from"]) for n in numbers]
    balance, cost = gate.state.balance(account), sum(d.credits for d in drafts)
    if balance <= 0 or balance < cost:
        return Outcome(PROVIDER, account, answer(4009 if balance <= 0 else 4010))
    return Outcome(PROVIDER, account, drafts=drafts, render=_queued)


def _refusal(req: Request, fields: dict[str, str], account: DemoAccount | None) -> int | None:
    if req.method != "POST":
        return 4002
    if any(name not in fields for name in _REQUIRED) or not all(
        fields[name].strip() for name in _REQUIRED[:3]
    ):
        return 4000
    if account is None:
        return 4003
    if account.allowed_ips and req.client_ip not in account.allowed_ips:
        return 4001
    if account.refusal is Refusal.INACTIVE:
        return 4004
    if account.refusal is Refusal.EXPIRED:
        return 4005
    if fields["from"] != account.sender:
        return 4007
    if not fields["text"].strip():
        return 4008
    return None


def _queued(records: list[RecordedMessage]) -> Reply:
    count = len(records)
    return json_reply(
        {
            "count": count,
            "response_code": 201,
            "status": "queued",
            "response": f"{count} messages has been queued for delivery",
        }
    )
