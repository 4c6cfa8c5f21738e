"""AakashSMS v1 and v3 as the sandbox imitates them, over real HTTP on loopback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from providers.sandbox import accounts as demo
from providers.sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

V1 = "/admin/public/sms/v1/send"
V3 = "/sms/v3/send"


def v1_form(**changes: str | None) -> dict[str, str]:
    form: dict[str, str | None] = {
        "auth_token": demo.AAKASH_TOKEN,
        "from": demo.AAKASH_SENDER,
        "to": "9841000001,9801000002",
        "text": "Namaste from smsq",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def test_v1_success_shape_and_record(http: httpx.Client, sandbox: SandboxClient) -> None:
    response = http.post(V1, data=v1_form())
    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "response_code": 201,
        "status": "queued",
        "response": "2 messages has been queued for delivery",
    }
    recorded = sandbox.messages(account="aakashsms_v1")
    assert [(m.msisdn, m.text, m.sender) for m in recorded] == [
        ("9841000001", "Namaste from smsq", "31001"),
        ("9801000002", "Namaste from smsq", "31001"),
    ]
    assert {m.provider for m in recorded} == {"aakashsms_v1"}


V1_ERRORS: list[tuple[str, dict[str, str], int]] = [
    ("field missing", v1_form(text=None), 4000),
    ("token empty", v1_form(auth_token=""), 4000),
    ("ip not allowed", v1_form(auth_token=demo.AAKASH_TOKEN_IP_LOCKED), 4001),
    ("unknown token", v1_form(auth_token="nope"), 4003),
    ("inactive", v1_form(auth_token=demo.AAKASH_TOKEN_INACTIVE), 4004),
    ("expired", v1_form(auth_token=demo.AAKASH_TOKEN_EXPIRED), 4005),
    ("9 digits", v1_form(to="9841000001,984100000"), 4006),
    ("not mobile", v1_form(to="0141000001"), 4006),
    ("wrong sender", v1_form(**{"from": "99999"}), 4007),
    ("empty text", v1_form(text="  "), 4008),
    ("no credits", v1_form(auth_token=demo.AAKASH_TOKEN_NO_CREDITS), 4009),
    (
        "insufficient",
        v1_form(auth_token=demo.AAKASH_TOKEN_LOW_CREDITS, to="9841000001," * 2 + "9841000003"),
        4010,
    ),  # noqa: E501
]


@pytest.mark.parametrize(
    ("form", "code"), [c[1:] for c in V1_ERRORS], ids=[c[0] for c in V1_ERRORS]
)
def test_v1_documented_errors(
    http: httpx.Client, sandbox: SandboxClient, form: dict[str, str], code: int
) -> None:
    body = http.post(V1, data=form).json()
    assert body["response_code"] == code
    assert isinstance(body["response"], str) and body["response"]
    assert sandbox.messages() == []


def test_v1_get_is_invalid_url(http: httpx.Client) -> None:
    assert http.get(V1, params=v1_form()).json()["response_code"] == 4002


def test_v3_valid_and_invalid_lists(http: httpx.Client, sandbox: SandboxClient) -> None:
    fields = {"auth_token": demo.AAKASH_TOKEN, "to": "9818000000,988585584,9741000000"}
    body = http.post(V3, data={**fields, "text": "v3 sms test"}).json()
    assert body["error"] is False
    assert body["message"] == "2 messages has been queued for delivery."
    valid, invalid = body["data"]["valid"], body["data"]["invalid"]
    assert [(v["mobile"], v["network"], v["credit"], v["status"]) for v in valid] == [
        ("9779818000000", "ncell", 1, "queued"),
        ("9779741000000", "ntc", 1, "queued"),
    ]
    assert invalid == [
        {"mobile": "988585584", "text": "v3 sms test", "credit": 0, "network": "N/A",
         "status": "aborted"},
    ]  # fmt: skip
    recorded = sandbox.messages(account="aakashsms_v3")
    assert [int(m.message_id) for m in recorded] == [v["id"] for v in valid]


def test_v3_get_and_fail_numbers(http: httpx.Client, sandbox: SandboxClient) -> None:
    sandbox.set_faults(fail_numbers=["9841000002"])
    params = {"auth_token": demo.AAKASH_TOKEN, "to": "9841000001,9841000002", "text": "hi"}
    data = http.get(V3, params=params).json()["data"]
    assert [v["mobile"] for v in data["valid"]] == ["9779841000001"]
    assert [i["mobile"] for i in data["invalid"]] == ["9841000002"]


V3_FAILURES: list[tuple[str, dict[str, Any], str]] = [
    ("bad token", {"auth_token": "nope"}, "The provided Auth Token is not valid."),
    ("no token", {"auth_token": ""}, "The provided Auth Token is not valid."),
    ("inactive", {"auth_token": demo.AAKASH_TOKEN_INACTIVE}, "Account is not active"),
    ("expired", {"auth_token": demo.AAKASH_TOKEN_EXPIRED}, "Account has been expired"),
    ("no credits", {"auth_token": demo.AAKASH_TOKEN_NO_CREDITS}, "No Credits Available"),
    ("no to", {"to": ""}, "The to field is required."),
    ("no text", {"text": ""}, "The text field is required."),
]


@pytest.mark.parametrize(
    ("changes", "message"), [c[1:] for c in V3_FAILURES], ids=[c[0] for c in V3_FAILURES]
)
def test_v3_failures(http: httpx.Client, changes: dict[str, Any], message: str) -> None:
    fields = {"auth_token": demo.AAKASH_TOKEN, "to": "9841000001", "text": "hi", **changes}
    assert http.post(V3, data=fields).json() == {"error": True, "message": message, "data": []}


def test_balance_goes_down_per_segment(http: httpx.Client, sandbox: SandboxClient) -> None:
    before = sandbox.balances()["aakashsms_v3"]
    long_gsm = "x" * 161  # two GSM-7 segments
    devanagari = "नमस्ते"  # one UCS-2 segment
    http.post(V3, data={"auth_token": demo.AAKASH_TOKEN, "to": "9841000001", "text": long_gsm})
    http.post(V3, data={"auth_token": demo.AAKASH_TOKEN, "to": "9841000001", "text": devanagari})
    assert [m.segments for m in sandbox.messages()] == [2, 1]
    assert sandbox.balances()["aakashsms_v3"] == before - 3


def test_low_credit_account_runs_out(http: httpx.Client) -> None:
    form = v1_form(auth_token=demo.AAKASH_TOKEN_LOW_CREDITS, to="9841000001")
    codes = [http.post(V1, data=form).json()["response_code"] for _ in range(3)]
    assert codes == [201, 201, 4009]
