"""A submission's arguments, checked and resolved before any row is read.

Everything that does not depend on the rows is validated here, so a wrong argument fails at
once with a message naming it: the account, text or template, sender, send time and window.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaigns import render
from campaigns.errors import InputError, InvalidTemplate
from campaigns.gateway import Gateway, gateway_for, resolve_account
from providers import Account

DEFAULT_MAX_SEGMENTS = 10
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_MAX_NAME_CHARS = 200  # the columns' widths in models.py
_MAX_KEY_CHARS = 200
_MAX_SENDER_CHARS = 50


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """What to send, how, and when: the validated form of ``submit_campaign``'s arguments."""

    gateway: Gateway
    template: render.Template
    template_id: int | None
    sender: str | None
    max_segments: int
    send_at: datetime  # UTC
    name: str | None
    idempotency_key: str | None
    window: tuple[str, str] | None
    window_tz: str | None


def build_spec(
    account: str | Account,
    *,
    text: str | None,
    template_id: int | None,
    sender: str | None,
    send_at: datetime | None,
    name: str | None,
    idempotency_key: str | None,
    max_segments: int,
    window: tuple[str, str] | None,
    window_tz: str | None,
    accounts: Mapping[str, Account] | None,
) -> CampaignSpec:
    """Check every argument that does not depend on the rows; raise the error naming it."""
    gateway = gateway_for(resolve_account(account, accounts))
    if isinstance(max_segments, bool) or not isinstance(max_segments, int) or max_segments < 1:
        raise InputError(f"max_segments must be a positive integer, got {max_segments!r}")
    _check_length("name", name, _MAX_NAME_CHARS)
    _check_length("idempotency_key", idempotency_key, _MAX_KEY_CHARS)
    resolved_window, tz = check_window(window, window_tz)
    return CampaignSpec(
        gateway=gateway,
        template=_template(gateway, text, template_id),
        template_id=template_id,
        sender=_sender(gateway, sender),
        max_segments=max_segments,
        send_at=utc_send_at(send_at),
        name=name,
        idempotency_key=idempotency_key,
        window=resolved_window,
        window_tz=tz,
    )


def _template(gateway: Gateway, text: str | None, template_id: int | None) -> render.Template:
    account, limits = gateway.account, gateway.limits
    if limits.template_params:
        if template_id is None or text is not None:
            known = ", ".join(str(t) for t in sorted(account.templates)) or "none"
            raise InvalidTemplate(
                f"{account.provider} sends approved templates: give template_id, not text "
                f"(account {account.name!r} has templates: {known})"
            )
        return render.template_for(account, template_id, limits)
    if template_id is not None:
        raise InvalidTemplate(
            f"{account.provider} sends a text: template_id {template_id} cannot be used"
        )
    if text is None or not text.strip():
        raise InputError("text is empty: give the message text")
    return render.parse(text)


def _sender(gateway: Gateway, sender: str | None) -> str | None:
    chosen = sender or gateway.account.sender
    limit = min(gateway.sender_max_chars or _MAX_SENDER_CHARS, _MAX_SENDER_CHARS)
    if chosen is not None and len(chosen) > limit:
        raise InputError(f"sender {chosen!r} is longer than {limit} characters")
    return chosen


def utc_send_at(send_at: datetime | None) -> datetime:
    """``send_at`` in UTC, now when None; InputError for a time without a timezone."""
    if send_at is None:
        return datetime.now(UTC)
    if send_at.tzinfo is None or send_at.utcoffset() is None:
        raise InputError(
            f"send_at {send_at.isoformat()} has no timezone: give an aware datetime "
            "(e.g. datetime(..., tzinfo=UTC))"
        )
    return send_at.astimezone(UTC)


def check_window(
    window: tuple[str, str] | None, window_tz: str | None
) -> tuple[tuple[str, str] | None, str | None]:
    """The send window as ("HH:MM", "HH:MM") and its zone (UTC when only a window is given).

    The window may cross midnight ("21:00", "06:00"); equal ends are refused as ambiguous.
    """
    if window is None:
        if window_tz is not None:
            raise InputError(f"window_tz {window_tz!r} given without a window")
        return None, None
    if not isinstance(window, tuple | list) or len(window) != 2:
        raise InputError(f'window must be ("HH:MM", "HH:MM"), got {window!r}')
    start, end = window
    for label, value in (("start", start), ("end", end)):
        if not isinstance(value, str) or not _HHMM.match(value):
            raise InputError(f'window {label} must be "HH:MM" (00:00-23:59), got {value!r}')
    if start == end:
        raise InputError(f"window start and end are both {start}: give a non-empty window")
    tz = window_tz or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"window_tz {tz!r} is not a known time zone (e.g. Asia/Kathmandu)"
        ) from None
    return (start, end), tz


def _check_length(field: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise InputError(f"{field} is longer than {limit} characters")
