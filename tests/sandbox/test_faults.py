"""Fault injection: next-N counters per kind, rates with a seed, scopes, ceiling, latency."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from providers.sandbox import accounts as demo
from providers.sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

V1 = "/admin/public/sms/v1/send"
V3 = "/sms/v3/send"
FORM = {
    "auth_token": demo.AAKASH_TOKEN,
    "from": demo.AAKASH_SENDER,
    "to": "9841000001,9841000002",
    "text": "hi",
}


def send_v1(http: httpx.Client) -> httpx.Response:
    return http.post(V1, data=FORM)


def send_v3(http: httpx.Client) -> httpx.Response:
    return http.post(V3, data=FORM)


# kind, HTTP status while it lasts, whether the messages were recorded anyway
KINDS: list[tuple[str, int, bool]] = [
    ("http_429", 429, False),
    ("http_500", 500, False),
    ("http_503", 503, False),
    ("gateway_error", 503, False),  # AakashSMS documents no transient code: a 503
    ("garbage_before_accept", 200, False),
    ("http_504", 504, True),
    ("garbage_after_accept", 200, True),
]


@pytest.mark.parametrize(("kind", "status", "accepted"), KINDS, ids=[k[0] for k in KINDS])
def test_next_n_counter(
    http: httpx.Client, sandbox: SandboxClient, kind: str, status: int, accepted: bool
) -> None:
    sandbox.set_faults(next={kind: 2})
    first = send_v1(http)
    assert sandbox.faults()["next"] == {kind: 1}
    second, third = send_v1(http), send_v1(http)
    for faulty in (first, second):
        assert faulty.status_code == status
        assert "html" in faulty.headers["content-type"]  # never the gateway's JSON
    assert third.json()["response_code"] == 201
    assert len(sandbox.messages()) == (6 if accepted else 2)
    assert sandbox.faults()["next"] == {}


def test_429_says_when_to_retry(http: httpx.Client, sandbox: SandboxClient) -> None:
    sandbox.set_faults(next={"http_429": 1})
    assert send_v1(http).headers["retry-after"] == "1"


def test_smsplus_gateway_error_is_code_122(http: httpx.Client, sandbox: SandboxClient) -> None:
    sandbox.set_faults(next={"gateway_error": 1})
    data = {"sender_name": "smsq", "message_template_id": 1, "mobile_numbers": ["994501234567"]}
    headers = {"Authorization": f"Bearer {demo.SMSPLUS_TOKEN}"}
    answer = http.post("/api/sms/send", json=data, headers=headers).json()
    assert answer == {
        "success": False,
        "code": "122",
        "message": "There was an error sending the message.",
    }
    assert http.post("/api/sms/send", json=data, headers=headers).json()["code"] == "100"
    assert len(sandbox.messages()) == 1


def test_timeout_after_accept_records_then_times_out(sandbox: SandboxClient) -> None:
    sandbox.set_faults(hold_s=1.0, next={"timeout_after_accept": 1})
    with httpx.Client(base_url=sandbox.url, timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            send_v1(client)
    assert [m.msisdn for m in sandbox.messages()] == ["9841000001", "9841000002"]


def test_timeout_after_accept_answers_late(sandbox: SandboxClient) -> None:
    sandbox.set_faults(hold_s=0.3, next={"timeout_after_accept": 1})
    with httpx.Client(base_url=sandbox.url, timeout=5.0) as client:
        started = time.monotonic()
        assert send_v1(client).json()["response_code"] == 201
    assert time.monotonic() - started >= 0.3


def test_drop_connection_after_accept(sandbox: SandboxClient) -> None:
    sandbox.set_faults(next={"drop_connection_after_accept": 1})
    with httpx.Client(base_url=sandbox.url, timeout=2.0) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            send_v1(client)
        assert send_v1(client).json()["response_code"] == 201  # a new connection is fine
    assert len(sandbox.messages()) == 4


def test_account_scope_and_its_counters_go_first(
    http: httpx.Client, sandbox: SandboxClient
) -> None:
    sandbox.set_faults(
        {"next": {"http_500": 1}, "accounts": {"aakashsms_v3": {"next": {"http_503": 1}}}}
    )
    assert send_v3(http).status_code == 503  # the account's own counter first
    assert send_v3(http).status_code == 500  # then the global one
    assert send_v3(http).status_code == 200
    assert send_v1(http).status_code == 200


def test_faults_spare_requests_that_send_nothing(
    http: httpx.Client, sandbox: SandboxClient
) -> None:
    sandbox.set_faults(next={"http_500": 1})
    login = {"user": demo.AAMAR_USER, "password": demo.AAMAR_PASSWORD}
    assert http.get("/balance", params=login).json()["response_code"] == 110
    assert send_v1(http).status_code == 500


def statuses(http: httpx.Client, n: int) -> list[int]:
    return [send_v1(http).status_code for _ in range(n)]


def test_rates_are_reproducible_with_a_seed(http: httpx.Client, sandbox: SandboxClient) -> None:
    sandbox.set_faults(seed=7, rates={"http_500": 0.3, "http_504": 0.2})
    first = statuses(http, 30)
    sandbox.set_faults(seed=7, rates={"http_500": 0.3, "http_504": 0.2})
    assert statuses(http, 30) == first
    assert {200, 500, 504} <= set(first)
    sandbox.set_faults(seed=8, rates={"http_500": 0.3, "http_504": 0.2})
    assert statuses(http, 30) != first


def test_rate_ceiling_per_account(http: httpx.Client, sandbox: SandboxClient) -> None:
    sandbox.set_faults(account="aakashsms_v1", rate_ceiling_per_s=5)
    assert statuses(http, 8) == [200] * 5 + [429] * 3
    assert send_v3(http).status_code == 200  # another account has its own window
    time.sleep(1.05)
    assert statuses(http, 1) == [200]
    assert len(sandbox.messages(account="aakashsms_v1")) == 12
    assert sandbox.requests("aakashsms_v1") == {"received": 9, "accepted": 6, "http_429": 3}
    sandbox.reset()
    assert sandbox.requests("aakashsms_v1") == {}


def test_latency(http: httpx.Client, sandbox: SandboxClient) -> None:
    sandbox.set_faults(latency_ms=150)
    started = time.monotonic()
    send_v1(http)
    assert time.monotonic() - started >= 0.15
    [message, _] = sandbox.messages()
    assert started <= message.arrival_s <= message.monotonic_s - 0.145  # asyncio wakes ~1 ms early


def test_the_ceiling_counts_arrivals_not_answers(
    http: httpx.Client, sandbox: SandboxClient
) -> None:
    # Arrivals 0.5 s apart, answers 0.6 s after each: counted at the answer, the two would
    # fall in different seconds; a gateway counts them where they arrive, in the same one.
    sandbox.set_faults(account="aakashsms_v1", rate_ceiling_per_s=1, latency_ms=600)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(send_v1, http)
        time.sleep(0.5)
        second = pool.submit(send_v1, http)
        codes = [first.result().status_code, second.result().status_code]
    assert codes == [200, 429]
    assert len(sandbox.messages(account="aakashsms_v1")) == 2  # the first request's two numbers


@pytest.mark.parametrize(
    "settings",
    [
        {"rates": {"http_999": 0.1}},
        {"rates": {"http_500": 0.7, "http_503": 0.5}},
        {"next": {"http_500": -1}},
        {"latency": 5},
        {"accounts": {"smsplus_az": {"seed": 1}}},
    ],
)
def test_invalid_settings_are_refused(
    http: httpx.Client, sandbox: SandboxClient, settings: dict[str, Any]
) -> None:
    response = http.post("/_sandbox/faults", json=settings)
    assert response.status_code == 400 and response.json()["error"]
    with pytest.raises(ValueError):
        sandbox.set_faults(settings)
    assert sandbox.faults() == {"seed": 0, "next": {}}


def test_reset_restores_the_faults_given_at_start(
    http: httpx.Client, sandbox: SandboxClient
) -> None:
    sandbox.set_faults(next={"http_500": 5}, latency_ms=10)
    sandbox.reset()
    assert sandbox.faults() == {"seed": 0, "next": {}}
    assert send_v1(http).status_code == 200


def test_after_accept_faults_wait_for_an_accepted_request(
    http: httpx.Client, sandbox: SandboxClient
) -> None:
    sandbox.set_faults(next={"http_504": 1})
    refused = http.post(V1, data={**FORM, "auth_token": "nope"})
    assert refused.json()["response_code"] == 4003
    assert send_v1(http).status_code == 504
    assert len(sandbox.messages()) == 2
