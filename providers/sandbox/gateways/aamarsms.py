"""AamarSMS imitated: ``GET /api`` (bulk), ``/otp``, ``/smsstatus`` and ``/balance``.

Choices where the manual (aamarsms.txt) is silent:

- Parameters are read from the query string only, whatever the method (the manual says GET).
- Send checks, in order: 101, 102, 105 (unknown user or wrong password), 107 (the
  reseller-empty demo account), 103, 104, 108 (text over ``MAX_TEXT_CHARS``), 106 (balance
  below the cost of the numbers that will be sent).
- Per number: ``Status`` 0 "Failed" for a number not matching ``8801[3-9]XXXXXXXX`` or listed
  in the faults' ``fail_numbers``; 1 "Sent" otherwise. ``success`` is 0 when none was sent.
- Cost: ``AAMAR_PRICE_PER_SEGMENT_BDT`` per segment of each sent number; the balance is BDT.
- Message ids (never returned by ``/api``; see ``GET /_sandbox/messages``) look like the
  manual's ``910-17XXXXXXX``: the sequence number, a dash, the number without 880.
  ``/smsstatus`` answers for an id of the same account with the message's fate
  (``POST /_sandbox/fates``): ``STATUS`` SENT when delivered, FAILED when undelivered and
  PENDING (the sandbox's choice) before any report, the default; an unknown id is success 0
  with ``STATUS: FAILED`` and the message "SMS not found".
- ``/otp`` takes exactly one number; a comma list is one invalid number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from providers._accounts import ProviderName
from providers.sandbox.accounts import AAMAR_PRICE_PER_SEGMENT_BDT, DemoAccount, Refusal
from providers.sandbox.gate import Gate
from providers.sandbox.gateways._common import comma_list, draft
from providers.sandbox.record import Draft, RecordedMessage
from providers.sandbox.state import Outcome
from providers.sandbox.wire import Reply, Request, json_reply

PROVIDER: ProviderName = "aamarsms"
SEND_PATH, OTP_PATH, STATUS_PATH, BALANCE_PATH = "/api", "/otp", "/smsstatus", "/balance"
MAX_TEXT_CHARS = 1000  # the manual's 108 names no limit; 1000 is ~15 Bangla segments
BD_MOBILE = re.compile(r"8801[3-9]\d{8}")

MESSAGES = {
    100: "SMS send successfully.",
    101: "Username empty.",
    102: "Password empty.",
    103: "Recipient number empty.",
    104: "Message text empty.",
    105: "Invalid credential.",
    106: "Your Balance is not sufficient.",
    107: "Reseller balance is not sufficient.",
    108: "Message text is too long.",
    109: "smsid empty",
}


def answer(code: int) -> Reply:
    """The gateway's error answer for a send or status request."""
    return json_reply({"success": 0, "message": MESSAGES[code], "response_code": code})


def _login(query: Mapping[str, str], gate: Gate) -> tuple[DemoAccount | None, int | None]:
    """The account of the query's user/password, or the code refusing them."""
    user, password = query.get("user", ""), query.get("password", "")
    account = gate.state.find(PROVIDER, user) if user else None
    if not user:
        return account, 101
    if not password:
        return account, 102
    if account is None or account.credentials["password"] != password:
        return account, 105
    return account, None


async def send_bulk(req: Request, gate: Gate) -> Outcome:
    """Handle ``/api``: one text to a comma list, a delivery status per number."""
    return await _send(req, gate, otp=False)


async def send_otp(req: Request, gate: Gate) -> Outcome:
    """Handle ``/otp``: one text to one number, a single ``status``."""
    return await _send(req, gate, otp=True)


async def _send(req: Request, gate: Gate, *, otp: bool) -> Outcome:
    query = req.query()
    account, code = _login(query, gate)
    refused = await gate.admit(req, account, PROVIDER, send=True)
    if refused is not None:
        return Outcome(PROVIDER, account, refused)
    code = code or _send_refusal(query, account)
    if code is not None or account is None:
        return Outcome(PROVIDER, account, answer(code or 105))
    text, to = query["text"], query["to"]
    numbers = [to.strip()] if otp else comma_list(to)
    bad = gate.fail_numbers(account)
    sent = [BD_MOBILE.fullmatch(n) is not None and n not in bad for n in numbers]
    drafts = [
        draft(n, text, AAMAR_PRICE_PER_SEGMENT_BDT, query.get("from"))
        for n, ok in zip(numbers, sent, strict=True)
        if ok
    ]
    if sum(d.credits for d in drafts) > gate.state.balance(account):
        return Outcome(PROVIDER, account, answer(106))

    def render(records: list[RecordedMessage]) -> Reply:
        return _sent(numbers, sent, drafts, otp)

    return Outcome(PROVIDER, account, drafts=drafts, render=render, message_ids=_message_id)


def _send_refusal(query: Mapping[str, str], account: DemoAccount | None) -> int | None:
    if account is not None and account.refusal is Refusal.RESELLER_EMPTY:
        return 107
    if not query.get("to", "").strip():
        return 103
    if not query.get("text", "").strip():
        return 104
    if len(query["text"]) > MAX_TEXT_CHARS:
        return 108
    return None


def _message_id(seq: int, msisdn: str) -> str:
    return f"{seq}-{msisdn[3:]}"


def _sent(numbers: list[str], sent: list[bool], drafts: list[Draft], otp: bool) -> Reply:
    cost = round(sum(d.credits for d in drafts), 5)
    any_sent = any(sent)
    head = {
        "success": 1 if any_sent else 0,
        "message": MESSAGES[100] if any_sent else "SMS send failed.",
        "response_code": 100,
        "campaign_cost": cost,
    }
    if otp:
        return json_reply({**head, "status": "Delivered" if any_sent else "Failed"})
    statuses = [
        {"MSISDN": n, "Status": int(ok), "StatusText": "Sent" if ok else "Failed"}
        for n, ok in zip(numbers, sent, strict=True)
    ]
    return json_reply({**head, "delivery_status": statuses})


# A message's fate (POST /_sandbox/fates) as /smsstatus words: the manual's SENT and FAILED,
# and PENDING (the sandbox's choice; the manual gives no word) before any report.
STATUS_WORDS = {"pending": "PENDING", "delivered": "SENT", "undelivered": "FAILED"}


async def sms_status(req: Request, gate: Gate) -> Outcome:
    """Handle ``/smsstatus?smsid=``: SENT for a message of this account."""
    query = req.query()
    account, code = _login(query, gate)
    await gate.admit(req, account, PROVIDER, send=False)
    smsid = query.get("smsid", "").strip()
    if code is None and not smsid:
        code = 109
    if code is not None or account is None:
        return Outcome(PROVIDER, account, answer(code or 105))
    found = gate.state.record.by_id.get(smsid)
    if found is None or found.account != account.name:
        body = {"success": 0, "response_code": 100, "message": "SMS not found", "STATUS": "FAILED"}
    else:
        body = {"success": 1, "response_code": 100, "message": "SMS send successfully"}
        body["STATUS"] = STATUS_WORDS[gate.state.fates.of(found)]
    return Outcome(PROVIDER, account, json_reply(body))


async def balance(req: Request, gate: Gate) -> Outcome:
    """Handle ``/balance``: 110 with the balance, or 106 when it is spent."""
    query = req.query()
    account, code = _login(query, gate)
    await gate.admit(req, account, PROVIDER, send=False)
    if code is not None or account is None:
        body = {"message": MESSAGES[code or 105], "response_code": code or 105}
        return Outcome(PROVIDER, account, json_reply(body))
    left = gate.state.balance(account)
    if left <= 0:
        body = {"message": "No Credits available", "response_code": 106}
    else:
        body = {"message": "Active Balance Available", "response_code": 110}
        body["AVAILABLE BALANCE ="] = f"{left:.5f}"
    return Outcome(PROVIDER, account, json_reply(body))
