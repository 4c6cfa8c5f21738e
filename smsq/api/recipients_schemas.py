"""Response schemas of ``/v1/campaigns/{id}/recipients``: the domain's ``RecipientInfo`` rows,
a page at a time."""

from __future__ import annotations

from pydantic import BaseModel

from campaigns.status import RecipientInfo


class RecipientPage(BaseModel):
    """Recipients in row order; ``next_cursor`` fetches the next page, None at the end."""

    recipients: list[RecipientInfo]
    next_cursor: str | None
