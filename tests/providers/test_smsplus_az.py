"""SMSPlus.az adapter: a table of cases (manual samples, every code, broken answers) run by the
shared harness, plus the request-building rules the table cannot express."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from providers import Account, Batch, ErrorKind, GatewayError, NumberResult, ResultState
from providers.registry import get_adapter
from providers.smsplus_az import ADAPTER, ERROR_CODES, template_param_count
from tests.providers.harness import Case, json_response, raw_response, run_case

TOKEN = "az-token-7f3c-SECRET"
ACCOUNT = Account(
    name="az",
    provider="smsplus_az",
    base_url="http://127.0.0.1:8799/",
    credentials={"token": TOKEN},  # type: ignore[dict-item]
    sender="SMSQ",
    templates={
        8: "Xeberdarliq: sabah su olmayacaq",
        7: "Salam {name}, kodunuz {code}. {name}, ugurlar!",
        9: "{a} {b} {c}",
    },
)
PATH = "/api/sms/send"
AUTH = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
TWO = ("994501234567", "994551234568")
PLAIN = Batch(msisdns=TWO, template_id=8)
REQ = httpx.Request("POST", "http://127.0.0.1:8799/api/sms/send")

# The manual's two example responses, verbatim.
MANUAL_SUCCESS = """{
  "success": true,
  "code": "100",
  "message": "Messages sent successfully"
}"""
MANUAL_ERROR = """{
  "success": false,
  "code": "101",
  "message": "The customer token was not found."
}"""

# What each documented code must mean, written out from the brief rather than read from
# ERROR_CODES, so that a wrong table entry fails here.
EXPECTED_KINDS: dict[str, ErrorKind] = {
    **{str(c): ErrorKind.ACCOUNT for c in (101, 102, 103, 104, 105, 106, 110, 111, 119)},
    **{str(c): ErrorKind.REQUEST for c in (107, 108, 109, 112, 113, 114, 115, 116, 117, 118)},
    **{str(c): ErrorKind.REQUEST for c in (120, 123)},
    "121": ErrorKind.RECIPIENT,
    "122": ErrorKind.RETRYABLE,
}


def plain_body(**extra: Any) -> dict[str, Any]:
    """The JSON body expected for PLAIN (no parameters)."""
    body = {"sender_name": "SMSQ", "message_template_id": 8, "mobile_numbers": list(TWO)}
    return {**body, **extra}


def sent(batch: Batch) -> list[tuple[str, str, str | None]]:
    return [(m, "sent", None) for m in batch.msisdns]


def answer(code: object, success: object = False, message: str = "x") -> httpx.Response:
    return json_response({"success": success, "code": code, "message": message})


def check_sent_message(results: list[NumberResult]) -> None:
    assert {r.message for r in results} == {"Messages sent successfully"}


CASES = [
    Case(
        "manual success sample",
        PLAIN,
        raw_response(MANUAL_SUCCESS, content_type="application/json"),
        path=PATH,
        json_body=plain_body(),
        headers=AUTH,
        results=sent(PLAIN),
        check_results=check_sent_message,
    ),
    Case(
        "manual error sample: token not found",
        PLAIN,
        raw_response(MANUAL_ERROR, content_type="application/json"),
        error=ErrorKind.ACCOUNT,
        error_code="101",
    ),
    Case(
        "two placeholders (one repeated): two aligned arrays",
        Batch(msisdns=TWO, template_id=7, params=(("Aysel", "1234"), ("Murad", "9876"))),
        answer("100", True),
        json_body={
            "sender_name": "SMSQ",
            "message_template_id": 7,
            "mobile_numbers": list(TWO),
            "first_parameters": ["Aysel", "Murad"],
            "second_parameters": ["1234", "9876"],
        },
        results=sent(PLAIN),
    ),
    Case(
        "three placeholders: three arrays, sender from the batch",
        Batch(
            msisdns=(*TWO, "994701112233"),
            template_id=9,
            params=(("a1", "b1", "c1"), ("a2", "b2", "c2"), ("a3", "b3", "c3")),
            sender="BANK",
        ),
        answer(100, True),
        json_body={
            "sender_name": "BANK",
            "message_template_id": 9,
            "mobile_numbers": [*TWO, "994701112233"],
            "first_parameters": ["a1", "a2", "a3"],
            "second_parameters": ["b1", "b2", "b3"],
            "third_parameters": ["c1", "c2", "c3"],
        },
        results=[(m, "sent", None) for m in (*TWO, "994701112233")],
    ),
    Case(
        "values beyond what the template uses are not sent",
        Batch(msisdns=TWO, template_id=8, params=(("x",), ("y",))),
        answer("100", True),
        json_body=plain_body(),
        results=sent(PLAIN),
    ),
    Case(
        "template the account does not list: arrays from the tuples",
        Batch(msisdns=TWO, template_id=55, params=(("Aysel",), ("Murad",))),
        answer("100", True),
        json_body={
            "sender_name": "SMSQ",
            "message_template_id": 55,
            "mobile_numbers": list(TWO),
            "first_parameters": ["Aysel", "Murad"],
        },
        results=sent(PLAIN),
    ),
    *[
        Case(f"code {code} (string)", PLAIN, answer(code), error=kind, error_code=code)
        for code, kind in EXPECTED_KINDS.items()
    ],
    Case("code 121 as an int", PLAIN, answer(121), error=ErrorKind.RECIPIENT, error_code="121"),
    Case("code 119 as an int", PLAIN, answer(119), error=ErrorKind.ACCOUNT, error_code="119"),
    Case("code 100 as an int", PLAIN, answer(100, True), results=sent(PLAIN)),
    Case("code 100 without success", PLAIN, json_response({"code": "100"}), results=sent(PLAIN)),
    Case(
        "code 119 on HTTP 402",
        PLAIN,
        json_response({"success": False, "code": "119", "message": "no"}, 402),
        error=ErrorKind.ACCOUNT,
        error_code="119",
    ),
    Case(
        "unknown code: numbers failed, code kept",
        PLAIN,
        answer("199"),
        results=[(m, "failed", "199") for m in TWO],
    ),
    Case("429", PLAIN, raw_response("slow down", 429), error=ErrorKind.RETRYABLE, throttled=True),
    Case("500", PLAIN, raw_response("oops", 500), error=ErrorKind.RETRYABLE, throttled=False),
    Case(
        "503 with a success body: status wins",
        PLAIN,
        json_response({"success": True, "code": "100"}, 503),
        error=ErrorKind.RETRYABLE,
    ),
    Case("503", PLAIN, raw_response("<h1>503</h1>", 503), error=ErrorKind.RETRYABLE),
    Case("504", PLAIN, raw_response("<h1>504</h1>", 504), error=ErrorKind.AMBIGUOUS),
    Case("HTML page on 200", PLAIN, raw_response("<html>login</html>"), error=ErrorKind.AMBIGUOUS),
    Case("HTML 404", PLAIN, raw_response("<html>nf</html>", 404), error=ErrorKind.REQUEST),
    Case("HTML 401", PLAIN, raw_response("<html>no</html>", 401), error=ErrorKind.ACCOUNT),
    Case("empty 200", PLAIN, raw_response(b"", 200, ""), error=ErrorKind.AMBIGUOUS),
    Case(
        "truncated JSON",
        PLAIN,
        raw_response(MANUAL_SUCCESS[:30], content_type="application/json"),
        error=ErrorKind.AMBIGUOUS,
    ),
    Case("JSON list", PLAIN, json_response([1, 2]), error=ErrorKind.AMBIGUOUS),
    Case("no code", PLAIN, json_response({"success": True}), error=ErrorKind.AMBIGUOUS),
    Case("code null", PLAIN, answer(None, True), error=ErrorKind.AMBIGUOUS),
    Case("code is a bool", PLAIN, answer(True, True), error=ErrorKind.AMBIGUOUS),
    Case("success is a string", PLAIN, answer("100", "true"), error=ErrorKind.AMBIGUOUS),
    Case("success false, code 100", PLAIN, answer("100", False), error=ErrorKind.AMBIGUOUS),
    Case("success true, code 122", PLAIN, answer("122", True), error=ErrorKind.AMBIGUOUS),
    Case(
        "code 100 on HTTP 400", PLAIN, json_response({"code": "100"}, 400), error=ErrorKind.REQUEST
    ),
    Case(
        "connect error: never left",
        PLAIN,
        httpx.ConnectError("refused", request=REQ),
        error=ErrorKind.RETRYABLE,
    ),
    Case(
        "read timeout: may have been accepted",
        PLAIN,
        httpx.ReadTimeout("timed out", request=REQ),
        error=ErrorKind.AMBIGUOUS,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_cases(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    run_case(ADAPTER, ACCOUNT, case, caplog)


def test_every_documented_code_is_in_the_table_with_its_kind() -> None:
    assert set(ERROR_CODES) == {str(c) for c in range(101, 124)}
    assert {code: kind for code, (kind, _) in ERROR_CODES.items()} == EXPECTED_KINDS


def test_limits_and_registry() -> None:
    limits = ADAPTER.limits
    assert get_adapter("smsplus_az") is ADAPTER and ADAPTER.name == "smsplus_az"
    assert (limits.template_params, limits.unique_numbers, limits.max_text_chars) == (3, True, 160)
    assert limits.credential_names == ("token",) and limits.number_format == "az_intl"
    assert 0 < limits.max_recipients <= 1000 and not limits.text_per_recipient


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        (Batch(msisdns=TWO, text="hello"), "template"),
        (Batch(msisdns=TWO, texts=("a", "b")), "template"),
        (Batch(msisdns=TWO, template_id=7), "parameter"),
        (Batch(msisdns=TWO, template_id=7, params=(("a", "1"), ("b",))), "parameter"),
    ],
)
def test_batches_planning_never_builds_are_refused(batch: Batch, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ADAPTER.build_request(ACCOUNT, batch)


def test_a_sender_is_required() -> None:
    no_sender = ACCOUNT.model_copy(update={"sender": None})
    with pytest.raises(ValueError, match="sender"):
        ADAPTER.build_request(no_sender, PLAIN)


def test_placeholders_are_counted_once_in_order() -> None:
    assert template_param_count(ACCOUNT, PLAIN) == 0
    assert template_param_count(ACCOUNT, Batch(msisdns=TWO, template_id=7)) == 2
    assert template_param_count(ACCOUNT, Batch(msisdns=TWO, template_id=9)) == 3


def test_token_is_only_in_the_header() -> None:
    request = ADAPTER.build_request(ACCOUNT, PLAIN)
    assert str(request.url) == "http://127.0.0.1:8799/api/sms/send"
    assert TOKEN not in request.content.decode() and TOKEN not in repr(request)


def test_results_carry_no_secret_and_state_per_number() -> None:
    results = ADAPTER.parse_response(PLAIN, answer("100", True, "ok"))
    assert [r.state for r in results] == [ResultState.SENT, ResultState.SENT]
    with pytest.raises(GatewayError) as info:
        ADAPTER.parse_response(PLAIN, answer("110", False, "Sender not approved"))
    assert info.value.message == "Sender not approved" and info.value.http_status == 200
