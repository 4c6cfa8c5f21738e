"""The dashboard's pages: campaigns with live bars, a campaign's page, its steering buttons.

Each page is one read of the Python API (``campaign_ids``, ``get_campaign``,
``iter_recipients``) rendered by a template; each button is a POST form (with the session's
CSRF token) that calls one domain function (``pause_campaign``, ``resume_campaign``,
``cancel_campaign``, ``retry_failed``) and comes back to the campaign's page with what it
did. The bars move by ``static/dashboard.js`` polling ``/progress.json``.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from campaigns import api
from campaigns.api_keys import verify_key
from campaigns.errors import CampaignNotFound, InvalidState
from campaigns.models import CAMPAIGN_TERMINAL, CampaignState, RecipientState
from campaigns.status import CampaignInfo, campaign_ids
from smsq.api.deps import MAX_ID, ApiConfig
from smsq.api.recipients import csv_export
from smsq.dashboard.progress import progress
from smsq.dashboard.render import page, set_flash
from smsq.dashboard.session import CsrfChecked, LoggedIn, local_path, log_in, log_out

router = APIRouter(include_in_schema=False)
CAMPAIGNS_PER_PAGE = 20
RECIPIENTS_PER_PAGE = 50
POLL_IDS_MAX = 100
Cursor = Annotated[int | None, Query(ge=1, le=MAX_ID)]
RS = RecipientState
# The order states are listed in on a campaign's page: the live ones, outcomes, then planning's.
STATE_ORDER = (
    RS.PENDING, RS.IN_FLIGHT, RS.SENT, RS.DELIVERED, RS.FAILED, RS.UNKNOWN, RS.CANCELLED,
    RS.INVALID, RS.DUPLICATE, RS.SUPPRESSED, RS.REJECTED,
)  # fmt: skip

# Where retry_failed takes a campaign (campaigns.control): not before it has started.
_RETRYABLE = (CampaignState.RUNNING, CampaignState.PAUSED, CampaignState.COMPLETED,
              CampaignState.FAILED)  # fmt: skip


class Action(StrEnum):
    """The buttons of a campaign's page."""

    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    RETRY_FAILED = "retry-failed"


def _config(request: Request) -> ApiConfig:
    config: ApiConfig = request.app.state.config
    return config


def _read(request: Request, campaign_id: int) -> CampaignInfo:
    config = _config(request)
    return api.get_campaign(
        campaign_id, database_url=config.database_url, max_age_s=config.status_max_age_s
    )


def actions_of(info: CampaignInfo) -> list[Action]:
    """The buttons that make sense for the campaign as it stands (the domain still decides)."""
    state = info.state
    shown = []
    if state in (CampaignState.SCHEDULED, CampaignState.RUNNING):
        shown.append(Action.PAUSE)
    if state == CampaignState.PAUSED:
        shown.append(Action.RESUME)
    if info.recipients.get(RS.FAILED) and state in _RETRYABLE:
        shown.append(Action.RETRY_FAILED)
    if state not in CAMPAIGN_TERMINAL:
        shown.append(Action.CANCEL)
    return shown


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The login form: an API key (``smsq api-key create NAME``)."""
    return page(request, "login.html", {"next": local_path(next), "error": None})


@router.post("/login", dependencies=[CsrfChecked])
async def login(
    request: Request, key: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"
) -> Response:
    """Log in with an API key; 401 and the form again when it is unknown or revoked."""
    config = _config(request)
    found = await run_in_threadpool(verify_key, key.strip(), database_url=config.database_url)
    if found is None:
        error = "That key is unknown or revoked. Make one with: smsq api-key create NAME"
        context = {"next": local_path(next), "error": error}
        return page(request, "login.html", context, status_code=401)
    log_in(request, found)
    return RedirectResponse(local_path(next), status_code=303)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request) -> Response:
    """End the session."""
    log_out(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def campaigns(
    request: Request, key: LoggedIn, state: CampaignState | None = None, before: Cursor = None
) -> Response:
    """Campaigns, newest first, with a live bar each; ``state`` filters, ``before`` pages."""
    config = _config(request)
    ids = campaign_ids(
        CAMPAIGNS_PER_PAGE + 1, before_id=before, state=state, database_url=config.database_url
    )
    infos = [_read(request, i) for i in ids[:CAMPAIGNS_PER_PAGE]]
    more = len(ids) > CAMPAIGNS_PER_PAGE
    context = {
        "key": key, "rows": [(info, progress(info)) for info in infos], "state": state,
        "states": list(CampaignState), "before": before,
        "next_before": ids[CAMPAIGNS_PER_PAGE - 1] if more else None,
    }  # fmt: skip
    return page(request, "campaigns.html", context)


@router.get("/campaigns/{campaign_id:int}")
def campaign(
    request: Request,
    campaign_id: int,
    key: LoggedIn,
    state: RecipientState | None = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Response:
    """One campaign: counts per state, why it paused or failed, its schedule and window, its
    accounts, and its recipients (of one ``state`` if given) a page at a time."""
    config = _config(request)
    try:
        info = _read(request, campaign_id)
        rows = api.iter_recipients(
            campaign_id, state, database_url=config.database_url, after_id=after
        )
    except CampaignNotFound:
        return not_found(request, f"There is no campaign #{campaign_id}.", key=key)
    recipients = list(itertools.islice(rows, RECIPIENTS_PER_PAGE + 1))
    more = len(recipients) > RECIPIENTS_PER_PAGE
    recipients = recipients[:RECIPIENTS_PER_PAGE]
    counts = [(s, info.recipients[s]) for s in STATE_ORDER if info.recipients.get(s)]
    context = {
        "key": key, "info": info, "p": progress(info), "actions": actions_of(info),
        "counts": counts, "state": state, "after": after, "recipients": recipients,
        "next_after": recipients[-1].id if more else None,
        "shown_total": info.recipients.get(state, 0) if state else info.recipients_total,
    }  # fmt: skip
    return page(request, "campaign.html", context)


@router.get("/campaigns/{campaign_id:int}/recipients.csv")
def export(
    request: Request, campaign_id: int, key: LoggedIn, state: RecipientState | None = None
) -> Response:
    """The CSV button: the API's streamed export, behind the session instead of a key."""
    try:
        response: StreamingResponse = csv_export(
            campaign_id, state, database_url=_config(request).database_url
        )
    except CampaignNotFound:
        return not_found(request, f"There is no campaign #{campaign_id}.", key=key)
    return response


@router.post("/campaigns/{campaign_id:int}/{action}", dependencies=[CsrfChecked])
def steer(request: Request, campaign_id: int, action: Action, key: LoggedIn) -> Response:
    """Pause, resume, cancel or retry the failed numbers, then back to the campaign's page
    saying what happened (or why not: a campaign that has moved on meanwhile)."""
    config = _config(request)
    try:
        said = _steer(config, campaign_id, action, key.name)
    except CampaignNotFound:
        return not_found(request, f"There is no campaign #{campaign_id}.", key=key)
    except InvalidState as refused:
        set_flash(request, "error", str(refused))
    else:
        set_flash(request, "ok", said)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


def _steer(config: ApiConfig, campaign_id: int, action: Action, who: str) -> str:
    where = config.database_url
    if action == Action.PAUSE:
        reason = f"paused from the dashboard ({who})"
        api.pause_campaign(campaign_id, reason, database_url=where)
        return f"Campaign #{campaign_id} paused: no new batch starts; those in flight finish."
    if action == Action.RESUME:
        state = api.resume_campaign(campaign_id, database_url=where, accounts=config.accounts)
        return f"Campaign #{campaign_id} resumed: {state}."
    if action == Action.CANCEL:
        count = api.cancel_campaign(campaign_id, database_url=where)
        return f"Campaign #{campaign_id} cancelled: {count} unsent numbers will not be sent."
    count = api.retry_failed(campaign_id, database_url=where, accounts=config.accounts)
    return f"Campaign #{campaign_id}: {count} failed numbers planned again."


def _ids(text: str) -> list[int]:
    ids = []
    for part in text.split(",")[:POLL_IDS_MAX]:
        if part.strip().isdigit() and 0 < int(part) <= MAX_ID:
            ids.append(int(part))
    return ids


@router.get("/progress.json")
def progress_json(
    request: Request, key: LoggedIn, ids: Annotated[str, Query(max_length=2000)] = ""
) -> JSONResponse:
    """What the bars poll: the progress of each campaign named in ``ids`` (comma separated;
    the ones that do not exist are left out), with its state and reason."""
    found: list[dict[str, Any]] = []
    for campaign_id in _ids(ids):
        try:
            info = _read(request, campaign_id)
        except CampaignNotFound:
            continue
        found.append({**progress(info).as_json(), "state": info.state, "reason": info.reason})
    return JSONResponse({"campaigns": found}, headers={"Cache-Control": "no-store"})


def not_found(request: Request, message: str, **context: Any) -> Response:
    """The dashboard's 404 page."""
    return page(request, "error.html", {"status": 404, "title": "Not found", "message": message,
                                         **context}, status_code=404)  # fmt: skip
