"""The shape of a gateway adapter, and helpers they share for turning codes into outcomes."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from providers._accounts import Account
from providers._capabilities import ArchiveQuery, BalanceQuery, StatusQuery
from providers._errors import ErrorKind, GatewayError, classify_status, error_for_unreadable
from providers._vocabulary import Batch, Limits, NumberResult, ResultState

CodeTable = Mapping[str, tuple[ErrorKind, str]]


@dataclass(frozen=True, slots=True)
class Adapter:
    """One gateway: its limits and codes, and pure functions from a batch to a request and back.

    ``build_request`` and ``parse_response`` do no I/O; ``parse_response`` returns exactly one
    result per number of the batch, or raises ``GatewayError``. ``balance``, ``archive`` and
    ``status`` are the gateway's optional calls (``providers._capabilities``), None where it
    has no such call.
    """

    name: str
    limits: Limits
    error_codes: CodeTable
    build_request: Callable[[Account, Batch], httpx.Request]
    parse_response: Callable[[Batch, httpx.Response], list[NumberResult]]
    # Limits that depend on the account's options (SMSPresto: its GET form has a URL limit
    # and one text per request); None when ``limits`` hold for every account.
    account_limits: Callable[[Account], Limits] | None = None
    balance: BalanceQuery | None = None
    archive: ArchiveQuery | None = None
    status: StatusQuery | None = None

    def limits_for(self, account: Account) -> Limits:
        """The limits that hold for ``account`` (before its own overrides, which planning
        applies: ``max_recipients``, ``max_url_chars``); ValueError for a bad option."""
        return self.account_limits(account) if self.account_limits is not None else self.limits


def decode_json(response: httpx.Response) -> Any:
    """The JSON body, or the classified error for a body that is not JSON (or a 5xx/429)."""
    by_status = classify_status(response)
    if by_status is not None:
        raise by_status
    try:
        return response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both subclass it
        raise error_for_unreadable(response, "body is not JSON") from None
    except RecursionError:  # "[[[[..." deeper than the parser's stack: garbage, not a crash
        raise error_for_unreadable(response, "body is nested too deeply") from None


def credential(account: Account, name: str) -> str:
    """The account's credential ``name``; a missing one is an ``account`` error (the campaign
    pauses with the field named) rather than a KeyError deep in a worker."""
    try:
        return account.secret(name)
    except KeyError as exc:
        raise GatewayError(ErrorKind.ACCOUNT, str(exc.args[0])) from None


def single_text(batch: Batch, gateway: str) -> str:
    """The one text of a batch for a gateway that takes one text per request.

    Per-recipient texts are accepted when they are all the same; otherwise the planner broke
    its promise (it groups by rendered text where ``Limits.text_per_recipient`` is False).
    """
    if batch.text is not None:
        return batch.text
    if batch.texts and len(set(batch.texts)) == 1:
        return batch.texts[0]
    raise GatewayError(ErrorKind.REQUEST, f"{gateway} sends one text per request")


def all_results(
    batch: Batch,
    state: ResultState,
    *,
    code: str | None = None,
    message: str | None = None,
    credits: float | None = None,
) -> list[NumberResult]:
    """The same outcome for every number of the batch (whole-batch answers)."""
    return [
        NumberResult(m, state, code=code, message=message, credits=credits) for m in batch.msisdns
    ]


# An undocumented code whose message says the account cannot pay or is not allowed to send:
# pausing the campaign (resumable) beats failing every number for good on a wording we know.
_ACCOUNT_WORDING = re.compile(
    r"credit|balance|stock|insufficient|expired|inactive|suspended|blocked|unauthori[sz]ed",
    re.IGNORECASE,
)


def outcome_for_code(
    batch: Batch, table: CodeTable, code: str, message: str | None, http_status: int | None
) -> list[NumberResult]:
    """Raise the table's error for a documented code; fail every number for an unknown one.

    An unknown code is not guessed into a retry: the numbers fail with the code kept, so an
    operator can see it and ``retry_failed`` them once the gateway's meaning is known. The
    exception is an unknown code whose message reads as an account problem ("Insufficient
    stock."): that raises ``account`` so the campaign pauses with the gateway's words.
    """
    entry = table.get(code)
    if entry is None and message and _ACCOUNT_WORDING.search(message):
        raise GatewayError(ErrorKind.ACCOUNT, message, code=code, http_status=http_status)
    if entry is None:
        return all_results(batch, ResultState.FAILED, code=code, message=message)
    kind, documented = entry
    raise GatewayError(kind, message or documented, code=code, http_status=http_status)
