"""AakashSMS API v3 (Nepal): one text to a comma list of 10-digit numbers, results per number.

Request: ``{base_url}/sms/v3/send`` with ``auth_token``, ``to`` (comma-separated 10-digit
national numbers) and ``text``; a form POST by default, or a GET with the fields in the
query when the account sets ``options = {method = "GET"}``. A GET URL carries the token:
log it only through ``redact_url`` (httpx's own log is redacted by ``install_log_redaction``).

Choices where the manual is silent or loose:

- Per number: ``data.valid`` entries are SENT (id, network, credit kept, status as the
  message); ``data.invalid`` entries are FAILED with their status (``aborted``) as the code.
  The gateway echoes ``9779818000000`` for our ``9818000000``: mobiles are compared as
  digits, with a leading 977 stripped from 13-digit values. A number in both lists is SENT
  (never report a refusal for a number that may have gone); in neither, UNKNOWN.
- ``error: true``: the manual documents messages, not codes. ``MESSAGE_CODES`` matches the
  message (case-insensitive, first pattern wins) to a synthetic code in ``ERROR_CODES``;
  an unrecognized message fails every number with code ``error`` and the message kept.
- A body without ``error: true`` and without a ``data`` object is unreadable (ambiguous
  on 2xx: the numbers may have been queued).
- Limits: the manual gives none. 100 numbers per request; 5 requests/s. POST has no URL
  limit, so ``max_url_chars`` is unset: an account using GET should set its own
  ``max_url_chars`` (e.g. 2000), since limits cannot depend on an account's options.
- No ``from`` field exists in v3: a batch's sender is ignored.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlencode

import httpx

from providers import (
    Account,
    Adapter,
    Batch,
    CodeTable,
    ErrorKind,
    GatewayError,
    Limits,
    NumberFormat,
    NumberResult,
    ResultState,
    credential,
    decode_json,
    error_for_unreadable,
    outcome_for_code,
    single_text,
)

PATH = "/sms/v3/send"
UNRECOGNIZED = "error"  # code kept on numbers failed by an error message we cannot map
_NOT_DIGIT = re.compile(r"[^0-9]")

ERROR_CODES: CodeTable = {
    "invalid_token": (ErrorKind.ACCOUNT, "The provided Auth Token is not valid."),
    "ip_not_allowed": (ErrorKind.ACCOUNT, "This IP address is not allowed for the token"),
    "no_credit": (ErrorKind.ACCOUNT, "No or insufficient credit"),
    "inactive": (ErrorKind.ACCOUNT, "Account or token is inactive or expired"),
    "missing_field": (ErrorKind.REQUEST, "A required field is missing or empty"),
}

# Error message wording -> code above. Order matters: "The auth token field is required"
# is a missing credential (ACCOUNT), not a malformed request.
MESSAGE_CODES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"auth\s*token|\btoken\b", re.IGNORECASE), "invalid_token"),
    (re.compile(r"\bip\b", re.IGNORECASE), "ip_not_allowed"),
    (re.compile(r"credit|balance", re.IGNORECASE), "no_credit"),
    (re.compile(r"inactive|not active|expired|suspended|disabled", re.IGNORECASE), "inactive"),
    (re.compile(r"required|missing|empty", re.IGNORECASE), "missing_field"),
)

LIMITS = Limits(
    max_recipients=100,
    number_format=NumberFormat.NP_NATIONAL,
    default_rate_per_s=5.0,
    credential_names=("auth_token",),
)


def build_request(account: Account, batch: Batch) -> httpx.Request:
    """The POST (or, per ``options.method``, GET) sending the batch's one text."""
    fields = {
        "auth_token": credential(account, "auth_token"),
        "to": ",".join(batch.msisdns),
        "text": single_text(batch, "AakashSMS v3"),
    }
    url = account.base_url.rstrip("/") + PATH
    method = account.options.get("method", "POST").upper()
    if method == "GET":
        # Commas kept literal, as in the manual, so the URL is as short as planned.
        return httpx.Request("GET", f"{url}?{urlencode(fields, safe=',')}")
    if method == "POST":
        return httpx.Request("POST", url, data=fields)
    raise GatewayError(ErrorKind.ACCOUNT, f"option method={method!r}: AakashSMS v3 takes GET/POST")


def parse_response(batch: Batch, response: httpx.Response) -> list[NumberResult]:
    """One result per number; raises GatewayError for account/request errors and bad bodies."""
    body = decode_json(response)
    if not isinstance(body, dict):
        raise error_for_unreadable(response, "body is not a JSON object")
    message = body.get("message") if isinstance(body.get("message"), str) else None
    if body.get("error") is True:
        code = message_code(message)
        return outcome_for_code(batch, ERROR_CODES, code, message, response.status_code)
    data = body.get("data")
    if body.get("error") not in (False, None) or not isinstance(data, dict):
        raise error_for_unreadable(response, "neither error nor a data object")
    return _per_number(batch, data)


def message_code(message: str | None) -> str:
    """The synthetic code for an ``error: true`` message, or ``error`` when unrecognized."""
    for pattern, code in MESSAGE_CODES:
        if message and pattern.search(message):
            return code
    return UNRECOGNIZED


def national(mobile: object) -> str | None:
    """A mobile as the gateway echoes it, reduced to our 10-digit national form."""
    if isinstance(mobile, bool) or not isinstance(mobile, int | str):
        return None
    text = str(mobile)
    # Nearly every echo is plain digits already; the regex is for "+977 984-...".
    digits = text if text.isascii() and text.isdigit() else _NOT_DIGIT.sub("", text)
    if len(digits) == 13 and digits.startswith("977"):
        return digits[3:]
    return digits or None


def _per_number(batch: Batch, data: dict[str, Any]) -> list[NumberResult]:
    found: dict[str, tuple[ResultState, dict[str, Any]]] = {}
    # Invalid first, valid second: a number in both lists ends SENT.
    for listed, state in (("invalid", ResultState.FAILED), ("valid", ResultState.SENT)):
        entries = data.get(listed)
        for entry in entries if isinstance(entries, list) else ():
            key = national(entry.get("mobile")) if isinstance(entry, dict) else None
            if key is not None:
                found[key] = (state, entry)
    results = []
    for msisdn in batch.msisdns:
        hit = found.get(national(msisdn) or msisdn)
        if hit is None:
            results.append(NumberResult(msisdn, ResultState.UNKNOWN, message="in no result list"))
        else:
            results.append(_entry_result(msisdn, *hit))
    return results


def _entry_result(msisdn: str, state: ResultState, entry: dict[str, Any]) -> NumberResult:
    status = _as_str(entry.get("status"))
    ident = entry.get("id")
    return NumberResult(
        msisdn,
        state,
        provider_message_id=str(ident) if _is_plain(ident) else None,
        network=_as_str(entry.get("network")),
        credits=_as_credit(entry.get("credit")),
        code=(status or "invalid") if state is ResultState.FAILED else None,
        message=status if state is ResultState.SENT else "listed in data.invalid",
    )


def _is_plain(value: object) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool) and value != ""


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _as_credit(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # a JSON integer beyond float range
        return None
    return number if math.isfinite(number) else None


ADAPTER = Adapter(
    name="aakashsms_v3",
    limits=LIMITS,
    error_codes=ERROR_CODES,
    build_request=build_request,
    parse_response=parse_response,
)
