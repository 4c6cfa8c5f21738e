"""AakashSMS API v1 (Nepal): one text to a comma list of 10-digit numbers by form POST.

Request: ``POST {base_url}/admin/public/sms/v1/send`` with form fields ``auth_token``,
``from``, ``to`` (comma-separated 10-digit national numbers) and ``text``. The answer carries
a ``response_code``: 201 means queued, 4000-4010 are the errors in ``ERROR_CODES``.

Choices where the manual is silent or loose:

- Body format: the manual prints PHP arrays (``"count" => 2``). Real JSON is read first; a
  body that is not JSON but holds ``key => value`` pairs including ``response_code`` is read
  as those pairs (one regex; it reads both printed samples as they stand). Anything else is
  unreadable: ambiguous on 2xx, by status otherwise (``error_for_unreadable``).
- Success: ``count`` equal to the batch size marks every number SENT. Any other count
  (fewer, more, zero, missing) means the gateway queued some numbers without saying which,
  so every number is UNKNOWN with the message ``queued N of M`` (``?`` when count is
  missing): neither resent nor reported as refused.
- ``response_code`` may be a number or a digit string; any undocumented code fails every
  number with the code kept. 4006 (invalid phone number) refuses the whole request over
  one number: RECIPIENT, so the worker splits the batch to isolate it.
- Sender: the batch's, else the account's, else ``31001`` (the manual's note on ``from``).
- Limits: the manual gives none. 100 numbers per request bounds what one partial
  ``queued N of M`` leaves unknown; 5 requests/s is a conservative default.
- A missing credential raises ACCOUNT (pause with the reason), not KeyError.
"""

from __future__ import annotations

import re
from typing import Any

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
    all_results,
    classify_status,
    credential,
    decode_json,
    error_for_unreadable,
    outcome_for_code,
    single_text,
)

PATH = "/admin/public/sms/v1/send"
SUCCESS_CODE = "201"
DEFAULT_SENDER = "31001"

ERROR_CODES: CodeTable = {
    "4000": (ErrorKind.REQUEST, "A required field is missing"),
    "4001": (ErrorKind.ACCOUNT, "Invalid IP Address"),
    "4002": (ErrorKind.REQUEST, "Invalid URL"),
    "4003": (ErrorKind.ACCOUNT, "Invalid AuthToken"),
    "4004": (ErrorKind.ACCOUNT, "Account is not active"),
    "4005": (ErrorKind.ACCOUNT, "Account has been expired"),
    "4006": (ErrorKind.RECIPIENT, "Invalid phone number"),
    "4007": (ErrorKind.ACCOUNT, "Invalid sender"),
    "4008": (ErrorKind.REQUEST, "Text cannot be empty"),
    "4009": (ErrorKind.ACCOUNT, "No Credits Available"),
    "4010": (ErrorKind.ACCOUNT, "Insufficient Credits"),
}

LIMITS = Limits(
    max_recipients=100,
    number_format=NumberFormat.NP_NATIONAL,
    default_rate_per_s=5.0,
    credential_names=("auth_token",),
)

# 'key' => 'value' / "key"=> 201: the manual's PHP notation, values kept as strings.
_ARROW_PAIR = re.compile(r"""["']?(\w+)["']?\s*=>\s*(?:"([^"]*)"|'([^']*)'|(-?\d+(?:\.\d+)?))""")


def build_request(account: Account, batch: Batch) -> httpx.Request:
    """The form POST sending the batch's one text to all of its numbers."""
    form = {
        "auth_token": credential(account, "auth_token"),
        "from": batch.sender or account.sender or DEFAULT_SENDER,
        "to": ",".join(batch.msisdns),
        "text": single_text(batch, "AakashSMS v1"),
    }
    return httpx.Request("POST", account.base_url.rstrip("/") + PATH, data=form)


def parse_response(batch: Batch, response: httpx.Response) -> list[NumberResult]:
    """One result per number; raises GatewayError for documented errors and unreadable bodies."""
    body = _read_body(response)
    code = _as_code(body.get("response_code"))
    if code is None:
        raise error_for_unreadable(response, "no response_code")
    message = body.get("response")
    message = message if isinstance(message, str) else None
    if code != SUCCESS_CODE:
        return outcome_for_code(batch, ERROR_CODES, code, message, response.status_code)
    count = _as_count(body.get("count"))
    total = len(batch.msisdns)
    if count == total:
        return all_results(batch, ResultState.SENT, message=message)
    shown = "?" if count is None else str(count)
    return all_results(
        batch, ResultState.UNKNOWN, code=SUCCESS_CODE, message=f"queued {shown} of {total}"
    )


def _read_body(response: httpx.Response) -> dict[str, Any]:
    """The body as a dict: JSON first, the manual's arrow notation as a fallback."""
    try:
        body = decode_json(response)
    except GatewayError:
        if classify_status(response) is not None:
            raise  # 5xx/429: the status decides, whatever the body says
        body = _arrow_pairs(response.text)
        if "response_code" not in body:
            raise
    if not isinstance(body, dict):
        raise error_for_unreadable(response, "body is not a JSON object")
    return body


def _arrow_pairs(text: str) -> dict[str, Any]:
    """``key => value`` pairs as the manual prints them; empty when there are none."""
    return {key: a or b or c for key, a, b, c in _ARROW_PAIR.findall(text)}


def _as_code(value: object) -> str | None:
    """A response code given as a JSON integer or a digit string; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return value.strip()
    return None


def _as_count(value: object) -> int | None:
    """A non-negative message count, or None when the gateway gave none we can read."""
    code = _as_code(value)
    return int(code) if code is not None and not code.startswith("-") else None


ADAPTER = Adapter(
    name="aakashsms_v1",
    limits=LIMITS,
    error_codes=ERROR_CODES,
    build_request=build_request,
    parse_response=parse_response,
)
