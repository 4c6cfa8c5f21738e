"""The fast path (1-2 µs a number): phonenumbers' verdict from its compiled metadata alone.

It strips ``+`` or an international prefix where phonenumbers would, then reads the digits
with the home region's :class:`~campaigns.numbers.metadata.Rule` (or, after ``+`` or the
prefix, the rule of the region the country code names). It decides two things with
phonenumbers' own verdict and wording: a valid mobile is accepted, and the two common cheap
rejections, landlines and numbers shorter than any in the country, are refused. Whatever it
cannot decide (shared country codes such as +1 and +7, carrier-code prefixes, every other
rejection) goes to the ``undecided`` function it is given: the reference path, which this
module does not import, so that the oracle stays independent of what it checks. Some code is
inlined on purpose; the comments there cite the measurements.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from phonenumbers import PhoneNumberType

from campaigns.numbers.cleaning import clean
from campaigns.numbers.metadata import (
    COUNTRY_CODE_BY_HEAD,
    FEWEST_INTERNATIONAL_DIGITS,
    Landline,
    NotValidHere,
    Rule,
    rule,
)
from campaigns.numbers.model import InvalidNumber, Normalized, Target
from campaigns.numbers.reasons import MOBILE_TYPES, TYPE_REASONS, sized

Found = tuple[Rule, str | Landline]  # (region rule, mobile national number or Landline)
# (has_plus, cleaned digits, raw input) -> Normalized, or InvalidNumber with the reason.
Undecided = Callable[[bool, str, str], Normalized]


def international(digits: str) -> Found | None:
    """Digits after ``+`` or an international prefix: (region rule, reading) or None."""
    hit = COUNTRY_CODE_BY_HEAD.get(digits[:3])
    if hit is None or hit[1] is None:
        return None
    region_rule = rule(hit[1])
    reading = region_rule.after_country_code(digits[hit[0] :])
    return None if reading is None else (region_rule, reading)


def lookup(home: Rule | None, plus: bool, digits: str, intl: bool) -> Found | None:
    """(region rule, mobile national number or Landline), or None: ask phonenumbers.

    ``home`` is the region numbers without a country code belong to (None: there is none, read
    every number as international); ``intl`` accepts any country and lets digits that are no
    valid number in ``home`` be read as international digits missing their ``+``.
    """
    if plus:
        found = international(digits)
    elif home is None:
        found = international(digits[2:] if digits.startswith("00") else digits)
    elif home.idd_other is not None and home.idd_other.match(digits):
        return None
    elif home.idd_literal and digits.startswith(home.idd_literal):
        rest = digits[len(home.idd_literal) :]
        # phonenumbers: no country code starts with 0, so "00" + "0..." is not an IDD
        found = international(rest) if not rest.startswith("0") else _at_home(home, digits, intl)
    else:
        found = _at_home(home, digits, intl)
    if found is None or intl or found[0] is home:
        return found
    return None  # a foreign number for a one-country gateway: the reference path says so


def _at_home(home: Rule, digits: str, intl: bool) -> Found | None:
    reading = home.read_national(digits)
    if reading is None:
        return None
    if isinstance(reading, NotValidHere):
        # Read again as international digits missing their "+", for a mobile only: for any
        # other outcome the reference path words the reason (it may keep the home one).
        found = international(digits) if intl else None
        return found if found is not None and isinstance(found[1], str) else None
    return home, reading


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


def _shortcut(home: Rule) -> Callable[[bool, str], str]:
    """The hot path's first guess: cleaned digits -> the national number they spell when they
    are written in one of the common forms of a home number (else ""), so that one regex then
    decides. Each form is what lookup would read the same digits as (see Rule.shortcut_skip):

    9841234567 (no prefix at all), 09841234567 (trunk), 9779841234567 (country code, the whole
    too long to be national), +9779841234567 and +977 0 9841234567 (country code after "+").
    """
    skip, trunk, cc = home.shortcut_skip, home.trunk, home.cc
    not_trunk = tuple(prefix for prefix in (cc, home.idd_literal) if prefix)
    # After "+", phonenumbers takes the shortest known code; country codes are prefix-free,
    # so that is the home code whenever the digits start with it (checked all the same).
    plus_home = COUNTRY_CODE_BY_HEAD.get((cc + "00")[:3]) == (len(cc), home.region)
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


def _fallback(target: Target, home: Rule, undecided: Undecided) -> Undecided:
    """What normalize does when its shortcut misses: the whole fast path, then ``undecided``."""
    build, intl = _builder(target.national_msisdn), target.intl
    # Shorter than any home number (and, where foreign numbers are taken, than any number of
    # any country read with its "+"), phonenumbers calls the digits too short for home.
    too_short_below = home.too_short_below
    if intl:
        too_short_below = min(too_short_below, FEWEST_INTERNATIONAL_DIGITS)
    too_short = sized("too short", home.region, MOBILE_TYPES)
    landline = TYPE_REASONS[PhoneNumberType.FIXED_LINE]

    def other_forms(plus: bool, digits: str, raw: str) -> Normalized:
        found = international(digits) if plus else lookup(home, plus, digits, intl)
        if found is not None and (intl or found[0] is home):
            found_rule, reading = found
            if type(reading) is str:
                return build(reading, found_rule.cc, found_rule.region)
            raise InvalidNumber(landline, raw)  # what phonenumbers says, 50x sooner
        if len(digits) < too_short_below and not plus and not digits.startswith(home.idd_literal):
            raise InvalidNumber(too_short, raw)  # likewise
        return undecided(plus, digits, raw)

    return other_forms


def normalizer(target: Target, undecided: Undecided) -> Callable[[str], Normalized]:
    """A function from one pasted number to a Normalized for ``target``, or InvalidNumber.

    The home region's common forms are decided inline (shortcut, one regex, the slots filled);
    everything else goes to :func:`lookup`, then to ``undecided`` (the reference path).
    """
    home, national_msisdn = rule(target.home), target.national_msisdn
    home_cc, home_region, mobile_regex = home.cc, home.region, home.mobile_regex
    candidate, other_forms = _shortcut(home), _fallback(target, home, undecided)
    new, set_msisdn, set_e164, set_region = _NORMALIZED_BUILDER

    def normalize(raw: str) -> Normalized:
        if raw.isdigit() and raw.isascii():  # bare digits, the usual CSV cell: nothing to clean
            plus, digits = False, raw
        elif raw[:1] == "+" and raw.isascii() and raw[1:].isdigit():  # "+9779841234567"
            plus, digits = True, raw[1:]  # clean()'s first case, without the call (0.3 µs)
        else:
            plus, digits = clean(raw)
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
