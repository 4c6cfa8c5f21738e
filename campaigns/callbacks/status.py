"""Reading a campaign's callbacks back: where they go and how each event's delivery stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, select

from campaigns.callbacks.delivery import EVENT_ID_PREFIX
from campaigns.db import get_engine, read_only
from campaigns.errors import CampaignNotFound
from campaigns.models import CallbackState, as_utc
from campaigns.tables import CALLBACK_EVENTS, CALLBACK_STREAMS, CAMPAIGNS


@dataclass(frozen=True, slots=True)
class CallbackEventInfo:
    """One event of the outbox and its delivery (``seq`` None: never attempted yet)."""

    event_id: str
    seq: int | None
    type: str
    state: CallbackState
    attempts: int
    last_error: str | None  # the last failure: an HTTP status or an error's class name
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def list_callbacks(
    campaign_id: int, *, database_url: str | None = None
) -> tuple[str | None, list[CallbackEventInfo]]:
    """The campaign's callback URL (None: it has none) and its events, oldest first."""
    with read_only(get_engine(database_url)) as conn:
        if (
            conn.execute(select(CAMPAIGNS.c.id).where(CAMPAIGNS.c.id == campaign_id)).first()
            is None
        ):
            raise CampaignNotFound(f"campaign {campaign_id} does not exist")
        url = conn.execute(
            select(CALLBACK_STREAMS.c.url).where(CALLBACK_STREAMS.c.campaign_id == campaign_id)
        ).scalar_one_or_none()
        rows = conn.execute(
            select(CALLBACK_EVENTS)
            .where(CALLBACK_EVENTS.c.campaign_id == campaign_id)
            .order_by(CALLBACK_EVENTS.c.seq.is_(None), CALLBACK_EVENTS.c.seq, CALLBACK_EVENTS.c.id)
        ).all()
    return url, [_info(r._mapping) for r in rows]


def _info(m: RowMapping) -> CallbackEventInfo:
    get = m.__getitem__
    return CallbackEventInfo(
        event_id=f"{EVENT_ID_PREFIX}{get('id')}", seq=get("seq"), type=get("type"),
        state=get("state"), attempts=get("attempts"), last_error=get("last_error"),
        created_at=as_utc(get("created_at")),
        next_attempt_at=None if get("next_attempt_at") is None else as_utc(get("next_attempt_at")),
        delivered_at=None if get("delivered_at") is None else as_utc(get("delivered_at")),
    )  # fmt: skip
