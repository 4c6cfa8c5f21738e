"""sandbox_accounts(): smsq Accounts whose credentials the sandbox accepts as they are."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from providers import Account
from providers.sandbox import accounts as demo
from providers.sandbox import sandbox_accounts
from providers.sandbox.client import SandboxClient


def test_keys_providers_and_credential_names() -> None:
    accounts = sandbox_accounts("http://127.0.0.1:1/")
    credential_names = {
        "aakashsms_v1": {"auth_token"},
        "aakashsms_v3": {"auth_token"},
        "aamarsms": {"user", "password"},
        "smsplus_az": {"token"},
        "smspresto": {"api_key", "api_pass"},
    }
    for provider, names in credential_names.items():
        funded = accounts[provider]
        assert (funded.name, funded.provider) == (provider, provider)
        assert set(funded.credentials) == names
        assert funded.base_url == "http://127.0.0.1:1"
        assert funded.rate_per_s is not None and funded.rate_per_s >= 1000
    assert accounts["aakashsms_v1_no_credits"].secret("auth_token") == demo.AAKASH_TOKEN_NO_CREDITS


def test_smsplus_templates_are_named_versions_of_the_gateways() -> None:
    templates = sandbox_accounts("http://sandbox")["smsplus_az"].templates
    assert templates[1] == demo.SMSPLUS_TEMPLATES[1]
    assert templates[2].startswith("Salam {name}!")
    assert templates[3] == "Hello {name}, your code is {code}. It expires in {minutes} minutes."
    for tid, named in templates.items():
        names = demo.SMSPLUS_PARAMETER_NAMES[tid]
        positional = demo.SMSPLUS_TEMPLATES[tid]
        assert named.format(**{n: f"<{i}>" for i, n in enumerate(names, 1)}) == positional.replace(
            "{", "<"
        ).replace("}", ">")


def send_with(http: httpx.Client, account: Account) -> httpx.Response:
    """A minimal send built from the Account's fields alone."""
    base, s = account.base_url, account.secret
    if account.provider in ("aakashsms_v1", "aakashsms_v3"):
        path = "/admin/public/sms/v1/send" if account.provider == "aakashsms_v1" else "/sms/v3/send"
        form = {"auth_token": s("auth_token"), "from": account.sender or "", "to": "9841000001"}
        return http.post(base + path, data={**form, "text": "hi"})
    if account.provider == "aamarsms":
        params = {"user": s("user"), "password": s("password"), "from": account.sender or ""}
        return http.get(base + "/api", params={**params, "to": "8801711000001", "text": "hi"})
    if account.provider == "smsplus_az":
        body: dict[str, Any] = {"sender_name": account.sender, "message_template_id": 1}
        body["mobile_numbers"] = ["994501000001"]
        return http.post(
            base + "/api/sms/send", json=body, headers={"Authorization": f"Bearer {s('token')}"}
        )
    data: dict[str, Any] = {"user": s("api_key"), "pass": s("api_pass"), "action": "sendsms"}
    data |= {"from": account.sender, "message": "hi", "to": [{"recipient": "2250708000001"}]}
    return http.post(base + "/console/api/", data={"data": json.dumps(data)})


@pytest.mark.integration
def test_every_funded_account_sends(http: httpx.Client, sandbox: SandboxClient) -> None:
    accounts = sandbox.accounts()
    providers = ("aakashsms_v1", "aakashsms_v3", "aamarsms", "smsplus_az", "smspresto")
    for provider in providers:
        assert send_with(http, accounts[provider]).status_code == 200
    assert [m.account for m in sandbox.messages()] == list(providers)
