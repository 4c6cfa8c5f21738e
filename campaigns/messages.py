"""Single messages: one number, now (an OTP, a receipt), ahead of every campaign batch.

``send_message`` is a campaign of one number, planned by the same rules (the number read
for its gateway, the text measured against its limits, the opt-out list, a route and its
fallbacks) and stored like any campaign's recipient: its outcome, the gateway's code and
message id land in the same columns. What differs is the way to the gateway: its batch
goes to the account's priority queue (``smsq.now.<account>``) and, at the account's door,
takes the next moment to send, ahead of campaign batches, which reserve at most a fraction
of a second ahead; it still shares the account's rate limit.

A number that cannot be sent (invalid, suppressed, no route, a text over the limits) is an
error here, naming why, rather than a recorded row: the caller is waiting for this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from campaigns.api import submit_spec
from campaigns.db import get_engine
from campaigns.errors import CampaignNotFound
from campaigns.models import CampaignKind, RecipientState
from campaigns.routes import Route
from campaigns.spec import DEFAULT_MAX_SEGMENTS, build_spec
from campaigns.status import REPORTED_STATE, utc
from campaigns.tables import BATCHES, CAMPAIGNS, RECIPIENTS
from providers import Account

__all__ = ["MessageInfo", "MessageNotFound", "get_message", "send_message"]


class MessageNotFound(CampaignNotFound):
    """Raised when no single message has the given id."""


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """A single message as it stands: the number as sent, its state and the gateway's answer.

    ``state`` moves ``pending`` -> ``in_flight`` -> ``sent`` | ``failed`` | ``unknown`` (and
    ``delivered``/``undelivered`` where the gateway reports delivery). Times are UTC.
    """

    id: int
    msisdn: str
    state: RecipientState
    account: str | None
    provider: str | None
    segments: int | None
    credits: float | None
    provider_message_id: str | None
    network: str | None
    gateway_code: str | None
    gateway_message: str | None
    move_reason: str | None
    created_at: datetime | None
    sent_at: datetime | None
    finished_at: datetime | None


def send_message(
    number: str,
    text: str | None = None,
    template_id: int | None = None,
    *,
    account: str | Account | None = None,
    route: str | Route | None = None,
    sender: str | None = None,
    idempotency_key: str | None = None,
    max_segments: int = DEFAULT_MAX_SEGMENTS,
    database_url: str | None = None,
    accounts: Mapping[str, Account] | None = None,
    routes: Mapping[str, Route] | None = None,
) -> int:
    """Send one message now; returns its id (for ``get_message``).

    Exactly one of ``account`` and ``route``; ``text`` for text gateways, ``template_id`` for
    SMSPlus.az. Raises a CampaignError naming the problem when the number cannot be sent
    (``NothingToSend`` for an invalid, suppressed or unrouted number, ``TextTooLong``, ...);
    nothing is written then. The same ``idempotency_key`` returns the first message's id.
    """
    spec = build_spec(
        account, route=route, text=text, template_id=template_id, sender=sender,
        send_at=None, name=None, idempotency_key=idempotency_key, max_segments=max_segments,
        window=None, window_tz=None, accounts=accounts, routes=routes,
    )  # fmt: skip
    return submit_spec(spec, [number], database_url=database_url, kind=CampaignKind.MESSAGE)


def get_message(message_id: int, *, database_url: str | None = None) -> MessageInfo:
    """The single message ``message_id``; MessageNotFound if there is none."""
    query = (
        select(
            CAMPAIGNS.c.id, RECIPIENTS.c.msisdn, REPORTED_STATE, BATCHES.c.account,
            BATCHES.c.provider, RECIPIENTS.c.segments, RECIPIENTS.c.credits,
            RECIPIENTS.c.provider_message_id, RECIPIENTS.c.network, RECIPIENTS.c.gateway_code,
            RECIPIENTS.c.gateway_message, RECIPIENTS.c.move_reason, CAMPAIGNS.c.created_at,
            BATCHES.c.sent_at, BATCHES.c.finished_at,
        )
        .select_from(
            CAMPAIGNS.join(RECIPIENTS, RECIPIENTS.c.campaign_id == CAMPAIGNS.c.id).outerjoin(
                BATCHES, BATCHES.c.id == RECIPIENTS.c.batch_id
            )
        )
        .where(CAMPAIGNS.c.id == message_id, CAMPAIGNS.c.kind == CampaignKind.MESSAGE)
    )  # fmt: skip
    with get_engine(database_url).connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise MessageNotFound(f"message {message_id} does not exist")
    values = list(row)
    values[2] = RecipientState(values[2])
    values[12:] = [utc(v) for v in values[12:]]
    return MessageInfo(*values)
