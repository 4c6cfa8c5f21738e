"""Credits in each gateway's own unit, never added across units.

Most gateways count credits (one per segment); AamarSMS charges money (BDT, its
``campaign_cost``). A campaign's total is given only when all its accounts share one unit;
across units it is None and the unit reads "mixed", so that credits and taka are never summed
into one meaningless figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

CREDITS: Final = "credits"
MIXED: Final = "mixed"


def total(amounts: Iterable[tuple[float | None, str]]) -> tuple[float | None, str]:
    """``(sum, unit)`` of ``(amount, unit)`` pairs: no sum across units (unit "mixed"), nor
    when an amount is unknown (None: money without a price); "credits" for no pairs."""
    pairs = list(amounts)
    units = {unit for _amount, unit in pairs} or {CREDITS}
    if len(units) > 1:
        return None, MIXED
    unit = units.pop()
    known = [amount for amount, _unit in pairs if amount is not None]
    if len(known) < len(pairs):
        return None, unit
    return float(sum(known)), unit


def label(amount: float | None, unit: str, *, named: bool = False) -> str:
    """An amount as the CLI shows it: ``12`` (or, ``named``, ``12 credits``), ``3.5 BDT``,
    ``n/a BDT`` (money without a price), ``mixed`` (across units: see each account)."""
    if unit == MIXED:
        return MIXED
    shown = "n/a" if amount is None else f"{amount:g}"
    return f"{shown} {unit}" if named or unit != CREDITS else shown
