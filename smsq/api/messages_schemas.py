"""Request schema of ``/v1/messages``: ``send_message``'s arguments as JSON. Its answer is the
domain's ``MessageInfo`` as it is, so the API cannot drift from ``get_message``'s fields."""

from __future__ import annotations

from pydantic import Field

from campaigns.spec import DEFAULT_MAX_SEGMENTS
from smsq.api.body import Body


class MessageIn(Body):
    """One message to send now. Exactly one of ``account`` and ``route``; ``text`` for text
    gateways, ``template_id`` for SMSPlus.az."""

    number: str = Field(description="with country code, or national for the account's region")
    text: str | None = Field(None, description="the text of the message")
    template_id: int | None = Field(None, description="an SMSPlus.az template of the account")
    account: str | None = Field(None, description="a configured account's name")
    route: str | None = Field(None, description="a configured route's name")
    sender: str | None = None
    max_segments: int = DEFAULT_MAX_SEGMENTS
