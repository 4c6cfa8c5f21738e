"""Single messages over HTTP: ``POST /v1/messages`` is ``send_message``, ``GET
/v1/messages/{id}`` is ``get_message``, with the errors the Python API raises."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from campaigns.handoff import set_sender
from campaigns.messages import get_message
from tests.cli.helpers import campaign_count

from .conftest import TestClient

NEPAL = "aakashsms_v3"


@pytest.fixture
def handed() -> Iterator[list[tuple[int, int, str]]]:
    """The (message id, batch id, account) handed to the account's priority queue."""
    calls: list[tuple[int, int, str]] = []
    set_sender(lambda *args: calls.append(args))
    try:
        yield calls
    finally:
        set_sender(None)


def test_a_message_is_stored_handed_to_its_priority_queue_and_read_back(
    api: TestClient, sqlite_url: str, handed: list[tuple[int, int, str]]
) -> None:
    body = {"number": "+977 984-1000001", "text": "Your code is 4821", "account": NEPAL}
    response = api.post("/v1/messages", json=body)
    assert response.status_code == 201, response.text
    sent = response.json()
    assert response.headers["Location"] == f"/v1/messages/{sent['id']}"
    assert (sent["msisdn"], sent["state"], sent["account"]) == ("9841000001", "pending", NEPAL)
    [(message_id, _batch_id, account)] = handed
    assert (message_id, account) == (sent["id"], NEPAL)
    read = api.get(f"/v1/messages/{sent['id']}")
    assert read.status_code == 200
    domain = get_message(sent["id"], database_url=sqlite_url)
    assert read.json()["state"] == domain.state and read.json()["segments"] == domain.segments
    assert "Your code" not in read.text  # the text is not echoed back


def test_the_same_idempotency_key_returns_the_first_message(
    api: TestClient, sqlite_url: str, handed: list[tuple[int, int, str]]
) -> None:
    body = {"number": "9841000002", "text": "Your code is 1111", "account": NEPAL}
    headers = {"Idempotency-Key": "otp-42"}
    first = api.post("/v1/messages", json=body, headers=headers).json()
    again = api.post("/v1/messages", json=body, headers=headers).json()
    assert first["id"] == again["id"] and len(handed) == 1


@pytest.mark.parametrize(
    ("body", "status", "error", "said"),
    [
        ({"number": "12345", "text": "x", "account": NEPAL}, 422, "NothingToSend", "invalid"),
        ({"number": "9841000003", "text": "x", "account": "nowhere"}, 422, "UnknownAccount",
         "nowhere"),
        ({"number": "9841000003", "text": "x"}, 422, "InputError", "account"),
        ({"number": "9841000003", "text": "x" * 2000, "account": NEPAL, "max_segments": 2},
         422, "TextTooLong", "segments"),
        ({"text": "x", "account": NEPAL}, 422, "ValidationError", "number"),
        ({"number": "9841000003", "text": "x", "account": NEPAL, "to": "y"}, 422,
         "ValidationError", "to"),
    ],
)  # fmt: skip
def test_a_message_that_cannot_be_sent_is_the_python_apis_error_and_writes_nothing(
    api: TestClient, sqlite_url: str, body: dict[str, object], status: int, error: str,
    said: str,
) -> None:  # fmt: skip
    response = api.post("/v1/messages", json=body)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error"] == error and said in answer["message"], answer
    assert "Traceback" not in response.text
    assert campaign_count(sqlite_url) == 0


def test_an_unknown_message_is_a_404_and_a_campaign_is_no_message(
    api: TestClient, sqlite_url: str
) -> None:
    missing = api.get("/v1/messages/999")
    assert missing.status_code == 404
    assert missing.json() == {"error": "MessageNotFound", "message": "message 999 does not exist",
                              "field": None, "row": None}  # fmt: skip
    campaign = api.post("/v1/campaigns", json={"account": NEPAL, "text": "Hi",
                                               "recipients": ["9841000001"]}).json()  # fmt: skip
    assert api.get(f"/v1/messages/{campaign['id']}").status_code == 404


def test_messages_need_a_key(anonymous: TestClient) -> None:
    assert anonymous.post("/v1/messages", json={}).status_code == 401
    assert anonymous.get("/v1/messages/1").status_code == 401
