"""Small rules more than one imitated gateway shares: recipient lists and Nepali mobiles."""

from __future__ import annotations

import re

from providers.sandbox.record import Draft
from providers.sandbox.segments import segment_count

# AakashSMS: a 10-digit Nepali mobile (98x Ncell/NTC, 97x NTC, 96x Smart and others).
NP_MOBILE = re.compile(r"9[678]\d{8}")
NCELL_PREFIXES = ("980", "981", "982")  # the rest of the valid range is answered as NTC


def comma_list(value: str) -> list[str]:
    """Recipients of a comma list, trimmed; an empty entry stays (as an invalid number)."""
    if not value.strip():
        return []
    return [part.strip() for part in value.split(",")]


def np_mobile_ok(number: str) -> bool:
    """True for a number AakashSMS takes: 10 digits starting 98, 97 or 96."""
    return NP_MOBILE.fullmatch(number) is not None


def np_network(number: str) -> str:
    """The network AakashSMS v3 names for a valid number."""
    return "ncell" if number.startswith(NCELL_PREFIXES) else "ntc"


def draft(msisdn: str, text: str, price: float = 1.0, sender: str | None = None) -> Draft:
    """A message charged ``price`` per segment."""
    segments = segment_count(text)
    return Draft(msisdn, text, segments, segments * price, sender)
