"""The reference path (30-60 µs a number): phonenumbers itself, ``parse`` + ``number_type``.

This is the oracle the fast path is proven against (tests compare both paths, result and
reason, on 20,000 generated inputs per format), so it reads on its own: it imports only the
cleaning policy, the shared types and reason wording, and phonenumbers, nothing of the fast
path or its compiled metadata. It decides every number the fast path leaves to it and words
every reason, among them Côte d'Ivoire's "old 8-digit format" (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberType

from campaigns.numbers.cleaning import clean
from campaigns.numbers.model import InvalidNumber, Normalized, Target
from campaigns.numbers.reasons import ANY_VALID_TYPE, MOBILE_TYPES, TYPE_REASONS, kind, sized

_CI_COUNTRY_CODE: Final = 225
_CI_OLD_NSN_DIGITS: Final = 8


def _parse(text: str, region: str | None, types: frozenset[int]) -> PhoneNumber | str:
    """The parsed number, or the reason phonenumbers could not parse it."""
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            return "unknown country code"
        problem = "too long" if exc.error_type == NumberParseException.TOO_LONG else "too short"
        return sized(problem, None if text.startswith("+") else region, types)


def _invalid_reason(number: PhoneNumber, types: frozenset[int]) -> str:
    """Why a parsed number that phonenumbers calls invalid is not acceptable."""
    nsn = phonenumbers.national_significant_number(number)
    region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    if number.country_code == _CI_COUNTRY_CODE and len(nsn) == _CI_OLD_NSN_DIGITS:
        return (
            "old 8-digit format: Côte d'Ivoire numbers have 10 digits since 2021 "
            "(01, 05 or 07 in front, by operator)"
        )
    wanted = PhoneNumberType.MOBILE if types == MOBILE_TYPES else PhoneNumberType.UNKNOWN
    length = phonenumbers.is_possible_number_for_type_with_reason(number, wanted)
    if length == phonenumbers.ValidationResult.TOO_SHORT:
        return sized("too short", region, types)
    if length == phonenumbers.ValidationResult.TOO_LONG:
        return sized("too long", region, types)
    if length == phonenumbers.ValidationResult.INVALID_LENGTH:
        return sized("wrong length", region, types)
    return "not " + kind(region, types)


def _judge(
    parsed: PhoneNumber | str, country: str | None, types: frozenset[int]
) -> tuple[PhoneNumber, str] | tuple[None, str]:
    """(number, region) when acceptable, else (None, reason). ``country``: required region."""
    if isinstance(parsed, str):
        return None, parsed
    if country is not None and parsed.country_code != phonenumbers.country_code_for_region(country):
        other = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
        return None, f"not {kind(country, types)}: +{parsed.country_code} ({other})"
    region = phonenumbers.region_code_for_number(parsed)
    if region is None or not phonenumbers.is_valid_number(parsed):
        return None, _invalid_reason(parsed, types)
    number_type = phonenumbers.number_type(parsed)
    if number_type not in types:
        return None, TYPE_REASONS.get(number_type, "not a mobile number")
    return parsed, region


def _is_valid(parsed: PhoneNumber | str) -> bool:
    return isinstance(parsed, PhoneNumber) and bool(phonenumbers.is_valid_number(parsed))


def _explains(second: PhoneNumber | str, intl: bool) -> bool:
    """Whether digits too long for home are better explained as another country's number:
    a valid one for SMSPresto (which could take it), a valid mobile one for the others
    (an 11-digit Nepali typo also reads as a valid Iranian landline, +98)."""
    if not _is_valid(second):
        return False
    assert isinstance(second, PhoneNumber)
    return intl or phonenumbers.number_type(second) in MOBILE_TYPES


def lookup(
    home: str | None, plus: bool, digits: str, intl: bool, types: frozenset[int], raw: str
) -> tuple[PhoneNumber, str]:
    """(number, region) as phonenumbers reads cleaned digits, or InvalidNumber with the reason.

    Without ``+``, digits are read in ``home`` first; when that is not a valid number of any
    type, as international digits missing their ``+``: accepted when ``intl`` (or when they
    are a home number after all); when too long for ``home`` and that reading is a valid
    number, it gives the reason (so ``919876543210`` for a Nepali gateway says "+91 (IN)").
    """
    if plus or home is None:
        international = digits[2:] if not plus and digits.startswith("00") else digits
        first = _parse("+" + international, home, types)
    else:
        first = _parse(digits, home, types)
    country = None if intl else home
    number, verdict = _judge(first, country, types)
    if number is not None:
        return number, verdict
    if not plus and home is not None and not _is_valid(first):
        second = _parse("+" + digits, None, types)
        number, second_verdict = _judge(second, country, types)
        if number is not None:
            return number, second_verdict
        if verdict.startswith("too long") and _explains(second, intl):
            verdict = second_verdict
    raise InvalidNumber(verdict, raw)


def _e164(number: PhoneNumber) -> str:
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:])


def cleaned_normalizer(target: Target) -> Callable[[bool, str, str], Normalized]:
    """(has_plus, cleaned digits, raw input) -> Normalized for ``target``, or InvalidNumber.

    What the fast path hands over whatever it cannot decide, and the core of :func:`normalizer`.
    """
    home, intl, national_msisdn = target.home, target.intl, target.national_msisdn

    def normalized(plus: bool, digits: str, raw: str) -> Normalized:
        number, region = lookup(home, plus, digits, intl, MOBILE_TYPES, raw)
        e164 = _e164(number)
        nsn = phonenumbers.national_significant_number(number)
        return Normalized(nsn if national_msisdn else e164, e164, region)

    return normalized


def normalizer(target: Target) -> Callable[[str], Normalized]:
    """A function from one pasted number to a Normalized for ``target``: phonenumbers parses
    every number (slow). Same results and reasons as the fast path."""
    normalized = cleaned_normalizer(target)

    def normalize(raw: str) -> Normalized:
        plus, digits = clean(raw)
        return normalized(plus, digits, raw)

    return normalize


def valid_e164(home: str | None, plus: bool, digits: str, raw: str) -> str:
    """E.164 digits (no ``+``) of any valid number, mobile or not, as phonenumbers reads the
    cleaned digits (``home``: where numbers without a country code are read first)."""
    number, _ = lookup(home, plus, digits, True, ANY_VALID_TYPE, raw)
    return _e164(number)
