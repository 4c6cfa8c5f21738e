"""Phone number normalization: what people paste, turned into the MSISDN each gateway wants.

``normalizer(fmt)`` returns a function from one pasted number to a :class:`Normalized`
(gateway MSISDN, E.164 digits for the suppression list, ISO region) that raises
:class:`InvalidNumber` with a human reason for anything that cannot be a mobile number there.
``to_e164`` does the same for any valid number (mobile or not) for ``suppress()``.

Validity is Google's libphonenumber metadata (``phonenumbers``), never a hand-kept prefix list:
a number is accepted when phonenumbers parses it to a valid number whose type is MOBILE or
FIXED_LINE_OR_MOBILE. Two paths give that answer:

* The fast path (1-2 µs) cleans the input with one ``bytes.translate``, strips ``+``, an
  international prefix, the country code or a trunk prefix exactly where phonenumbers' own
  parsing rules would, and matches the national number against one regex per length built from
  the region's metadata (mobile pattern, inside the general pattern, minus the premium, toll-free,
  VoIP, ... patterns phonenumbers checks first). It accepts valid mobiles and rejects the two
  common cheap cases, landlines and numbers shorter than any in the country, with
  phonenumbers' own verdict and wording. Whatever it cannot decide (shared country codes such
  as +1 and +7, carrier-code prefixes, every other rejection) goes to
* the reference path: ``phonenumbers.parse`` + ``number_type`` (30-60 µs), which also words the
  reason. ``reference_normalizer`` exposes it alone; tests prove both paths agree, result and
  reason, on 20,000 generated inputs per format.

Input policy (both paths): whitespace (any Unicode space, tab, NBSP), BOM and other invisible
format characters, dashes, dots, slashes and parentheses are dropped; ``+`` is allowed only first;
any Unicode decimal digit (Bengali ০-৯, Devanagari ०-९, full-width ０-９ ...) reads as its ASCII
digit. Letters are refused ("contains letters"): phonenumbers would read ``98412x4567`` as a
number by dropping the ``x``, which is not what a campaign list wants. A leading ``00`` is the
international prefix wherever the region's is ``00`` (Nepal, Bangladesh, Azerbaijan, West Africa).

Per format:

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

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumber, PhoneNumberType

from providers._vocabulary import NumberFormat

__all__ = [
    "InvalidNumber",
    "Normalized",
    "normalizer",
    "reference_normalizer",
    "to_e164",
]


class InvalidNumber(ValueError):
    """Raised when a pasted number cannot be a (mobile) number in the format a gateway wants.

    ``reason`` says why in words a campaign author understands ("too short for a Nepali mobile
    number", "fixed-line number, not a mobile", "empty"); ``raw`` is the input as given. The
    message (``str(exc)``) is the reason alone, so logging the error does not log the number.
    """

    def __init__(self, reason: str, raw: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


@dataclass(frozen=True, slots=True)
class Normalized:
    """One accepted number: the gateway's MSISDN, E.164 digits (no ``+``) and ISO region."""

    msisdn: str
    e164: str
    region: str


# Building a frozen dataclass runs object.__setattr__ once per field (~0.6 µs, as much as the
# whole fast-path validation); the hot path fills the slots through their descriptors instead
# (~0.3 µs). Same object, as immutable afterwards.
def _slot_setter(name: str) -> Callable[[Normalized, str], None]:
    setter: Callable[[Normalized, str], None] = vars(Normalized)[name].__set__
    return setter


_NORMALIZED_BUILDER: Final = (
    object.__new__,
    _slot_setter("msisdn"),
    _slot_setter("e164"),
    _slot_setter("region"),
)


# The regions of the fixed-country gateways, and how a reason names their numbers.
_FORMAT_REGIONS: Final = {
    NumberFormat.NP_NATIONAL: "NP",
    NumberFormat.BD_INTL: "BD",
    NumberFormat.AZ_INTL: "AZ",
}
_ADJECTIVES: Final = {"NP": "a Nepali", "BD": "a Bangladeshi", "AZ": "an Azerbaijani"}
DEFAULT_INTL_REGION: Final = "CI"

_MOBILE_TYPES: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_ANY_VALID_TYPE: Final = frozenset(PhoneNumberType.values()) - {PhoneNumberType.UNKNOWN}
_TYPE_REASONS: Final = {
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
_CI_COUNTRY_CODE: Final = 225
_CI_OLD_NSN_DIGITS: Final = 8

# What pasting leaves around a number. ASCII inputs (nearly all) are cleaned with one
# bytes.translate, ~5x faster than str.translate with a dict table.
_SEPARATORS: Final = " \t\n\r\v\f-.()/"
_ASCII_SEPARATORS: Final = _SEPARATORS.encode("ascii")
_UNICODE_SEPARATORS: Final = frozenset(_SEPARATORS + "\u2212\uff0e\uff08\uff09\uff0f\u3002")
_UNICODE_SEPARATOR_CATEGORIES: Final = frozenset({"Zs", "Cf", "Pd"})  # spaces, BOM/LRM, dashes
_PLUS_SIGNS: Final = frozenset("+\uff0b")


# --- cleaning (policy shared by both paths) -------------------------------------------------


def _clean(raw: str) -> tuple[bool, str]:
    """``(has_plus, ascii_digits)`` of a pasted number, or InvalidNumber saying what is wrong."""
    if raw.isascii():
        if raw[:1] == "+" and raw[1:].isdigit():  # "+9779841234567": nothing to clean
            return True, raw[1:]
        cleaned = raw.encode("ascii").translate(None, _ASCII_SEPARATORS)
        if cleaned.isdigit():
            return False, cleaned.decode("ascii")
        if cleaned[:1] == b"+" and cleaned[1:].isdigit():
            return True, cleaned[1:].decode("ascii")
        text = cleaned.decode("ascii")
    else:
        text = "".join(_unicode_char(ch) for ch in raw)
        digits = text[1:] if text[:1] == "+" else text
        if digits.isdigit() and digits.isascii():
            return text[:1] == "+", digits
    raise InvalidNumber(_unreadable_reason(text), raw)


def _unicode_char(ch: str) -> str:
    """One character of a non-ASCII input: its ASCII digit, ``+``, nothing, or itself."""
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    if ch in _PLUS_SIGNS:
        return "+"
    if ch.isspace() or ch in _UNICODE_SEPARATORS:
        return ""
    if unicodedata.category(ch) in _UNICODE_SEPARATOR_CATEGORIES:
        return ""
    return ch


def _unreadable_reason(text: str) -> str:
    if not text:
        return "empty"
    if any(ch.isalpha() for ch in text):
        return "contains letters"
    body = text[1:] if text[0] == "+" else text
    stray = next((ch for ch in body if not (ch.isascii() and ch.isdigit())), None)
    if stray is None:
        return "empty"  # a lone "+"
    if stray == "+":
        return "misplaced '+' (only allowed first)"
    return f"unexpected character {stray!r}"


# --- the fast path: phonenumbers' metadata, compiled once per region -------------------------

_OTHER_TYPES_FIRST: Final = (  # checked before fixed-line/mobile by phonenumbers' number_type
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)
_ANY_LENGTH: Final = frozenset(range(1, 18))


class _NotValidHere:
    """Marker: the digits are not a valid number of any type in the region tried."""


_NOT_VALID: Final = _NotValidHere()


@dataclass(frozen=True, slots=True)
class _Landline:
    """A valid number phonenumbers types FIXED_LINE: no mobile, but one ``to_e164`` takes."""

    nsn: str


Reading = str | _Landline | None  # a valid mobile's national number, a landline, or "ask"
NationalReading = Reading | _NotValidHere


@dataclass(frozen=True, slots=True)
class _Rule:
    """One region's parsing and validity rules, compiled from phonenumbers' metadata.

    ``read_national(digits)`` reads digits written without ``+`` or international prefix;
    ``after_country_code(rest)`` reads what follows an explicit country code. Both return the
    national number of a valid mobile, a _Landline, or None when only phonenumbers can tell;
    ``read_national`` returns _NOT_VALID when the digits are no valid number of any type here.
    """

    region: str
    cc: str  # country calling code digits
    too_short_below: int  # fewer digits, without + or prefix, can only be "too short" (0: unsure)
    idd_literal: str  # international prefix when it is plain digits ("00"), else ""
    idd_other: re.Pattern[str] | None  # international prefix we leave to phonenumbers
    read_national: Callable[[str], NationalReading]
    after_country_code: Callable[[str], Reading]
    # The hot path's shortcut (see _shortcut): digits starting with none of ``shortcut_skip``
    # (country code, trunk, international prefix) are the national number itself; digits
    # starting with ``trunk`` but none of the others are it after the trunk prefix. None where
    # that would not be exact (a shared country code, prefixes that are patterns).
    shortcut_skip: tuple[str, ...] | None
    trunk: str  # the literal trunk prefix ("0"), or ""
    too_long_lengths: frozenset[int]  # digit counts phonenumbers calls TOO_LONG for a national
    mobile_regex: Callable[[int], re.Pattern[str] | None]


def _lengths(desc: object) -> frozenset[int]:
    lengths = getattr(desc, "possible_length", ()) or ()
    return frozenset(lengths) if lengths else _ANY_LENGTH


def _pattern(desc: object) -> str | None:
    pattern: str | None = getattr(desc, "national_number_pattern", None)
    return pattern or None


def _full(pattern: str) -> str:
    return f"(?:{pattern})\\Z"


def _type_regexes(meta: PhoneMetadata, mobile_wanted: bool) -> dict[int, re.Pattern[str]]:
    """Per national-number length, one regex fully matching exactly the numbers phonenumbers'
    ``number_type`` calls MOBILE or FIXED_LINE_OR_MOBILE (``mobile_wanted``), or FIXED_LINE.

    number_type checks the general pattern, then premium-rate, toll-free, ... (first match
    wins), then fixed-line (FIXED_LINE_OR_MOBILE when the mobile pattern matches too, or when
    the metadata says both patterns are the same), then mobile; each with its own lengths.
    """
    general = _pattern(meta.general_desc)
    same = meta.same_mobile_and_fixed_line_pattern
    if general is None or (same and not mobile_wanted):
        return {}
    regexes = {}
    for length in sorted(_lengths(meta.general_desc)):

        def matching(desc: object, length: int = length) -> str | None:
            pattern = _pattern(desc)
            return pattern if pattern and length in _lengths(desc) else None

        others = [p for name in _OTHER_TYPES_FIRST if (p := matching(getattr(meta, name)))]
        fixed, mobile = matching(meta.fixed_line), matching(meta.mobile)
        if mobile_wanted:
            wanted = fixed if same else mobile  # with `same`, number_type never reads mobile
            refuse = others
        else:
            wanted = fixed
            refuse = [*others, mobile] if mobile else others
        if wanted is None:
            continue
        refused = f"(?!{_full('|'.join(refuse))})" if refuse else ""
        regexes[length] = re.compile(f"{refused}(?={_full(general)})(?:{wanted})")
    return regexes


def _validity(
    meta: PhoneMetadata, mobile: Callable[[int], re.Pattern[str] | None]
) -> Callable[[str], Reading]:
    """National number -> itself if a valid mobile, _Landline if a landline, else None."""
    landline = _type_regexes(meta, mobile_wanted=False).get

    def valid(nsn: str) -> Reading:
        regex = mobile(len(nsn))
        if regex is not None and regex.fullmatch(nsn) is not None:
            return nsn
        regex = landline(len(nsn))
        return _Landline(nsn) if regex is not None and regex.fullmatch(nsn) else None

    return valid


def _readers(
    meta: PhoneMetadata, mobile: Callable[[int], re.Pattern[str] | None]
) -> tuple[Callable[[str], NationalReading], Callable[[str], Reading]]:
    """The two readers of a _Rule, mirroring phonenumbers.parse step by step (see there).

    Closures over locals, not methods: this runs once per number and attribute lookups show.
    A trunk prefix is stripped only when what remains is a valid number: phonenumbers strips
    it then too (the rest matches the general pattern and has a possible length).
    """
    assert meta.general_desc is not None
    cc = str(meta.country_code)
    general = re.compile(meta.general_desc.national_number_pattern or "(?!)")
    general_lengths = frozenset(meta.general_desc.possible_length)
    max_length = max(general_lengths)
    local_only = frozenset(meta.general_desc.possible_length_local_only)
    valid = _validity(meta, mobile)
    prefix = meta.national_prefix_for_parsing or ""
    # A plain-digit trunk prefix ("0") we strip ourselves; a pattern (carrier codes, transform
    # rules: Argentina, Brazil, ...) is left to phonenumbers whenever it matches.
    trunk = prefix if prefix.isdigit() and not meta.national_prefix_transform_rule else ""
    trunk_other = re.compile(prefix) if prefix and not trunk else None

    def after_country_code(rest: str) -> Reading:
        if trunk_other is not None and trunk_other.match(rest):
            return None
        if trunk and rest.startswith(trunk):  # +880 017..., as phonenumbers reads it
            rest = rest[len(trunk) :]
        return valid(rest)

    def read_national(digits: str) -> NationalReading:
        size = len(digits)
        if digits.startswith(cc) and (
            (size > max_length and size not in local_only) or not general.fullmatch(digits)
        ):
            # phonenumbers drops the region's own country code when the whole is no national
            # number (or too long for one): 9779841234567, 2250707070707, 97709841234567.
            # It tries the trunk prefix twice there (once with, once without a length check).
            rest = digits[len(cc) :]
            return None if trunk and rest.startswith(trunk * 2) else after_country_code(rest)
        if trunk_other is not None and trunk_other.match(digits):
            return None
        if trunk and digits.startswith(trunk):
            return after_country_code(digits)  # the same strip-if-valid rule
        reading = valid(digits)
        if reading is None and (size not in general_lengths or not general.fullmatch(digits)):
            return _NOT_VALID
        return reading

    return read_national, after_country_code


def _undecided(digits: str) -> None:
    return None


@cache
def _rule(region: str) -> _Rule:
    """The compiled rules of ``region`` (ISO code, upper case); ValueError if unknown."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        raise ValueError(f"unknown region {region!r}")
    cc, idd = str(meta.country_code), meta.international_prefix or ""
    prefix = meta.national_prefix_for_parsing or ""
    trunk = prefix if prefix.isdigit() and not meta.national_prefix_transform_rule else ""
    mobile = _type_regexes(meta, mobile_wanted=True).get
    shortcut_skip: tuple[str, ...] | None = None
    if len(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code or 0, ())) == 1:
        read_national, after_country_code = _readers(meta, mobile)
        if prefix == trunk and (not idd or idd.isdigit()):
            shortcut_skip = tuple(p for p in (cc, trunk, idd) if p)
    else:
        # A shared country code (+1, +7, +44, ...): phonenumbers judges a number against every
        # region of the code, so one region's patterns decide nothing. Always ask it.
        read_national, after_country_code = _undecided, _undecided
    mobile_local_only = meta.mobile.possible_length_local_only if meta.mobile else ()
    general_lengths = meta.general_desc.possible_length
    local_only = frozenset(meta.general_desc.possible_length_local_only)
    return _Rule(
        region=region,
        cc=cc,
        # Shorter than every possible length, no reading of the digits is a valid number;
        # phonenumbers then calls it TOO_SHORT for a mobile unless mobile numbers have
        # local-only lengths (none of NP, BD, AZ, CI do).
        too_short_below=0 if mobile_local_only else min(general_lengths),
        idd_literal=idd if idd.isdigit() else "",
        idd_other=re.compile(idd) if idd and not idd.isdigit() else None,
        read_national=read_national,
        after_country_code=after_country_code,
        shortcut_skip=shortcut_skip,
        trunk=trunk,
        too_long_lengths=frozenset(range(max(general_lengths) + 1, 21)) - local_only,
        mobile_regex=mobile,
    )


def _country_code_table() -> dict[str, tuple[int, str | None]]:
    """First three digits after ``+`` -> (country code length, region or None).

    phonenumbers takes the shortest known code that starts the digits, so three digits always
    decide it. The region is None for codes several regions share (+1, +7, +44, ...) and for
    non-geographic ones: the fast path leaves those to phonenumbers.
    """
    table: dict[str, tuple[int, str | None]] = {}
    for head in (f"{n:03d}" for n in range(1000)):
        for size in (1, 2, 3):
            regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(head[:size]))
            if regions and head[0] != "0":
                table[head] = (size, regions[0] if len(regions) == 1 else None)
                break
    return {head: hit for head, hit in table.items() if hit[1] != "001"}


_COUNTRY_CODE_BY_HEAD: Final = _country_code_table()
Found = tuple[_Rule, "str | _Landline"]


def _international(digits: str) -> Found | None:
    """Digits after ``+`` or an international prefix: (region rule, reading) or None."""
    hit = _COUNTRY_CODE_BY_HEAD.get(digits[:3])
    if hit is None or hit[1] is None:
        return None
    rule = _rule(hit[1])
    reading = rule.after_country_code(digits[hit[0] :])
    return None if reading is None else (rule, reading)


def _fast(home: _Rule | None, plus: bool, digits: str, intl: bool) -> Found | None:
    """(region rule, mobile national number or _Landline), or None: ask phonenumbers.

    ``home`` is the region numbers without a country code belong to (None: there is none, read
    every number as international); ``intl`` accepts any country and lets digits that are no
    valid number in ``home`` be read as international digits missing their ``+``.
    """
    if plus:
        found = _international(digits)
    elif home is None:
        found = _international(digits[2:] if digits.startswith("00") else digits)
    elif home.idd_other is not None and home.idd_other.match(digits):
        return None
    elif home.idd_literal and digits.startswith(home.idd_literal):
        rest = digits[len(home.idd_literal) :]
        # phonenumbers: no country code starts with 0, so "00" + "0..." is not an IDD
        found = _international(rest) if not rest.startswith("0") else _at_home(home, digits, intl)
    else:
        found = _at_home(home, digits, intl)
    if found is None or intl or found[0] is home:
        return found
    return None  # a foreign number for a one-country gateway: the reference path says so


def _at_home(home: _Rule, digits: str, intl: bool) -> Found | None:
    reading = home.read_national(digits)
    if reading is None:
        return None
    if isinstance(reading, _NotValidHere):
        # Read again as international digits missing their "+", for a mobile only: for any
        # other outcome the reference path words the reason (it may keep the home one).
        found = _international(digits) if intl else None
        return found if found is not None and isinstance(found[1], str) else None
    return home, reading


# --- the reference path: phonenumbers itself ------------------------------------------------


def _kind(region: str | None, types: frozenset[int]) -> str:
    """How a reason names the number wanted: "a Nepali mobile number", "a number in CI"."""
    kind = "mobile number" if types == _MOBILE_TYPES else "number"
    if region in _ADJECTIVES:
        return f"{_ADJECTIVES[region]} {kind}"
    return f"a {kind} in {region}" if region else f"a {kind}"


def _sized(problem: str, region: str | None, types: frozenset[int]) -> str:
    """``problem`` ("too short") said of the number wanted in ``region`` (if known)."""
    return f"{problem} for {_kind(region, types)}" if region else problem


def _parse(text: str, region: str | None, types: frozenset[int]) -> PhoneNumber | str:
    """The parsed number, or the reason phonenumbers could not parse it."""
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            return "unknown country code"
        problem = "too long" if exc.error_type == NumberParseException.TOO_LONG else "too short"
        return _sized(problem, None if text.startswith("+") else region, types)


def _invalid_reason(number: PhoneNumber, types: frozenset[int]) -> str:
    """Why a parsed number that phonenumbers calls invalid is not acceptable."""
    nsn = phonenumbers.national_significant_number(number)
    region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    if number.country_code == _CI_COUNTRY_CODE and len(nsn) == _CI_OLD_NSN_DIGITS:
        return (
            "old 8-digit format: Côte d'Ivoire numbers have 10 digits since 2021 "
            "(01, 05 or 07 in front, by operator)"
        )
    wanted = PhoneNumberType.MOBILE if types == _MOBILE_TYPES else PhoneNumberType.UNKNOWN
    length = phonenumbers.is_possible_number_for_type_with_reason(number, wanted)
    if length == phonenumbers.ValidationResult.TOO_SHORT:
        return _sized("too short", region, types)
    if length == phonenumbers.ValidationResult.TOO_LONG:
        return _sized("too long", region, types)
    if length == phonenumbers.ValidationResult.INVALID_LENGTH:
        return _sized("wrong length", region, types)
    return "not " + _kind(region, types)


def _judge(
    parsed: PhoneNumber | str, country: str | None, types: frozenset[int]
) -> tuple[PhoneNumber, str] | tuple[None, str]:
    """(number, region) when acceptable, else (None, reason). ``country``: required region."""
    if isinstance(parsed, str):
        return None, parsed
    if country is not None and parsed.country_code != phonenumbers.country_code_for_region(country):
        other = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
        return None, f"not {_kind(country, types)}: +{parsed.country_code} ({other})"
    region = phonenumbers.region_code_for_number(parsed)
    if region is None or not phonenumbers.is_valid_number(parsed):
        return None, _invalid_reason(parsed, types)
    number_type = phonenumbers.number_type(parsed)
    if number_type not in types:
        return None, _TYPE_REASONS.get(number_type, "not a mobile number")
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
    return intl or phonenumbers.number_type(second) in _MOBILE_TYPES


def _reference_lookup(
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


# --- public API ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    """What one gateway format asks of a number."""

    home: str  # region of numbers written without a country code
    intl: bool  # any country accepted (else only ``home``)
    national_msisdn: bool  # the gateway wants the national number, not country code + number


def _target(fmt: NumberFormat, default_region: str | None) -> _Target:
    fmt = NumberFormat(fmt)
    if fmt is NumberFormat.INTL:
        region = (default_region or DEFAULT_INTL_REGION).upper()
        _rule(region)  # raises ValueError for a region phonenumbers does not know
        return _Target(region, intl=True, national_msisdn=False)
    region = _FORMAT_REGIONS[fmt]
    if default_region is not None and default_region.upper() != region:
        raise ValueError(
            f"default_region {default_region!r} contradicts {fmt.value}, which only takes "
            f"{region} numbers"
        )
    return _Target(region, intl=False, national_msisdn=fmt is NumberFormat.NP_NATIONAL)


def _reference_normalized(target: _Target, plus: bool, digits: str, raw: str) -> Normalized:
    number, region = _reference_lookup(target.home, plus, digits, target.intl, _MOBILE_TYPES, raw)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    nsn = phonenumbers.national_significant_number(number)
    return Normalized(nsn if target.national_msisdn else e164, e164, region)


def _shortcut(home: _Rule) -> Callable[[bool, str], str]:
    """The hot path's first guess: cleaned digits -> the national number they spell when they
    are written in one of the common forms of a home number (else ""), so that one regex then
    decides. Each form is what _fast would read the same digits as (see _Rule.shortcut_skip):

    9841234567 (no prefix at all), 09841234567 (trunk), 9779841234567 (country code, the whole
    too long to be national), +9779841234567 and +977 0 9841234567 (country code after "+").
    """
    skip, trunk, cc = home.shortcut_skip, home.trunk, home.cc
    not_trunk = tuple(prefix for prefix in (cc, home.idd_literal) if prefix)
    # After "+", phonenumbers takes the shortest known code; country codes are prefix-free,
    # so that is the home code whenever the digits start with it (checked all the same).
    plus_home = _COUNTRY_CODE_BY_HEAD.get((cc + "00")[:3]) == (len(cc), home.region)
    too_long, after_cc = home.too_long_lengths, len(cc)
    idd = (home.idd_literal,) if home.idd_literal else ()  # str.startswith(()) is False
    double_trunk = trunk * 2

    def candidate(plus: bool, digits: str) -> str:
        if skip is None:
            rest = ""
        elif plus:
            rest = digits[after_cc:] if plus_home and digits.startswith(cc) else ""
        elif not digits.startswith(skip):
            return digits
        elif trunk and digits.startswith(trunk) and not digits.startswith(not_trunk):
            return digits[len(trunk) :]
        elif digits.startswith(cc) and len(digits) in too_long and not digits.startswith(idd):
            rest = digits[after_cc:]
            if trunk and rest.startswith(double_trunk):
                return ""  # phonenumbers strips twice there: let it decide
        else:
            rest = ""
        return rest[len(trunk) :] if trunk and rest.startswith(trunk) else rest

    return candidate


def _builder(national_msisdn: bool) -> Callable[[str, str, str], Normalized]:
    """(national number, country code, region) -> Normalized, MSISDN national or not."""
    new, set_msisdn, set_e164, set_region = _NORMALIZED_BUILDER

    def build(nsn: str, cc: str, region: str) -> Normalized:
        e164 = cc + nsn
        number = new(Normalized)
        set_msisdn(number, nsn if national_msisdn else e164)
        set_e164(number, e164)
        set_region(number, region)
        return number

    return build


def _fallback(target: _Target, home: _Rule) -> Callable[[bool, str, str], Normalized]:
    """What normalize does when its shortcut misses: the whole fast path, then phonenumbers."""
    build, intl = _builder(target.national_msisdn), target.intl
    too_short_below = 0 if intl else home.too_short_below
    too_short = _sized("too short", home.region, _MOBILE_TYPES)
    landline = _TYPE_REASONS[PhoneNumberType.FIXED_LINE]

    def other_forms(plus: bool, digits: str, raw: str) -> Normalized:
        found = _international(digits) if plus else _fast(home, plus, digits, intl)
        if found is not None and (intl or found[0] is home):
            rule, reading = found
            if type(reading) is str:
                return build(reading, rule.cc, rule.region)
            raise InvalidNumber(landline, raw)  # what phonenumbers says, 50x sooner
        if len(digits) < too_short_below and not plus and not digits.startswith(home.idd_literal):
            raise InvalidNumber(too_short, raw)  # likewise
        return _reference_normalized(target, plus, digits, raw)

    return other_forms


def normalizer(fmt: NumberFormat, default_region: str | None = None) -> Callable[[str], Normalized]:
    """A function normalizing one pasted number for gateways taking ``fmt``.

    The function returns a :class:`Normalized` or raises :class:`InvalidNumber`.
    ``default_region`` (ISO code) is where numbers without a country code belong: for ``INTL``
    it defaults to ``"CI"``; for the one-country formats it may only repeat their country
    (a different one raises ValueError here, at configuration time, not per number).
    """
    target = _target(fmt, default_region)
    home, national_msisdn = _rule(target.home), target.national_msisdn
    home_cc, home_region, mobile_regex = home.cc, home.region, home.mobile_regex
    candidate, other_forms = _shortcut(home), _fallback(target, home)
    new, set_msisdn, set_e164, set_region = _NORMALIZED_BUILDER

    def normalize(raw: str) -> Normalized:
        if raw.isdigit() and raw.isascii():  # bare digits, the usual CSV cell: nothing to clean
            plus, digits = False, raw
        else:
            plus, digits = _clean(raw)
        nsn = candidate(plus, digits)
        if nsn:
            regex = mobile_regex(len(nsn))
            if regex is not None and regex.fullmatch(nsn) is not None:
                e164 = home_cc + nsn  # _builder's build(), inlined: a call costs 5% here
                number = new(Normalized)
                set_msisdn(number, nsn if national_msisdn else e164)
                set_e164(number, e164)
                set_region(number, home_region)
                return number
        return other_forms(plus, digits, raw)

    return normalize


def reference_normalizer(
    fmt: NumberFormat, default_region: str | None = None
) -> Callable[[str], Normalized]:
    """:func:`normalizer` without the fast path: phonenumbers parses every number (slow).

    Same inputs, same results and reasons; kept for the agreement tests and the benchmark.
    """
    target = _target(fmt, default_region)

    def normalize(raw: str) -> Normalized:
        plus, digits = _clean(raw)
        return _reference_normalized(target, plus, digits, raw)

    return normalize


def to_e164(raw: str, default_region: str | None = None) -> str:
    """E.164 digits (no ``+``) of any valid number, mobile or not, for the suppression list.

    Without ``default_region`` every number is read as international (``+`` or ``00`` optional);
    with it, numbers without a country code are read there first. Raises InvalidNumber.
    """
    plus, digits = _clean(raw)
    home = default_region.upper() if default_region else None
    home_rule = _rule(home) if home else None
    found = _fast(home_rule, plus, digits, intl=True)
    if found is not None:
        rule, reading = found
        return rule.cc + (reading if isinstance(reading, str) else reading.nsn)
    number, _ = _reference_lookup(home, plus, digits, True, _ANY_VALID_TYPE, raw)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:])
