"""Errors as JSON: the Python API's class name and message, the status that fits, the field
and row it names, never a stack trace, and nothing written by a refused submit."""

from __future__ import annotations

from typing import Any

import pytest

from campaigns import api as domain
from campaigns.errors import CampaignError
from tests.cli.helpers import campaign_count

from .conftest import TestClient

NEPAL = "aakashsms_v3"
TOO_LONG = "x" * 200


def _body(**fields: Any) -> dict[str, Any]:
    return {"account": NEPAL, "text": "Namaste!", "recipients": ["9841000001"], **fields}


# label, request body, status, error class, field, row
SUBMITS = [
    ("an unknown account", _body(account="nope"), 422, "UnknownAccount", None, None),
    ("account and route", _body(route="r"), 422, "InputError", None, None),
    ("neither account nor route", _body(account=None), 422, "InputError", None, None),
    ("a naive send time", _body(send_at="2030-01-01T09:00:00"), 422, "InputError", None, None),
    ("an empty placeholder, strict", _body(text="Hi {name}", strict=True, recipients=[
        {"msisdn": "9841000001", "name": "Sita"}, {"msisdn": "9841000002", "name": ""}]),
     422, "MissingPlaceholder", None, 2),
    ("a row that is no number", _body(recipients=["9841000001", True]), 422, "InputError",
     None, 2),
    ("a text too long", _body(text=TOO_LONG, max_segments=1), 422, "TextTooLong", "text", None),
    ("a template for a text gateway", _body(template_id=2), 422, "InvalidTemplate", None, None),
    ("no sendable number", _body(recipients=["12", "34"]), 422, "NothingToSend", None, None),
    ("no recipients at all", _body(recipients=None), 422, "ValidationError", "recipients", None),
    ("a field the API does not know", _body(txet="hi"), 422, "ValidationError", "txet", None),
    ("a wrong type", _body(max_segments="many"), 422, "ValidationError", "max_segments", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "body", "status", "error", "field", "row"), SUBMITS, ids=[s[0] for s in SUBMITS]
)
def test_a_refused_submit_says_why_like_the_python_api_and_writes_nothing(
    api: TestClient, sqlite_url: str, accounts: Any, label: str, body: dict[str, Any],
    status: int, error: str, field: str | None, row: int | None,
) -> None:  # fmt: skip
    response = api.post("/v1/campaigns", json=body)
    assert response.status_code == status, response.text
    got = response.json()
    assert (got["error"], got["field"], got["row"]) == (error, field, row), got
    assert "Traceback" not in response.text
    assert campaign_count(sqlite_url) == 0
    if error != "ValidationError":  # the very class and message of the Python API
        arguments = {k: v for k, v in body.items() if k != "recipients"}
        with pytest.raises(CampaignError) as raised:
            domain.submit_campaign(recipients=body["recipients"], database_url=sqlite_url,
                                   accounts=accounts, **_python(arguments))  # fmt: skip
        assert (type(raised.value).__name__, str(raised.value)) == (error, got["message"])


def _python(arguments: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime

    if "send_at" in arguments:
        arguments["send_at"] = datetime.fromisoformat(arguments["send_at"])
    return arguments


# method, path, body or None, status, error class
OTHERS = [
    ("GET", "/v1/campaigns/999", None, 404, "CampaignNotFound"),
    ("POST", "/v1/campaigns/999/pause", None, 404, "CampaignNotFound"),
    ("GET", "/v1/campaigns/999/recipients", None, 404, "CampaignNotFound"),
    ("GET", "/v1/campaigns/999/recipients.csv", None, 404, "CampaignNotFound"),
    ("GET", "/v1/campaigns/1/recipients?state=lost", None, 422, "ValidationError"),
    ("GET", "/v1/campaigns?state=lost", None, 422, "ValidationError"),
    ("GET", "/v1/campaigns?limit=0", None, 422, "ValidationError"),
    ("GET", "/v1/campaigns/abc", None, 404, "NotFound"),
    ("GET", "/v1/campaigns/1/recipients.csv?stat=failed", None, 422, "ValidationError"),
    ("GET", "/v1/campaigns?limit=5&sate=paused", None, 422, "ValidationError"),
    ("GET", f"/v1/campaigns/{2**70}", None, 422, "ValidationError"),  # no BIGINT is that big
    ("GET", f"/v1/campaigns?cursor={2**70}", None, 422, "ValidationError"),
    ("POST", "/v1/suppressions", {"numbers": ["not a number"]}, 422, "InputError"),
    ("GET", "/v1/nothing-here", None, 404, "NotFound"),
    ("DELETE", "/v1/campaigns", None, 405, "MethodNotAllowed"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "error"), OTHERS)
def test_each_error_has_its_status_and_class(
    api: TestClient, method: str, path: str, body: Any, status: int, error: str
) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == status, response.text
    got = response.json()
    assert got["error"] == error and got["message"], got


# path, raw JSON body (\ud800 is a lone surrogate: valid JSON, not Unicode), field, row
SURROGATES = [
    ("/v1/campaigns", '{"account": "aakashsms_v3", "text": "hi \\ud800", "recipients": ["1"]}',
     "text", None),
    ("/v1/campaigns", '{"account": "aakashsms_v3", "text": "Hi {name}", "recipients": ['
     '{"msisdn": "9841000001", "name": "Sita"}, {"msisdn": "9841000002", "name": "\\udc00"}]}',
     "recipients", 2),
    ("/v1/suppressions", '{"numbers": ["+9779841000001"], "reason": "\\ud800"}', "reason", None),
    ("/v1/estimates", '{"account": "aakashsms_v3", "text": "hi", "recipients": ["\\ud800"]}',
     "recipients", 1),
]  # fmt: skip


@pytest.mark.parametrize(("path", "raw", "field", "row"), SURROGATES)
def test_text_that_is_not_unicode_is_refused_with_its_field_and_row(
    api: TestClient, sqlite_url: str, path: str, raw: str, field: str, row: int | None
) -> None:
    response = api.post(path, content=raw.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    got = response.json()
    assert (got["error"], got["field"], got["row"]) == ("ValidationError", field, row)
    assert "not Unicode text" in got["message"]
    assert campaign_count(sqlite_url) == 0


def test_a_method_the_path_does_not_have_lists_those_it_has(api: TestClient) -> None:
    response = api.request("PATCH", "/v1/campaigns")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"


def test_a_misspelt_query_parameter_is_named_not_ignored(api: TestClient) -> None:
    got = api.get("/v1/campaigns/1/recipients.csv?stat=failed").json()
    assert (got["field"], got["message"]) == (
        "query.stat", "query.stat: not a parameter of this call (it takes: state)",
    )  # fmt: skip


def test_a_body_that_is_not_json_is_a_bad_request(api: TestClient) -> None:
    response = api.post(
        "/v1/campaigns", content=b'{"account": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "BadRequest"


def test_an_unexpected_failure_is_a_500_without_a_trace(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from campaigns.settings import get_settings

    get_settings.cache_clear()
    monkeypatch.setenv("SMSQ_CONFIG", "/nonexistent/smsq.toml")  # accounts read per call
    api.app.state.config = type(api.app.state.config)(  # type: ignore[attr-defined]
        database_url=api.app.state.config.database_url,  # type: ignore[attr-defined]
    )
    try:
        response = api.post("/v1/campaigns", json=_body())
    finally:
        get_settings.cache_clear()
    assert response.status_code == 500, response.text
    assert response.json()["error"] == "InternalError"
    assert "POST /v1/campaigns failed" in caplog.text
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_a_row_without_a_placeholder_value_is_rejected_and_the_rest_sent(
    api: TestClient, sqlite_url: str
) -> None:
    body = _body(
        text="Hi {name}",
        recipients=[{"msisdn": "9841000001", "name": "Sita"}, {"msisdn": "9841000002", "name": ""}],
    )
    response = api.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["recipients"] == {"pending": 1, "rejected": 1}
