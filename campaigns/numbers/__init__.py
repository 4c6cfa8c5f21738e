"""Phone number normalization: what people paste, turned into the MSISDN each gateway wants.

``normalizer(fmt)`` returns a function from one pasted number to a :class:`Normalized`
(gateway MSISDN, E.164 digits for the suppression list, ISO region) that raises
:class:`InvalidNumber` with a human reason for anything that cannot be a mobile number there.
``to_e164`` does the same for any valid number (mobile or not) for ``suppress()``.

A number is accepted when phonenumbers parses it to a valid number whose type is MOBILE or
FIXED_LINE_OR_MOBILE. Two paths give that answer, after one cleaning both share:

* ``cleaning``: separators, invisible characters and non-ASCII digits; letters refused.
* ``fast``: the fast path (1-2 µs), reading the digits with ``metadata``, each region's rules
  compiled once from phonenumbers' metadata. It decides valid mobiles, landlines and numbers
  too short for the country, and hands everything else to
* ``reference``: phonenumbers itself (30-60 µs), which also words the reason.
  ``reference_normalizer`` exposes it alone; tests prove both paths agree, result and reason,
  on 20,000 generated inputs per format. It imports nothing of the fast path.
* ``model`` and ``reasons``: the types and the reason wording both paths share.

This module reads the gateway formats and joins the paths. A leading ``00`` is the
international prefix wherever the region's is ``00`` (Nepal, Bangladesh, Azerbaijan, West
Africa). Per format:

* ``NP_NATIONAL`` (AakashSMS): the 10-digit national number, e.g. ``9841234567``.
* ``BD_INTL`` (AamarSMS): ``880`` + the 10-digit national number, e.g. ``8801712345678``.
* ``AZ_INTL`` (SMSPlus.az): ``994`` + the 9-digit national number, e.g. ``994501234567``.
* ``INTL`` (SMSPresto): country code + national number of any country, no ``+``. A number
  without ``+`` is read in ``default_region`` (default ``CI``) first; when that is not a valid
  number of any type there, it is read as international digits without the ``+``
  (``233241234567``), which is how SMSPresto's own lists write numbers.

Côte d'Ivoire moved to 10-digit numbers in 2021 (01 Moov, 05 MTN, 07 Orange in front of the old
8 digits). Old 8-digit numbers are rejected with the reason "old 8-digit format", not migrated:
the prefix follows the operator that held the number in 2021, which a list cannot tell us after
portability, and a wrong guess texts a stranger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from campaigns.numbers import fast, reference
from campaigns.numbers.cleaning import clean
from campaigns.numbers.metadata import rule
from campaigns.numbers.model import InvalidNumber, Normalized, Target
from providers._vocabulary import NumberFormat

__all__ = [
    "InvalidNumber",
    "Normalized",
    "normalizer",
    "reference_normalizer",
    "to_e164",
]

# The regions of the fixed-country gateways.
_FORMAT_REGIONS: Final = {
    NumberFormat.NP_NATIONAL: "NP",
    NumberFormat.BD_INTL: "BD",
    NumberFormat.AZ_INTL: "AZ",
}
DEFAULT_INTL_REGION: Final = "CI"


def _target(fmt: NumberFormat, default_region: str | None) -> Target:
    fmt = NumberFormat(fmt)
    if fmt is NumberFormat.INTL:
        region = (default_region or DEFAULT_INTL_REGION).upper()
        rule(region)  # raises ValueError for a region phonenumbers does not know
        return Target(region, intl=True, national_msisdn=False)
    region = _FORMAT_REGIONS[fmt]
    if default_region is not None and default_region.upper() != region:
        raise ValueError(
            f"default_region {default_region!r} contradicts {fmt.value}, which only takes "
            f"{region} numbers"
        )
    return Target(region, intl=False, national_msisdn=fmt is NumberFormat.NP_NATIONAL)


def normalizer(fmt: NumberFormat, default_region: str | None = None) -> Callable[[str], Normalized]:
    """A function normalizing one pasted number for gateways taking ``fmt``.

    The function returns a :class:`Normalized` or raises :class:`InvalidNumber`.
    ``default_region`` (ISO code) is where numbers without a country code belong: for ``INTL``
    it defaults to ``"CI"``; for the one-country formats it may only repeat their country
    (a different one raises ValueError here, at configuration time, not per number).
    """
    target = _target(fmt, default_region)
    return fast.normalizer(target, reference.cleaned_normalizer(target))


def reference_normalizer(
    fmt: NumberFormat, default_region: str | None = None
) -> Callable[[str], Normalized]:
    """:func:`normalizer` without the fast path: phonenumbers parses every number (slow).

    Same inputs, same results and reasons; kept for the agreement tests and the benchmark.
    """
    return reference.normalizer(_target(fmt, default_region))


def to_e164(raw: str, default_region: str | None = None) -> str:
    """E.164 digits (no ``+``) of any valid number, mobile or not, for the suppression list.

    Without ``default_region`` every number is read as international (``+`` or ``00`` optional);
    with it, numbers without a country code are read there first. Raises InvalidNumber.
    """
    plus, digits = clean(raw)
    home = default_region.upper() if default_region else None
    home_rule = rule(home) if home else None
    found = fast.lookup(home_rule, plus, digits, intl=True)
    if found is not None:
        found_rule, reading = found
        return found_rule.cc + (reading if isinstance(reading, str) else reading.nsn)
    return reference.valid_e164(home, plus, digits, raw)
