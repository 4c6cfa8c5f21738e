"""Every /v1 call needs a key that is not revoked: none answers without one (401)."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from campaigns.api_keys import create_key, hash_key, revoke_key
from campaigns.db import get_engine
from campaigns.tables import API_KEYS
from smsq.api import create_app

from .conftest import TestClient


def _routes() -> list[tuple[str, str]]:
    """(method, path) of every /v1 route the OpenAPI document lists, ids filled in."""
    document = create_app().openapi()
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
        for path, operations in document["paths"].items()
        for method in operations
    ] + [("GET", "/v1/openapi.json")]


ROUTES = _routes()


def test_the_api_has_the_routes_of_the_python_api() -> None:
    paths = {path for _method, path in ROUTES}
    assert {"/v1/campaigns", "/v1/campaigns/csv", "/v1/estimates", "/v1/estimates/csv",
            "/v1/campaigns/1", "/v1/campaigns/1/pause", "/v1/campaigns/1/resume",
            "/v1/campaigns/1/cancel", "/v1/campaigns/1/retry-failed",
            "/v1/campaigns/1/recipients", "/v1/campaigns/1/recipients.csv",
            "/v1/suppressions", "/v1/suppressions/remove", "/v1/messages", "/v1/messages/1",
            "/v1/openapi.json"} == paths  # fmt: skip


def _refused(response: httpx.Response, secret: str = "") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert body["error"] == "Unauthorized" and body["message"]
    if secret:
        assert secret not in response.text


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_route_answers_without_a_key(anonymous: TestClient, method: str, path: str) -> None:
    _refused(anonymous.request(method, path, json={}))


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/nothing-here"), ("PATCH", "/v1/campaigns"),
                         ("GET", "/v1/docs"), ("GET", "/v1/campaigns/abc")],
)  # fmt: skip
def test_no_unknown_path_or_method_answers_without_a_key(
    anonymous: TestClient, method: str, path: str
) -> None:
    _refused(anonymous.request(method, path))


@pytest.mark.parametrize(
    ("label", "authorization"),
    [
        ("another scheme", "Basic dXNlcjpwYXNz"),
        ("an empty bearer", "Bearer "),
        ("a wrong key", "Bearer smsq_" + "x" * 43),
        ("not even our prefix", "Bearer hunter2"),
    ],
)
@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/campaigns"), ("POST", "/v1/campaigns")])
def test_no_route_answers_with_a_bad_key(
    anonymous: TestClient, method: str, path: str, label: str, authorization: str
) -> None:
    response = anonymous.request(method, path, headers={"Authorization": authorization}, json={})
    _refused(response, authorization.partition(" ")[2])


def test_a_key_is_refused_at_the_next_call_after_its_revoke(
    api: TestClient, sqlite_url: str
) -> None:
    assert api.get("/v1/campaigns").status_code == 200
    revoke_key("tests", database_url=sqlite_url)
    response = api.get("/v1/campaigns")
    assert response.status_code == 401
    assert response.json()["message"] == "the API key is unknown or revoked"


def test_a_new_key_works_and_the_database_holds_only_its_hash(
    anonymous: TestClient, sqlite_url: str
) -> None:
    new = create_key("partner", database_url=sqlite_url)
    ok = anonymous.get("/v1/campaigns", headers={"Authorization": f"Bearer {new.key}"})
    assert ok.status_code == 200
    with get_engine(sqlite_url).connect() as conn:
        stored = [tuple(r) for r in conn.execute(select(API_KEYS))]
    assert all(new.key not in str(cell) for row in stored for cell in row)
    assert any(row[2] == hash_key(new.key) for row in stored)


def test_the_dashboard_asks_for_a_login_not_a_bearer_key(anonymous: TestClient) -> None:
    page = anonymous.get("/")
    assert page.status_code == 200 and page.url.path == "/login"  # redirected to its form
    assert "smsq api-key create" in page.text
