"""AamarSMS as the sandbox imitates it: /api, /otp, /smsstatus, /balance."""

from __future__ import annotations

import httpx
import pytest

from providers.sandbox import accounts as demo
from providers.sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

LOGIN = {"user": demo.AAMAR_USER, "password": demo.AAMAR_PASSWORD}


def send(http: httpx.Client, path: str = "/api", **changes: str) -> dict[str, object]:
    params = {**LOGIN, "from": "smsq", "to": "8801829673377", "text": "Hello", **changes}
    body: dict[str, object] = http.get(path, params=params).json()
    return body


def test_bulk_success_with_a_failed_number(http: httpx.Client, sandbox: SandboxClient) -> None:
    body = send(http, to="8801829673377,8801230085980", text="আপনার অর্ডার প্রস্তুত")
    assert body == {
        "success": 1,
        "message": "SMS send successfully.",
        "response_code": 100,
        "campaign_cost": demo.AAMAR_PRICE_PER_SEGMENT_BDT,
        "delivery_status": [
            {"MSISDN": "8801829673377", "Status": 1, "StatusText": "Sent"},
            {"MSISDN": "8801230085980", "Status": 0, "StatusText": "Failed"},
        ],
    }
    [message] = sandbox.messages(account="aamarsms")
    assert message.msisdn == "8801829673377" and message.text == "আপনার অর্ডার প্রস্তুত"
    assert message.message_id.endswith("-1829673377")


def test_fail_numbers_give_status_0(http: httpx.Client, sandbox: SandboxClient) -> None:
    sandbox.set_faults(account="aamarsms", fail_numbers=["8801711111111"])
    body = send(http, to="8801711111111,8801711111112")
    assert [s["Status"] for s in body["delivery_status"]] == [0, 1]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"user": ""}, 101),
        ({"password": ""}, 102),
        ({"password": "wrong"}, 105),
        ({"user": "nobody"}, 105),
        ({"user": demo.AAMAR_USER_RESELLER_EMPTY}, 107),
        ({"to": ""}, 103),
        ({"text": ""}, 104),
        ({"text": "x" * 1001}, 108),
        ({"user": demo.AAMAR_USER_NO_CREDITS}, 106),
    ],
)
def test_send_errors(
    http: httpx.Client, sandbox: SandboxClient, changes: dict[str, str], code: int
) -> None:
    body = send(http, **changes)
    assert body["response_code"] == code and body["success"] == 0
    assert sandbox.messages() == []


def test_otp(http: httpx.Client, sandbox: SandboxClient) -> None:
    body = send(http, "/otp", text="Your OTP is 1234.")
    assert body["status"] == "Delivered" and body["response_code"] == 100
    assert send(http, "/otp", to="8801711111111,8801711111112")["status"] == "Failed"
    assert len(sandbox.messages()) == 1


def test_status_of_a_recorded_message(http: httpx.Client, sandbox: SandboxClient) -> None:
    send(http)
    smsid = sandbox.messages()[0].message_id
    sandbox.set_fates(ids={smsid: "delivered"})
    found = http.get("/smsstatus", params={**LOGIN, "smsid": smsid}).json()
    assert found == {
        "success": 1,
        "response_code": 100,
        "message": "SMS send successfully",
        "STATUS": "SENT",
    }
    missing = http.get("/smsstatus", params={**LOGIN, "smsid": "1-1"}).json()
    assert missing["success"] == 0 and missing["STATUS"] == "FAILED"
    assert http.get("/smsstatus", params={**LOGIN, "smsid": ""}).json()["response_code"] == 109


def test_status_follows_the_fate_a_test_sets(http: httpx.Client, sandbox: SandboxClient) -> None:
    send(http, to="8801711111111,8801711111112")
    first, second = (m.message_id for m in sandbox.messages())

    def status(smsid: str) -> str:
        word: str = http.get("/smsstatus", params={**LOGIN, "smsid": smsid}).json()["STATUS"]
        return word

    assert (status(first), status(second)) == ("PENDING", "PENDING")  # no report yet
    sandbox.set_fates(numbers={"8801711111112": "undelivered"})
    sandbox.set_fates(ids={first: "delivered"})
    assert (status(first), status(second)) == ("SENT", "FAILED")
    bad = httpx.post(sandbox.url + "/_sandbox/fates", json={"default": "lost"})
    assert bad.status_code == 400 and "lost" in bad.json()["error"]


def test_balance_goes_down_then_runs_out(http: httpx.Client, sandbox: SandboxClient) -> None:
    before = http.get("/balance", params=LOGIN).json()
    assert before["response_code"] == 110 and before["message"] == "Active Balance Available"
    send(http, text="x" * 200)  # two GSM-7 segments
    after = http.get("/balance", params=LOGIN).json()["AVAILABLE BALANCE ="]
    spent = 2 * demo.AAMAR_PRICE_PER_SEGMENT_BDT
    assert float(after) == pytest.approx(float(before["AVAILABLE BALANCE ="]) - spent)
    broke = {"user": demo.AAMAR_USER_NO_CREDITS, "password": demo.AAMAR_PASSWORD}
    assert http.get("/balance", params=broke).json()["response_code"] == 106
    assert (
        http.get("/balance", params={"user": "x", "password": "y"}).json()["response_code"] == 105
    )
