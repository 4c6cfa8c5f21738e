"""A submission's arguments, checked and resolved before any row is read.

Everything that does not depend on the rows is validated here, so a wrong argument fails at
once with a message naming it: the account or route (and every account the route names),
text or template, sender, send time and window.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaigns import render
from campaigns.callbacks.urls import check_callback_url
from campaigns.errors import InputError, InvalidTemplate, UnknownAccount
from campaigns.gateway import Gateway, gateway_for, resolve_account
from campaigns.routes import Route, RouteTable, load_routes
from providers import Account, load_accounts

DEFAULT_MAX_SEGMENTS = 10
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_MAX_NAME_CHARS = 200  # the columns' widths in models.py
_MAX_KEY_CHARS = 200
_MAX_SENDER_CHARS = 50
# A send time this far in the past is still "now": the caller's clock may run behind ours.
SEND_AT_SKEW = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Lane:
    """One account a campaign sends through, and what it sends there.

    ``template`` is what planning renders and measures for this account: the campaign's text
    on a text gateway, the approved template on a template gateway (SMSPlus.az, with
    ``template_id``). ``refusal`` says, when the account cannot carry what the submission
    gave (a template gateway and no ``template_id``), what to add; numbers routed to it are
    ``rejected`` with those words.
    """

    gateway: Gateway
    template: render.Template | None
    template_id: int | None
    sender: str | None
    refusal: str | None = None

    @property
    def account(self) -> str:
        """The account's configured name."""
        return self.gateway.account.name


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """What to send, how, and when: the validated form of ``submit_campaign``'s arguments.

    ``lanes`` holds one account for a one-account campaign, else every account of ``route``
    in order of first mention.
    """

    lanes: tuple[Lane, ...]
    route: RouteTable | None
    text: str | None  # as given
    template_id: int | None
    sender: str | None  # the campaign's own, overriding each account's; None: the account's
    max_segments: int
    send_at: datetime  # UTC
    name: str | None
    idempotency_key: str | None
    window: tuple[str, str] | None
    window_tz: str | None
    strict: bool = False  # a row without a placeholder value fails the submission
    # Where status callbacks go (campaigns.callbacks), and the API key whose secret signs
    # them when the URL is that key's default (None: the campaign's own secret).
    callback_url: str | None = None
    callback_key_id: int | None = None

    @property
    def gateway(self) -> Gateway:
        """The first (for a one-account campaign: the only) account's gateway."""
        return self.lanes[0].gateway

    @property
    def names(self) -> tuple[str, ...]:
        """Every placeholder some account renders, in order of first appearance: the columns
        (or dict keys) a row is read for."""
        found = (n for lane in self.lanes if lane.template for n in lane.template.names)
        return tuple(dict.fromkeys(found))

    @property
    def source_text(self) -> str | None:
        """The text stored with the campaign: the text, or a one-account template's source."""
        if self.route is None and self.lanes[0].template is not None:
            return self.lanes[0].template.source
        return self.text


def build_spec(
    account: str | Account | None = None,
    *,
    route: str | Route | None = None,
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
    routes: Mapping[str, Route] | None = None,
    strict: bool = False,
    callback_url: str | None = None,
    callback_key_id: int | None = None,
) -> CampaignSpec:
    """Check every argument that does not depend on the rows; raise the error naming it.

    Exactly one of ``account`` (a one-account campaign) and ``route`` is given.
    """
    checked_url = check_callback_url(callback_url)
    if account is not None and not isinstance(account, str | Account):
        raise InputError(
            f"account: expected an account name or an Account, got {type(account).__name__} "
            "(with a route, pass the list as recipients=...)"
        )
    if (account is None) == (route is None):
        raise InputError("give exactly one of account and route")
    if isinstance(max_segments, bool) or not isinstance(max_segments, int) or max_segments < 1:
        raise InputError(f"max_segments must be a positive integer, got {max_segments!r}")
    _check_length("name", name, _MAX_NAME_CHARS)
    _check_length("idempotency_key", idempotency_key, _MAX_KEY_CHARS)
    resolved_window, tz = check_window(window, window_tz)
    if account is not None:
        gateway = gateway_for(resolve_account(account, accounts))
        lane = Lane(
            gateway, _template(gateway, text, template_id), template_id,
            _sender(gateway, sender),
        )  # fmt: skip
        lanes: tuple[Lane, ...] = (lane,)
        table = None
    else:
        assert route is not None
        table = RouteTable(resolve_route(route, routes))
        lanes = _route_lanes(table, text, template_id, sender, accounts)
    return CampaignSpec(
        lanes=lanes,
        route=table,
        text=text,
        template_id=template_id,
        sender=sender,
        max_segments=max_segments,
        send_at=utc_send_at(send_at),
        name=name,
        idempotency_key=idempotency_key,
        window=resolved_window,
        window_tz=tz,
        strict=strict,
        callback_url=checked_url,
        callback_key_id=callback_key_id if checked_url is not None else None,
    )


def resolve_route(route: str | Route, routes: Mapping[str, Route] | None) -> Route:
    """The Route itself, or the configured route of that name (InputError if none)."""
    if isinstance(route, Route):
        return route
    known = dict(routes) if routes is not None else load_routes()
    found = known.get(route)
    if found is None:
        names = ", ".join(sorted(known)) or "none configured"
        raise InputError(f"route {route!r} is not configured (known: {names})")
    return found if found.name else found.model_copy(update={"name": route})


def _route_lanes(
    table: RouteTable,
    text: str | None,
    template_id: int | None,
    sender: str | None,
    accounts: Mapping[str, Account] | None,
) -> tuple[Lane, ...]:
    """A lane per account of the route; content each account cannot carry is a refusal."""
    if text is None and template_id is None:
        raise InputError("give text (for text gateways), template_id (for SMSPlus.az) or both")
    if text is not None and not text.strip():
        raise InputError("text is empty: give the message text")
    known = dict(accounts) if accounts is not None else load_accounts()
    lanes = []
    for name in table.route.accounts():
        if name not in known:
            names = ", ".join(sorted(known)) or "none configured"
            raise UnknownAccount(
                f"route {table.name!r} names account {name!r}, which is not configured "
                f"(known: {names})"
            )
        gateway = gateway_for(resolve_account(name, known))
        lanes.append(_route_lane(gateway, text, template_id, sender))
    return tuple(lanes)


def _route_lane(
    gateway: Gateway, text: str | None, template_id: int | None, sender: str | None
) -> Lane:
    account, limits = gateway.account, gateway.limits
    chosen = _sender(gateway, sender)
    if limits.template_params:
        if template_id is None:
            refusal = (
                f"account {account.name!r} ({account.provider}) sends approved templates: "
                "add template_id"
            )
            return Lane(gateway, None, None, chosen, refusal)
        return Lane(gateway, render.template_for(account, template_id, limits), template_id, chosen)
    if text is None:
        refusal = f"account {account.name!r} ({account.provider}) sends a text: add text"
        return Lane(gateway, None, None, chosen, refusal)
    return Lane(gateway, render.parse(text), None, chosen)


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
    """``send_at`` in UTC, now when None; InputError for a time without a timezone, or one
    more than ``SEND_AT_SKEW`` in the past (it would be sent at once, which is seldom meant)."""
    now = datetime.now(UTC)
    if send_at is None:
        return now
    if send_at.tzinfo is None or send_at.utcoffset() is None:
        raise InputError(
            f"send_at {send_at.isoformat()} has no timezone: give an aware datetime "
            "(e.g. datetime(..., tzinfo=UTC))"
        )
    at = send_at.astimezone(UTC)
    if at < now - SEND_AT_SKEW:
        raise InputError(
            f"send_at {send_at.isoformat()} is in the past (now {now:%Y-%m-%dT%H:%M:%SZ}): "
            "give a later time, or none to send now"
        )
    return at


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
