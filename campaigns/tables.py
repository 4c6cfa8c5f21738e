"""The Core ``Table`` objects of the models, typed as tables for SQL built by hand.

Bulk planning and the API's compare-and-set updates use Core statements rather than the ORM;
``Model.__table__`` is typed as a generic ``FromClause``, so it is cast here once.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from campaigns.models import (
    ApiKey,
    Batch,
    CallbackEvent,
    CallbackStream,
    Campaign,
    CampaignAccount,
    Recipient,
    Suppression,
)

CAMPAIGNS = cast(Table, Campaign.__table__)
CAMPAIGN_ACCOUNTS = cast(Table, CampaignAccount.__table__)
BATCHES = cast(Table, Batch.__table__)
RECIPIENTS = cast(Table, Recipient.__table__)
SUPPRESSIONS = cast(Table, Suppression.__table__)
API_KEYS = cast(Table, ApiKey.__table__)
CALLBACK_STREAMS = cast(Table, CallbackStream.__table__)
CALLBACK_EVENTS = cast(Table, CallbackEvent.__table__)
