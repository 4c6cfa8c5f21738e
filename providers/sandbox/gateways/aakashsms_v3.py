"""AakashSMS API v3 imitated: ``POST`` or ``GET /sms/v3/send``, per-number valid/invalid lists.

Choices where the manual (aakashsms-v3.txt) is silent:

- Fields come from the query (GET) or the form body with the query as fallback (POST).
- A number is valid when it has 10 digits starting 98, 97 or 96 and is not a fault
  ``fail_numbers`` entry; ``network`` is ``ncell`` for 980-982 and ``ntc`` otherwise.
  Valid entries echo the mobile with the 977 prefix, as the manual's sample does; invalid
  ones echo it as sent. Duplicates are sent twice, as a gateway that does not check would.
- The manual documents only the bad-token failure. Other refusals use the same shape with
  v1's wording: "Account is not active", "Account has been expired", "The to field is
  required.", "The text field is required.", "No Credits Available" (balance 0) and
  "Insufficient Credits" (balance below the cost of the valid numbers).
- Ids are one global sequence (from 2673160); a number costs one credit per segment.
"""

from __future__ import annotations

from providers._accounts import ProviderName
from providers.sandbox.accounts import DemoAccount, Refusal
from providers.sandbox.gate import Gate
from providers.sandbox.gateways._common import comma_list, draft, np_mobile_ok, np_network
from providers.sandbox.record import RecordedMessage
from providers.sandbox.state import Outcome
from providers.sandbox.wire import Reply, Request, json_reply

PROVIDER: ProviderName = "aakashsms_v3"
PATH = "/sms/v3/send"
BAD_TOKEN = "The provided Auth Token is not valid."


def failure(message: str) -> Reply:
    """The gateway's failure answer."""
    return json_reply({"error": True, "message": message, "data": []})


async def send(req: Request, gate: Gate) -> Outcome:
    """Handle one send request."""
    fields = req.query() if req.method == "GET" else req.fields()
    account = gate.state.find(PROVIDER, fields.get("auth_token", ""))
    refused = await gate.admit(req, account, PROVIDER, send=True)
    if refused is not None:
        return Outcome(PROVIDER, account, refused)
    problem = _refusal(req, fields, account)
    if problem is not None or account is None:
        return Outcome(PROVIDER, account, failure(problem or BAD_TOKEN))
    text, bad = fields["text"], gate.fail_numbers(account)
    numbers = comma_list(fields["to"])
    valid = [n for n in numbers if np_mobile_ok(n) and n not in bad]
    invalid = [n for n in numbers if not (np_mobile_ok(n) and n not in bad)]
    drafts = [draft(n, text) for n in valid]
    balance, cost = gate.state.balance(account), sum(d.credits for d in drafts)
    if drafts and (balance <= 0 or balance < cost):
        return Outcome(PROVIDER, account, failure(_credit_problem(balance)))

    def render(records: list[RecordedMessage]) -> Reply:
        return _queued(records, invalid, text)

    return Outcome(PROVIDER, account, drafts=drafts, render=render)


def _refusal(req: Request, fields: dict[str, str], account: DemoAccount | None) -> str | None:
    if account is None:
        return BAD_TOKEN
    if account.allowed_ips and req.client_ip not in account.allowed_ips:
        return "Invalid IP Address"
    if account.refusal is Refusal.INACTIVE:
        return "Account is not active"
    if account.refusal is Refusal.EXPIRED:
        return "Account has been expired"
    if not fields.get("to", "").strip():
        return "The to field is required."
    if not fields.get("text", "").strip():
        return "The text field is required."
    return None


def _credit_problem(balance: float) -> str:
    return "No Credits Available" if balance <= 0 else "Insufficient Credits"


def _queued(records: list[RecordedMessage], invalid: list[str], text: str) -> Reply:
    valid = [
        {
            "id": int(r.message_id),
            "mobile": "977" + r.msisdn,
            "text": r.text,
            "credit": int(r.credits),
            "network": np_network(r.msisdn),
            "status": "queued",
        }
        for r in records
    ]
    aborted = [
        {"mobile": n, "text": text, "credit": 0, "network": "N/A", "status": "aborted"}
        for n in invalid
    ]
    message = f"{len(valid)} messages has been queued for delivery."
    return json_reply(
        {"error": False, "message": message, "data": {"valid": valid, "invalid": aborted}}
    )
