"""smsq campaigns: submit a text or template to a list of numbers, watch it, steer it.

The public API (implemented in ``campaigns.api`` and the modules it names)::

    from campaigns import submit_campaign, get_campaign
    campaign_id = submit_campaign("nepal", "numbers.csv", text="Namaste {name}!")
    print(get_campaign(campaign_id).recipients)

Errors are ``CampaignError`` subclasses (``campaigns.errors``) whose messages name the
field and the row. Names are imported on first use, so that ``import campaigns.models``
(the worker, the CLI) does not pay for the planner's imports (phonenumbers, alembic).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from campaigns.api import (
        CampaignInfo,
        Estimate,
        Problem,
        RecipientInfo,
        Sample,
        SuppressionInfo,
        cancel_campaign,
        estimate,
        get_campaign,
        iter_recipients,
        iter_suppressions,
        pause_campaign,
        resume_campaign,
        retry_failed,
        submit_campaign,
        suppress,
        unsuppress,
    )
    from campaigns.errors import (
        CampaignError,
        CampaignNotFound,
        IdempotencyConflict,
        InputError,
        InvalidState,
        InvalidTemplate,
        MissingPlaceholder,
        NothingToSend,
        TextTooLong,
        UnknownAccount,
    )
    from campaigns.handoff import set_dispatcher
    from campaigns.messages import MessageInfo, MessageNotFound, get_message, send_message
    from campaigns.schema import upgrade

__all__ = [
    "CampaignError",
    "CampaignInfo",
    "CampaignNotFound",
    "Estimate",
    "IdempotencyConflict",
    "InputError",
    "InvalidState",
    "InvalidTemplate",
    "MessageInfo",
    "MessageNotFound",
    "MissingPlaceholder",
    "NothingToSend",
    "Problem",
    "RecipientInfo",
    "Sample",
    "SuppressionInfo",
    "TextTooLong",
    "UnknownAccount",
    "cancel_campaign",
    "estimate",
    "get_campaign",
    "get_message",
    "iter_recipients",
    "iter_suppressions",
    "pause_campaign",
    "resume_campaign",
    "retry_failed",
    "send_message",
    "set_dispatcher",
    "submit_campaign",
    "suppress",
    "unsuppress",
    "upgrade",
]

# Where each public name lives (imported on first use).
_HOME: dict[str, str] = {
    "CampaignError": "campaigns.errors",
    "CampaignNotFound": "campaigns.errors",
    "IdempotencyConflict": "campaigns.errors",
    "InputError": "campaigns.errors",
    "InvalidState": "campaigns.errors",
    "InvalidTemplate": "campaigns.errors",
    "MissingPlaceholder": "campaigns.errors",
    "NothingToSend": "campaigns.errors",
    "TextTooLong": "campaigns.errors",
    "UnknownAccount": "campaigns.errors",
    "CampaignInfo": "campaigns.api",
    "Estimate": "campaigns.api",
    "Problem": "campaigns.api",
    "RecipientInfo": "campaigns.api",
    "Sample": "campaigns.api",
    "SuppressionInfo": "campaigns.api",
    "cancel_campaign": "campaigns.api",
    "estimate": "campaigns.api",
    "get_campaign": "campaigns.api",
    "iter_recipients": "campaigns.api",
    "iter_suppressions": "campaigns.api",
    "pause_campaign": "campaigns.api",
    "resume_campaign": "campaigns.api",
    "retry_failed": "campaigns.api",
    "submit_campaign": "campaigns.api",
    "suppress": "campaigns.api",
    "unsuppress": "campaigns.api",
    "set_dispatcher": "campaigns.handoff",
    "MessageInfo": "campaigns.messages",
    "MessageNotFound": "campaigns.messages",
    "get_message": "campaigns.messages",
    "send_message": "campaigns.messages",
    "upgrade": "campaigns.schema",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'campaigns' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
