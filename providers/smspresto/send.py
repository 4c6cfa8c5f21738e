"""SMSPresto sending: the ``sendsms`` request for a batch, its answer, and the send limits.

Sending (manual ``smspresto.txt``): ``POST {base_url}/console/api/`` with one form field
``data`` holding ``{"user", "pass", "action": "sendsms", "from", "message", "to": [...]}``;
``to`` lists ``{"recipient"}`` objects for one text, or ``{"recipient", "message"}`` objects
for a text per recipient. With ``account.options["method"] = "GET"`` the manual's GET form is
used instead: ``?action=sendsms&user=&pass=&from=&to=a,b&message=``. Success is
``{"status": 0, "message": ..., "message-count": N}``. The endpoint, form and codes are
``providers.smspresto.wire``'s.

Choices where the manual is silent:

- Errors are taken to arrive as ``{"status": <code>, "message": ...}`` (the success shape with
  a non-zero status), the code as an integer or a string. Any other body is unreadable:
  ambiguous on 2xx (numbers become unknown, not resent).
- ``message-count`` equal to the batch size sends every number; any other count leaves every
  number unknown with "accepted N of M": we cannot tell which were taken, and the archive can
  reconcile them. A gateway that counted segments instead would show up here as unknowns,
  never as double sends. Status 0 without a readable count, or on a non-2xx, is unreadable.
- The manual's success sample carries an annotation (``1 => Number of messages sent.``) that
  is not JSON; real answers are plain JSON, and the annotated text is classified unreadable.
- ``max_recipients`` is 500 for the POST form (JSON body, no URL limit); the default rate is
  5 requests/s. The GET form is bounded by ``GET_MAX_URL_CHARS`` (2048, the conservative
  common URL limit; ``account.max_url_chars`` overrides) and takes one text per request:
  ``limits_for(account)`` gives the limits that hold for an account's method.
- The sender is the batch's, else the account's. ``SENDER_MAX_CHARS`` (11, the alphanumeric
  sender convention behind code 101) is for planning to check at submit time.
- ``data`` is compact JSON with non-ASCII text kept as UTF-8 (form-encoded on the wire).
"""

from __future__ import annotations

import dataclasses
import json

import httpx

from providers._accounts import Account
from providers._adapter import all_results, outcome_for_code
from providers._errors import error_for_unreadable
from providers._vocabulary import Batch, Limits, NumberFormat, NumberResult, ResultState
from providers.smspresto.wire import (
    ERROR_CODES,
    SUCCESS_STATUS,
    api_request,
    as_int,
    credentials,
    decode,
    message_of,
    method,
    status_of,
)

SENDER_MAX_CHARS = 11  # alphanumeric sender IDs; longer ones get code 101
GET_MAX_URL_CHARS = 2048

LIMITS = Limits(
    max_recipients=500,
    number_format=NumberFormat.INTL,
    default_rate_per_s=5.0,
    text_per_recipient=True,  # the POST form's {"recipient", "message"} objects
    credential_names=("api_key", "api_pass"),
    sender_max_chars=SENDER_MAX_CHARS,
)


def limits_for(account: Account) -> Limits:
    """The limits for ``account``'s method: the GET form has a URL limit and one text."""
    if method(account) == "POST":
        return LIMITS
    url_chars = account.max_url_chars or GET_MAX_URL_CHARS
    return dataclasses.replace(LIMITS, max_url_chars=url_chars, text_per_recipient=False)


def _sender(account: Account, batch: Batch) -> str:
    sender = batch.sender or account.sender
    if not sender:
        raise ValueError("SMSPresto needs a sender: set the account's or campaign's sender")
    return sender


def _get_fields(account: Account, batch: Batch) -> list[tuple[str, str]]:
    text = batch.text
    if batch.texts is not None and len(set(batch.texts)) == 1:
        text = batch.texts[0]  # per-recipient texts that happen to agree fit the GET form
    if text is None:
        raise ValueError("SMSPresto's GET form takes one text per request: use method POST")
    return [
        ("action", "sendsms"),
        *credentials(account),
        ("from", _sender(account, batch)),
        ("to", ",".join(batch.msisdns)),
        ("message", text),
    ]


def _post_data(account: Account, batch: Batch) -> str:
    data: dict[str, object] = dict(credentials(account))
    data.update(action="sendsms", **{"from": _sender(account, batch)})
    if batch.texts is not None:
        pairs = zip(batch.msisdns, batch.texts, strict=True)
        data["to"] = [{"recipient": m, "message": t} for m, t in pairs]
    elif batch.text is not None:
        data["message"] = batch.text
        data["to"] = [{"recipient": m} for m in batch.msisdns]
    else:
        raise ValueError("SMSPresto sends texts: the batch holds a template id")
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def build_request(account: Account, batch: Batch) -> httpx.Request:
    """The send request for ``batch``: the ``data=`` POST, or the GET form if configured."""
    if batch.template_id is not None:
        raise ValueError("SMSPresto sends texts: the batch holds a template id")
    if method(account) == "GET":
        return api_request(account, _get_fields(account, batch))
    return api_request(account, [("data", _post_data(account, batch))])


def parse_response(batch: Batch, response: httpx.Response) -> list[NumberResult]:
    """One result per number of ``batch``, or the classified GatewayError for the whole request."""
    body = decode(response)
    status = status_of(body)
    if status is None:
        raise error_for_unreadable(response, "answer has no readable status")
    message = message_of(body)
    if status != SUCCESS_STATUS:
        return outcome_for_code(batch, ERROR_CODES, status, message, response.status_code)
    count = as_int(body.get("message-count"))
    if count is None or not response.is_success:
        raise error_for_unreadable(response, "success without a readable message-count")
    if count == len(batch.msisdns):
        return all_results(batch, ResultState.SENT, message=message)
    note = f"accepted {count} of {len(batch.msisdns)}" + (f": {message}" if message else "")
    return all_results(batch, ResultState.UNKNOWN, code=status, message=note)
