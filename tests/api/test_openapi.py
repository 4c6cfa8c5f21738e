"""The OpenAPI document at /v1/openapi.json: every route, its schemas and the key scheme."""

from __future__ import annotations

from .conftest import TestClient


def test_the_document_describes_every_route_with_the_key_scheme(api: TestClient) -> None:
    response = api.get("/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http", "scheme": "bearer", "description": document["components"][
            "securitySchemes"]["ApiKey"]["description"],
    }  # fmt: skip
    for path, operations in document["paths"].items():
        assert path.startswith("/v1/"), path
        for method, operation in operations.items():
            assert operation.get("security") == [{"ApiKey": []}], (method, path)
            assert operation.get("description") or operation.get("summary"), (method, path)
            for status in ("401", "422"):
                assert status in operation["responses"], (method, path, status)
    submit = document["paths"]["/v1/campaigns"]["post"]
    assert submit["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "CampaignIn"
    )
    assert any(p["name"] == "idempotency-key" for p in submit["parameters"])
    upload = document["paths"]["/v1/campaigns/csv"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    export = document["paths"]["/v1/campaigns/{campaign_id}/recipients.csv"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]
    campaign = document["components"]["schemas"]["CampaignInfo"]["properties"]
    assert {"accounts", "route", "recipients", "reason", "window"} <= set(campaign)


def test_no_docs_page_is_served_from_a_cdn(anonymous: TestClient) -> None:
    for path in ("/docs", "/redoc", "/v1/docs", "/openapi.json"):
        assert anonymous.get(path).status_code in (401, 404), path
