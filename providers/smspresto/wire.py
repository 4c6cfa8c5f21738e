"""SMSPresto conventions shared by ``send`` and ``data``: endpoint, form, codes, errors.

Every call goes to ``{base_url}/console/api/`` with the credentials as ``user`` (API key) and
``pass`` (password). ``account.options["method"]`` picks ``POST`` (default: credentials stay
out of URLs and logs) or ``GET`` (every field in the query string, as the manual's GET form).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

from providers._accounts import Account
from providers._adapter import CodeTable, decode_json
from providers._errors import ErrorKind, GatewayError, error_for_unreadable

API_PATH = "/console/api/"

ERROR_CODES: CodeTable = {
    "1": (ErrorKind.ACCOUNT, "Authentication failed"),
    "10": (ErrorKind.ACCOUNT, "Invalid API key"),
    "11": (ErrorKind.ACCOUNT, "Invalid password"),
    "100": (ErrorKind.ACCOUNT, "Invalid sender"),  # sender not approved for this account
    "101": (ErrorKind.REQUEST, "The sender's character limit is exceeded"),
    "102": (ErrorKind.RECIPIENT, "Invalid recipient"),
    "103": (ErrorKind.REQUEST, "Invalid message"),
}
SUCCESS_STATUS = "0"
_MAX_INT_DIGITS = 18  # a count or code longer than this is garbage, not a number


def method(account: Account) -> str:
    """``GET`` or ``POST`` from ``account.options["method"]``; ValueError for anything else."""
    value = account.options.get("method", "POST").strip().upper()
    if value not in ("GET", "POST"):
        raise ValueError(f"account {account.name!r}: options.method must be GET or POST")
    return value


def credentials(account: Account) -> list[tuple[str, str]]:
    """The ``user``/``pass`` pair (both redacted by ``redact_url``)."""
    return [("user", account.secret("api_key")), ("pass", account.secret("api_pass"))]


def api_request(account: Account, fields: Sequence[tuple[str, str]]) -> httpx.Request:
    """A call to the API with ``fields``: a form POST, or a GET with them in the query.

    The GET query keeps commas literal (``to=a,b`` as in the manual, and shorter URLs).
    Its URL holds the credentials: log it only through ``redact_url``.
    """
    url = account.base_url.rstrip("/") + API_PATH
    if method(account) == "GET":
        return httpx.Request("GET", url + "?" + urlencode(list(fields), safe=","))
    return httpx.Request("POST", url, data=dict(fields))


def as_int(value: object) -> int | None:
    """A non-negative integer from a JSON integer or a string of digits; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= _MAX_INT_DIGITS:
            return int(text)
    return None


def status_of(body: object) -> str | None:
    """The ``status`` of a JSON object answer as a string code, or None when there is none."""
    if not isinstance(body, dict):
        return None
    status = as_int(body.get("status"))
    return None if status is None else str(status)


def message_of(body: dict[str, Any]) -> str | None:
    """The answer's ``message`` when it is a string."""
    message = body.get("message")
    return message if isinstance(message, str) else None


def decode(response: httpx.Response) -> Any:
    """``decode_json``, also classifying JSON nested too deeply for the decoder."""
    try:
        return decode_json(response)
    except RecursionError:  # json raises this, not ValueError, for absurd nesting
        raise error_for_unreadable(response, "body nested too deeply") from None


def query_error(response: httpx.Response, body: dict[str, Any], code: str) -> GatewayError:
    """The error for a non-zero ``status`` answering a query (counters, archive).

    Account codes stay ``account``; any other code (a recipient or sender code makes no sense
    for a query, an unknown one is unexplained) is a ``request`` error with the code kept.
    """
    kind, documented = ERROR_CODES.get(code, (ErrorKind.REQUEST, "undocumented status"))
    kind = kind if kind is ErrorKind.ACCOUNT else ErrorKind.REQUEST
    message = message_of(body) or documented
    return GatewayError(kind, message, code=code, http_status=response.status_code)
