"""Between E.164 and the gateways' formats, for numbers that are already known to be valid.

Routing reads every number once, to E.164, and then writes it the way the account it routes
to wants; failover moves a pending number to another account by reading its stored MSISDN
back to E.164. Both directions are exact: the one-country formats only take their country.
"""

from __future__ import annotations

from typing import Final

from providers._vocabulary import NumberFormat

# The country each one-country format takes, and its calling code (each one country's own,
# so a valid mobile number starting with it is a mobile number of that country).
FORMAT_COUNTRIES: Final = {
    NumberFormat.NP_NATIONAL: ("NP", "977"),
    NumberFormat.BD_INTL: ("BD", "880"),
    NumberFormat.AZ_INTL: ("AZ", "994"),
}


def for_gateway(e164: str, fmt: NumberFormat) -> str | None:
    """A valid mobile number's E.164 digits written for a gateway taking ``fmt``; None when
    that gateway cannot take the number's country (a Bangladeshi number for AakashSMS)."""
    if fmt is NumberFormat.INTL:
        return e164
    code = FORMAT_COUNTRIES[fmt][1]
    if not e164.startswith(code):
        return None
    return e164[len(code) :] if fmt is NumberFormat.NP_NATIONAL else e164


def to_e164_digits(msisdn: str, fmt: NumberFormat) -> str:
    """A stored gateway MSISDN back to E.164 digits (no "+")."""
    if fmt is NumberFormat.NP_NATIONAL:
        return FORMAT_COUNTRIES[fmt][1] + msisdn
    return msisdn


def country_of_format(fmt: NumberFormat) -> str | None:
    """The one country ``fmt`` takes, or None for the international format."""
    hit = FORMAT_COUNTRIES.get(fmt)
    return None if hit is None else hit[0]
