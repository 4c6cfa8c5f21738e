"""SMSPlus.az imitated: ``POST /api/sms/send``, JSON with a Bearer token, codes 100-123.

Choices where the manual (smsplus-az.txt) is silent:

- Every answer is HTTP 200 with ``{"success", "code" (a string, "100"), "message"}``, the
  messages as the manual's table words them.
- Checks, in order: 123 (not POST), 101 (no or unknown Bearer token), 106 (the unsigned demo
  account), 107/108/109 (sender_name, message_template_id, mobile_numbers absent or empty),
  110 (sender not approved), 111 (template unknown, or an id that is not an integer),
  112 (a number repeated), 113/114/115 (a parameter array the template needs is absent),
  116/117/118 (its length differs from mobile_numbers), 120 (a text longer than 160
  characters after substitution), 121 (any number not ``994(50|51|55|70|77|99|10|60)XXXXXXX``
  or in the faults' ``fail_numbers``: the whole request is refused), 119 (balance).
- Templates use ``{1}``, ``{2}``, ``{3}``; a template needs as many arrays as its highest
  placeholder. Arrays it does not need are ignored. Values may be strings or numbers.
- Numbers may be JSON strings or integers. A number costs one credit per segment.
"""

from __future__ import annotations

import re
from typing import Any

from providers._accounts import ProviderName
from providers.sandbox.accounts import DemoAccount, Refusal
from providers.sandbox.gate import Gate
from providers.sandbox.gateways._common import draft
from providers.sandbox.record import Draft, RecordedMessage
from providers.sandbox.state import Outcome
from providers.sandbox.wire import Reply, Request, json_reply

PROVIDER: ProviderName = "smsplus_az"
PATH = "/api/sms/send"
MAX_TEXT_CHARS = 160
AZ_MOBILE = re.compile(r"994(?:50|51|55|70|77|99|10|60)\d{7}")
PARAMETER_ARRAYS = ("first_parameters", "second_parameters", "third_parameters")
_PLACEHOLDER = re.compile(r"\{([123])\}")

_NEEDS = "Since there is a parameter in the message template, you must send the values of the "
MESSAGES = {
    100: "Messages sent successfully.",
    101: "The customer`s token was not found.",
    102: "The customer`s e-mail address has not been verified.",
    103: "The customer`s mobile number has not been verified.",
    104: "The customer`s passport photo has not been uploaded.",
    105: "The customer`s passport has not been approved.",
    106: "The customer`s contract is not signed.",
    107: "The sender`s name is required.",
    108: "The message`s template is required.",
    109: "The mobile numbers is required.",
    110: "Sender name not found or not yet approved.",
    111: "Message template not found or not yet approved.",
    112: "There are duplicate mobile numbers.",
    113: _NEEDS + "first parameter.",
    114: _NEEDS + "second parameter.",
    115: _NEEDS + "third parameter.",
    116: "First parameters count can not be different count of mobile numbers.",
    117: "Second parameters count can not be different count of mobile numbers.",
    118: "Third parameters count can not be different count of mobile numbers.",
    119: "SMS balance insufficient.",
    120: "The maximum number of characters in a message is 160.",
    121: "The format of the mobile number is incorrect.",
    122: "There was an error sending the message.",
    123: "The method is not supported for this route.",
}


class Refused(Exception):
    """Raised inside validation to answer with one of the gateway's codes."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def answer(code: int) -> Reply:
    """The gateway's answer for ``code``."""
    return json_reply({"success": code == 100, "code": str(code), "message": MESSAGES[code]})


def _bearer(req: Request) -> str:
    value = req.header(b"authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def send(req: Request, gate: Gate) -> Outcome:
    """Handle one send request."""
    account = gate.state.find(PROVIDER, _bearer(req))
    refused = await gate.admit(req, account, PROVIDER, send=True)
    if refused is not None:
        return Outcome(PROVIDER, account, refused)
    try:
        drafts = _validate(req, account, gate)
    except Refused as refusal:
        return Outcome(PROVIDER, account, answer(refusal.code))
    return Outcome(PROVIDER, account, drafts=drafts, render=_sent)


def _validate(req: Request, account: DemoAccount | None, gate: Gate) -> list[Draft]:
    if req.method != "POST":
        raise Refused(123)
    if account is None:
        raise Refused(101)
    if account.refusal is Refusal.CONTRACT_UNSIGNED:
        raise Refused(106)
    body = req.json()
    body = body if isinstance(body, dict) else {}
    template, numbers = _required(body, account)
    params = _parameters(body, _parameter_count(template), len(numbers))
    texts = [_substitute(template, row) for row in params]
    if any(len(text) > MAX_TEXT_CHARS for text in texts):
        raise Refused(120)
    bad = gate.fail_numbers(account)
    if any(AZ_MOBILE.fullmatch(n) is None or n in bad for n in numbers):
        raise Refused(121)
    drafts = [draft(n, t, sender=account.sender) for n, t in zip(numbers, texts, strict=True)]
    if sum(d.credits for d in drafts) > gate.state.balance(account):
        raise Refused(119)
    return drafts


def _required(body: dict[str, Any], account: DemoAccount) -> tuple[str, list[str]]:
    """The template text and the numbers, after codes 107-112."""
    sender, template_id, numbers = (
        body.get("sender_name"),
        body.get("message_template_id"),
        body.get("mobile_numbers"),
    )
    if not sender:
        raise Refused(107)
    if template_id is None or template_id == "":
        raise Refused(108)
    if not isinstance(numbers, list) or not numbers:
        raise Refused(109)
    if sender != account.sender:
        raise Refused(110)
    template = account.templates.get(_as_int(template_id))
    if template is None:
        raise Refused(111)
    msisdns = [_scalar(n) for n in numbers]
    if len(set(msisdns)) != len(msisdns):
        raise Refused(112)
    return template, msisdns


def _parameters(body: dict[str, Any], needed: int, count: int) -> list[tuple[str, ...]]:
    """One tuple of parameter values per number, after codes 113-118."""
    arrays: list[list[Any]] = []
    for position, name in enumerate(PARAMETER_ARRAYS[:needed]):
        values = body.get(name)
        if not isinstance(values, list):
            raise Refused(113 + position)
        arrays.append(values)
    for position, values in enumerate(arrays):
        if len(values) != count:
            raise Refused(116 + position)
    columns = [[_scalar(v) for v in values] for values in arrays]
    return list(zip(*columns, strict=True)) if columns else [()] * count


def _parameter_count(template: str) -> int:
    return max((int(m) for m in _PLACEHOLDER.findall(template)), default=0)


def _substitute(template: str, values: tuple[str, ...]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[int(m.group(1)) - 1], template)


def _as_int(value: object) -> int:
    if isinstance(value, bool):
        return -1
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return -1  # no template has this id: 111


def _scalar(value: object) -> str:
    """A JSON string or number as text (PHP would cast it the same way)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def _sent(records: list[RecordedMessage]) -> Reply:
    return answer(100)
