"""Submitting, estimating, listing, reading and steering campaigns over HTTP: each call is
the Python API's, with its results as JSON."""

from __future__ import annotations

from typing import Any

import pytest

from campaigns import api as domain
from tests.cli.helpers import campaign_count

from .conftest import TestClient

NEPAL = "aakashsms_v3"
PEOPLE_CSV = b"msisdn,name\n9841000001,Sita\n9851000002,Hari\n12345,Bad\n9841000001,Sita\n"


def _submit(api: TestClient, **body: Any) -> dict[str, Any]:
    body = {"account": NEPAL, "text": "Namaste!", **body}
    response = api.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_json_submit_plans_the_campaign_and_hands_it_to_the_workers(
    api: TestClient, sqlite_url: str, dispatched: list[int]
) -> None:
    response = api.post("/v1/campaigns", json={
        "account": NEPAL, "text": "Namaste {name}!", "name": "bills",
        "recipients": [{"msisdn": "9841000001", "name": "Sita"}, {"msisdn": 9851000002,
                       "name": "Hari"}, {"msisdn": "12345", "name": "Bad"}],
        "send_at": "2030-01-01T09:30:00+05:45", "window": ["09:00", "19:00"],
        "window_tz": "Asia/Kathmandu",
    })  # fmt: skip
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"/v1/campaigns/{body['id']}"
    assert dispatched == [body["id"]]
    info = domain.get_campaign(body["id"], database_url=sqlite_url)
    assert body["state"] == info.state == "scheduled"
    assert body["recipients"] == {"pending": 2, "invalid": 1} == info.recipients
    assert body["window"] == ["09:00", "19:00"] and body["window_tz"] == "Asia/Kathmandu"
    assert body["send_at"].startswith("2030-01-01T03:45:00")  # as UTC
    assert [a["account"] for a in body["accounts"]] == [NEPAL]
    assert body["name"] == "bills" and body["route"] is None


def test_a_routed_submit_reads_back_per_account(api: TestClient) -> None:
    from campaigns.routes import Route

    route = Route.model_validate({"name": "two", "977": [NEPAL], "880": ["aamarsms"]})
    api.app.state.config = type(api.app.state.config)(  # type: ignore[attr-defined]
        database_url=api.app.state.config.database_url,  # type: ignore[attr-defined]
        accounts=api.app.state.config.accounts,  # type: ignore[attr-defined]
        routes={"two": route},
    )
    body = _submit(api, account=None, route="two",
                   recipients=["+9779841000001", "+8801711000002", "+971501234567"])  # fmt: skip
    assert body["route"] == "two" and body["account"] is None
    shares = {a["account"]: a["recipients"] for a in body["accounts"]}
    assert shares == {NEPAL: {"pending": 1}, "aamarsms": {"pending": 1}}
    assert body["recipients"] == {"pending": 2, "rejected": 1}


def test_the_same_idempotency_key_returns_the_first_campaign(
    api: TestClient, sqlite_url: str
) -> None:
    body = {"account": NEPAL, "text": "hi", "recipients": ["9841000001"]}
    first = api.post("/v1/campaigns", json=body, headers={"Idempotency-Key": "bills-12"})
    again = api.post("/v1/campaigns", json=body, headers={"Idempotency-Key": "bills-12"})
    other = api.post("/v1/campaigns", json=body, headers={"Idempotency-Key": "bills-13"})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert campaign_count(sqlite_url) == 2


def test_a_csv_upload_is_planned_like_a_csv_path(api: TestClient, sqlite_url: str) -> None:
    response = api.post(
        "/v1/campaigns/csv",
        data={"account": NEPAL, "text": "Namaste {name}", "window": ["09:00", "19:00"]},
        files={"recipients": ("customers.csv", PEOPLE_CSV, "text/csv")},
        headers={"Idempotency-Key": "upload-1"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["recipients"] == {"pending": 2, "invalid": 1, "duplicate": 1}
    assert body["window"] == ["09:00", "19:00"]
    rows = list(domain.iter_recipients(body["id"], database_url=sqlite_url))
    assert sorted(r.row_no for r in rows) == [1, 2, 3, 4]


def test_a_bad_csv_upload_names_its_file_and_row_and_writes_nothing(
    api: TestClient, sqlite_url: str
) -> None:
    response = api.post(
        "/v1/campaigns/csv", data={"account": NEPAL, "text": "Namaste {name}"},
        files={"recipients": ("../../etc/customers.csv", b"msisdn,name\n1,\xff\n", "text/csv")},
    )  # fmt: skip
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "InputError" and body["row"] == 1
    assert body["message"] == (
        'customers.csv: row 1: column "name" is not UTF-8 text (save the file as UTF-8)'
    )
    assert campaign_count(sqlite_url) == 0


def test_a_form_field_the_api_does_not_know_is_refused(api: TestClient) -> None:
    response = api.post(
        "/v1/campaigns/csv", data={"account": NEPAL, "txet": "typo"},
        files={"recipients": ("c.csv", PEOPLE_CSV, "text/csv")},
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["field"] == "txet"


def test_an_estimate_writes_nothing(api: TestClient, sqlite_url: str) -> None:
    response = api.post("/v1/estimates", json={
        "account": NEPAL, "text": "Namaste!", "recipients": ["9841000001", "12", "9841000001"],
        "check_balance": False,
    })  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["rows"], body["valid"], body["invalid"], body["duplicate"]) == (3, 1, 1, 1)
    assert body["accounts"][0]["account"] == NEPAL and body["credits"] == 1.0
    upload = api.post(
        "/v1/estimates/csv?check_balance=false", data={"account": NEPAL, "text": "Hi {name}"},
        files={"recipients": ("c.csv", PEOPLE_CSV, "text/csv")},
    )  # fmt: skip
    assert upload.status_code == 200, upload.text
    assert upload.json()["valid"] == 2
    assert campaign_count(sqlite_url) == 0


def test_campaigns_list_newest_first_a_page_at_a_time(api: TestClient) -> None:
    ids = [_submit(api, recipients=[f"98410000{i:02d}"])["id"] for i in range(5)]
    api.post(f"/v1/campaigns/{ids[0]}/pause")
    first = api.get("/v1/campaigns?limit=2").json()
    assert [c["id"] for c in first["campaigns"]] == ids[:-3:-1]
    second = api.get(f"/v1/campaigns?limit=2&cursor={first['next_cursor']}").json()
    third = api.get(f"/v1/campaigns?limit=2&cursor={second['next_cursor']}").json()
    assert [c["id"] for c in second["campaigns"] + third["campaigns"]] == ids[-3::-1]
    assert third["next_cursor"] is None
    paused = api.get("/v1/campaigns?state=paused").json()
    assert [c["id"] for c in paused["campaigns"]] == [ids[0]]


def test_a_campaign_reads_as_get_campaign(api: TestClient, sqlite_url: str) -> None:
    campaign_id = _submit(api, recipients=["9841000001", "12"])["id"]
    body = api.get(f"/v1/campaigns/{campaign_id}").json()
    info = domain.get_campaign(campaign_id, database_url=sqlite_url)
    from smsq.views import to_jsonable

    expected = to_jsonable(info)
    for field in ("created_at", "send_at"):  # the same instants; JSON writes UTC as Z
        assert body.pop(field).replace("Z", "+00:00") == expected.pop(field)
    assert body["unknown_checking"] == 0  # unknown numbers the archive is still searched for
    assert body == expected


def test_pause_resume_cancel_and_retry_steer_the_campaign(
    api: TestClient, dispatched: list[int]
) -> None:
    campaign_id = _submit(api, recipients=["9841000001", "9841000002"])["id"]
    paused = api.post(f"/v1/campaigns/{campaign_id}/pause", json={"reason": "checking"}).json()
    assert (paused["state"], paused["reason"], paused["pause_kind"]) == (
        "paused", "checking", "user",
    )  # fmt: skip
    assert api.post(f"/v1/campaigns/{campaign_id}/resume").json()["state"] == "running"
    retried = api.post(f"/v1/campaigns/{campaign_id}/retry-failed").json()
    assert retried["retried"] == 0 and retried["campaign"]["state"] == "running"
    cancelled = api.post(f"/v1/campaigns/{campaign_id}/cancel").json()
    assert cancelled["cancelled"] == 2 and cancelled["campaign"]["state"] == "cancelled"
    assert cancelled["campaign"]["recipients"] == {"cancelled": 2}
    assert dispatched == [campaign_id, campaign_id]  # submit and resume


@pytest.mark.parametrize("action", ["pause", "resume", "cancel"])
def test_steering_a_cancelled_campaign_is_a_conflict(api: TestClient, action: str) -> None:
    campaign_id = _submit(api, recipients=["9841000001"])["id"]
    api.post(f"/v1/campaigns/{campaign_id}/cancel")
    response = api.post(f"/v1/campaigns/{campaign_id}/{action}")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "InvalidState"
    assert body["message"].startswith(f"campaign {campaign_id} is cancelled: cannot {action} it")
