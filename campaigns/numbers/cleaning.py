"""What pasting leaves around a number, dropped the same way for both paths.

Whitespace (any Unicode space, tab, NBSP), BOM and other invisible format characters, dashes,
dots, slashes and parentheses are dropped; ``+`` is allowed only first; any Unicode decimal
digit (Bengali ০-৯, Devanagari ०-९, full-width ０-９ ...) reads as its ASCII digit. Letters are
refused ("contains letters"): phonenumbers would read ``98412x4567`` as a number by dropping
the ``x``, which is not what a campaign list wants. Both paths read the cleaned digits, never
the raw text, so this policy is one piece of code, not one per path.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from campaigns.numbers.model import InvalidNumber

# ASCII inputs (nearly all) are cleaned with one bytes.translate, ~5x faster than
# str.translate with a dict table.
_SEPARATORS: Final = " \t\n\r\v\f-.()/"
_ASCII_SEPARATORS: Final = _SEPARATORS.encode("ascii")
_UNICODE_SEPARATORS: Final = frozenset(_SEPARATORS + "\u2212\uff0e\uff08\uff09\uff0f\u3002")
_UNICODE_SEPARATOR_CATEGORIES: Final = frozenset({"Zs", "Cf", "Pd"})  # spaces, BOM/LRM, dashes
_PLUS_SIGNS: Final = frozenset("+\uff0b")


def clean(raw: str) -> tuple[bool, str]:
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
