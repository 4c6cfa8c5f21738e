"""SMSPlus.az as the sandbox imitates it: JSON with a Bearer token, codes 100-123."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from providers.sandbox import accounts as demo
from providers.sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

PATH = "/api/sms/send"
AUTH = {"Authorization": f"Bearer {demo.SMSPLUS_TOKEN}"}


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sender_name": demo.SMSPLUS_SENDER,
        "message_template_id": 3,
        "mobile_numbers": ["994501234567", "994701234567"],
        "first_parameters": ["Aysel", "Murad"],
        "second_parameters": ["1234", "5678"],
        "third_parameters": [5, 10],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def post(http: httpx.Client, data: dict[str, Any], token: str = demo.SMSPLUS_TOKEN) -> Any:
    return http.post(PATH, json=data, headers={"Authorization": f"Bearer {token}"}).json()


def test_success_records_substituted_texts(http: httpx.Client, sandbox: SandboxClient) -> None:
    assert post(http, body()) == {
        "success": True,
        "code": "100",
        "message": "Messages sent successfully.",
    }
    assert [(m.msisdn, m.text) for m in sandbox.messages(account="smsplus_az")] == [
        ("994501234567", "Hello Aysel, your code is 1234. It expires in 5 minutes."),
        ("994701234567", "Hello Murad, your code is 5678. It expires in 10 minutes."),
    ]


def test_azerbaijani_template_is_ucs2(http: httpx.Client, sandbox: SandboxClient) -> None:
    data = body(message_template_id=2, mobile_numbers=["994551234567"], first_parameters=["Aygün"])
    assert post(http, data)["code"] == "100"
    [message] = sandbox.messages()
    assert message.text == "Salam Aygün! Sifarişiniz hazırdır, ünvanınıza çatdırılacaq."
    assert message.segments == 1 and message.credits == 1
    assert sandbox.balances()["smsplus_az"] == demo.FUNDED_BALANCE - 1


def test_template_without_parameters(http: httpx.Client) -> None:
    data = {"sender_name": "smsq", "message_template_id": 1, "mobile_numbers": ["994101234567"]}
    assert post(http, data)["code"] == "100"


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("sender missing", body(sender_name=None), "107"),
    ("template missing", body(message_template_id=None), "108"),
    ("numbers missing", body(mobile_numbers=None), "109"),
    ("numbers empty", body(mobile_numbers=[]), "109"),
    ("sender not approved", body(sender_name="OTHER"), "110"),
    ("template unknown", body(message_template_id=99), "111"),
    ("duplicates", body(mobile_numbers=["994501234567", "994501234567"]), "112"),
    ("first missing", body(first_parameters=None), "113"),
    ("second missing", body(second_parameters=None), "114"),
    ("third missing", body(third_parameters=None), "115"),
    ("first count", body(first_parameters=["Aysel"]), "116"),
    ("second count", body(second_parameters=["1", "2", "3"]), "117"),
    ("third count", body(third_parameters=[]), "118"),
    ("over 160 chars", body(first_parameters=["A" * 110, "Murad"]), "120"),
    ("bad operator code", body(mobile_numbers=["994501234567", "994401234567"]), "121"),
    ("not international", body(mobile_numbers=["0501234567", "994701234567"]), "121"),
]


@pytest.mark.parametrize(("data", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_codes(
    http: httpx.Client, sandbox: SandboxClient, data: dict[str, Any], code: str
) -> None:
    answer = post(http, data)
    assert answer["success"] is False and answer["code"] == code
    assert sandbox.messages() == []


def test_160_characters_after_substitution_is_the_limit(http: httpx.Client) -> None:
    template = demo.SMSPLUS_TEMPLATES[3].replace("{2}", "1234").replace("{3}", "5")
    room = 160 - len(template.replace("{1}", ""))
    for first, code in (("A" * room, "100"), ("A" * (room + 1), "120")):
        data = body(mobile_numbers=["994501234567"], first_parameters=[first])
        data |= {"second_parameters": ["1234"], "third_parameters": ["5"]}
        assert post(http, data)["code"] == code


def test_account_and_method_codes(http: httpx.Client) -> None:
    assert post(http, body(), token="nope")["code"] == "101"
    assert http.post(PATH, json=body()).json()["code"] == "101"  # no Authorization header
    assert post(http, body(), token=demo.SMSPLUS_TOKEN_UNSIGNED)["code"] == "106"
    assert post(http, body(), token=demo.SMSPLUS_TOKEN_NO_CREDITS)["code"] == "119"
    assert http.get(PATH, headers=AUTH).json()["code"] == "123"


def test_fail_numbers_reject_the_whole_batch(http: httpx.Client, sandbox: SandboxClient) -> None:
    sandbox.set_faults(fail_numbers=["994701234567"])
    assert post(http, body())["code"] == "121"
    single = body(mobile_numbers=["994501234567"], first_parameters=["A"])
    single |= {"second_parameters": ["1"], "third_parameters": ["2"]}
    assert post(http, single)["code"] == "100"
