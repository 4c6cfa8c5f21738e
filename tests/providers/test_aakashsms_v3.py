"""AakashSMS v3: the manual's samples, per-number lists, error wording, GET and bad answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from providers import Account, Batch, ErrorKind, GatewayError, NumberResult, redact_url
from providers.aakashsms_v3 import (
    ADAPTER,
    ERROR_CODES,
    MESSAGE_CODES,
    build_request,
    message_code,
    national,
)
from tests.providers.harness import Case, json_response, raw_response, run_case

TOKEN = "FAKE-AAKASH-V3-TOKEN-8e1d"
POST_ACCOUNT = Account(
    name="np3",
    provider="aakashsms_v3",
    base_url="http://127.0.0.1:9",
    credentials={"auth_token": TOKEN},  # type: ignore[dict-item]
)
GET_ACCOUNT = POST_ACCOUNT.model_copy(update={"options": {"method": "GET"}})
PATH = "/sms/v3/send"

# The manual's success sample verbatim: one valid number, one invalid (9-digit) one.
SAMPLE_OK: dict[str, Any] = {
    "error": False,
    "message": "1 messages has been queued for delivery.",
    "data": {
        "valid": [
            {
                "id": 2673160,
                "mobile": "9779818000000",
                "text": "v3 sms test",
                "credit": 1,
                "network": "ncell",
                "status": "queued",
            }
        ],
        "invalid": [
            {
                "mobile": "988585584",
                "text": "v3 sms test",
                "credit": 0,
                "network": "N/A",
                "status": "aborted",
            }
        ],
    },
}
# The manual's failure sample verbatim.
SAMPLE_FAIL = {"error": True, "message": "The provided Auth Token is not valid.", "data": []}

SAMPLE_BATCH = Batch(msisdns=("9818000000", "988585584"), text="v3 sms test")
SAMPLE_FORM = {"auth_token": TOKEN, "to": "9818000000,988585584", "text": "v3 sms test"}
BATCH = Batch(msisdns=("9841000001", "9818000000", "9801000002"), text="Namaste")
NUMBERS = list(BATCH.msisdns)


def _valid(mobile: object, ident: int = 1, network: str = "ntc") -> dict[str, Any]:
    return {"id": ident, "mobile": mobile, "credit": 1, "network": network, "status": "queued"}


def _invalid(mobile: object) -> dict[str, Any]:
    return {"mobile": mobile, "credit": 0, "network": "N/A", "status": "aborted"}


def _ok(valid: list[Any], invalid: object) -> httpx.Response:
    return json_response(
        {"error": False, "message": "ok", "data": {"valid": valid, "invalid": invalid}}
    )


def _error(message: object, status: int = 200) -> httpx.Response:
    return json_response({"error": True, "message": message, "data": []}, status=status)


def _all(state: str, code: str | None) -> list[tuple[str, str, str | None]]:
    return [(m, state, code) for m in NUMBERS]


def _sample_details(results: list[NumberResult]) -> None:
    sent, failed = results
    assert (sent.provider_message_id, sent.network, sent.credits) == ("2673160", "ncell", 1.0)
    assert sent.message == "queued"
    assert (failed.provider_message_id, failed.network, failed.credits) == (None, "N/A", 0.0)


def _message_kept(expected: str) -> Callable[[list[NumberResult]], None]:
    def check(results: list[NumberResult]) -> None:
        assert all(r.message == expected for r in results)

    return check


def _ids(*expected: str | None) -> Callable[[list[NumberResult]], None]:
    def check(results: list[NumberResult]) -> None:
        assert tuple(r.provider_message_id for r in results) == expected

    return check


CASES: list[Case] = [
    Case(
        "sample success",
        SAMPLE_BATCH,
        json_response(SAMPLE_OK),
        path=PATH,
        form=SAMPLE_FORM,
        results=[("9818000000", "sent", None), ("988585584", "failed", "aborted")],
        check_results=_sample_details,
    ),
    Case(
        "sample success over GET",
        SAMPLE_BATCH,
        json_response(SAMPLE_OK),
        method="GET",
        path=PATH,
        params=SAMPLE_FORM,
        results=[("9818000000", "sent", None), ("988585584", "failed", "aborted")],
    ),
    Case(
        "sample failure: bad token",
        SAMPLE_BATCH,
        json_response(SAMPLE_FAIL),
        error=ErrorKind.ACCOUNT,
        error_code="invalid_token",
    ),
    Case(
        "sample failure over GET",
        SAMPLE_BATCH,
        json_response(SAMPLE_FAIL),
        method="GET",
        error=ErrorKind.ACCOUNT,
        error_code="invalid_token",
    ),
    Case(
        "mix: sent, failed, missing",
        BATCH,
        _ok([_valid("9779841000001", 11)], [_invalid("9779818000000")]),
        results=[
            (NUMBERS[0], "sent", None),
            (NUMBERS[1], "failed", "aborted"),
            (NUMBERS[2], "unknown", None),
        ],
    ),
    Case(
        "mobiles echoed as ints, +977, national",
        BATCH,
        _ok([_valid(9779841000001, 1), _valid("+977 9818000000", 2), _valid("9801000002", 3)], []),
        results=_all("sent", None),
        check_results=_ids("1", "2", "3"),
    ),
    Case(
        "a number in both lists is sent",
        BATCH,
        _ok([_valid("9779818000000", 7)], [_invalid("9779818000000")]),
        results=[
            (NUMBERS[0], "unknown", None),
            (NUMBERS[1], "sent", None),
            (NUMBERS[2], "unknown", None),
        ],
    ),
    Case(
        "entries of the wrong shape are skipped",
        BATCH,
        _ok(["9779841000001", None, {"mobile": True}, _valid([1], 1)], "nope"),
        results=_all("unknown", None),
    ),
    Case(
        "valid entry with odd field types",
        BATCH,
        _ok([{"mobile": "9779841000001", "id": [1], "credit": "x", "network": 5}], []),
        results=[
            (NUMBERS[0], "sent", None),
            (NUMBERS[1], "unknown", None),
            (NUMBERS[2], "unknown", None),
        ],
        check_results=_ids(None, None, None),
    ),
    Case(
        "no lists at all: every number unknown",
        BATCH,
        json_response({"error": False, "data": {}}),
        results=_all("unknown", None),
    ),
    Case(
        "IP wording",
        BATCH,
        _error("Your IP address is not allowed."),
        error=ErrorKind.ACCOUNT,
        error_code="ip_not_allowed",
    ),
    Case(
        "credit wording",
        BATCH,
        _error("Insufficient Credit Balance"),
        error=ErrorKind.ACCOUNT,
        error_code="no_credit",
    ),
    Case(
        "inactive wording",
        BATCH,
        _error("Your account is INACTIVE"),
        error=ErrorKind.ACCOUNT,
        error_code="inactive",
    ),
    Case(
        "missing token is an account error",
        BATCH,
        _error("The auth token field is required."),
        error=ErrorKind.ACCOUNT,
        error_code="invalid_token",
    ),
    Case(
        "missing field wording",
        BATCH,
        _error("The text field is required.", 422),
        error=ErrorKind.REQUEST,
        error_code="missing_field",
    ),
    Case(
        "unrecognized message fails numbers, kept",
        BATCH,
        _error("Gateway says no"),
        results=_all("failed", "error"),
        check_results=_message_kept("Gateway says no"),
    ),
    Case("error true, message not a string", BATCH, _error(["x"]), results=_all("failed", "error")),
    Case(
        "429 throttled",
        BATCH,
        raw_response("Too Many Requests", status=429),
        error=ErrorKind.RETRYABLE,
        throttled=True,
    ),
    Case("500", BATCH, json_response(SAMPLE_FAIL, status=500), error=ErrorKind.RETRYABLE),
    Case("503", BATCH, raw_response("<h1>down</h1>", status=503), error=ErrorKind.RETRYABLE),
    Case("504 ambiguous", BATCH, raw_response("timeout", status=504), error=ErrorKind.AMBIGUOUS),
    Case(
        "HTML page on 200",
        BATCH,
        raw_response("<!DOCTYPE html><html>Laravel</html>"),
        error=ErrorKind.AMBIGUOUS,
    ),
    Case("HTML 404", BATCH, raw_response("<html>404</html>", status=404), error=ErrorKind.REQUEST),
    Case("empty body", BATCH, raw_response(b""), error=ErrorKind.AMBIGUOUS),
    Case(
        "truncated JSON",
        BATCH,
        raw_response('{"error": false, "data": {"valid": [{"id'),
        error=ErrorKind.AMBIGUOUS,
    ),
    Case("JSON list", BATCH, json_response([SAMPLE_OK]), error=ErrorKind.AMBIGUOUS),
    Case("JSON string", BATCH, json_response("ok"), error=ErrorKind.AMBIGUOUS),
    Case(
        "error false, data a list",
        BATCH,
        json_response({"error": False, "data": []}),
        error=ErrorKind.AMBIGUOUS,
    ),
    Case(
        "error flag not a boolean",
        BATCH,
        json_response({"error": "yes", "data": {}}),
        error=ErrorKind.AMBIGUOUS,
    ),
    Case("deeply nested JSON", BATCH, raw_response('{"a":' * 50_000), error=ErrorKind.AMBIGUOUS),
    Case("connect error", BATCH, httpx.ConnectError("refused"), error=ErrorKind.RETRYABLE),
    Case("read timeout", BATCH, httpx.ReadTimeout("slow"), error=ErrorKind.AMBIGUOUS),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_aakashsms_v3(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    # The expected method says which account configuration the case is about.
    account = GET_ACCOUNT if case.method == "GET" else POST_ACCOUNT
    run_case(ADAPTER, account, case, caplog)


def test_every_message_pattern_has_a_code() -> None:
    assert {code for _, code in MESSAGE_CODES} == set(ERROR_CODES)
    assert message_code(None) == "error" and message_code("") == "error"
    assert message_code("The provided Auth Token is not valid.") == "invalid_token"
    # "ip" only as a word: "recipient" is not about IP addresses.
    assert message_code("recipient list rejected") == "error"


def test_get_url_carries_the_token_only_redacted() -> None:
    request = build_request(GET_ACCOUNT, BATCH)
    assert TOKEN in str(request.url)  # the gateway needs it there...
    shown = redact_url(request.url)
    assert TOKEN not in shown and "auth_token=***" in shown  # ...and logs must not show it
    assert "to=9841000001,9818000000,9801000002" in str(request.url)  # commas stay literal


def test_post_keeps_the_token_out_of_the_url() -> None:
    request = build_request(POST_ACCOUNT, BATCH)
    assert request.method == "POST" and TOKEN not in str(request.url)


def test_unknown_method_option_is_an_account_error() -> None:
    account = POST_ACCOUNT.model_copy(update={"options": {"method": "PUT"}})
    with pytest.raises(GatewayError) as info:
        build_request(account, BATCH)
    assert info.value.kind is ErrorKind.ACCOUNT


def test_base_url_with_prefix_and_slash() -> None:
    account = POST_ACCOUNT.model_copy(update={"base_url": "http://127.0.0.1:9/aakash/"})
    assert str(build_request(account, BATCH).url) == "http://127.0.0.1:9/aakash/sms/v3/send"


@pytest.mark.parametrize(
    ("echoed", "expected"),
    [
        ("9779818000000", "9818000000"),
        (9779818000000, "9818000000"),
        ("+977-981-8000000", "9818000000"),
        ("9818000000", "9818000000"),
        ("988585584", "988585584"),  # the manual's invalid sample stays as it is
        (True, None),
        (None, None),
        ("", None),
    ],
)
def test_national(echoed: object, expected: str | None) -> None:
    assert national(echoed) == expected
