"""How a refused number's reason is worded, and which phonenumbers types each caller accepts.

Both paths word their reasons from here, so that a number gets the same words whichever path
refuses it: the fast path only for the cheap cases (a landline, too short for the country),
the reference path for every reason.
"""

from __future__ import annotations

from typing import Final

from phonenumbers import PhoneNumberType

# What normalizer() accepts (a mobile), and what to_e164() accepts (any valid number).
MOBILE_TYPES: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
ANY_VALID_TYPE: Final = frozenset(PhoneNumberType.values()) - {PhoneNumberType.UNKNOWN}

TYPE_REASONS: Final = {
    PhoneNumberType.FIXED_LINE: "fixed-line number, not a mobile",
    PhoneNumberType.TOLL_FREE: "toll-free number, not a mobile",
    PhoneNumberType.PREMIUM_RATE: "premium-rate number, not a mobile",
    PhoneNumberType.SHARED_COST: "shared-cost number, not a mobile",
    PhoneNumberType.VOIP: "VoIP number, not a mobile",
    PhoneNumberType.PERSONAL_NUMBER: "personal (follow-me) number, not a mobile",
    PhoneNumberType.PAGER: "pager number, not a mobile",
    PhoneNumberType.UAN: "company (UAN) number, not a mobile",
    PhoneNumberType.VOICEMAIL: "voicemail number, not a mobile",
}

# How a reason names the numbers of the fixed-country gateways' regions.
_ADJECTIVES: Final = {"NP": "a Nepali", "BD": "a Bangladeshi", "AZ": "an Azerbaijani"}


def kind(region: str | None, types: frozenset[int]) -> str:
    """How a reason names the number wanted: "a Nepali mobile number", "a number in CI"."""
    wanted = "mobile number" if types == MOBILE_TYPES else "number"
    if region in _ADJECTIVES:
        return f"{_ADJECTIVES[region]} {wanted}"
    return f"a {wanted} in {region}" if region else f"a {wanted}"


def sized(problem: str, region: str | None, types: frozenset[int]) -> str:
    """``problem`` ("too short") said of the number wanted in ``region`` (if known)."""
    return f"{problem} for {kind(region, types)}" if region else problem
