"""``/v1/campaigns/{id}/recipients``: a campaign's recipients by state, as JSON pages (a
cursor) or as one streamed CSV; both read ``iter_recipients``, which pages by keyset."""

from __future__ import annotations

import itertools
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from campaigns import api
from campaigns.models import RecipientState
from smsq.api.deps import MAX_ID, CampaignId, Config
from smsq.api.errors import ERRORS
from smsq.api.recipients_schemas import RecipientPage
from smsq.exports import csv_chunks

router = APIRouter(tags=["recipients"])
PAGE_LIMIT_MAX = 2_000  # one page of iter_recipients
Cursor = Annotated[int, Query(ge=0, le=MAX_ID, description="next_cursor of the page before")]


@router.get("/campaigns/{campaign_id:int}/recipients", responses=ERRORS)
def list_recipients(
    campaign_id: CampaignId,
    config: Config,
    state: RecipientState | None = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX)] = 100,
    cursor: Cursor = 0,
) -> RecipientPage:
    """Recipients (of one ``state`` if given) in row order, ``limit`` at a time."""
    rows = api.iter_recipients(
        campaign_id, state, database_url=config.database_url, after_id=cursor
    )
    page = list(itertools.islice(rows, limit + 1))
    more = len(page) > limit
    return RecipientPage(
        recipients=page[:limit], next_cursor=str(page[limit - 1].id) if more else None
    )


@router.get(
    "/campaigns/{campaign_id:int}/recipients.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "the rows as CSV"}, **ERRORS},
)
def export_recipients(
    campaign_id: CampaignId, config: Config, state: RecipientState | None = None
) -> StreamingResponse:
    """Every recipient (of one ``state`` if given) as CSV, streamed: row, msisdn, state,
    reason, gateway code and message, message id, network, segments, credits, attempts."""
    return csv_export(campaign_id, state, database_url=config.database_url)


def csv_export(
    campaign_id: int, state: RecipientState | None, *, database_url: str | None
) -> StreamingResponse:
    """The streamed CSV of a campaign's recipients (this API's and the dashboard's button);
    CampaignNotFound at once when there is no such campaign."""
    rows = api.iter_recipients(campaign_id, state, database_url=database_url)
    name = f"campaign-{campaign_id}-recipients{f'-{state.value}' if state else ''}.csv"
    return StreamingResponse(
        csv_chunks(rows), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip
