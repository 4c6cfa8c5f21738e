"""What a spreadsheet does to a phone number it took for a number, undone where nothing was lost.

A column of phone numbers that a spreadsheet read as numbers comes out of its CSV export as

* ``9762768809.0`` (a float; ``9762768809,0`` where the decimal mark is a comma),
* ``9,762,768,809`` (a thousands separator),
* ``9.762768809E+9`` (scientific notation with every digit there),
* ``9.82807E+9`` (scientific notation in a narrow column: six digits kept, four gone),
* ``="9841234567"`` or ``'9841234567`` (the tricks that keep a cell text, leaked out).

``repaired(text, raw)`` returns ``(False, digits)`` (a numeric cell has no ``+``) when the
damage is lossless, raises InvalidNumber when digits were lost ("shortened by a spreadsheet:
9.82807E+9 kept only 6 digits of 10"), and returns None for anything that is not one of these
forms (the caller reads it as usual); ``text_cell(text)`` is what a text-cell trick wraps.

A digit is never guessed: the zeros that scientific notation implies may have been any
digits. A numeric cell also drops a national number's leading zero. Nepal, Bangladesh and
Azerbaijan read their numbers without that trunk 0 anyway (``1712345678`` is Bangladesh's
``01712345678``); in Côte d'Ivoire the 0 has been a digit of the number since 2021, and
``707070707`` (9 digits) cannot be told from a typo, so it stays "too short".
"""

from __future__ import annotations

import re
from typing import Final

from campaigns.numbers.model import InvalidNumber

# A numeric cell holds digits only: a "+" or any other separator means the cell was text.
_FLOAT: Final = re.compile(r"(\d+)[.,]0+")
_GROUPED: Final = re.compile(r"(\d{1,3}(?:,\d{3})+)(?:\.0+)?")
_SCIENTIFIC: Final = re.compile(r"(\d+)(?:[.,](\d*))?[eE]([+-]?\d{1,4})")
_TEXT_CELL: Final = re.compile(r"=\"(.*)\"|'(.*)")


def text_cell(text: str) -> str | None:
    """The inside of ``="9841234567"`` or ``'9841234567``; None for any other text."""
    found = _TEXT_CELL.fullmatch(text.strip())
    if found is None:
        return None
    return found[1] if found[1] is not None else found[2]


def repaired(text: str, raw: str) -> tuple[bool, str] | None:
    """``(False, digits)`` of a lossless spreadsheet form, None when ``text`` is none.

    ``text`` is the input with non-ASCII digits and invisible characters already dealt with;
    ``raw`` is the input as given, for the exception. Raises InvalidNumber when the
    spreadsheet lost digits or wrote a fraction.
    """
    text = text.strip()
    if (found := _GROUPED.fullmatch(text)) is not None:
        return False, found[1].replace(",", "")
    if (found := _FLOAT.fullmatch(text)) is not None:
        return False, found[1]
    if (found := _SCIENTIFIC.fullmatch(text)) is not None:
        return False, _scientific(found, raw)
    return None


def _scientific(found: re.Match[str], raw: str) -> str:
    """The digits ``9.762768809E+9`` stands for, or InvalidNumber when some are missing."""
    whole, fraction, exponent = found.groups()
    fraction = fraction or ""
    digits = (whole + fraction).lstrip("0")
    scale = int(exponent) - len(fraction)  # the written digits times 10**scale
    if scale > 0 and digits:
        kept, total = len(digits), len(digits) + scale
        raise InvalidNumber(
            f"shortened by a spreadsheet: {found[0]} kept only {kept} digits of {total} "
            "(format the column as text and export it again)",
            raw,
        )
    if scale < 0:
        digits, dropped = digits[:scale], digits[scale:]
        if dropped.strip("0"):
            raise InvalidNumber(
                "not a whole number: a spreadsheet wrote it in scientific notation with a "
                "fraction (format the column as text and export it again)",
                raw,
            )
    return digits
