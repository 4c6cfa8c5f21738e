"""AamarSMS (Bangladesh): bulk send, OTP, message status and balance, all by GET.

``/api`` sends one text to a comma list of ``8801XXXXXXXXX`` numbers (``ADAPTER``);
``/otp`` one text to one number (``build_otp_request``/``parse_otp``); ``/smsstatus``
reads one message's status (``build_status_request``/``parse_status``, ``ADAPTER.status``);
``/balance`` the balance (``build_balance_request``/``parse_balance``, ``ADAPTER.balance``).
Every URL carries ``user`` and ``password``: log it only through ``redact_url``. Codes: 100
success, 110 balance, 101-109 in ``ERROR_CODES``; an undocumented code fails every number
with the code kept.

Choices where the manual is silent or loose:

- ``response_code`` decides; ``success`` is ignored.
- ``delivery_status`` entries match batch numbers on their last 10 digits (an echo as
  ``01...`` still matches). Status 1 is SENT, 0 FAILED (code ``0``, StatusText kept), any
  other Status or an unlisted number UNKNOWN; a number listed twice is SENT if any entry
  says so; code 100 with no list leaves every number UNKNOWN.
- ``campaign_cost`` (one figure per request) is spread evenly as credits over SENT numbers.
- Limits: 100 numbers and 2000 URL characters per request (after percent-encoding; the
  manual gives none, and 2000 passes old proxies that cut at 2048), so Bangla texts, nine
  URL characters a letter, shrink batches. Commas in ``to`` stay literal, as in the
  manual. 5 requests/s. Code 108's length is undocumented: no ``max_text_chars``.
- Sender: the batch's, else the account's, else ``from`` is omitted (gateway default).
- ``/api`` returns no message id: ``/smsstatus`` serves only smsids known otherwise.
- ``/balance`` code 106 (no credits available) reads as a balance of 0.0.
- A missing credential raises ACCOUNT (pause with the reason), not KeyError.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import httpx

from providers import (
    Account,
    Adapter,
    BalanceQuery,
    Batch,
    CodeTable,
    ErrorKind,
    GatewayError,
    Limits,
    NumberFormat,
    NumberResult,
    ResultState,
    StatusQuery,
    all_results,
    credential,
    decode_json,
    error_for_unreadable,
    outcome_for_code,
    single_text,
)

OK_CODE = "100"
BALANCE_CODE = "110"
NO_CREDITS_CODE = "106"

ERROR_CODES: CodeTable = {
    "101": (ErrorKind.ACCOUNT, "Username empty"),
    "102": (ErrorKind.ACCOUNT, "Password empty"),
    "103": (ErrorKind.REQUEST, "Recipient number empty"),
    "104": (ErrorKind.REQUEST, "Message text empty"),
    "105": (ErrorKind.ACCOUNT, "Invalid credential"),
    "106": (ErrorKind.ACCOUNT, "Your Balance is not sufficient"),
    "107": (ErrorKind.ACCOUNT, "Reseller balance is not sufficient"),
    "108": (ErrorKind.REQUEST, "Message text is too long"),
    "109": (ErrorKind.REQUEST, "smsid empty"),
}

LIMITS = Limits(
    max_recipients=100,
    number_format=NumberFormat.BD_INTL,
    default_rate_per_s=5.0,
    max_url_chars=2000,
    credential_names=("user", "password"),
    credit_unit="BDT",  # campaign_cost and the balance are money
)

# OTP and smsstatus words, lower-cased; anything else is UNKNOWN.
_STATUS_WORDS = {
    "sent": ResultState.SENT,
    "delivered": ResultState.SENT,
    "failed": ResultState.FAILED,
}


def build_request(account: Account, batch: Batch) -> httpx.Request:
    """The bulk ``/api`` GET sending the batch's one text to all of its numbers."""
    return _get(account, "/api", _send_query(account, batch))


def build_otp_request(account: Account, batch: Batch) -> httpx.Request:
    """The ``/otp`` GET for a batch of exactly one number."""
    if len(batch.msisdns) != 1:
        raise GatewayError(ErrorKind.REQUEST, "AamarSMS /otp sends to exactly one number")
    return _get(account, "/otp", _send_query(account, batch))


def build_status_request(account: Account, smsid: str) -> httpx.Request:
    """The ``/smsstatus`` GET for one message id (e.g. ``910-17XXXXXXX``)."""
    return _get(account, "/smsstatus", {"smsid": smsid})


def build_balance_request(account: Account) -> httpx.Request:
    """The ``/balance`` GET."""
    return _get(account, "/balance", {})


def parse_response(batch: Batch, response: httpx.Response) -> list[NumberResult]:
    """One result per number of a bulk send; raises GatewayError for errors and bad bodies."""
    body, code = _read(response)
    if code != OK_CODE:
        return outcome_for_code(
            batch, ERROR_CODES, code, _as_str(body, "message"), response.status_code
        )
    entries = body.get("delivery_status")
    if not isinstance(entries, list):
        return all_results(batch, ResultState.UNKNOWN, message="accepted without delivery_status")
    listed: dict[str, NumberResult] = {}
    for entry in entries:
        key = _key(entry.get("MSISDN")) if isinstance(entry, dict) else None
        if key is not None and (key not in listed or listed[key].state is not ResultState.SENT):
            listed[key] = _entry_result(key, entry)
    missing = NumberResult("", ResultState.UNKNOWN, message="not in delivery_status")
    results = [replace(listed.get(_key(m) or m, missing), msisdn=m) for m in batch.msisdns]
    return _spread_cost(results, _as_amount(body.get("campaign_cost")))


def parse_otp(batch: Batch, response: httpx.Response) -> list[NumberResult]:
    """The result of an ``/otp`` send: ``status`` Delivered is SENT, Failed is FAILED."""
    body, code = _read(response)
    message = _as_str(body, "message")
    if code != OK_CODE:
        return outcome_for_code(batch, ERROR_CODES, code, message, response.status_code)
    status = _as_str(body, "status")
    state = _STATUS_WORDS.get((status or "").strip().lower(), ResultState.UNKNOWN)
    if state is ResultState.SENT:
        return all_results(
            batch, state, message=status, credits=_as_amount(body.get("campaign_cost"))
        )
    if state is ResultState.FAILED:
        return all_results(batch, state, code=status, message=message)
    return all_results(batch, state, message=f"undocumented OTP status {status!r}")


def parse_status(response: httpx.Response) -> tuple[ResultState, str]:
    """A message's state (Sent/Delivered -> SENT, Failed -> FAILED, else UNKNOWN) and word."""
    body, code = _read(response)
    if code != OK_CODE:
        raise _code_error(code, body, response)
    status = _as_str(body, "STATUS") or _as_str(body, "status")
    if status is None:
        raise error_for_unreadable(response, "no STATUS")
    return _STATUS_WORDS.get(status.strip().lower(), ResultState.UNKNOWN), status


def parse_balance(response: httpx.Response) -> float:
    """The available balance; 0.0 for code 106; GatewayError for other codes or bad bodies."""
    body, code = _read(response)
    if code == NO_CREDITS_CODE:
        return 0.0
    if code != BALANCE_CODE:
        raise _code_error(code, body, response)
    # The manual's key is "AVAILABLE BALANCE ="; accept any spelling of those two words.
    values = [v for k, v in body.items() if re.sub(r"[^a-z]", "", k.lower()) == "availablebalance"]
    amount = _as_amount(values[0]) if values else None
    if amount is None:
        raise error_for_unreadable(response, "no readable AVAILABLE BALANCE")
    return amount


def _get(account: Account, path: str, query: dict[str, str]) -> httpx.Request:
    params = {"user": credential(account, "user"), "password": credential(account, "password")}
    # Commas kept literal, as in the manual, so the URL is as long as the planner counted.
    encoded = urlencode({**params, **query}, safe=",")
    return httpx.Request("GET", f"{account.base_url.rstrip('/')}{path}?{encoded}")


def _send_query(account: Account, batch: Batch) -> dict[str, str]:
    text = single_text(batch, "AamarSMS")
    sender = batch.sender or account.sender
    query = {"from": sender} if sender else {}
    return {**query, "to": ",".join(batch.msisdns), "text": text}


def _read(response: httpx.Response) -> tuple[dict[str, Any], str]:
    """The JSON object and its ``response_code`` as a string, or the error for anything else."""
    body = decode_json(response)
    raw = body.get("response_code") if isinstance(body, dict) else None
    code = str(raw).strip() if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
    if not (code.isascii() and code.isdigit()):
        raise error_for_unreadable(response, "no response_code in a JSON object")
    return body, code


def _entry_result(key: str, entry: dict[str, Any]) -> NumberResult:
    status, text = entry.get("Status"), _as_str(entry, "StatusText")
    if status in (1, "1") and status is not True:
        return NumberResult(key, ResultState.SENT, message=text)
    if status in (0, "0") and status is not False:
        return NumberResult(key, ResultState.FAILED, code="0", message=text)
    return NumberResult(key, ResultState.UNKNOWN, message=f"undocumented Status: {text}")


def _spread_cost(results: list[NumberResult], cost: float | None) -> list[NumberResult]:
    sent = sum(r.state is ResultState.SENT for r in results)
    if cost is None or not sent:
        return results
    share = cost / sent
    return [replace(r, credits=share) if r.state is ResultState.SENT else r for r in results]


def _code_error(code: str, body: dict[str, Any], response: httpx.Response) -> GatewayError:
    """The error for a non-success code outside a send (no numbers to fail)."""
    kind, documented = ERROR_CODES.get(code, (ErrorKind.REQUEST, "undocumented response_code"))
    message = _as_str(body, "message") or documented
    return GatewayError(kind, message, code=code, http_status=response.status_code)


def _key(msisdn: object) -> str | None:
    """The last 10 digits, which tell Bangladeshi mobiles apart whatever prefix is echoed.

    A shorter echo (a number the gateway refused as malformed) is matched on all its digits.
    """
    if isinstance(msisdn, bool) or not isinstance(msisdn, int | str):
        return None
    digits = "".join(ch for ch in str(msisdn) if ch.isascii() and ch.isdigit())
    return digits[-10:] if len(digits) >= 10 else (digits or None)


def _as_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) else None


def _as_amount(value: object) -> float | None:
    """A finite amount given as a JSON number or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = float(value)
    except (ValueError, OverflowError):
        return None
    return amount if math.isfinite(amount) else None


ADAPTER = Adapter(
    name="aamarsms",
    limits=LIMITS,
    error_codes=ERROR_CODES,
    build_request=build_request,
    parse_response=parse_response,
    balance=BalanceQuery(build_request=build_balance_request, parse=parse_balance),
    status=StatusQuery(build_request=build_status_request, parse=parse_status),
)
