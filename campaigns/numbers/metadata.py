"""Each region's parsing and validity rules, compiled once from phonenumbers' metadata.

Validity is Google's libphonenumber metadata (``phonenumbers``), never a hand-kept prefix list.
``rule(region)`` turns one region's metadata into a :class:`Rule` the fast path reads numbers
with: one regex per national-number length matching exactly what phonenumbers' ``number_type``
calls a mobile (the mobile pattern, inside the general pattern, minus the premium, toll-free,
VoIP, ... patterns phonenumbers checks first), one likewise for landlines, and readers that
strip the country code or a trunk prefix exactly where phonenumbers' own parsing rules would
(the Rule also records the region's international prefix, which the fast path strips). Where
one region's metadata cannot decide (a country code several regions share, carrier-code
prefixes) the readers say so, and phonenumbers is asked. ``COUNTRY_CODE_BY_HEAD`` finds the
region of digits after ``+``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Final

import phonenumbers
from phonenumbers import PhoneMetadata

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


class NotValidHere:
    """Marker: the digits are not a valid number of any type in the region tried."""


_NOT_VALID: Final = NotValidHere()


@dataclass(frozen=True, slots=True)
class Landline:
    """A valid number phonenumbers types FIXED_LINE: no mobile, but one ``to_e164`` takes."""

    nsn: str


Reading = str | Landline | None  # a valid mobile's national number, a landline, or "ask"
NationalReading = Reading | NotValidHere


@dataclass(frozen=True, slots=True)
class Rule:
    """One region's parsing and validity rules, compiled from phonenumbers' metadata.

    ``read_national(digits)`` reads digits written without ``+`` or international prefix;
    ``after_country_code(rest)`` reads what follows an explicit country code. Both return the
    national number of a valid mobile, a Landline, or None when only phonenumbers can tell;
    ``read_national`` returns _NOT_VALID when the digits are no valid number of any type here.
    """

    region: str
    cc: str  # country calling code digits
    too_short_below: int  # fewer digits, without + or prefix, can only be "too short" (0: unsure)
    idd_literal: str  # international prefix when it is plain digits ("00"), else ""
    idd_other: re.Pattern[str] | None  # international prefix we leave to phonenumbers
    read_national: Callable[[str], NationalReading]
    after_country_code: Callable[[str], Reading]
    # The hot path's shortcut (see fast._shortcut): digits starting with none of ``shortcut_skip``
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
    """National number -> itself if a valid mobile, Landline if a landline, else None."""
    landline = _type_regexes(meta, mobile_wanted=False).get

    def valid(nsn: str) -> Reading:
        regex = mobile(len(nsn))
        if regex is not None and regex.fullmatch(nsn) is not None:
            return nsn
        regex = landline(len(nsn))
        return Landline(nsn) if regex is not None and regex.fullmatch(nsn) else None

    return valid


def _readers(
    meta: PhoneMetadata, mobile: Callable[[int], re.Pattern[str] | None]
) -> tuple[Callable[[str], NationalReading], Callable[[str], Reading]]:
    """The two readers of a Rule, mirroring phonenumbers.parse step by step (see there).

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
def rule(region: str) -> Rule:
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
    return Rule(
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


COUNTRY_CODE_BY_HEAD: Final = _country_code_table()


def _fewest_international_digits() -> int:
    """The fewest digits (country code included) any number of any region can have: fewer
    digits read as "+digits" can never be valid (6 in today's metadata)."""
    fewest = 17
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            meta = PhoneMetadata.metadata_for_region(region)
            if meta is None:
                meta = PhoneMetadata.metadata_for_nongeo_region(code)
            lengths = meta.general_desc.possible_length if meta and meta.general_desc else ()
            if lengths:
                fewest = min(fewest, len(str(code)) + min(lengths))
    return fewest


FEWEST_INTERNATIONAL_DIGITS: Final = _fewest_international_digits()
