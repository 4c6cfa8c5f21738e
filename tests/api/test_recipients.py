"""A campaign's recipients over HTTP: JSON pages with a cursor, or one streamed CSV."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import update

from campaigns.db import get_engine
from campaigns.models import RecipientState
from campaigns.tables import RECIPIENTS
from smsq.exports import COLUMNS

from .conftest import TestClient

NUMBERS = [f"98410000{i:02d}" for i in range(25)] + ["12", "9841000000"]  # invalid, duplicate


@pytest.fixture
def campaign_id(api: TestClient, sqlite_url: str) -> int:
    """A campaign of 27 rows; rows 3 and 4 failed at the gateway, with its code."""
    body = {"account": "aakashsms_v3", "text": "Namaste!", "recipients": NUMBERS}
    found: int = api.post("/v1/campaigns", json=body).json()["id"]
    with get_engine(sqlite_url).begin() as conn:
        conn.execute(
            update(RECIPIENTS).where(RECIPIENTS.c.row_no.in_([3, 4])).values(
                state=RecipientState.FAILED, gateway_code="1002", gateway_message="Invalid Number"
            )
        )  # fmt: skip
    return found


def test_pages_follow_the_cursor_through_every_row_once(api: TestClient, campaign_id: int) -> None:
    seen: list[int] = []
    cursor = ""
    while True:
        page = api.get(f"/v1/campaigns/{campaign_id}/recipients?limit=10{cursor}").json()
        seen += [r["row_no"] for r in page["recipients"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert sorted(seen) == list(range(1, 28))


def test_a_state_filters_the_rows(api: TestClient, campaign_id: int) -> None:
    page = api.get(f"/v1/campaigns/{campaign_id}/recipients?state=failed").json()
    assert [(r["row_no"], r["gateway_code"], r["gateway_message"]) for r in page["recipients"]] == [
        (3, "1002", "Invalid Number"), (4, "1002", "Invalid Number"),
    ]  # fmt: skip
    assert page["next_cursor"] is None
    invalid = api.get(f"/v1/campaigns/{campaign_id}/recipients?state=invalid").json()
    assert [(r["msisdn"], r["reason"]) for r in invalid["recipients"]] == [
        ("12", "too short for a Nepali mobile number")
    ]


def test_the_csv_export_streams_every_row_with_its_outcome(
    api: TestClient, campaign_id: int
) -> None:
    with api.stream("GET", f"/v1/campaigns/{campaign_id}/recipients.csv") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        text = "".join(response.iter_text())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == len(NUMBERS)
    by_row = {int(r["row"]): r for r in rows}
    assert by_row[3]["state"] == "failed" and by_row[3]["gateway_code"] == "1002"
    assert by_row[26]["state"] == "invalid" and by_row[26]["reason"]
    assert by_row[27]["state"] == "duplicate"


def test_the_csv_export_of_one_state(api: TestClient, campaign_id: int) -> None:
    text = api.get(f"/v1/campaigns/{campaign_id}/recipients.csv?state=failed").text
    assert [r["row"] for r in csv.DictReader(io.StringIO(text))] == ["3", "4"]
