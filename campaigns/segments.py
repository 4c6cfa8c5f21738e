"""SMS segment counting: which encoding a text needs and how it is cut into concatenated parts.

A text is sent in GSM-7 when every character is in the GSM 03.38 default alphabet or its
extension table, otherwise in UCS-2 (DESIGN.md, "Splitting rules"):

* GSM-7 counts septets. A basic character is one septet; an extension-table character
  (``^ { } \\ [ ~ ] | €`` and form feed) is an escape septet plus its own, so two.
* UCS-2 counts UTF-16 code units, so a character outside the Basic Multilingual Plane (most
  emoji, each half of a flag) is two units.
* One part holds 160 septets or 70 units. A longer text is sent in parts that each lose six
  octets to the concatenation header: 153 septets or 67 units per part.

How parts are cut (the rule of ``smssplit``, ``phlib/sms-length`` (which approximates it with
padding), messente's GSM-7 count, and Twilio's calculator on any text without multi-character
grapheme clusters):

* An escape pair is never split: when only one septet is left in a part and the next character
  is an extension character, the part closes at 152 septets.
* A surrogate pair is never split: when only one unit is left in a part and the next character
  is outside the BMP, the part closes at 66 units.
* Nothing else is kept together. Where the references differ we follow the majority above:
  Twilio's calculator also keeps whole grapheme clusters (a ZWJ family emoji, a flag's two
  regional indicators, a Bangla consonant with its vowel sign) in one part, so for a multipart
  UCS-2 text where such a cluster straddles a boundary it may count one part more than we do;
  messente's calculator ignores surrogate pairs in UCS-2 and may count one part fewer.
* Greek capitals that look Latin (Α, Β, ...), ``ç``, tab, backtick and a raw ESC character are
  not in the alphabet and make a text UCS-2, as in every reference calculator (no "smart
  encoding" substitution is done here). CR LF is two GSM-7 septets; calculators that walk
  grapheme clusters (Twilio's) may see a CR LF pair as one non-GSM "character".
* ``chars`` counts code points (an emoji is one, a flag two); Twilio's calculator shows
  grapheme clusters for UCS-2 texts instead. Units and segments are what billing follows.

An empty text is one (empty) part: ``measure("")`` is GSM-7 with 1 segment, 0 units and
0 chars, and ``split("") == [""]``, as Twilio's, messente's and phlib's calculators count it
(``smssplit`` shows no part).
Planning should refuse empty texts before they get here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

GSM7_SINGLE_SEPTETS: Final = 160
GSM7_PART_SEPTETS: Final = 153
UCS2_SINGLE_UNITS: Final = 70
UCS2_PART_UNITS: Final = 67

# The GSM 03.38 default alphabet without ESC (0x1B): ESC is how the extension table is reached,
# not a character a text can hold.
GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table characters a handset renders; each costs an escape septet too.
GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")

_ESCAPED_ALPHABET = "".join(sorted(re.escape(c) for c in GSM7_BASIC | GSM7_EXTENSION))
_NON_GSM7 = re.compile(f"[^{_ESCAPED_ALPHABET}]")
_GSM7_EXTENSION_RE = re.compile("[" + "".join(sorted(re.escape(c) for c in GSM7_EXTENSION)) + "]")
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")
# bytes.translate(None, delete) runs in C at a few ns per character, several times faster than
# a regex scan, so pure-ASCII texts (most campaigns) take this path.
_ASCII_BASIC = bytes(sorted(ord(c) for c in GSM7_BASIC if c.isascii()))
_ASCII_EXTENSION = bytes(sorted(ord(c) for c in GSM7_EXTENSION if c.isascii()))


@dataclass(frozen=True, slots=True)
class Measure:
    """The size of one rendered text as the network sends it.

    ``units`` are septets for GSM-7 (extension characters count two) and UTF-16 code units for
    UCS-2; ``chars`` is ``len(text)`` in code points; ``segments`` is ``len(split(text))``.
    """

    encoding: Encoding
    segments: int
    units: int
    chars: int


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the GSM-7 alphabet or its extension table."""
    return _NON_GSM7.search(text) is None


@lru_cache(maxsize=8192)
def measure(text: str) -> Measure:
    """Encoding, segment count and size of ``text`` (cached: campaigns repeat texts a lot)."""
    chars = len(text)
    extension_count = _gsm7_extension_count(text)
    if extension_count is not None:
        septets = chars + extension_count
        if septets <= GSM7_SINGLE_SEPTETS:
            return _measure(GSM7, 1, septets, chars)
        return _measure(GSM7, _part_count(text, GSM7, septets), septets, chars)
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    if units <= UCS2_SINGLE_UNITS:
        return _measure(UCS2, 1, units, chars)
    return _measure(UCS2, _part_count(text, UCS2, units), units, chars)


# A frozen dataclass's __init__ runs object.__setattr__ per field, which is most of the cost of
# measuring a short text; filling the slots through their descriptors builds the same
# immutable object in half the time (planning measures every rendered text).
_SET_ENCODING, _SET_SEGMENTS, _SET_UNITS, _SET_CHARS = (
    vars(Measure)[name].__set__ for name in ("encoding", "segments", "units", "chars")
)


def _measure(encoding: Encoding, segments: int, units: int, chars: int) -> Measure:
    size: Measure = object.__new__(Measure)
    _SET_ENCODING(size, encoding)
    _SET_SEGMENTS(size, segments)
    _SET_UNITS(size, units)
    _SET_CHARS(size, chars)
    return size


def split(text: str) -> list[str]:
    """The texts of the parts ``text`` is sent in; they join back to ``text`` and each fits."""
    size = measure(text)
    if size.segments == 1:
        return [text]
    ends = _part_ends(text, size.encoding)
    starts = [0, *ends[:-1]]
    return [text[start:end] for start, end in zip(starts, ends, strict=True)]


def _gsm7_extension_count(text: str) -> int | None:
    """How many extension characters ``text`` holds, or None when it is not GSM-7 at all."""
    if text.isascii():
        leftover = text.encode("ascii").translate(None, _ASCII_BASIC)
        if not leftover:
            return 0
        if leftover.translate(None, _ASCII_EXTENSION):
            return None
        return len(leftover)
    if _NON_GSM7.search(text) is not None:
        return None
    return len(_GSM7_EXTENSION_RE.findall(text))


def _part_count(text: str, encoding: Encoding, units: int) -> int:
    """Parts of a text longer than one part."""
    if units == len(text):  # no two-unit character, so no boundary can be pushed back
        return -(-units // _limits(encoding)[1])
    return len(_part_ends(text, encoding))


def _limits(encoding: Encoding) -> tuple[int, int]:
    if encoding == GSM7:
        return GSM7_SINGLE_SEPTETS, GSM7_PART_SEPTETS
    return UCS2_SINGLE_UNITS, UCS2_PART_UNITS


def _part_ends(text: str, encoding: Encoding) -> list[int]:
    """End index (exclusive, in code points) of each part of a multipart ``text``.

    Greedy, as a handset or SMSC fills parts: take characters while they fit, and close the part
    early rather than split a two-unit character (escape pair or surrogate pair) across parts.
    Only the two-unit characters are visited, so this costs O(parts + two-unit characters).
    """
    part = _limits(encoding)[1]
    pattern = _GSM7_EXTENSION_RE if encoding == GSM7 else _ASTRAL_RE
    doubles = [m.start() for m in pattern.finditer(text)]
    ends: list[int] = []
    cursor, room, i = 0, part, 0  # room: units left in the open part; doubles[i]: next pair
    while True:
        end = cursor + room  # where the part would end if no pair came first
        if i < len(doubles) and doubles[i] < end:
            position = doubles[i]
            room -= position - cursor
            if room >= 2:
                cursor, room, i = position + 1, room - 2, i + 1
                continue
            end = position  # one unit left and a pair next: close the part here
        if end >= len(text):
            ends.append(len(text))
            return ends
        ends.append(end)
        cursor, room = end, part
