"""What every adapter speaks: a batch to send, one result per number, a gateway's limits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

# A placeholder of a campaign text or an approved template: ``{name}``, or ``{name|default}``
# with the value a row without one gets. campaigns.render fills them; the SMSPlus.az adapter
# counts a template's parameters by the same rule (groups: the name, the default or None).
PLACEHOLDER_RE: Final = re.compile(r"\{(\w+)(?:\|([^{}]*))?\}")


class NumberFormat(StrEnum):
    """The normalized MSISDN shape a gateway wants in its recipient list."""

    NP_NATIONAL = "np_national"  # AakashSMS: 10-digit national Nepali mobile, e.g. 9841234567
    BD_INTL = "bd_intl"  # AamarSMS: 8801XXXXXXXXX, no "+"
    AZ_INTL = "az_intl"  # SMSPlus.az: 994XXXXXXXXX, no "+"
    INTL = "intl"  # SMSPresto: international digits, no "+" (e.g. 2250707070707)


class ResultState(StrEnum):
    """Per-number outcome of one request, as the gateway told it."""

    SENT = "sent"  # accepted by the gateway
    FAILED = "failed"  # the gateway refused this number (code kept)
    UNKNOWN = "unknown"  # the answer does not say whether this number was accepted


@dataclass(frozen=True, slots=True)
class Batch:
    """One gateway request's worth of recipients, already normalized for that gateway.

    Exactly one of ``text`` (same text for everyone), ``texts`` (one text per recipient,
    aligned with ``msisdns``) or ``template_id`` (+ optional ``params``, one tuple of up to
    three values per recipient) is set.
    """

    msisdns: tuple[str, ...]
    text: str | None = None
    texts: tuple[str, ...] | None = None
    template_id: int | None = None
    params: tuple[tuple[str, ...], ...] | None = None
    sender: str | None = None

    def __post_init__(self) -> None:
        forms = sum(x is not None for x in (self.text, self.texts, self.template_id))
        if forms != 1:
            raise ValueError("a Batch takes exactly one of text, texts or template_id")
        if self.texts is not None and len(self.texts) != len(self.msisdns):
            raise ValueError("texts must align with msisdns")
        if self.params is not None and len(self.params) != len(self.msisdns):
            raise ValueError("params must align with msisdns")


@dataclass(frozen=True, slots=True)
class NumberResult:
    """The outcome for one number of a batch, with the gateway's own words kept verbatim."""

    msisdn: str
    state: ResultState
    provider_message_id: str | None = None
    network: str | None = None
    credits: float | None = None  # credits or cost charged for this number, as the gateway counts
    code: str | None = None  # the gateway's code, verbatim
    message: str | None = None  # the gateway's message, verbatim


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request to a gateway may hold. Planning splits campaigns to fit these."""

    max_recipients: int  # numbers per request
    number_format: NumberFormat
    default_rate_per_s: float  # requests per second when the account sets none
    max_url_chars: int | None = None  # GET gateways: whole URL after percent-encoding
    max_text_chars: int | None = None  # hard limit in characters after substitution
    text_per_recipient: bool = False  # one request may carry a different text per number
    template_params: int = 0  # >0: template id + up to this many parameter arrays
    unique_numbers: bool = False  # the gateway rejects a request that repeats a number
    sender_max_chars: int | None = None  # longest sender name the gateway accepts
    # What the gateway charges in: "credits" (a credit per segment) or a currency (AamarSMS
    # charges money, BDT); NumberResult.credits and balances are in this unit.
    credit_unit: str = "credits"
    credential_names: tuple[str, ...] = field(default_factory=tuple)
