"""The small types both paths share: what a gateway format asks of a number (``Target``), what
an accepted number becomes (``Normalized``) and what a refused one raises (``InvalidNumber``).

They live apart from either path so that the reference path, the oracle the fast path is
tested against, imports nothing of the fast path to build its results.
"""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True, slots=True)
class Target:
    """What one gateway format asks of a number."""

    home: str  # region of numbers written without a country code
    intl: bool  # any country accepted (else only ``home``)
    national_msisdn: bool  # the gateway wants the national number, not country code + number
