"""AamarSMS: bulk send table, OTP, smsstatus and balance, and keeping the password out of logs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from providers import (
    Account,
    Batch,
    ErrorKind,
    GatewayError,
    NumberResult,
    ResultState,
    redact_url,
)
from providers.aamarsms import (
    ADAPTER,
    ERROR_CODES,
    build_otp_request,
    build_request,
    build_status_request,
    parse_balance,
    parse_otp,
    parse_status,
)
from tests.providers.harness import Case, json_response, raw_response, run_case

USER = "FAKE-AAMAR-USER-31c0"
PASSWORD = "FAKE-AAMAR-PASS-a9e4"
ACCOUNT = Account(
    name="bd",
    provider="aamarsms",
    base_url="http://127.0.0.1:9",
    credentials={"user": USER, "password": PASSWORD},  # type: ignore[dict-item]
    sender="Ajra Tech",
)

# The manual's bulk sample verbatim, and the batch it answers.
SAMPLE_OK: dict[str, Any] = {
    "success": 1,
    "message": "SMS send successfully.",
    "response_code": 100,
    "campaign_cost": 0.5,
    "delivery_status": [
        {"MSISDN": "8801829673377", "Status": 1, "StatusText": "Sent"},
        {"MSISDN": "8801730085980", "Status": 0, "StatusText": "Failed"},
    ],
}
SAMPLE_OTP = {
    "success": 1,
    "message": "SMS send successfully.",
    "response_code": 100,
    "campaign_cost": 0.50,
    "status": "Delivered",
}
SAMPLE_STATUS = {
    "success": 1,
    "response_code": 100,
    "message": "SMS send successfully",
    "STATUS": "SENT",
}
SAMPLE_BALANCE = {
    "message": "Active Balance Available",
    "response_code": 110,
    "AVAILABLE BALANCE =": "502.56559",
}

SAMPLE_BATCH = Batch(msisdns=("8801829673377", "8801730085980"), text="Hello Mr.X , how are you?")
PARAMS = {
    "user": USER,
    "password": PASSWORD,
    "from": "Ajra Tech",
    "to": "8801829673377,8801730085980",
    "text": "Hello Mr.X , how are you?",
}
BATCH = Batch(msisdns=("8801711111111", "8801811111111", "8801911111111"), text="হ্যালো")
NUMBERS = list(BATCH.msisdns)


def _entry(msisdn: object, status: object, text: str = "Sent") -> dict[str, Any]:
    return {"MSISDN": msisdn, "Status": status, "StatusText": text}


def _ok(entries: object, cost: object = 1.5) -> httpx.Response:
    body = {"success": 1, "response_code": 100, "campaign_cost": cost, "delivery_status": entries}
    return json_response(body)


def _all(state: str, code: str | None) -> list[tuple[str, str, str | None]]:
    return [(m, state, code) for m in NUMBERS]


def _credits(*expected: float | None) -> Callable[[list[NumberResult]], None]:
    def check(results: list[NumberResult]) -> None:
        assert tuple(r.credits for r in results) == pytest.approx(expected)

    return check


def _sample_details(results: list[NumberResult]) -> None:
    sent, failed = results
    assert (sent.credits, sent.message) == (0.5, "Sent")
    assert (failed.credits, failed.message) == (None, "Failed")


def _code_cases() -> list[Case]:
    return [
        Case(
            f"documented code {code}",
            BATCH,
            json_response({"success": 0, "message": text, "response_code": int(code)}),
            method="GET",
            error=kind,
            error_code=code,
        )
        for code, (kind, text) in ERROR_CODES.items()
    ]


CASES: list[Case] = [
    Case(
        "sample response",
        SAMPLE_BATCH,
        json_response(SAMPLE_OK),
        method="GET",
        path="/api",
        params=PARAMS,
        results=[("8801829673377", "sent", None), ("8801730085980", "failed", "0")],
        check_results=_sample_details,
    ),
    Case(
        "cost spread over sent numbers",
        BATCH,
        _ok([_entry(NUMBERS[0], 1), _entry(NUMBERS[1], 1), _entry(NUMBERS[2], 1)]),
        method="GET",
        results=_all("sent", None),
        check_results=_credits(0.5, 0.5, 0.5),
    ),
    Case(
        "cost as a string, missing number unknown",
        BATCH,
        _ok([_entry(NUMBERS[0], "1"), _entry(NUMBERS[2], 0, "Failed")], cost="0.75"),
        method="GET",
        results=[
            (NUMBERS[0], "sent", None),
            (NUMBERS[1], "unknown", None),
            (NUMBERS[2], "failed", "0"),
        ],
        check_results=_credits(0.75, None, None),
    ),
    Case(
        "numbers echoed without 88 or as ints",
        BATCH,
        _ok([_entry("01711111111", 1), _entry(8801811111111, 1), _entry("+8801911111111", 1)]),
        method="GET",
        results=_all("sent", None),
    ),
    Case(
        "undocumented Status is unknown",
        BATCH,
        _ok(
            [_entry(NUMBERS[0], 2, "Pending"), _entry(NUMBERS[1], True), _entry(NUMBERS[2], None)],
            cost=None,
        ),
        method="GET",
        results=_all("unknown", None),
        check_results=_credits(None, None, None),
    ),
    Case(
        "a number listed twice is sent if any entry says so",
        BATCH,
        _ok(
            [
                _entry(NUMBERS[0], 1),
                _entry(NUMBERS[0], 0, "Failed"),
                _entry(NUMBERS[1], 0),
                _entry(NUMBERS[1], 1),
            ]
        ),
        method="GET",
        results=[
            (NUMBERS[0], "sent", None),
            (NUMBERS[1], "sent", None),
            (NUMBERS[2], "unknown", None),
        ],
    ),
    Case(
        "entries of the wrong shape are skipped",
        BATCH,
        _ok([None, "8801711111111", [1], {"MSISDN": ["x"]}, _entry("123", 1)], cost=float("nan")),
        method="GET",
        results=_all("unknown", None),
    ),
    Case(
        "accepted without delivery_status",
        BATCH,
        json_response({"success": 1, "response_code": 100}),
        method="GET",
        results=_all("unknown", None),
    ),
    Case(
        "delivery_status not a list",
        BATCH,
        _ok({"MSISDN": NUMBERS[0]}),
        method="GET",
        results=_all("unknown", None),
    ),
    Case(
        "code as a string",
        BATCH,
        json_response({"response_code": "105"}),
        method="GET",
        error=ErrorKind.ACCOUNT,
        error_code="105",
    ),
    Case(
        "unknown code fails numbers, code kept",
        BATCH,
        json_response({"success": 0, "message": "Masking not approved", "response_code": 111}),
        method="GET",
        results=_all("failed", "111"),
    ),
    Case(
        "success flag ignored, code decides",
        BATCH,
        json_response({"success": 1, "message": "x", "response_code": 106}),
        method="GET",
        error=ErrorKind.ACCOUNT,
        error_code="106",
    ),
    Case(
        "429 throttled",
        BATCH,
        raw_response("busy", status=429),
        method="GET",
        error=ErrorKind.RETRYABLE,
        throttled=True,
    ),
    Case(
        "500", BATCH, json_response(SAMPLE_OK, status=500), method="GET", error=ErrorKind.RETRYABLE
    ),
    Case(
        "503",
        BATCH,
        raw_response("<h1>503</h1>", status=503),
        method="GET",
        error=ErrorKind.RETRYABLE,
    ),
    Case(
        "504 ambiguous",
        BATCH,
        raw_response("", status=504),
        method="GET",
        error=ErrorKind.AMBIGUOUS,
    ),
    Case(
        "HTML page on 200",
        BATCH,
        raw_response("<html><body>PHP Warning</body></html>"),
        method="GET",
        error=ErrorKind.AMBIGUOUS,
    ),
    Case(
        "HTML 414 URI too long",
        BATCH,
        raw_response("<html>414</html>", status=414),
        method="GET",
        error=ErrorKind.REQUEST,
    ),
    Case("empty body", BATCH, raw_response(b""), method="GET", error=ErrorKind.AMBIGUOUS),
    Case(
        "truncated JSON",
        BATCH,
        raw_response('{"success":1,"response_code":100,"deliv'),
        method="GET",
        error=ErrorKind.AMBIGUOUS,
    ),
    Case("JSON list", BATCH, json_response([SAMPLE_OK]), method="GET", error=ErrorKind.AMBIGUOUS),
    Case("JSON number", BATCH, json_response(100), method="GET", error=ErrorKind.AMBIGUOUS),
    Case(
        "no response_code",
        BATCH,
        json_response({"success": 1}),
        method="GET",
        error=ErrorKind.AMBIGUOUS,
    ),
    Case(
        "response_code negative",
        BATCH,
        json_response({"response_code": -100}),
        method="GET",
        error=ErrorKind.AMBIGUOUS,
    ),
    Case(
        "deeply nested JSON",
        BATCH,
        raw_response("[" * 100_000),
        method="GET",
        error=ErrorKind.AMBIGUOUS,
    ),
    Case(
        "connect error",
        BATCH,
        httpx.ConnectError("refused"),
        method="GET",
        error=ErrorKind.RETRYABLE,
    ),
    Case("read timeout", BATCH, httpx.ReadTimeout("slow"), method="GET", error=ErrorKind.AMBIGUOUS),
    *_code_cases(),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_aamarsms(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    run_case(ADAPTER, ACCOUNT, case, caplog)


def test_code_table_kinds() -> None:
    kinds = {code: kind for code, (kind, _) in ERROR_CODES.items()}
    account, request = ErrorKind.ACCOUNT, ErrorKind.REQUEST
    assert kinds == {
        "101": account,
        "102": account,
        "103": request,
        "104": request,
        "105": account,
        "106": account,
        "107": account,
        "108": request,
        "109": request,
    }


def test_url_carries_credentials_only_redacted() -> None:
    url = build_request(ACCOUNT, BATCH).url
    assert url.params["password"] == PASSWORD  # the gateway needs it...
    shown = redact_url(url)
    assert PASSWORD not in shown and USER not in shown  # ...logs must never show it
    assert "password=***" in shown and "user=***" in shown
    assert "to=8801711111111,8801811111111,8801911111111" in str(url)  # commas stay literal


def test_bangla_text_is_nine_url_characters_a_letter() -> None:
    one = Batch(msisdns=("8801711111111",), text="হ")
    assert "text=%E0%A6%B9" in str(build_request(ACCOUNT, one).url)
    assert ADAPTER.limits.max_url_chars == 2000


def test_base_url_prefix_slash_and_no_sender() -> None:
    account = ACCOUNT.model_copy(update={"base_url": "http://127.0.0.1:9/bd/", "sender": None})
    url = build_request(account, BATCH).url
    assert url.path == "/bd/api" and "from" not in url.params


def test_missing_password_is_an_account_error() -> None:
    account = ACCOUNT.model_copy(update={"credentials": {"user": ACCOUNT.credentials["user"]}})
    with pytest.raises(GatewayError) as info:
        build_request(account, BATCH)
    assert info.value.kind is ErrorKind.ACCOUNT and "password" in info.value.message


# --- OTP -------------------------------------------------------------------------------

OTP_BATCH = Batch(msisdns=("8801711111111",), text="Your OTP is 1234.")


def test_otp_request() -> None:
    request = build_otp_request(ACCOUNT, OTP_BATCH)
    assert request.method == "GET" and request.url.path == "/otp"
    assert dict(request.url.params) == {
        "user": USER,
        "password": PASSWORD,
        "from": "Ajra Tech",
        "to": "8801711111111",
        "text": "Your OTP is 1234.",
    }
    with pytest.raises(GatewayError) as info:
        build_otp_request(ACCOUNT, BATCH)
    assert info.value.kind is ErrorKind.REQUEST


@pytest.mark.parametrize(
    ("body", "state", "code", "credits"),
    [
        (SAMPLE_OTP, ResultState.SENT, None, 0.5),
        ({**SAMPLE_OTP, "status": "failed", "success": 0}, ResultState.FAILED, "failed", None),
        ({**SAMPLE_OTP, "status": "Queued"}, ResultState.UNKNOWN, None, None),
        ({**SAMPLE_OTP, "status": None}, ResultState.UNKNOWN, None, None),
        ({"response_code": 112, "message": "new"}, ResultState.FAILED, "112", None),
    ],
)
def test_parse_otp(
    body: dict[str, Any], state: ResultState, code: str | None, credits: float | None
) -> None:
    (result,) = parse_otp(OTP_BATCH, json_response(body))
    assert (result.msisdn, result.state, result.code, result.credits) == (
        "8801711111111",
        state,
        code,
        credits,
    )


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (json_response({"success": 0, "response_code": 106}), ErrorKind.ACCOUNT),
        (json_response({"success": 0, "response_code": 108}), ErrorKind.REQUEST),
        (raw_response("<html>"), ErrorKind.AMBIGUOUS),
        (raw_response("", status=504), ErrorKind.AMBIGUOUS),
        (raw_response("", status=502), ErrorKind.RETRYABLE),
    ],
)
def test_parse_otp_errors(response: httpx.Response, kind: ErrorKind) -> None:
    with pytest.raises(GatewayError) as info:
        parse_otp(OTP_BATCH, response)
    assert info.value.kind is kind


# --- smsstatus -------------------------------------------------------------------------


def test_status_request() -> None:
    request = build_status_request(ACCOUNT, "910-17XXXXXXX")
    assert request.url.path == "/smsstatus"
    assert request.url.params["smsid"] == "910-17XXXXXXX"
    assert PASSWORD not in redact_url(request.url)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (SAMPLE_STATUS, (ResultState.SENT, "SENT")),
        ({**SAMPLE_STATUS, "STATUS": "Failed"}, (ResultState.FAILED, "Failed")),
        ({"response_code": 100, "status": "Delivered"}, (ResultState.SENT, "Delivered")),
        ({**SAMPLE_STATUS, "STATUS": "Pending"}, (ResultState.UNKNOWN, "Pending")),
    ],
)
def test_parse_status(body: dict[str, Any], expected: tuple[ResultState, str]) -> None:
    assert parse_status(json_response(body)) == expected


@pytest.mark.parametrize(
    ("response", "kind", "code"),
    [
        (json_response({"success": 0, "response_code": 109}), ErrorKind.REQUEST, "109"),
        (json_response({"success": 0, "response_code": 101}), ErrorKind.ACCOUNT, "101"),
        (json_response({"success": 0, "response_code": 102}), ErrorKind.ACCOUNT, "102"),
        (json_response({"response_code": 999}), ErrorKind.REQUEST, "999"),
        (json_response({"response_code": 100}), ErrorKind.AMBIGUOUS, None),
        (json_response({"response_code": 100, "STATUS": 1}), ErrorKind.AMBIGUOUS, None),
        (raw_response("nope"), ErrorKind.AMBIGUOUS, None),
    ],
)
def test_parse_status_errors(response: httpx.Response, kind: ErrorKind, code: str | None) -> None:
    with pytest.raises(GatewayError) as info:
        parse_status(response)
    assert (info.value.kind, info.value.code) == (kind, code)


# The manual's status sample and the codes it lists for /smsstatus (101, 102, 109).
STATUS_TABLE: list[tuple[httpx.Response, tuple[ResultState, str] | ErrorKind]] = [
    (json_response(SAMPLE_STATUS), (ResultState.SENT, "SENT")),
    (json_response({**SAMPLE_STATUS, "STATUS": "Failed"}), (ResultState.FAILED, "Failed")),
    (json_response({"success": 0, "response_code": 101}), ErrorKind.ACCOUNT),
    (json_response({"success": 0, "response_code": 102}), ErrorKind.ACCOUNT),
    (json_response({"success": 0, "response_code": 109}), ErrorKind.REQUEST),
]


@pytest.mark.parametrize(("answer", "expected"), STATUS_TABLE)
def test_status_through_the_adapter(
    answer: httpx.Response, expected: tuple[ResultState, str] | ErrorKind
) -> None:
    assert ADAPTER.status is not None
    sent: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answer

    with httpx.Client(transport=httpx.MockTransport(gateway)) as client:
        response = client.send(ADAPTER.status.build_request(ACCOUNT, "910-17XXXXXXX"))
    (request,) = sent
    assert request.method == "GET" and request.url.path == "/smsstatus"
    assert dict(request.url.params) == {
        "user": USER,
        "password": PASSWORD,
        "smsid": "910-17XXXXXXX",
    }
    if isinstance(expected, ErrorKind):
        with pytest.raises(GatewayError) as info:
            ADAPTER.status.parse(response)
        assert info.value.kind is expected and PASSWORD not in str(info.value)
    else:
        assert ADAPTER.status.parse(response) == expected


# --- balance ---------------------------------------------------------------------------


def test_balance_request_through_the_adapter() -> None:
    assert ADAPTER.balance is not None and ADAPTER.balance.parse is parse_balance
    request = ADAPTER.balance.build_request(ACCOUNT)
    assert request.method == "GET" and request.url.path == "/balance"
    assert dict(request.url.params) == {"user": USER, "password": PASSWORD}


@pytest.mark.parametrize(
    ("body", "balance"),
    [
        (SAMPLE_BALANCE, 502.56559),
        ({"response_code": "110", "AVAILABLE BALANCE =": 12}, 12.0),
        ({"response_code": 110, "available_balance": " 7.5 "}, 7.5),
        ({"response_code": 106, "message": "No Credits available"}, 0.0),
    ],
)
def test_parse_balance(body: dict[str, Any], balance: float) -> None:
    assert parse_balance(json_response(body)) == pytest.approx(balance)


@pytest.mark.parametrize(
    ("response", "kind", "code"),
    [
        (json_response({"response_code": 105, "message": "Invalid credential"}), "account", "105"),
        (json_response({"response_code": 101}), "account", "101"),
        (json_response({"response_code": 110}), "ambiguous", None),
        (json_response({"response_code": 110, "AVAILABLE BALANCE =": "lots"}), "ambiguous", None),
        (json_response({"response_code": 110, "AVAILABLE BALANCE =": "inf"}), "ambiguous", None),
        (json_response(["502.5"]), "ambiguous", None),
        (raw_response("502.56559", content_type="text/plain", status=401), "account", None),
        (raw_response("", status=503), "retryable", None),
    ],
)
def test_parse_balance_errors(response: httpx.Response, kind: str, code: str | None) -> None:
    with pytest.raises(GatewayError) as info:
        parse_balance(response)
    assert (info.value.kind.value, info.value.code) == (kind, code)


def test_manual_status_sample_read_over_a_transport() -> None:
    # The manual's /smsstatus sample, as the gateway would send it: SENT (the tick's
    # delivered), with the word kept verbatim; Failed is FAILED (undelivered).
    answers = iter([SAMPLE_STATUS, {**SAMPLE_STATUS, "STATUS": "Failed"}])

    def gateway(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/smsstatus" and request.url.params["smsid"] == "910-17"
        return httpx.Response(200, json=next(answers))

    assert ADAPTER.status is not None
    with httpx.Client(transport=httpx.MockTransport(gateway)) as client:
        first = ADAPTER.status.parse(client.send(ADAPTER.status.build_request(ACCOUNT, "910-17")))
        again = ADAPTER.status.parse(client.send(ADAPTER.status.build_request(ACCOUNT, "910-17")))
    assert (first, again) == ((ResultState.SENT, "SENT"), (ResultState.FAILED, "Failed"))
