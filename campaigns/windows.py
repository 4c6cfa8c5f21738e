"""Daily send windows: may a campaign send now, in its own time zone, and when may it next?

A window is two "HH:MM" local times in an IANA zone (UTC when none is given). Sends may go
from ``start`` up to but not including ``end``; a window whose end is not after its start
runs overnight (22:00-06:00). A campaign with no window may always send. The worker's tick
asks ``in_window``; ``status`` shows ``next_opening``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_hhmm(value: str) -> time:
    """``"HH:MM"`` as a time; raises ValueError naming the bad value."""
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"send window time {value!r} is not HH:MM") from None


def in_window(now: datetime, start: str | None, end: str | None, tz: str | None) -> bool:
    """True when ``now`` (aware) falls inside the daily window, or there is no window."""
    if not start or not end:
        return True
    local = now.astimezone(ZoneInfo(tz or "UTC")).time()
    begin, finish = parse_hhmm(start), parse_hhmm(end)
    if begin < finish:
        return begin <= local < finish
    return local >= begin or local < finish  # overnight (or a full day when equal)


def window_reason(start: str | None, end: str | None, tz: str | None) -> str:
    """Why a campaign waits: the reason a window pause shows to the user."""
    return f"outside the send window {start}-{end} ({tz or 'UTC'})"


def next_opening(
    after: datetime, start: str | None, end: str | None, tz: str | None
) -> datetime | None:
    """When the window next opens at or after ``after`` (aware), in the window's zone; None
    when it is open at ``after`` or there is no window."""
    if not start or not end or in_window(after, start, end, tz):
        return None
    zone = ZoneInfo(tz or "UTC")
    local = after.astimezone(zone)
    begin = parse_hhmm(start)
    opening = datetime.combine(local.date(), begin, tzinfo=zone)
    if opening <= local:
        opening = datetime.combine(local.date() + timedelta(days=1), begin, tzinfo=zone)
    return opening
