"""``/v1/messages``: single messages (an OTP, a receipt), sent now and ahead of campaign
batches; each route is one call of ``campaigns.messages`` (``send_message``, ``get_message``).

A number that cannot be sent is an error here, as in the Python API (``NothingToSend``,
``TextTooLong``, ...: 422), and nothing is written; an unknown id is ``MessageNotFound`` (404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response, status

from campaigns.messages import MessageInfo, get_message, send_message
from smsq.api.deps import MAX_ID, Config
from smsq.api.errors import ERRORS
from smsq.api.messages_schemas import MessageIn

router = APIRouter(tags=["messages"])
MessageId = Annotated[int, Path(ge=1, le=MAX_ID, description="a message's id")]
IdempotencyKey = Annotated[
    str | None, Header(description="the same key returns the message it first made")
]


@router.post("/messages", status_code=status.HTTP_201_CREATED, responses=ERRORS)
def send(
    body: MessageIn, config: Config, response: Response, idempotency_key: IdempotencyKey = None
) -> MessageInfo:
    """Send one message now (``send_message``); its state moves on as the worker sends it."""
    message_id = send_message(
        body.number, body.text, body.template_id, account=body.account, route=body.route,
        sender=body.sender, idempotency_key=idempotency_key, max_segments=body.max_segments,
        database_url=config.database_url, accounts=config.accounts, routes=config.routes,
    )  # fmt: skip
    response.headers["Location"] = f"/v1/messages/{message_id}"
    return get_message(message_id, database_url=config.database_url)


@router.get("/messages/{message_id:int}", responses=ERRORS)
def read(message_id: MessageId, config: Config) -> MessageInfo:
    """One message: its state and the gateway's answer (``get_message``)."""
    return get_message(message_id, database_url=config.database_url)
