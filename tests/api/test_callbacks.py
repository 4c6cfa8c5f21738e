"""``callback_url`` over HTTP: validated like every field, its secret returned once, and an
API key's default inherited by the campaigns submitted with it."""

from __future__ import annotations

import pytest

from campaigns.api_keys import create_key
from campaigns.callbacks.secrets import api_key_owner, owner_secret

from .conftest import TestClient

NEPAL = "aakashsms_v3"
HOOK = "https://hooks.example.com/smsq"  # stored only: nothing is delivered in these tests


pytestmark = pytest.mark.usefixtures("callback_master_key")


def test_a_campaign_with_its_own_url_gets_its_secret_in_the_submit_answer_only(
    api: TestClient,
) -> None:
    body = {"account": NEPAL, "text": "Hi", "recipients": ["9841000001"], "callback_url": HOOK}
    response = api.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    secret = created["callback_secret"]
    assert secret.startswith("whsec_") and created["callback_url"] == HOOK
    assert created["callbacks"] == {"pending": 1}  # "scheduled", waiting for a worker
    read = api.get(f"/v1/campaigns/{created['id']}").json()
    assert "callback_secret" not in read and secret not in str(read)
    assert read["callback_url"] == HOOK
    listed = api.get("/v1/campaigns").json()
    assert secret not in str(listed)


def test_a_bad_callback_url_is_a_422_naming_the_field(api: TestClient) -> None:
    body = {"account": NEPAL, "text": "Hi", "recipients": ["9841000001"],
            "callback_url": "ftp://hooks.example.com/x"}  # fmt: skip
    response = api.post("/v1/campaigns", json=body)
    assert response.status_code == 422, response.text
    error = response.json()
    assert (error["error"], error["field"]) == ("InputError", "callback_url")
    assert error["message"].startswith("callback_url: 'ftp://hooks.example.com/x' must start")
    assert api.get("/v1/campaigns").json()["campaigns"] == []  # nothing written


def test_a_key_with_a_default_url_gives_it_to_its_campaigns_signed_with_its_secret(
    anonymous: TestClient, sqlite_url: str
) -> None:
    new = create_key("crm", callback_url=HOOK, database_url=sqlite_url)
    assert new.callback_secret == owner_secret(api_key_owner(new.info.id))
    anonymous.headers["Authorization"] = f"Bearer {new.key}"
    body = {"account": NEPAL, "text": "Hi", "recipients": ["9841000001"]}
    created = anonymous.post("/v1/campaigns", json=body).json()
    assert created["callback_url"] == HOOK
    assert created["callback_secret"] is None  # the key's, shown when the key was made
    own = {**body, "callback_url": "https://other.example.com/h"}
    overridden = anonymous.post("/v1/campaigns", json=own).json()
    assert overridden["callback_url"] == "https://other.example.com/h"
    assert overridden["callback_secret"] not in (None, new.callback_secret)


def test_a_key_without_a_url_leaves_campaigns_without_callbacks(api: TestClient) -> None:
    body = {"account": NEPAL, "text": "Hi", "recipients": ["9841000001"]}
    created = api.post("/v1/campaigns", json=body).json()
    assert (created["callback_url"], created["callbacks"], created["callback_secret"]) == (
        None, {}, None,
    )  # fmt: skip
