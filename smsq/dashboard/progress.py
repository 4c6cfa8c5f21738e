"""A campaign's progress as the dashboard draws it: one bar per campaign (and per account when
it spans several), its outcomes so far, its rate and the time left.

The same numbers as ``smsq watch`` (``smsq.views``): a bar's total is the numbers to be sent
(planning's rejects are not), done is what smsq is finished with (sent, delivered, failed,
unknown, cancelled). The rate is the average since the campaign started sending; the page's
script replaces it with the rate of its last polls once it has a few, so that a campaign
resumed after a pause is not judged by its idle minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from campaigns.models import PLANNED_TERMINAL, CampaignState, RecipientState
from campaigns.status import AccountInfo, CampaignInfo
from smsq.views import campaign_label, elapsed_s, resolved

RS = RecipientState
# The segments of a bar, in the order they are drawn; each is the sum of these states.
SEGMENTS: Mapping[str, tuple[RecipientState, ...]] = {
    "sent": (RS.SENT, RS.DELIVERED),
    "failed": (RS.FAILED,),
    "unknown": (RS.UNKNOWN,),
    "cancelled": (RS.CANCELLED,),
}


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: ``done`` of ``total`` numbers, split into ``segments`` (counts per kind)."""

    label: str
    state: str
    reason: str | None
    total: int
    done: int
    segments: dict[str, int]

    @property
    def percent(self) -> float:
        """How much of the bar is filled, 0 to 100 (a bar with nothing to send is full)."""
        return 100.0 if self.total == 0 else min(100.0, 100.0 * self.done / self.total)

    def widths(self) -> dict[str, float]:
        """Each segment's share of the bar's width, in percent."""
        total = max(self.total, 1)
        return {kind: 100.0 * count / total for kind, count in self.segments.items()}


@dataclass(frozen=True, slots=True)
class Progress:
    """A campaign's bar, its accounts' bars (only when it spans several), rate and time left.

    ``rate_per_s`` is numbers finished per second since the campaign started sending;
    ``left_s`` the time the rest takes at that rate, while it runs (None otherwise).
    """

    id: int
    bar: Bar
    accounts: tuple[Bar, ...]
    recipients: dict[str, int]
    rate_per_s: float | None
    left_s: float | None

    def as_json(self) -> dict[str, Any]:
        """What the page's script polls: plain JSON values, percent and widths included."""
        bars = [self.bar, *self.accounts]
        shown = [{**asdict(b), "percent": b.percent, "widths": b.widths()} for b in bars]
        return {"id": self.id, "bar": shown[0], "accounts": shown[1:],
                "recipients": self.recipients, "rate_per_s": self.rate_per_s,
                "left_s": self.left_s}  # fmt: skip


def _segments(recipients: Mapping[RecipientState, int]) -> dict[str, int]:
    return {kind: sum(recipients.get(s, 0) for s in states) for kind, states in SEGMENTS.items()}


def _to_send(recipients: Mapping[RecipientState, int]) -> int:
    return sum(n for s, n in recipients.items() if s not in PLANNED_TERMINAL)


def _account_bar(share: AccountInfo) -> Bar:
    return Bar(
        label=share.account, state=share.state, reason=share.reason,
        total=_to_send(share.recipients), done=resolved(share.recipients),
        segments=_segments(share.recipients),
    )  # fmt: skip


def progress(info: CampaignInfo, now: datetime | None = None) -> Progress:
    """The campaign's progress as it stands in ``info``."""
    bar = Bar(
        label=campaign_label(info), state=info.state, reason=info.reason,
        total=_to_send(info.recipients), done=resolved(info.recipients),
        segments=_segments(info.recipients),
    )  # fmt: skip
    seconds = elapsed_s(info, now)
    rate = bar.done / seconds if seconds and bar.done else None
    running = info.state == CampaignState.RUNNING
    left = (bar.total - bar.done) / rate if rate and running else None
    accounts = tuple(_account_bar(a) for a in info.accounts) if len(info.accounts) > 1 else ()
    counts = {str(state): count for state, count in info.recipients.items()}
    return Progress(info.id, bar, accounts, counts, rate, left)


def duration_label(seconds: float | None) -> str:
    """``42s``, ``3m 20s``, ``2h 05m``; empty for None (the script writes the same)."""
    if seconds is None:
        return ""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def rate_label(rate_per_s: float | None) -> str:
    """``45/s`` (or ``0.5/s`` below one a second); empty when there is no rate yet."""
    if not rate_per_s:
        return ""
    return f"{rate_per_s:,.0f}/s" if rate_per_s >= 10 else f"{rate_per_s:.1f}/s"
