"""What the CLI shows: campaign tables, JSON, and the live progress of running campaigns.

Credits are shown in each gateway's unit and never added across units (``campaigns.credits``);
times are the campaign's own: elapsed from when it started sending, planned starts and window
openings where it waits.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
)
from rich.table import Table
from rich.text import Text

from campaigns.credits import MIXED
from campaigns.credits import label as credits_text
from campaigns.models import (
    CAMPAIGN_TERMINAL,
    PLANNED_TERMINAL,
    RECIPIENT_TERMINAL,
    AccountState,
    CampaignState,
    RecipientState,
)
from campaigns.status import AccountInfo, CampaignInfo

# Recipient states that mean "smsq is done with this number" for progress purposes.
_DONE_STATES = RECIPIENT_TERMINAL
RS = RecipientState
_STATE_ORDER = (
    RS.PENDING, RS.IN_FLIGHT, RS.SENT, RS.DELIVERED, RS.UNDELIVERED, RS.FAILED, RS.UNKNOWN,
    RS.CANCELLED,
    RS.INVALID, RS.DUPLICATE, RS.SUPPRESSED, RS.REJECTED,
)  # fmt: skip


def to_jsonable(value: Any) -> Any:
    """Dataclasses, datetimes and tuples as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Indented JSON of any API result."""
    return json.dumps(to_jsonable(value), indent=2, ensure_ascii=False)


def elapsed_s(info: CampaignInfo, now: datetime | None = None) -> float | None:
    """Seconds from start to finish (or to now while running); None before it starts."""
    if info.started_at is None:
        return None
    end = info.finished_at or now or datetime.now(UTC)
    return max(0.0, (end - info.started_at).total_seconds())


def campaigns_table(infos: Sequence[CampaignInfo]) -> Table:
    """One row per campaign (state, recipient counts by state, credits, elapsed time), and
    under a routed campaign a row per account."""
    states = [s for s in _STATE_ORDER if any(i.recipients.get(s) for i in infos)]
    table = Table(
        title="campaigns",
        header_style="bold",
        caption=_reasons(infos),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("id", justify="right", min_width=2)
    # Names give way first on a narrow terminal; numbers never do.
    table.add_column("campaign", no_wrap=True, overflow="ellipsis", max_width=15)
    table.add_column("state", no_wrap=True, overflow="ellipsis", max_width=9)
    # Unknown numbers the gateway's archive is still searched for: they may yet turn sent.
    checking = any(info.unknown_checking for info in infos)
    extra = ["checking"] if checking else []
    for column in (*[_SHORT.get(s, s) for s in states], *extra, "credit", "time"):
        table.add_column(column, justify="right", no_wrap=True, min_width=len(column))
    for info in infos:
        seconds = elapsed_s(info)
        table.add_row(
            str(info.id),
            campaign_label(info),
            info.state + ("*" if info.reason else ""),
            *[str(info.recipients.get(s, 0)) for s in states],
            *([str(info.unknown_checking)] if checking else []),
            credits_label(info),
            "" if seconds is None else f"{seconds:.1f}s",
        )
        for share in info.accounts if info.route is not None else ():
            table.add_row(
                "",
                f" {share.account}",
                share.state + ("*" if share.reason else ""),
                *[str(share.recipients.get(s, 0)) for s in states],
                *([""] if checking else []),
                credits_text(share.credits_spent, share.credit_unit),
                "",
            )
    return table


def campaign_label(info: CampaignInfo) -> str:
    """What names a campaign in a table or a bar: its name, account or route."""
    return info.name or info.account or f"route {info.route}"


def credits_label(info: CampaignInfo) -> str:
    """Credits spent, in the gateways' unit; never a sum across units (credits and BDT)."""
    return credits_text(info.credits_spent, info.credit_unit)


def planned_label(info: CampaignInfo) -> str:
    """Credits planned, in the gateways' unit: "250 credits", "12.5 BDT", or per account."""
    if info.credit_unit != MIXED:
        return credits_text(info.credits_planned, info.credit_unit, named=True)
    return ", ".join(
        f"{credits_text(a.credits_planned, a.credit_unit, named=True)} on {a.account}"
        for a in info.accounts
    )


# Column headings short enough for an 80-column terminal.
_SHORT = {
    "in_flight": "flight",
    "invalid": "inval",
    "duplicate": "dup",
    "suppressed": "suppr",
    "cancelled": "cancel",
    "unknown": "unkn",
    "delivered": "deliv",
    "undelivered": "undeliv",
}


def _reasons(infos: Sequence[CampaignInfo]) -> str | None:
    """Why campaigns and accounts marked * paused or failed (or wait), in the gateway's own
    words, and when a campaign that waits will start."""
    lines = []
    for info in infos:
        waits = waiting_label(info)
        if info.reason or waits:
            said = "; ".join(part for part in (info.reason, waits) if part)
            lines.append(f"#{info.id} {info.state}: {said}")
        lines += [
            f"#{info.id} {share.account} {share.state}: {share.reason}"
            for share in info.accounts
            if share.reason
        ]
    return "\n".join(lines) or None


def waiting_label(info: CampaignInfo) -> str | None:
    """When a campaign that has not started will (its send_at), and when its window next
    opens; None for one that is sending or done."""
    parts = []
    if info.state == CampaignState.SCHEDULED and info.send_at is not None:
        parts.append(f"starts {info.send_at:%Y-%m-%d %H:%M} UTC")
    if info.next_window_at is not None:
        parts.append(f"window opens {info.next_window_at:%Y-%m-%d %H:%M %z} ({info.window_tz})")
    return ", ".join(parts) or None


class _ElapsedColumn(ProgressColumn):
    """Time since the campaign started sending (its ``started_at``, not when watch began)."""

    def render(self, task: Task) -> Text:
        seconds = task.fields.get("elapsed_s")
        if seconds is None:
            return Text("-:--:--", style="progress.elapsed")
        minutes, secs = divmod(int(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"{hours}:{minutes:02d}:{secs:02d}", style="progress.elapsed")


class _RateColumn(ProgressColumn):
    """Numbers resolved per second, from the task's own fields (set by ``watch``)."""

    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate_per_s")
        return Text("" if not rate else f"{rate:,.0f}/s", style="cyan")


class _EtaColumn(ProgressColumn):
    """Time left at the current rate."""

    def render(self, task: Task) -> Text:
        rate, left = task.fields.get("rate_per_s"), task.total - task.completed if task.total else 0
        if task.finished or not rate or left <= 0:
            return Text("")
        return Text(f"{left / rate:.0f}s left", style="dim")


def sendable(info: CampaignInfo) -> int:
    """How many of the campaign's numbers are to be sent (at least 1: a bar's total)."""
    planned = sum(info.recipients.get(s, 0) for s in PLANNED_TERMINAL)
    return max(1, info.recipients_total - planned)


def resolved(recipients: Mapping[RecipientState, int]) -> int:
    """How many numbers smsq is done with: sent, failed, unknown, cancelled (not planned)."""
    terminal = _DONE_STATES - PLANNED_TERMINAL
    return sum(recipients.get(s, 0) for s in terminal)


def account_sendable(share: AccountInfo) -> int:
    """How many numbers are to be sent on this account (at least 1)."""
    return max(1, sum(n for s, n in share.recipients.items() if s not in PLANNED_TERMINAL))


def _checking_label(info: CampaignInfo) -> str:
    return f" ({info.unknown_checking} being checked)" if info.unknown_checking else ""


def _label(info: CampaignInfo) -> str:
    state = "" if info.state == CampaignState.RUNNING else f" {info.state}"
    outcomes = _outcomes(info.recipients) + _checking_label(info)
    return f"#{info.id} {campaign_label(info)[:16]:<16} {outcomes}{state}"


def _notice(info: CampaignInfo) -> str | None:
    """What watch prints above the bars when it changes: why a campaign waits or stopped."""
    why = "; ".join(part for part in (info.reason, waiting_label(info)) if part)
    return f"#{info.id} {info.state}: {why}" if why else None


def _account_label(share: AccountInfo) -> str:
    state = "" if share.state == AccountState.ACTIVE else f" {share.state}"
    return f"   {share.account[:16]:<16} {_outcomes(share.recipients)}{state}"


def _outcomes(r: Mapping[RecipientState, int]) -> str:
    # Delivered and undelivered numbers were sent first: they count as sent here.
    sent = r.get(RS.SENT, 0) + r.get(RS.DELIVERED, 0) + r.get(RS.UNDELIVERED, 0)
    return f"{sent:>6} sent {r.get(RS.FAILED, 0):>4} failed {r.get(RS.UNKNOWN, 0):>4} unknown"


def _show(
    progress: Progress,
    tasks: dict[tuple[int, str | None], TaskID],
    info: CampaignInfo,
    notices: dict[int, str | None],
) -> None:
    """One campaign's bars brought up to date, and its notice printed when it changed."""
    notice = _notice(info)
    if notice is not None and notice != notices.get(info.id):
        progress.console.print(notice, markup=False, highlight=False)
    notices[info.id] = notice
    seconds = elapsed_s(info)
    done = resolved(info.recipients)
    rate = done / seconds if seconds else None
    progress.update(tasks[info.id, None], description=_label(info), total=sendable(info),
                    completed=done, rate_per_s=rate, elapsed_s=seconds)  # fmt: skip
    for share in info.accounts:
        task = tasks.get((info.id, share.account))
        if task is None:
            continue
        done = resolved(share.recipients)
        rate = done / seconds if seconds else None
        progress.update(task, description=_account_label(share),
                        total=account_sendable(share), completed=done, rate_per_s=rate,
                        elapsed_s=seconds)  # fmt: skip


def watch(
    ids: Sequence[int],
    fetch: Callable[[int], CampaignInfo],
    console: Console,
    *,
    poll_s: float = 0.25,
    timeout_s: float | None = None,
) -> list[CampaignInfo]:
    """Show a live bar per campaign until every one has ended (or ``timeout_s`` passes)."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        _RateColumn(),
        _ElapsedColumn(),
        _EtaColumn(),
    )
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    with Progress(*columns, console=console, refresh_per_second=8) as progress:
        infos = {i: fetch(i) for i in ids}
        tasks: dict[tuple[int, str | None], TaskID] = {}
        for i, info in infos.items():  # a bar per campaign, and per account under a route
            tasks[i, None] = progress.add_task(f"#{i}", total=1)
            for share in info.accounts if info.route is not None else ():
                tasks[i, share.account] = progress.add_task(share.account, total=1)
        notices: dict[int, str | None] = {}
        while True:
            infos = {i: fetch(i) for i in ids}
            for info in infos.values():
                _show(progress, tasks, info, notices)
            if all(info.state in CAMPAIGN_TERMINAL for info in infos.values()):
                break
            if deadline is not None and time.monotonic() > deadline:
                break
            time.sleep(poll_s)
    return [infos[i] for i in ids]
