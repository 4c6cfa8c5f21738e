"""``/v1/campaigns`` and ``/v1/estimates``: submit (JSON or a CSV upload), estimate, list, read
and steer campaigns; each route is one call of the Python API (``campaigns.api``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from campaigns import api
from campaigns.api import Estimate
from campaigns.api_keys import ApiKeyInfo
from campaigns.models import CampaignState
from campaigns.status import CampaignInfo, campaign_ids
from smsq.api.auth import ApiKey
from smsq.api.campaigns_schemas import (
    CampaignCreated,
    CampaignIn,
    CampaignPage,
    CampaignUpload,
    CancelOut,
    EstimateIn,
    PauseIn,
    RetryOut,
)
from smsq.api.deps import MAX_ID, ApiConfig, CampaignId, Config
from smsq.api.errors import ERRORS
from smsq.api.uploads import spooled_csv

router = APIRouter(tags=["campaigns"])
IdempotencyKey = Annotated[
    str | None,
    Header(description="the same key returns the campaign it first made, even under a race"),
]
Upload = Annotated[CampaignUpload, Form(media_type="multipart/form-data")]
LIST_LIMIT_MAX = 200


def _where(config: ApiConfig) -> dict[str, Any]:
    return {"database_url": config.database_url, "accounts": config.accounts,
            "routes": config.routes}  # fmt: skip


def _options(upload: CampaignUpload) -> dict[str, Any]:
    return upload.model_dump(exclude={"recipients"})


def read_campaign(
    campaign_id: CampaignId, config: ApiConfig, *, fresh: bool = False
) -> CampaignInfo:
    """The campaign as JSON; its counts up to ``status_max_age_s`` old unless ``fresh``."""
    return api.get_campaign(
        campaign_id, database_url=config.database_url,
        max_age_s=0.0 if fresh else config.status_max_age_s,
    )  # fmt: skip


def _created(
    campaign_id: CampaignId, config: ApiConfig, response: Response, own_callback: bool
) -> CampaignCreated:
    response.headers["Location"] = f"/v1/campaigns/{campaign_id}"
    info = read_campaign(campaign_id, config, fresh=True)
    secret = api.callback_secret(campaign_id) if own_callback else None
    return CampaignCreated.of(info, secret)


def _callback(options: dict[str, Any], key: ApiKeyInfo) -> dict[str, Any]:
    """The campaign's own callback_url (its own secret signs), else the key's default."""
    if options.get("callback_url") is None and key.callback_url is not None:
        return {**options, "callback_url": key.callback_url, "callback_key_id": key.id}
    return options


@router.post("/campaigns", status_code=status.HTTP_201_CREATED, responses=ERRORS)
def submit(
    body: CampaignIn,
    config: Config,
    key: ApiKey,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CampaignCreated:
    """Submit a campaign with its recipients in the body (``submit_campaign``).

    With its own ``callback_url``, the answer holds ``callback_secret``, once; without one,
    the API key's default ``callback_url`` (if it has one) applies, signed with its secret.
    """
    options = body.model_dump(exclude={"recipients"})
    campaign_id = api.submit_campaign(
        recipients=body.recipients, idempotency_key=idempotency_key,
        **_callback(options, key), **_where(config),
    )  # fmt: skip
    return _created(campaign_id, config, response, body.callback_url is not None)


@router.post("/campaigns/csv", status_code=status.HTTP_201_CREATED, responses=ERRORS)
def submit_csv(
    upload: Upload,
    config: Config,
    key: ApiKey,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CampaignCreated:
    """Submit a campaign whose recipients are an uploaded CSV (multipart ``recipients``)."""
    with spooled_csv(upload.recipients) as path:
        campaign_id = api.submit_campaign(
            recipients=path, idempotency_key=idempotency_key,
            **_callback(_options(upload), key), **_where(config),
        )  # fmt: skip
    return _created(campaign_id, config, response, upload.callback_url is not None)


@router.post("/estimates", responses=ERRORS)
def estimate(body: EstimateIn, config: Config) -> Estimate:
    """What submitting this would plan, writing nothing (``estimate``)."""
    options = body.model_dump(exclude={"recipients"})
    result = api.estimate(recipients=body.recipients, **options, **_where(config))
    return result


@router.post("/estimates/csv", responses=ERRORS)
def estimate_csv(upload: Upload, config: Config, check_balance: bool = True) -> Estimate:
    """The estimate of an uploaded CSV (multipart ``recipients``)."""
    with spooled_csv(upload.recipients) as path:
        result = api.estimate(
            recipients=path, check_balance=check_balance, **_options(upload),
            **_where(config),
        )  # fmt: skip
    return result


@router.get("/campaigns", responses=ERRORS)
def list_campaigns(
    config: Config,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 20,
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="next_cursor of the page before")
    ] = None,
    state: CampaignState | None = None,
) -> CampaignPage:
    """Campaigns, newest first, a page at a time."""
    ids = campaign_ids(limit + 1, before_id=cursor, state=state, database_url=config.database_url)
    page = [read_campaign(i, config) for i in ids[:limit]]
    more = len(ids) > limit
    return CampaignPage(campaigns=page, next_cursor=str(ids[limit - 1]) if more else None)


@router.get("/campaigns/{campaign_id:int}", responses=ERRORS)
async def get_campaign(campaign_id: CampaignId, config: Config) -> CampaignInfo:
    """One campaign: state (and why), counts per state and per account (``get_campaign``)."""
    # The route pollers hit: async, so that only the read takes a worker thread (a sync
    # route also validates its answer in one; bench.api: two hops fewer per call).
    return await run_in_threadpool(read_campaign, campaign_id, config)


@router.post("/campaigns/{campaign_id:int}/pause", responses=ERRORS)
def pause(campaign_id: CampaignId, config: Config, body: PauseIn | None = None) -> CampaignInfo:
    """Pause before the next batch (``pause_campaign``); 409 when it cannot be paused."""
    reason = body.reason if body is not None else None
    api.pause_campaign(campaign_id, reason, database_url=config.database_url)
    return read_campaign(campaign_id, config, fresh=True)


@router.post("/campaigns/{campaign_id:int}/resume", responses=ERRORS)
def resume(campaign_id: CampaignId, config: Config) -> CampaignInfo:
    """Resume a paused campaign (``resume_campaign``); sent numbers are never sent again."""
    api.resume_campaign(campaign_id, database_url=config.database_url, accounts=config.accounts)
    return read_campaign(campaign_id, config, fresh=True)


@router.post("/campaigns/{campaign_id:int}/cancel", responses=ERRORS)
def cancel(campaign_id: CampaignId, config: Config) -> CancelOut:
    """Cancel: every unsent number becomes cancelled (``cancel_campaign``)."""
    count = api.cancel_campaign(campaign_id, database_url=config.database_url)
    return CancelOut(cancelled=count, campaign=read_campaign(campaign_id, config, fresh=True))


@router.post("/campaigns/{campaign_id:int}/retry-failed", responses=ERRORS)
def retry_failed(campaign_id: CampaignId, config: Config) -> RetryOut:
    """Plan the failed numbers again, never the sent ones (``retry_failed``)."""
    count = api.retry_failed(
        campaign_id, database_url=config.database_url, accounts=config.accounts
    )
    return RetryOut(retried=count, campaign=read_campaign(campaign_id, config, fresh=True))
