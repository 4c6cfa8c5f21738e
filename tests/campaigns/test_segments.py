"""Segment counting: hand-picked edge cases with exact numbers, then properties checked against
an encoding definition written out again here, independently of campaigns.segments."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.segments import Measure, is_gsm7, measure, split

# GSM 03.38, spelled out again from the standard (not imported) so the properties check the
# module against the definition rather than against itself.
BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = set("^{}\\[~]|€\f")
EMOJI = "\U0001f600"  # 😀, outside the BMP: a surrogate pair in UTF-16
FLAG_NP = "\U0001f1f3\U0001f1f5"  # 🇳🇵: two regional indicators, each a surrogate pair
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 👨‍👩‍👧: 3 emoji joined by 2 ZWJ


def cost(char: str, encoding: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) of one code point."""
    if encoding == "GSM-7":
        return 2 if char in EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def independent_units(text: str) -> tuple[str, int]:
    encoding = "GSM-7" if all(c in BASIC or c in EXTENSION for c in text) else "UCS-2"
    return encoding, sum(cost(c, encoding) for c in text)


def limits(encoding: str) -> tuple[int, int]:
    return (160, 153) if encoding == "GSM-7" else (70, 67)


@pytest.mark.parametrize(
    ("label", "text", "expected"),
    [
        ("empty is one empty part", "", Measure("GSM-7", 1, 0, 0)),
        ("160 GSM-7 fit one part", "a" * 160, Measure("GSM-7", 1, 160, 160)),
        ("161 GSM-7 need two", "a" * 161, Measure("GSM-7", 2, 161, 161)),
        ("153*2 fill two parts", "a" * 306, Measure("GSM-7", 2, 306, 306)),
        ("153*2+1 needs three", "a" * 307, Measure("GSM-7", 3, 307, 307)),
        ("70 UCS-2 fit one part", "ж" * 70, Measure("UCS-2", 1, 70, 70)),
        ("71 UCS-2 need two", "ж" * 71, Measure("UCS-2", 2, 71, 71)),
        ("67*2 fill two parts", "ж" * 134, Measure("UCS-2", 2, 134, 134)),
        ("67*2+1 needs three", "ж" * 135, Measure("UCS-2", 3, 135, 135)),
        # 306 septets would fit 153+153, but the escape pair cannot straddle the boundary.
        ("escape pair straddling 153", "a" * 152 + "€" + "a" * 152, Measure("GSM-7", 3, 306, 305)),
        # 134 units would fit 67+67, but the surrogate pair cannot straddle the boundary.
        ("emoji straddling 67", "ж" * 66 + EMOJI + "ж" * 66, Measure("UCS-2", 3, 134, 133)),
        ("escape pair at the 160 limit", "a" * 158 + "€", Measure("GSM-7", 1, 160, 159)),
        ("escape pair just over 160", "a" * 159 + "€", Measure("GSM-7", 2, 161, 160)),
        ("emoji at the 70 limit", "ж" * 68 + EMOJI, Measure("UCS-2", 1, 70, 69)),
        ("Bangla OTP", "আপনার ওটিপি কোড ১২৩৪", Measure("UCS-2", 1, 20, 20)),
        ("Devanagari OTP", "तपाईंको ओटीपी", Measure("UCS-2", 1, 13, 13)),
        ("Azerbaijani ş and ı", "Salam, sifarişiniz hazırdır", Measure("UCS-2", 1, 27, 27)),
        ("Azerbaijani ə and ğ", "Hörmətli müştəri, bağlama", Measure("UCS-2", 1, 25, 25)),
        ("Azerbaijani with only ö ü stays GSM-7", "Üzümlü söz", Measure("GSM-7", 1, 10, 10)),
        ("lowercase ç is not GSM-7", "çay", Measure("UCS-2", 1, 3, 3)),
        ("capital Ç is GSM-7", "Çay", Measure("GSM-7", 1, 3, 3)),
        ("ö ü ä ñ are GSM-7", "Göüäñ", Measure("GSM-7", 1, 5, 5)),
        ("ë is not", "Zoë", Measure("UCS-2", 1, 3, 3)),
        ("euro counts two", "€", Measure("GSM-7", 1, 2, 1)),
        ("brackets count two each", "[text]", Measure("GSM-7", 1, 8, 6)),
        ("form feed is in the extension table", "a\fb", Measure("GSM-7", 1, 4, 3)),
        ("Greek capital Delta is GSM-7", "ΔΦΓ", Measure("GSM-7", 1, 3, 3)),
        ("Greek capital Alpha is not", "Α", Measure("UCS-2", 1, 1, 1)),
        ("one Cyrillic letter makes it UCS-2", "Hello Ж", Measure("UCS-2", 1, 7, 7)),
        ("tab is not GSM-7", "a\tb", Measure("UCS-2", 1, 3, 3)),
        ("backtick is not GSM-7", "`", Measure("UCS-2", 1, 1, 1)),
        ("a raw ESC is not a character", "\x1b", Measure("UCS-2", 1, 1, 1)),
        ("emoji is two units", "Hi " + EMOJI, Measure("UCS-2", 1, 5, 4)),
        ("flag is four units", FLAG_NP, Measure("UCS-2", 1, 4, 2)),
        ("ZWJ family is eight units", FAMILY, Measure("UCS-2", 1, 8, 5)),
        ("mixed extension and accents", "Dear Zoé, total {€12}", Measure("GSM-7", 1, 24, 21)),
    ],
)
def test_measure_hand_picked(label: str, text: str, expected: Measure) -> None:
    assert measure(text) == expected, label
    assert len(split(text)) == expected.segments
    assert "".join(split(text)) == text


def test_split_never_breaks_an_escape_pair() -> None:
    text = "a" * 152 + "€" + "a" * 152
    assert split(text) == ["a" * 152, "€" + "a" * 151, "a"]


def test_split_never_breaks_a_surrogate_pair() -> None:
    text = "ж" * 66 + EMOJI + "ж" * 66
    assert split(text) == ["ж" * 66, EMOJI + "ж" * 65, "ж"]


def test_split_may_part_a_flag_between_its_two_code_points() -> None:
    # The documented choice: only surrogate pairs stay whole, not grapheme clusters (Twilio's
    # calculator would move the whole flag to the second part).
    text = "ж" * 65 + FLAG_NP + "ж" * 10
    assert split(text) == ["ж" * 65 + FLAG_NP[0], FLAG_NP[1] + "ж" * 10]


def test_empty_text_splits_into_one_empty_part() -> None:
    assert split("") == [""]


def test_long_bangla_text_uses_67_unit_parts() -> None:
    text = "আপনার ওটিপি কোড ১২৩৪। " * 10  # 220 units
    assert measure(text) == Measure("UCS-2", 4, 220, 220)
    assert [len(part) for part in split(text)] == [67, 67, 67, 19]


def test_non_bmp_text_that_python_counts_as_one_char_each() -> None:
    text = EMOJI * 40  # 40 chars, 80 units: two parts of 33 emoji (66 units) and 7
    assert measure(text) == Measure("UCS-2", 2, 80, 40)
    assert split(text) == [EMOJI * 33, EMOJI * 7]


text_strategy = st.text(
    alphabet=st.one_of(
        st.sampled_from(sorted(BASIC)),
        st.sampled_from(sorted(EXTENSION)),
        st.sampled_from([EMOJI, "ж", "ş", "আ", "ç", "\U0001f1f3", "\u200d", "`"]),
        st.characters(),
    ),
    max_size=700,
)
gsm_text_strategy = st.text(
    alphabet=st.one_of(st.sampled_from(sorted(BASIC)), st.sampled_from(sorted(EXTENSION))),
    max_size=700,
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(text_strategy, gsm_text_strategy))
def test_units_match_the_encoding_definition(text: str) -> None:
    encoding, units = independent_units(text)
    size = measure(text)
    assert (size.encoding, size.units, size.chars) == (encoding, units, len(text))
    assert is_gsm7(text) == (encoding == "GSM-7")


@settings(max_examples=400, deadline=None)
@given(st.one_of(text_strategy, gsm_text_strategy))
def test_split_rejoins_fits_and_fills_each_part(text: str) -> None:
    size = measure(text)
    parts = split(text)
    assert "".join(parts) == text
    assert size.segments == len(parts)
    single, part_limit = limits(size.encoding)
    if len(parts) == 1:
        assert size.units <= single
        return
    assert size.units > single
    part_units = [sum(cost(c, size.encoding) for c in part) for part in parts]
    assert all(0 < units <= part_limit for units in part_units)
    # Greedy: the first character of the next part would not have fitted in the one before.
    for units, following in zip(part_units, parts[1:], strict=False):
        assert units + cost(following[0], size.encoding) > part_limit


@settings(max_examples=300, deadline=None)
@given(st.one_of(text_strategy, gsm_text_strategy), st.characters())
def test_segments_never_decrease_when_text_grows(text: str, extra: str) -> None:
    assert measure(text + extra).segments >= measure(text).segments


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["a", "€", "ж", EMOJI]), st.integers(min_value=1, max_value=400))
def test_segments_monotone_in_repetition(char: str, count: int) -> None:
    assert measure(char * (count + 1)).segments >= measure(char * count).segments
