"""What a user can get wrong when submitting or steering a campaign: the CampaignError family.

Messages name the field and, for input rows, the row (1-based position in the submitted list,
the CSV header not counted), so the user can fix the input without guessing.
"""

from __future__ import annotations


class CampaignError(Exception):
    """Raised when a campaign operation cannot proceed; the base of every error below."""


class UnknownAccount(CampaignError):
    """Raised when an account name is not among the configured accounts."""


class InputError(CampaignError):
    """Raised when the recipient list or an argument is unusable (unreadable CSV, no number
    column, a bad column, a naive send time, a malformed send window, an invalid number)."""


class MissingPlaceholder(InputError):
    """Raised when a row has no value (or an empty one) for a placeholder of the text."""


class TextTooLong(CampaignError):
    """Raised when the campaign's text exceeds the gateway's or the caller's hard limit."""


class InvalidTemplate(CampaignError):
    """Raised when a template id is missing, unknown to the account, or unusable here."""


class CampaignNotFound(CampaignError):
    """Raised when no campaign has the given id."""


class InvalidState(CampaignError):
    """Raised when a campaign's state forbids the operation (pausing a completed campaign)."""


class NothingToSend(CampaignError):
    """Raised when a submission holds no sendable number (all invalid, duplicate, suppressed)."""


class IdempotencyConflict(CampaignError):
    """Raised when an idempotency key is reused for a different request (another account,
    route, text, template, sender or recipient list): the message names what differs."""
