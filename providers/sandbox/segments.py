"""SMS segment counting as the sandbox charges it: GSM-7 160/153 or UCS-2 70/67 per segment.

The sandbox only needs a faithful price, not a radio encoder: a text is GSM-7 when every
character is in the GSM 03.38 default alphabet (extension characters count two septets),
otherwise UCS-2 counted in UTF-16 code units (an emoji costs two).
"""

from __future__ import annotations

from functools import lru_cache

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def gsm7_septets(text: str) -> int | None:
    """Septets the text takes in GSM-7, or None when a character needs UCS-2."""
    septets = 0
    for char in text:
        if char in GSM7_BASIC:
            septets += 1
        elif char in GSM7_EXTENSION:
            septets += 2
        else:
            return None
    return septets


@lru_cache(maxsize=4096)  # a request repeats one text for hundreds of numbers
def segment_count(text: str) -> int:
    """Segments (billable SMS parts) for ``text``; an empty text still costs one."""
    septets = gsm7_septets(text)
    if septets is not None:
        units, single, part = septets, GSM7_SINGLE, GSM7_PART
    else:
        units, single, part = len(text.encode("utf-16-le")) // 2, UCS2_SINGLE, UCS2_PART
    if units <= single:
        return 1
    return -(-units // part)
