"""Request and response schemas of ``/v1/campaigns`` and ``/v1/estimates``: the Python API's
arguments as JSON (``submit_campaign``, ``estimate``). Its results are answered as they are:
the domain's dataclasses (``CampaignInfo``, ``Estimate``) are the response schemas, so the
API cannot drift from ``get_campaign``'s fields."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Annotated, Any

from fastapi import UploadFile
from pydantic import BaseModel, Field, WithJsonSchema

from campaigns.spec import DEFAULT_MAX_SEGMENTS
from campaigns.status import CampaignInfo
from smsq.api.body import Body

# A recipient as the Python API takes it: a number (text or digits), or an object with an
# "msisdn" (or phone/number/mobile) and the values of the text's {placeholders}. Any JSON
# value passes the schema: the Python API checks each row itself and names the row.
Recipient = Annotated[
    Any, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "object"}]})
]


class CampaignOptions(Body):
    """What a campaign sends, through what, and when: ``submit_campaign``'s arguments but
    the recipients. Exactly one of ``account`` and ``route``."""

    account: str | None = Field(None, description="a configured account's name")
    route: str | None = Field(None, description="a configured route's name")
    text: str | None = Field(None, description="the text; {column} placeholders allowed")
    template_id: int | None = Field(None, description="an SMSPlus.az template of the account")
    sender: str | None = None
    name: str | None = None
    send_at: datetime | None = Field(None, description="ISO 8601 with an offset; default now")
    window: tuple[str, str] | None = Field(None, description='daily hours ["HH:MM", "HH:MM"]')
    window_tz: str | None = Field(None, description="the window's time zone; default UTC")
    max_segments: int = DEFAULT_MAX_SEGMENTS
    strict: bool = Field(
        False, description="refuse the whole list when a row lacks a placeholder's value "
        "(default: that row is rejected, the rest sent)"
    )  # fmt: skip
    callback_url: str | None = Field(
        None, description="http(s) URL for signed status callbacks (default: the API key's)"
    )


class CampaignIn(CampaignOptions):
    """A campaign to submit (or estimate) with its recipients in the body."""

    recipients: list[Recipient] = Field(description="numbers, or objects with an msisdn")


class CampaignUpload(CampaignOptions):
    """A campaign (or estimate) as a multipart form: its options and the CSV of recipients."""

    recipients: UploadFile = Field(description="CSV: an msisdn column, one per placeholder")
    phone_column: str | None = Field(None, description="the number column, if not a known name")


class EstimateIn(CampaignIn):
    """An estimate: the same as a campaign, and whether to ask each gateway its balance."""

    check_balance: bool = True


@dataclass(frozen=True, slots=True)
class CampaignCreated(CampaignInfo):
    """A campaign just submitted: ``get_campaign``'s fields and, when the campaign named its
    own ``callback_url``, the secret that signs its callbacks. It is returned only here
    (and to a repeat of the same idempotent request): keep it."""

    callback_secret: str | None = None

    @classmethod
    def of(cls, info: CampaignInfo, secret: str | None) -> CampaignCreated:
        """``info`` with the secret."""
        values = {f.name: getattr(info, f.name) for f in fields(info)}
        return cls(**values, callback_secret=secret)


class CampaignPage(BaseModel):
    """Campaigns, newest first; ``next_cursor`` fetches the next (older) page, if any."""

    campaigns: list[CampaignInfo]
    next_cursor: str | None


class PauseIn(Body):
    """Why the campaign is paused (shown as its reason)."""

    reason: str | None = None


class CancelOut(BaseModel):
    """A cancelled campaign and how many of its numbers will not be sent."""

    cancelled: int
    campaign: CampaignInfo


class RetryOut(BaseModel):
    """How many failed numbers were planned again, and the campaign."""

    retried: int
    campaign: CampaignInfo
