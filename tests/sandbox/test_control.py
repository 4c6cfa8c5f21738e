"""The /_sandbox/ endpoints: the record's contents and filters, reset, balances, routing."""

from __future__ import annotations

import os
import time

import httpx
import psutil
import pytest

from providers.sandbox import DEMO_ACCOUNTS
from providers.sandbox import accounts as demo
from providers.sandbox.client import SandboxClient

pytestmark = pytest.mark.integration

V1 = "/admin/public/sms/v1/send"


def send_v1(http: httpx.Client, to: str, text: str = "hi") -> None:
    form = {"auth_token": demo.AAKASH_TOKEN, "from": demo.AAKASH_SENDER, "to": to, "text": text}
    assert http.post(V1, data=form).json()["response_code"] == 201


def test_record_contents(http: httpx.Client, sandbox: SandboxClient) -> None:
    wall, mono = time.time(), time.monotonic()
    send_v1(http, "9841000001,9841000002", "x" * 170)
    send_v1(http, "9841000003")
    first, second, third = sandbox.messages()
    assert [m.index for m in (first, second, third)] == [0, 1, 2]
    assert first.request_id == second.request_id != third.request_id
    assert (first.account, first.provider, first.sender) == (
        "aakashsms_v1",
        "aakashsms_v1",
        "31001",
    )
    assert (first.segments, first.credits) == (2, 2.0)
    assert int(second.message_id) == int(first.message_id) + 1
    assert wall - 1 <= first.wall_time <= time.time() + 1
    assert mono <= first.monotonic_s <= time.monotonic()  # one host clock for every process


def test_since_index_and_account_filters(http: httpx.Client, sandbox: SandboxClient) -> None:
    send_v1(http, "9841000001")
    mark = sandbox.next_index()
    send_v1(http, "9841000002")
    v3 = {"auth_token": demo.AAKASH_TOKEN, "to": "9841000003", "text": "hi"}
    http.post("/sms/v3/send", data=v3)
    assert [m.msisdn for m in sandbox.messages(since_index=mark)] == ["9841000002", "9841000003"]
    later_v1 = sandbox.messages(account="aakashsms_v1", since_index=mark)
    assert [m.msisdn for m in later_v1] == ["9841000002"]
    assert sandbox.messages(account="nobody") == []
    assert sandbox.next_index() == 3


def test_reset_clears_the_record_and_refills_balances(
    http: httpx.Client, sandbox: SandboxClient
) -> None:
    send_v1(http, "9841000001")
    last_id = int(sandbox.messages()[0].message_id)
    assert sandbox.balances()["aakashsms_v1"] == demo.FUNDED_BALANCE - 1
    sandbox.reset()
    assert sandbox.messages() == [] and sandbox.next_index() == 0
    assert sandbox.balances()["aakashsms_v1"] == demo.FUNDED_BALANCE
    send_v1(http, "9841000001")
    assert int(sandbox.messages()[0].message_id) > last_id  # ids are never reused


def test_health_names_the_sandbox_process(sandbox: SandboxClient) -> None:
    pid = sandbox.pid()
    assert pid != os.getpid()
    cmdline = psutil.Process(pid).cmdline()
    assert any("sandbox" in part for part in cmdline), cmdline


def test_accounts_listing(sandbox: SandboxClient) -> None:
    balances = sandbox.balances()
    assert set(balances) == {a.name for a in DEMO_ACCOUNTS}
    assert balances["smsplus_az_no_credits"] == 0


def test_routing(http: httpx.Client) -> None:
    assert http.get("/nowhere").status_code == 404
    assert http.get("/_sandbox/nowhere").status_code == 404
    assert http.get("/_sandbox/reset").status_code == 405
    assert http.get("/_sandbox/messages", params={"since_index": "x"}).status_code == 400
    assert http.post(V1, content=b"x" * (2 << 20)).status_code == 413


def test_balances_can_be_set_until_the_next_reset(
    http: httpx.Client, sandbox: SandboxClient
) -> None:
    balances = sandbox.set_balances(aakashsms_v3=3.0, aamarsms=0.5)
    assert balances["aakashsms_v3"] == 3.0 and balances["aamarsms"] == 0.5
    send = {"auth_token": "sandbox-aakash-token", "to": "9841000001,9841000002", "text": "Hi"}
    assert http.post("/sms/v3/send", data=send).json()["error"] is False  # 2 of 3 credits
    again = http.post("/sms/v3/send", data=send).json()
    assert again["error"] is True and again["message"] == "Insufficient Credits"
    refused = http.post("/_sandbox/balances", json={"nobody": 1})
    assert refused.status_code == 400 and "nobody" in refused.json()["error"]
    assert http.post("/_sandbox/balances", json={"aamarsms": -1}).status_code == 400
    sandbox.reset()
    assert sandbox.balances()["aakashsms_v3"] > 1000
