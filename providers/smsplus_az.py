"""SMSPlus.az (Azerbaijan): template sends as one JSON POST, answered for the whole batch.

Request (manual ``smsplus-az.txt``): ``POST {base_url}/api/sms/send`` with
``Authorization: Bearer <token>`` and a JSON body of ``sender_name``,
``message_template_id``, ``mobile_numbers`` (``994XXXXXXXXX``) and up to three parameter
arrays aligned with ``mobile_numbers``. The answer ``{"success", "code", "message"}`` covers
the whole request: code 100 sends every number; codes 101-123 are in ``ERROR_CODES``.

Choices where the manual is silent:

- ``max_recipients`` is 100: no limit is documented, and a whole-batch refusal over one bad
  number (121) is isolated by splitting, which stays cheap (at most 7 halvings) at that size.
  An account may override it with ``max_recipients``. The default rate is 5 requests/s.
- Parameter arrays sent: as many as the template uses, counted from its distinct ``{name}``
  placeholders in ``account.templates[template_id]``; for a template the account does not
  list, as many as the longest parameter tuple of the batch. Extra values are not sent.
- The sender is the batch's (a campaign's own choice) or else the account's.
- The code may be a string or an integer. An answer whose ``success`` contradicts its code
  (code 100 with ``success`` false, or another code with ``success`` true), code 100 on a
  non-2xx status, or any body not shaped as in the manual is unreadable: ambiguous on 2xx,
  so its numbers become unknown instead of being resent.
- Code 122 ("error sending the message") is taken as the documented transient: retryable.
- A batch carrying ``text``/``texts`` instead of a template, a batch without a sender, or
  parameter tuples shorter than the template needs are programming errors (planning never
  builds them): ``build_request`` raises ValueError.
"""

from __future__ import annotations

from typing import Any

import httpx

from providers._accounts import Account
from providers._adapter import Adapter, CodeTable, all_results, decode_json, outcome_for_code
from providers._errors import ErrorKind, error_for_unreadable
from providers._vocabulary import (
    PLACEHOLDER_RE,
    Batch,
    Limits,
    NumberFormat,
    NumberResult,
    ResultState,
)

A, R = ErrorKind.ACCOUNT, ErrorKind.REQUEST
ERROR_CODES: CodeTable = {
    "101": (A, "The customer's token was not found."),
    "102": (A, "The customer's e-mail address has not been verified."),
    "103": (A, "The customer's mobile number has not been verified."),
    "104": (A, "The customer's passport photo has not been uploaded."),
    "105": (A, "The customer's passport has not been approved."),
    "106": (A, "The customer's contract is not signed."),
    "107": (R, "The sender's name is required."),
    "108": (R, "The message's template is required."),
    "109": (R, "The mobile numbers is required."),
    "110": (A, "Sender name not found or not yet approved."),
    "111": (A, "Message template not found or not yet approved."),
    "112": (R, "There are duplicate mobile numbers."),  # planning dedupes; ours if it happens
    "113": (R, "Template has a parameter: send the values of the first parameter."),
    "114": (R, "Template has a parameter: send the values of the second parameter."),
    "115": (R, "Template has a parameter: send the values of the third parameter."),
    "116": (R, "First parameters count can not be different count of mobile numbers."),
    "117": (R, "Second parameters count can not be different count of mobile numbers."),
    "118": (R, "Third parameters count can not be different count of mobile numbers."),
    "119": (A, "SMS balance insufficient."),
    "120": (R, "The maximum number of characters in a message is 160."),
    "121": (ErrorKind.RECIPIENT, "The format of the mobile number is incorrect."),
    "122": (ErrorKind.RETRYABLE, "There was an error sending the message."),
    "123": (R, "The method is not supported for this route."),
}
SUCCESS_CODE = "100"
SEND_PATH = "/api/sms/send"
PARAM_ARRAYS = ("first_parameters", "second_parameters", "third_parameters")

LIMITS = Limits(
    max_recipients=100,
    number_format=NumberFormat.AZ_INTL,
    default_rate_per_s=5.0,
    max_text_chars=160,  # after template substitution (code 120)
    template_params=len(PARAM_ARRAYS),
    unique_numbers=True,  # code 112
    credential_names=("token",),
)


def template_param_count(account: Account, batch: Batch) -> int:
    """How many parameter arrays a batch's template needs (0-3), as ``build_request`` sends."""
    template = account.templates.get(batch.template_id) if batch.template_id is not None else None
    if template is not None:
        # distinct, in order of appearance; "{name|default}" is one parameter like "{name}"
        names = dict.fromkeys(found[1] for found in PLACEHOLDER_RE.finditer(template))
        return min(len(names), len(PARAM_ARRAYS))
    longest = max((len(p) for p in batch.params or ()), default=0)
    return min(longest, len(PARAM_ARRAYS))


def _param_arrays(account: Account, batch: Batch) -> dict[str, list[str]]:
    count = template_param_count(account, batch)
    if count == 0:
        return {}
    params = batch.params or ()
    if len(params) != len(batch.msisdns) or any(len(p) < count for p in params):
        raise ValueError(f"template {batch.template_id} needs {count} parameter(s) per number")
    return {PARAM_ARRAYS[i]: [p[i] for p in params] for i in range(count)}


def build_request(account: Account, batch: Batch) -> httpx.Request:
    """The JSON POST sending ``batch``'s template to its numbers, parameter arrays aligned."""
    if batch.template_id is None:
        raise ValueError("SMSPlus.az sends approved templates only: the batch has no template_id")
    sender = batch.sender or account.sender
    if not sender:
        raise ValueError("SMSPlus.az needs a sender_name: set the account's or campaign's sender")
    body: dict[str, Any] = {
        "sender_name": sender,
        "message_template_id": batch.template_id,
        "mobile_numbers": list(batch.msisdns),
        **_param_arrays(account, batch),
    }
    headers = {
        "Authorization": f"Bearer {account.secret('token')}",
        "Accept": "application/json",
    }
    url = account.base_url.rstrip("/") + SEND_PATH
    return httpx.Request("POST", url, json=body, headers=headers)


def _code(value: object) -> str | None:
    """The answer's code as a string, from a JSON string or integer (bools are not codes)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _decode(response: httpx.Response) -> Any:
    try:
        return decode_json(response)
    except RecursionError:  # absurdly nested JSON: json raises this, not ValueError
        raise error_for_unreadable(response, "body nested too deeply") from None


def parse_response(batch: Batch, response: httpx.Response) -> list[NumberResult]:
    """One result per number of ``batch``, or the classified GatewayError for the whole request."""
    body = _decode(response)
    if not isinstance(body, dict):
        raise error_for_unreadable(response, "answer is not a JSON object")
    code = _code(body.get("code"))
    success = body.get("success")
    if code is None or not isinstance(success, bool | None):
        raise error_for_unreadable(response, "answer has no readable code")
    if success is not None and success != (code == SUCCESS_CODE):
        raise error_for_unreadable(response, f"success {success} contradicts code {code}")
    raw_message = body.get("message")
    message = raw_message if isinstance(raw_message, str) else None
    if code == SUCCESS_CODE:
        if not response.is_success:
            raise error_for_unreadable(response, "success code on an error status")
        return all_results(batch, ResultState.SENT, message=message)
    return outcome_for_code(batch, ERROR_CODES, code, message, response.status_code)


ADAPTER = Adapter(
    name="smsplus_az",
    limits=LIMITS,
    error_codes=ERROR_CODES,
    build_request=build_request,
    parse_response=parse_response,
)
