"""AakashSMS v1: the manual's samples, every documented code, and every kind of bad answer."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from providers import Account, Batch, ErrorKind, GatewayError, NumberResult
from providers.aakashsms_v1 import ADAPTER, ERROR_CODES, build_request
from tests.providers.harness import Case, json_response, raw_response, run_case

TOKEN = "FAKE-AAKASH-V1-TOKEN-5f3c"
ACCOUNT = Account(
    name="np1",
    provider="aakashsms_v1",
    base_url="http://127.0.0.1:9",
    credentials={"auth_token": TOKEN},  # type: ignore[dict-item]
    sender="31001",
)
BATCH = Batch(msisdns=("9841000001", "9818000000"), text="Namaste from smsq")
PATH = "/admin/public/sms/v1/send"
FORM = {"auth_token": TOKEN, "from": "31001", "to": "9841000001,9818000000", "text": BATCH.text}
NUMBERS = list(BATCH.msisdns)


def _all(state: str, code: str | None) -> list[tuple[str, str, str | None]]:
    return [(m, state, code) for m in NUMBERS]


def _messages_are(expected: str) -> Callable[[list[NumberResult]], None]:
    def check(results: list[NumberResult]) -> None:
        assert [r.message for r in results] == [expected] * len(results)

    return check


# The manual's success sample, as JSON, with its placeholder filled in.
SAMPLE_OK = {
    "count": 2,
    "response_code": 201,
    "status": "queued",
    "response": "2 messages has been queued for delivery",
}
# The same sample exactly as the manual prints it (PHP arrows), placeholder filled in.
SAMPLE_OK_ARROWS = """{
    "count" => 2,
    "response_code"=> 201,
    "status"=> "queued",
    "response"=> "2 messages has been queued for delivery"
}"""
# One of the manual's error responses exactly as printed.
SAMPLE_ERROR_ARROWS = "'response' => 'Invalid AuthToken',\n'response_code' => 4003"


def _code_cases() -> list[Case]:
    return [
        Case(
            f"documented code {code}",
            BATCH,
            json_response({"response": text, "response_code": int(code)}),
            path=PATH,
            form=FORM,
            error=kind,
            error_code=code,
        )
        for code, (kind, text) in ERROR_CODES.items()
    ]


CASES: list[Case] = [
    Case(
        "sample success",
        BATCH,
        json_response(SAMPLE_OK),
        path=PATH,
        form=FORM,
        results=_all("sent", None),
    ),
    Case(
        "sample success as printed (arrows)",
        BATCH,
        raw_response(SAMPLE_OK_ARROWS),
        path=PATH,
        results=_all("sent", None),
    ),
    Case(
        "sample error as printed (arrows)",
        BATCH,
        raw_response(SAMPLE_ERROR_ARROWS),
        error=ErrorKind.ACCOUNT,
        error_code="4003",
    ),
    Case(
        "code as a string",
        BATCH,
        json_response({"response_code": "4009"}),
        error=ErrorKind.ACCOUNT,
        error_code="4009",
    ),
    Case(
        "error code with HTTP 401",
        BATCH,
        json_response({"response": "Invalid AuthToken", "response_code": 4003}, status=401),
        error=ErrorKind.ACCOUNT,
        error_code="4003",
    ),
    Case(
        "invalid number splits the batch",
        BATCH,
        json_response({"response": "Invalid phone number", "response_code": 4006}),
        error=ErrorKind.RECIPIENT,
        error_code="4006",
    ),
    Case(
        "partial count: unknown which were queued",
        BATCH,
        json_response({**SAMPLE_OK, "count": 1}),
        results=_all("unknown", "201"),
        check_results=_messages_are("queued 1 of 2"),
    ),
    Case(
        "count zero is still unknown",
        BATCH,
        json_response({**SAMPLE_OK, "count": 0}),
        results=_all("unknown", "201"),
        check_results=_messages_are("queued 0 of 2"),
    ),
    Case(
        "count missing",
        BATCH,
        json_response({"response_code": 201, "status": "queued"}),
        results=_all("unknown", "201"),
        check_results=_messages_are("queued ? of 2"),
    ),
    Case(
        "count of wrong type",
        BATCH,
        json_response({**SAMPLE_OK, "count": [2]}),
        results=_all("unknown", "201"),
    ),
    Case(
        "unknown code fails numbers, code kept",
        BATCH,
        json_response({"response": "Something new", "response_code": 4011}),
        results=_all("failed", "4011"),
        check_results=_messages_are("Something new"),
    ),
    Case(
        "429 throttled",
        BATCH,
        raw_response("slow down", status=429),
        error=ErrorKind.RETRYABLE,
        throttled=True,
    ),
    Case("500", BATCH, json_response(SAMPLE_OK, status=500), error=ErrorKind.RETRYABLE),
    Case("503 HTML", BATCH, raw_response("<h1>503</h1>", status=503), error=ErrorKind.RETRYABLE),
    Case("504 ambiguous", BATCH, raw_response("", status=504), error=ErrorKind.AMBIGUOUS),
    Case(
        "HTML page on 200",
        BATCH,
        raw_response("<html><body>Oops</body></html>"),
        error=ErrorKind.AMBIGUOUS,
    ),
    Case(
        "HTML 404",
        BATCH,
        raw_response("<html>Not Found</html>", status=404),
        error=ErrorKind.REQUEST,
    ),
    Case(
        "HTML 403",
        BATCH,
        raw_response("<html>Forbidden</html>", status=403),
        error=ErrorKind.ACCOUNT,
    ),
    Case(
        "empty body",
        BATCH,
        raw_response(b"", content_type="application/json"),
        error=ErrorKind.AMBIGUOUS,
    ),
    Case(
        "truncated JSON",
        BATCH,
        raw_response('{"count": 2, "response_co'),
        error=ErrorKind.AMBIGUOUS,
    ),
    Case("JSON list", BATCH, json_response([SAMPLE_OK]), error=ErrorKind.AMBIGUOUS),
    Case("JSON string", BATCH, json_response("queued"), error=ErrorKind.AMBIGUOUS),
    Case(
        "no response_code",
        BATCH,
        json_response({"status": "queued", "count": 2}),
        error=ErrorKind.AMBIGUOUS,
    ),
    Case(
        "response_code boolean",
        BATCH,
        json_response({"response_code": True}),
        error=ErrorKind.AMBIGUOUS,
    ),
    Case("deeply nested JSON", BATCH, raw_response("[" * 100_000), error=ErrorKind.AMBIGUOUS),
    Case("connect error", BATCH, httpx.ConnectError("refused"), error=ErrorKind.RETRYABLE),
    Case("read timeout", BATCH, httpx.ReadTimeout("slow"), error=ErrorKind.AMBIGUOUS),
    *_code_cases(),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_aakashsms_v1(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    run_case(ADAPTER, ACCOUNT, case, caplog)


def test_code_table_kinds() -> None:
    assert set(ERROR_CODES) == {str(c) for c in range(4000, 4011)}
    account = {"4001", "4003", "4004", "4005", "4007", "4009", "4010"}
    assert {c for c, (k, _) in ERROR_CODES.items() if k is ErrorKind.ACCOUNT} == account
    assert {c for c, (k, _) in ERROR_CODES.items() if k is ErrorKind.REQUEST} == {
        "4000",
        "4002",
        "4008",
    }
    assert ERROR_CODES["4006"][0] is ErrorKind.RECIPIENT


def test_base_url_prefix_and_trailing_slash_and_default_sender() -> None:
    account = ACCOUNT.model_copy(update={"base_url": "http://127.0.0.1:9/gw/", "sender": None})
    request = build_request(account, BATCH)
    assert str(request.url) == "http://127.0.0.1:9/gw/admin/public/sms/v1/send"
    assert b"from=31001" in request.content


def test_batch_sender_overrides_account_sender() -> None:
    batch = Batch(msisdns=("9841000001",), text="hi", sender="SMSQ")
    assert b"from=SMSQ" in build_request(ACCOUNT, batch).content


def test_token_is_in_the_body_not_the_url() -> None:
    request = build_request(ACCOUNT, BATCH)
    assert TOKEN not in str(request.url)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_missing_credential_is_an_account_error_naming_the_field() -> None:
    account = ACCOUNT.model_copy(update={"credentials": {}})
    with pytest.raises(GatewayError) as info:
        build_request(account, BATCH)
    assert info.value.kind is ErrorKind.ACCOUNT and "auth_token" in info.value.message


def test_one_text_per_request() -> None:
    same = Batch(msisdns=("9841000001", "9818000000"), texts=("hi", "hi"))
    assert b"text=hi" in build_request(ACCOUNT, same).content
    with pytest.raises(GatewayError) as info:
        build_request(ACCOUNT, Batch(msisdns=("9841000001", "9818000000"), texts=("a", "b")))
    assert info.value.kind is ErrorKind.REQUEST
