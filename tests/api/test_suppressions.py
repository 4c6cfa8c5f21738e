"""The opt-out list over HTTP: add, remove, list a page at a time; a submit honours it."""

from __future__ import annotations

from .conftest import TestClient


def test_suppress_list_and_unsuppress(api: TestClient) -> None:
    added = api.post("/v1/suppressions", json={
        "numbers": ["+977 984-1000001", "9841000002", "+8801711000003"], "default_region": "NP",
        "reason": "replied STOP",
    })  # fmt: skip
    assert added.json() == {"added": 3}
    again = api.post("/v1/suppressions", json={"numbers": ["+9779841000001"]})
    assert again.json() == {"added": 0}
    first = api.get("/v1/suppressions?limit=2").json()
    second = api.get(f"/v1/suppressions?limit=2&cursor={first['next_cursor']}").json()
    listed = [s["msisdn"] for s in first["suppressions"] + second["suppressions"]]
    assert listed == ["8801711000003", "9779841000001", "9779841000002"]
    assert second["next_cursor"] is None
    assert first["suppressions"][0]["reason"] == "replied STOP"
    refused = api.post("/v1/suppressions/remove", json={"numbers": ["+9779841000002", "12"]})
    assert refused.status_code == 422 and refused.json()["error"] == "InputError"  # none removed
    removed = api.post("/v1/suppressions/remove", json={"numbers": ["+9779841000002"]})
    assert removed.json() == {"removed": 1}


def test_a_suppressed_number_is_not_sent(api: TestClient) -> None:
    api.post("/v1/suppressions", json={"numbers": ["+9779841000001"]})
    body = {"account": "aakashsms_v3", "text": "hi", "recipients": ["9841000001", "9841000002"]}
    assert api.post("/v1/campaigns", json=body).json()["recipients"] == {
        "suppressed": 1, "pending": 1,
    }  # fmt: skip
