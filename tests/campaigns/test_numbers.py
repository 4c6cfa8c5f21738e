"""Number normalization: per-country tables of what people paste, then the fast path proven
against phonenumbers itself on 20,000 generated inputs per gateway format."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import phonenumbers
import pytest
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberType

from campaigns.numbers import (
    InvalidNumber,
    Normalized,
    cleaning,
    metadata,
    normalizer,
    reference_normalizer,
    to_e164,
)
from campaigns.numbers import fast as fast_path
from providers._vocabulary import NumberFormat

NP, BD, AZ, INTL = (
    NumberFormat.NP_NATIONAL,
    NumberFormat.BD_INTL,
    NumberFormat.AZ_INTL,
    NumberFormat.INTL,
)


def outcome(normalize: Callable[[str], Normalized], raw: str) -> Normalized | str:
    try:
        return normalize(raw)
    except InvalidNumber as exc:
        return exc.reason


# --- per-country tables ----------------------------------------------------------------------

ACCEPTED = [
    # Nepal (AakashSMS): the 10-digit national number.
    (NP, "9841234567", "9841234567"),
    (NP, "+977 984-1234567", "9841234567"),
    (NP, "+977-9801234567", "9801234567"),
    (NP, "977 9851234567", "9851234567"),
    (NP, "009779861234567", "9861234567"),
    (NP, "09741234567", "9741234567"),
    (NP, "(984) 123.4567", "9841234567"),
    (NP, "\ufeff 9841234567\t", "9841234567"),
    (NP, "98\u00a041\u00a023\u00a045\u00a067", "9841234567"),
    (NP, "\u200e+977 9841234567\u200f", "9841234567"),
    (NP, "९८४१२३४५६७", "9841234567"),  # Devanagari digits
    (NP, "９８４１２３４５６７", "9841234567"),  # full-width digits
    # Bangladesh (AamarSMS): 880 + the 10-digit national number.
    (BD, "01712345678", "8801712345678"),
    (BD, "1812345678", "8801812345678"),
    (BD, "+8801912345678", "8801912345678"),
    (BD, "8801512345678", "8801512345678"),
    (BD, "008801312345678", "8801312345678"),
    (BD, "+880 01712-345678", "8801712345678"),  # trunk 0 kept after the country code
    (BD, "017 1234 5678", "8801712345678"),
    (BD, "০১৭১২৩৪৫৬৭৮", "8801712345678"),  # Bengali digits
    # Azerbaijan (SMSPlus.az): 994 + the 9-digit national number.
    (AZ, "0501234567", "994501234567"),
    (AZ, "501234567", "994501234567"),
    (AZ, "+994501234567", "994501234567"),
    (AZ, "994551234567", "994551234567"),
    (AZ, "00994701234567", "994701234567"),
    (AZ, "+994 (50) 123-45-67", "994501234567"),
    (AZ, "(051) 123 45 67", "994511234567"),
    (AZ, "099 123 45 67", "994991234567"),
    # West Africa (SMSPresto): international digits, default region Côte d'Ivoire.
    (INTL, "+225 07 07 07 07 07", "2250707070707"),
    (INTL, "07 07 07 07 07", "2250707070707"),
    (INTL, "0505050505", "2250505050505"),
    (INTL, "2250101010101", "2250101010101"),
    (INTL, "00225 0707070707", "2250707070707"),
    (INTL, "+221 77 123 45 67", "221771234567"),
    (INTL, "221771234567", "221771234567"),  # SMSPresto's own format, read without "+"
    (INTL, "+233 24 123 4567", "233241234567"),
    (INTL, "233241234567", "233241234567"),
    (INTL, "+234 803 123 4567", "2348031234567"),
    (INTL, "+234 (0) 803 123 4567", "2348031234567"),
    (INTL, "+223 65 01 23 45", "22365012345"),  # Mali
    (INTL, "+226 70 12 34 56", "22670123456"),  # Burkina Faso
    (INTL, "+229 01 95 12 34 56", "2290195123456"),  # Benin, 10 digits since 2024
]


@pytest.mark.parametrize(("fmt", "raw", "msisdn"), ACCEPTED)
def test_accepted_numbers_become_the_gateway_msisdn(
    fmt: NumberFormat, raw: str, msisdn: str
) -> None:
    number = normalizer(fmt)(raw)
    assert number.msisdn == msisdn
    assert number == reference_normalizer(fmt)(raw)


def test_normalized_carries_e164_and_region() -> None:
    assert normalizer(NP)("09841234567") == Normalized("9841234567", "9779841234567", "NP")
    assert normalizer(BD)("01712345678") == Normalized("8801712345678", "8801712345678", "BD")
    assert normalizer(AZ)("0501234567") == Normalized("994501234567", "994501234567", "AZ")
    assert normalizer(INTL)("+233241234567") == Normalized("233241234567", "233241234567", "GH")


def test_normalized_is_frozen_and_hashable() -> None:
    number = normalizer(NP)("9841234567")  # built by the fast path
    with pytest.raises(AttributeError):
        number.msisdn = "9800000000"  # type: ignore[misc]
    assert {number, Normalized("9841234567", "9779841234567", "NP")} == {number}


REJECTED = [
    (NP, "", "empty"),
    (NP, "  \ufeff ", "empty"),
    (NP, "+", "empty"),
    (NP, "98412x4567", "contains letters"),
    (NP, "tel:+9779841234567", "contains letters"),
    (NP, "9.84123E+09", "shortened by a spreadsheet: 9.84123E+09 kept only 6 digits of 10"),
    (NP, "9841234567, 9851234567", "unexpected character ','"),
    (NP, "98+41234567", "misplaced '+'"),
    (NP, "01-4412345", "fixed-line number"),  # Kathmandu landline
    (NP, "+977 1 4412345", "fixed-line number"),
    (NP, "16600101234", "toll-free number"),
    (NP, "984123456", "too short for a Nepali mobile number"),
    (NP, "12345", "too short for a Nepali mobile number"),
    (NP, "7", "too short for a Nepali mobile number"),
    (NP, "98412345678", "too long for a Nepali mobile number"),  # not "+98 (IR)"
    (NP, "9941234567", "not a Nepali mobile number"),  # 99 is no mobile range
    (NP, "+91 98765 43210", "not a Nepali mobile number: +91 (IN)"),
    (NP, "919876543210", "not a Nepali mobile number: +91 (IN)"),
    (NP, "+8801712345678", "not a Nepali mobile number: +880 (BD)"),
    (NP, "+999 123456789", "unknown country code"),
    (BD, "029123456", "fixed-line number"),  # Dhaka landline
    (BD, "+8809612345678", "VoIP number"),
    (BD, "8001234567", "toll-free number"),
    (BD, "0171234567", "too short for a Bangladeshi mobile number"),
    (BD, "017123456789", "too long for a Bangladeshi mobile number"),
    (BD, "+977 9841234567", "not a Bangladeshi mobile number: +977 (NP)"),
    (BD, "", "empty"),
    (AZ, "0124123456", "fixed-line number"),  # Baku landline
    (AZ, "881234567", "toll-free number"),
    (AZ, "900200123", "premium-rate number"),
    (AZ, "05012345", "too short for an Azerbaijani mobile number"),
    (AZ, "+7 912 345 67 89", "not an Azerbaijani mobile number: +7 (RU)"),
    (AZ, "+90 532 123 45 67", "not an Azerbaijani mobile number: +90 (TR)"),
    (AZ, "abc", "contains letters"),
    (INTL, "07070707", "old 8-digit format"),
    (INTL, "+225 07 07 07 07", "old 8-digit format"),
    (INTL, "22507070707", "old 8-digit format"),
    (INTL, "2123456789", "fixed-line number"),  # Abidjan landline, 10 digits
    (INTL, "+221 30 101 23 45", "fixed-line number"),  # Dakar landline
    (INTL, "+233 30 234 5678", "fixed-line number"),  # Accra landline
    (INTL, "+234 1 234 5678", "too short for a mobile number in NG"),
    (INTL, "+221 7712345", "too short for a mobile number in SN"),
    (INTL, "+999 1234567", "unknown country code"),
    (INTL, "", "empty"),
]


@pytest.mark.parametrize(("fmt", "raw", "reason"), REJECTED)
def test_rejected_numbers_say_why(fmt: NumberFormat, raw: str, reason: str) -> None:
    with pytest.raises(InvalidNumber) as caught:
        normalizer(fmt)(raw)
    assert reason in caught.value.reason
    assert caught.value.raw == raw
    assert str(caught.value) == caught.value.reason  # the message never repeats the number
    assert outcome(reference_normalizer(fmt), raw) == caught.value.reason


def test_intl_default_region_reads_national_numbers_there() -> None:
    senegal = normalizer(INTL, "sn")
    assert senegal("77 123 45 67") == Normalized("221771234567", "221771234567", "SN")
    assert senegal("+225 07 07 07 07 07").region == "CI"
    ghana = normalizer(INTL, "GH")
    assert ghana("024 123 4567").msisdn == "233241234567"


def test_one_country_formats_refuse_a_contradicting_default_region() -> None:
    assert normalizer(NP, "np")("9841234567").msisdn == "9841234567"
    with pytest.raises(ValueError, match="contradicts"):
        normalizer(BD, "IN")
    with pytest.raises(ValueError, match="unknown region"):
        normalizer(INTL, "XX")


# --- what spreadsheets do to numbers -----------------------------------------------------------

# (format, cell as exported, MSISDN or the start of the reason). A numeric cell drops a
# national number's leading 0; NP, BD and AZ read their numbers without the trunk 0 anyway,
# while Côte d'Ivoire's 0 is a digit of the number since 2021, so its loss is a real loss.
SPREADSHEET = [
    (NP, "9762768809.0", "9762768809"),  # a float export
    (NP, "9762768809.00", "9762768809"),
    (NP, "9762768809,0", "9762768809"),  # a decimal comma (semicolon-separated files)
    (NP, "9.762768809E+9", "9762768809"),  # scientific notation, every digit there
    (NP, "9.762768809e+09", "9762768809"),
    (NP, "9,762768809E+09", "9762768809"),
    (NP, "9.7627688090E+9", "9762768809"),  # a trailing zero past the point is no fraction
    (NP, "9,762,768,809", "9762768809"),  # a thousands separator
    (NP, '="9762768809"', "9762768809"),  # the formula that keeps a cell text
    (NP, "'9762768809", "9762768809"),  # the apostrophe that does the same
    (NP, " 9762768809.0\u00a0", "9762768809"),
    (NP, "9.82807E+9", "shortened by a spreadsheet: 9.82807E+9 kept only 6 digits of 10"),
    (NP, "9.8E+09", "shortened by a spreadsheet: 9.8E+09 kept only 2 digits of 10"),
    (NP, "9.8412345678E+9", "not a whole number"),
    (NP, "984123456.0", "too short for a Nepali mobile number"),  # repaired, then read
    (NP, "98412345678.5", "too long for a Nepali mobile number"),  # a fraction is no float tail
    (BD, "8801712345678.0", "8801712345678"),
    (BD, "1712345678.0", "8801712345678"),  # 01712345678 without its 0
    (BD, "8.801712345678E+12", "8801712345678"),
    (BD, "1.712345678E+9", "8801712345678"),
    (BD, "8.8017E+12", "shortened by a spreadsheet: 8.8017E+12 kept only 5 digits of 13"),
    (BD, "8,801,712,345,678", "8801712345678"),
    (AZ, "994501234567.0", "994501234567"),
    (AZ, "501234567.0", "994501234567"),  # 0501234567 without its 0
    (AZ, "9.94501234567E+11", "994501234567"),
    (AZ, "5.01234567E+8", "994501234567"),
    (AZ, "9.9450123E+11", "shortened by a spreadsheet: 9.9450123E+11 kept only 8 digits of 12"),
    (INTL, "2250707070707.0", "2250707070707"),
    (INTL, "2.250707070707E+12", "2250707070707"),
    (INTL, "2.25070707E+12", "shortened by a spreadsheet: 2.25070707E+12 kept only 9 digits"),
    (INTL, "707070707.0", "too short for a mobile number in CI"),  # 0707070707 lost its 0
    (INTL, "221771234567.0", "221771234567"),  # Senegal, SMSPresto's own format
]


@pytest.mark.parametrize(("fmt", "raw", "expected"), SPREADSHEET)
def test_spreadsheet_damage_is_repaired_when_lossless_and_named_when_not(
    fmt: NumberFormat, raw: str, expected: str
) -> None:
    got = outcome(normalizer(fmt), raw)
    assert got == outcome(reference_normalizer(fmt), raw)  # both paths, same words
    if isinstance(got, Normalized):
        assert got.msisdn == expected
    else:
        assert got.startswith(expected), got


def spreadsheet_forms(digits: str, rng: random.Random) -> list[tuple[str, bool]]:
    """(what a spreadsheet may make of ``digits`` stored as a number, whether every digit is
    still there): a float, scientific notation with every digit and with some lost, a
    thousands separator. ``digits`` has at least two digits and no leading zero."""
    exponent = len(digits) - 1
    mantissa = f"{digits[0]}.{digits[1:]}"
    shortened = f"{digits[0]}.{digits[1 : rng.randint(1, exponent)]}".rstrip(".")
    return [
        (digits + rng.choice([".0", ",0", ".00"]), True),
        (f"{mantissa}E+{exponent}", True),
        (f"{mantissa.replace('.', ',')}e+{exponent:02d}", True),
        (f"{int(digits):,}", True),
        (f"{shortened}E+{exponent}", False),
    ]


@pytest.mark.parametrize(("fmt", "seed"), [(NP, 11), (BD, 12), (AZ, 13), (INTL, 14)])
def test_both_paths_agree_on_spreadsheet_forms(fmt: NumberFormat, seed: int) -> None:
    """A lossless form reads as its digits do, a lossy one is refused as shortened, and the
    fast path says exactly what the reference path says, on forms of generated numbers."""
    normalize, reference = normalizer(fmt), reference_normalizer(fmt)
    rng = random.Random(seed)
    repaired = 0
    for _raw, clean in generated_inputs(fmt, 1_000, seed):
        digits = clean.lstrip("+").lstrip("0")
        if len(digits) < 2 or not digits.isdigit():
            continue
        as_digits = outcome(normalize, digits)  # a numeric cell has no "+" (nor leading 0)
        for form, lossless in spreadsheet_forms(digits, rng):
            got = outcome(normalize, form)
            assert got == outcome(reference, form), form
            if lossless:
                assert got == as_digits, (form, got)
                repaired += isinstance(got, Normalized)
            else:
                assert isinstance(got, str) and got.startswith("shortened"), (form, got)
    assert repaired > 500


# --- to_e164 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "default_region", "e164"),
    [
        ("+977 984-1234567", None, "9779841234567"),
        ("9779841234567", None, "9779841234567"),  # read as international without "+"
        ("00225 07 07 07 07 07", None, "2250707070707"),
        ("+977 1 4412345", None, "97714412345"),  # landlines can be suppressed too
        ("01-4412345", "NP", "97714412345"),
        ("9841234567", "NP", "9779841234567"),
        ("0707070707", "CI", "2250707070707"),
        ("+1 202 555 0123", None, "12025550123"),
        ("০১৭১২৩৪৫৬৭৮", "BD", "8801712345678"),
    ],
)
def test_to_e164(raw: str, default_region: str | None, e164: str) -> None:
    assert to_e164(raw, default_region) == e164


@pytest.mark.parametrize(
    ("raw", "default_region", "reason"),
    [
        ("", None, "empty"),
        ("9841234567", None, "not a number in IR"),  # no "+", no region: +98 is Iran's code
        ("12", "NP", "too short"),
        ("+999 123", None, "unknown country code"),
        ("98412x4567", "NP", "contains letters"),
    ],
)
def test_to_e164_rejects(raw: str, default_region: str | None, reason: str) -> None:
    with pytest.raises(InvalidNumber) as caught:
        to_e164(raw, default_region)
    assert reason in caught.value.reason


# --- the fast path against phonenumbers ------------------------------------------------------

SAMPLES_PER_FORMAT = 10_000
_MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# Numbers people might paste into each gateway's list: home country first, then neighbours.
_REGIONS = {
    NP: ("NP", ["NP"] * 12 + ["IN", "BD", "CN", "PK", "AE", "QA", "MY"]),
    BD: ("BD", ["BD"] * 12 + ["IN", "NP", "MM", "PK", "SA", "MY", "AE"]),
    AZ: ("AZ", ["AZ"] * 12 + ["RU", "TR", "GE", "IR", "UA", "KZ", "US"]),
    INTL: ("CI", ["CI"] * 4 + ["SN", "GH", "NG", "ML", "BF", "TG", "BJ", "GN", "CM", "NE", "FR"]),
}
_TYPES = [PhoneNumberType.MOBILE] * 8 + [
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.VOIP,
    PhoneNumberType.PREMIUM_RATE,
]
_SEPARATORS = [" ", "-", ".", " ", "\u00a0", "/"]


def _national_sample(region: str, rng: random.Random) -> str:
    """A national significant number near the region's examples: valid or nearly so."""
    example = phonenumbers.example_number_for_type(region, rng.choice(_TYPES))
    if example is None:
        example = phonenumbers.example_number(region)
    assert example is not None
    digits = list(phonenumbers.national_significant_number(example))
    roll = rng.random()
    if roll < 0.55:  # same prefix, other subscriber digits: mostly valid
        keep = rng.randint(2, 4)
        digits[keep:] = [str(rng.randrange(10)) for _ in digits[keep:]]
    elif roll < 0.7:  # one digit changed anywhere, the prefix too
        digits[rng.randrange(len(digits))] = str(rng.randrange(10))
    elif roll < 0.8:  # one digit too many or too few
        if rng.random() < 0.5:
            digits.insert(rng.randrange(len(digits) + 1), str(rng.randrange(10)))
        else:
            del digits[rng.randrange(len(digits))]
    elif roll < 0.9:  # random digits of a plausible length
        digits = [str(rng.randrange(10)) for _ in range(rng.randint(len(digits) - 2, len(digits)))]
    return "".join(digits)


def _written(region: str, nsn: str, rng: random.Random) -> str:
    """``nsn`` as someone might type it: with or without +, 00, country code, trunk 0."""
    cc = str(phonenumbers.country_code_for_region(region))
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    trunk = (metadata.national_prefix if metadata else None) or ""
    return rng.choice(
        [nsn, nsn, trunk + nsn, cc + nsn, "+" + cc + nsn, "+" + cc + nsn, "00" + cc + nsn]
        + ["+" + cc + trunk + nsn, cc + trunk + nsn, "00" + cc + trunk + nsn]
    )


def _decorated(clean: str, rng: random.Random) -> str:
    """What a spreadsheet or a chat app does to a number: separators, spaces, BOM."""
    if rng.random() < 0.6:
        return clean
    chars = list(clean)
    for _ in range(rng.randint(1, 4)):
        chars.insert(rng.randint(1, len(chars)), rng.choice(_SEPARATORS))
    text = "".join(chars)
    return rng.choice(["", " ", "\ufeff", "\t"]) + text + rng.choice(["", " ", "\r"])


_LOOKS_LIKE_A_FLOAT = re.compile(r"\s*(\d+)\.0+\s*")


def generated_inputs(fmt: NumberFormat, count: int, seed: int) -> list[tuple[str, str]]:
    """(raw input, what it reads as once separators are dropped), reproducibly.

    A separator dot that happens to leave digits, one dot and zeros (``984123456.0``) makes
    the input a spreadsheet's float, read without its fraction: the policy of ``cleaning``.
    """
    rng = random.Random(seed)
    regions = _REGIONS[fmt][1]
    samples = []
    for _ in range(count):
        if rng.random() < 0.08:  # anything at all
            clean = "".join(str(rng.randrange(10)) for _ in range(rng.randint(1, 16)))
            clean = rng.choice(["", "+"]) + clean
        else:
            region = rng.choice(regions)
            clean = _written(region, _national_sample(region, rng), rng)
        raw = _decorated(clean, rng)
        looks_like_a_float = _LOOKS_LIKE_A_FLOAT.fullmatch(raw)
        samples.append((raw, looks_like_a_float[1] if looks_like_a_float else clean))
    return samples


def phonenumbers_oracle(clean: str, home: str, intl: bool) -> tuple[str, str] | None:
    """(E.164 digits, region) of an acceptable mobile number, straight from phonenumbers,
    with the documented policy: digits without "+" that are no valid number in ``home`` are
    read again as international digits missing their "+"."""

    def read(text: str, region: str | None) -> PhoneNumber | None:
        try:
            return phonenumbers.parse(text, region)
        except NumberParseException:
            return None

    def accepted(number: PhoneNumber | None) -> tuple[str, str] | None:
        if number is None or not phonenumbers.is_valid_number(number):
            return None
        region = phonenumbers.region_code_for_number(number)
        if region is None or phonenumbers.number_type(number) not in _MOBILE:
            return None
        if not intl and region != home:
            return None
        return f"{number.country_code}{phonenumbers.national_significant_number(number)}", region

    first = read(clean, home)
    if (found := accepted(first)) is not None:
        return found
    if clean.startswith("+") or (first is not None and phonenumbers.is_valid_number(first)):
        return None
    return accepted(read("+" + clean, None))


@pytest.mark.parametrize(("fmt", "seed"), [(NP, 1), (BD, 2), (AZ, 3), (INTL, 4)])
def test_normalizer_agrees_with_phonenumbers(fmt: NumberFormat, seed: int) -> None:
    home, _ = _REGIONS[fmt]
    intl = fmt is INTL
    normalize, reference = normalizer(fmt), reference_normalizer(fmt)
    accepted = fast = 0
    for raw, clean in generated_inputs(fmt, SAMPLES_PER_FORMAT, seed):
        expected = phonenumbers_oracle(clean, home, intl) if clean.strip("+") else None
        got = outcome(normalize, raw)
        if expected is None:
            assert isinstance(got, str), (raw, got)
            assert got == outcome(reference, raw), raw  # same reason either way
            continue
        accepted += 1
        assert isinstance(got, Normalized), (raw, got)
        assert (got.e164, got.region) == expected, raw
        assert got.e164 == ("977" + got.msisdn if fmt is NP else got.msisdn), raw
        assert normalize(got.msisdn) == got  # a gateway MSISDN normalizes to itself
        # The fast path alone, where it decides, must say exactly what phonenumbers says.
        plus, digits = cleaning.clean(raw)
        found = fast_path.lookup(metadata.rule(home), plus, digits, intl)
        if found is not None:
            fast += 1
            rule, reading = found
            assert isinstance(reading, str), raw  # a mobile, not a landline reading
            assert (rule.cc + reading, rule.region) == expected, raw
    # Both outcomes are well represented, and the fast path decides nearly every acceptance.
    assert SAMPLES_PER_FORMAT * 0.2 < accepted < SAMPLES_PER_FORMAT * 0.8
    assert fast > accepted * 0.9, (fast, accepted)


def any_valid_oracle(clean: str, home: str | None) -> str | None:
    """E.164 digits of any valid number as phonenumbers reads ``clean`` (to_e164's policy:
    without a home region every number is international, "+" and "00" optional)."""

    def read(text: str, region: str | None) -> PhoneNumber | None:
        try:
            return phonenumbers.parse(text, region)
        except NumberParseException:
            return None

    if home is None:
        international = clean[2:] if clean.startswith("00") else clean.lstrip("+")
        readings = [read("+" + international, None)]
    else:
        first = read(clean, home)
        readings = [first]
        if not clean.startswith("+") and not (first and phonenumbers.is_valid_number(first)):
            readings.append(read("+" + clean, None))
    for number in readings:
        if number is not None and phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    return None


@pytest.mark.parametrize(("home", "seed"), [(None, 21), ("NP", 22), ("CI", 23)])
def test_to_e164_agrees_with_phonenumbers(home: str | None, seed: int) -> None:
    valid = 0
    for raw, clean in generated_inputs(INTL, 5_000, seed):
        if not clean.strip("+"):
            continue
        expected = any_valid_oracle(clean, home)
        try:
            got: str | None = to_e164(raw, home)
        except InvalidNumber:
            got = None
        assert got == expected, raw
        valid += got is not None
    assert valid > 1_000
