"""What pasting leaves around a number, dropped the same way for both paths.

Whitespace (any Unicode space, tab, NBSP), BOM and other invisible format characters, dashes,
dots, slashes and parentheses are dropped; ``+`` is allowed only first; any Unicode decimal
digit (Bengali ০-৯, Devanagari ०-९, full-width ０-９ ...) reads as its ASCII digit. Letters are
refused ("contains letters"): phonenumbers would read ``98412x4567`` as a number by dropping
the ``x``, which is not what a campaign list wants. Both paths read the cleaned digits, never
the raw text, so this policy is one piece of code, not one per path.

What a spreadsheet does to a number it took for one (``9762768809.0``, ``9.762768809E+9``) is
undone here too when nothing was lost, and refused with the reason when digits were
(``campaigns.numbers.spreadsheet``).
"""

from __future__ import annotations

import unicodedata
from typing import Final

from campaigns.numbers import spreadsheet
from campaigns.numbers.model import InvalidNumber

# ASCII inputs (nearly all) are cleaned with one bytes.translate, ~5x faster than
# str.translate with a dict table.
_SEPARATORS: Final = " \t\n\r\v\f-.()/"
_ASCII_SEPARATORS: Final = _SEPARATORS.encode("ascii")
_UNICODE_SEPARATORS: Final = frozenset("\u2212\uff0e\uff08\uff09\uff0f\u3002")  # and dashes
_PLUS_SIGNS: Final = frozenset("+\uff0b")


def clean(raw: str) -> tuple[bool, str]:
    """``(has_plus, ascii_digits)`` of a pasted number, or InvalidNumber saying what is wrong."""
    text = raw if raw.isascii() else "".join(_unicode_char(ch) for ch in raw)
    if not text.isascii():  # a letter or symbol of another script is left
        raise InvalidNumber(_unreadable_reason(_drop_separators(text)), raw)
    if text[:1] == "+" and text[1:].isdigit():  # "+9779841234567": nothing to clean
        return True, text[1:]
    cleaned = text.encode("ascii").translate(None, _ASCII_SEPARATORS)
    plus = cleaned[:1] == b"+"
    if cleaned[plus:].isdigit():
        # "9762768809.0" loses its dot as a separator: look for a spreadsheet's float first.
        found = spreadsheet.repaired(text, raw) if "." in text else None
        return found or (plus, cleaned[plus:].decode("ascii"))
    found = spreadsheet.repaired(text, raw)  # a decimal comma, thousands, scientific notation
    if found is not None:
        return found
    inner = spreadsheet.text_cell(text)
    if inner is not None and inner != text:
        return clean(inner)
    raise InvalidNumber(_unreadable_reason(cleaned.decode("ascii")), raw)


def _drop_separators(text: str) -> str:
    return "".join(ch for ch in text if ch not in _SEPARATORS)


def _unicode_char(ch: str) -> str:
    """One character of a non-ASCII input: its ASCII digit, ``+``, a separator, nothing, or
    itself. ASCII characters are left to the ASCII rules, and a space stays a space, so that
    ``9762768809.0`` with a no-break space after it reads as the float it is, while
    ``98412\u00a04567.0`` reads as the separated digits it is."""
    if ch.isascii():
        return ch
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    if ch in _PLUS_SIGNS:
        return "+"
    category = unicodedata.category(ch)
    if ch.isspace() or category == "Zs":
        return " "
    if category == "Cf":  # BOM, direction marks: invisible
        return ""
    if ch in _UNICODE_SEPARATORS or category == "Pd":
        return "-"
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
