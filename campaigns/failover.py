"""Failover: a routed campaign's never-claimed numbers move to the next account of their route.

When an account stops being usable for a campaign (an account-level error, or its circuit
opened), ``fail_over`` marks it failed for that campaign and moves every number that no
worker has claimed, on any failed account, to the next account of the number's route that
can carry it: the number is written in that gateway's format, its text or template rendered
for it, measured against that gateway's limits, and packed into new batches. On ``resume``,
``back_to_first`` makes every account usable again and moves never-claimed numbers back to
their first account.

What may move (DESIGN.md invariant 10): recipients still ``pending`` in a batch that is
``pending``, or in ``retry_wait`` after an error that means "not accepted". A batch is taken
by compare-and-set (to ``moved``) in the caller's transaction, so it moves once whoever else
notices the same failure, and a worker that claims it first keeps it; a worker dying during
the move rolls the whole move back. Numbers in flight, ``unknown`` or sent never move.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update

from campaigns import render, segments
from campaigns.batching import ClosedBatch, Item, Packer
from campaigns.bulk import insert_batches
from campaigns.errors import MissingPlaceholder
from campaigns.gateway import Gateway, gateway_for, resolve_account
from campaigns.models import AccountState, BatchState, CampaignState, RecipientState
from campaigns.numbers.formats import for_gateway, to_e164_digits
from campaigns.routes import RouteTable
from campaigns.tables import BATCHES, CAMPAIGN_ACCOUNTS, CAMPAIGNS, RECIPIENTS
from providers import Account, ErrorKind, NumberFormat
from providers.registry import get_adapter

# Never claimed, or sent back after an error that means "not accepted" (a retry_wait batch of
# an account that resends ambiguous sends may have gone out: it stays).
_MOVABLE = or_(
    BATCHES.c.state == BatchState.PENDING,
    and_(
        BATCHES.c.state == BatchState.RETRY_WAIT,
        BATCHES.c.error_kind == ErrorKind.RETRYABLE.value,
    ),
)


@dataclass
class Moves:
    """What a re-routing did: numbers moved, numbers left on failed accounts, new batches."""

    moved: int = 0
    stranded: int = 0
    batches: list[tuple[int, str]] = field(default_factory=list)  # (new batch id, account)


@dataclass(frozen=True, slots=True)
class _Target:
    """An account numbers can move to, with what the campaign sends there."""

    gateway: Gateway
    template: render.Template
    template_id: int | None
    sender: str | None

    @property
    def account(self) -> str:
        return self.gateway.account.name

    @property
    def number_format(self) -> NumberFormat:
        return self.gateway.limits.number_format


@dataclass(frozen=True, slots=True)
class _Campaign:
    id: int
    route: RouteTable
    names: tuple[str, ...]  # the placeholder order of the recipients' ``fields``
    max_segments: int
    targets: dict[str, _Target]  # every usable account of the route, by name
    failed: frozenset[str]


def fail_over(
    conn: Connection,
    campaign_id: int,
    account: str,
    reason: str,
    now: datetime,
    accounts: Mapping[str, Account],
) -> Moves:
    """``account`` can no longer send for the campaign: mark it failed (with ``reason``) and
    move the never-claimed numbers of every failed account to their next usable account."""
    conn.execute(
        update(CAMPAIGN_ACCOUNTS)
        .where(
            CAMPAIGN_ACCOUNTS.c.campaign_id == campaign_id,
            CAMPAIGN_ACCOUNTS.c.account == account,
            CAMPAIGN_ACCOUNTS.c.state == AccountState.ACTIVE,
        )
        .values(state=AccountState.FAILED, reason=reason, failed_at=now)
    )
    campaign = _load(conn, campaign_id, accounts)
    if campaign is None:
        return Moves()

    def next_usable(order: Sequence[str], current: str) -> Sequence[str]:
        if current not in campaign.failed:
            return ()  # its account still sends: it stays
        return [a for a in order if a not in campaign.failed]

    notes = {a: f"moved from {a}: {_reason_of(conn, campaign_id, a)}" for a in campaign.failed}
    return _reroute(conn, campaign, now, next_usable, lambda old, _new: notes.get(old, ""))


def back_to_first(
    conn: Connection, campaign_id: int, now: datetime, accounts: Mapping[str, Account]
) -> Moves:
    """Every account of the campaign may send again; never-claimed numbers go back to the
    first account of their route that can carry them (``resume`` tries the route again)."""
    conn.execute(
        update(CAMPAIGN_ACCOUNTS)
        .where(CAMPAIGN_ACCOUNTS.c.campaign_id == campaign_id)
        .values(state=AccountState.ACTIVE, reason=None, failed_at=None)
    )
    campaign = _load(conn, campaign_id, accounts)
    if campaign is None:
        return Moves()

    def first_usable(order: Sequence[str], current: str) -> Sequence[str]:
        return order  # the first that can carry it; its own account ends the search

    return _reroute(
        conn, campaign, now, first_usable, lambda old, new: f"moved back from {old} to {new}"
    )


def failed_accounts(conn: Connection, campaign_id: int) -> dict[str, str]:
    """The campaign's failed accounts, with why."""
    rows = conn.execute(
        select(CAMPAIGN_ACCOUNTS.c.account, CAMPAIGN_ACCOUNTS.c.reason).where(
            CAMPAIGN_ACCOUNTS.c.campaign_id == campaign_id,
            CAMPAIGN_ACCOUNTS.c.state == AccountState.FAILED,
        )
    ).all()
    return {account: reason or "failed" for account, reason in rows}


def _reason_of(conn: Connection, campaign_id: int, account: str) -> str:
    return failed_accounts(conn, campaign_id).get(account, "failed")


def _load(conn: Connection, campaign_id: int, accounts: Mapping[str, Account]) -> _Campaign | None:
    row = conn.execute(
        select(
            CAMPAIGNS.c.route_table, CAMPAIGNS.c.text, CAMPAIGNS.c.template_id,
            CAMPAIGNS.c.sender, CAMPAIGNS.c.max_segments,
        ).where(CAMPAIGNS.c.id == campaign_id)
    ).one_or_none()  # fmt: skip
    if row is None or row.route_table is None:
        return None  # a one-account campaign has nowhere to move
    route = RouteTable.from_json(row.route_table)
    targets = {}
    for name in route.route.accounts():
        target = _target(name, accounts, row.text, row.template_id, row.sender)
        if target is not None:
            targets[name] = target
    names = _names(row.text, [t.template for t in targets.values()])
    failed = frozenset(failed_accounts(conn, campaign_id))
    return _Campaign(campaign_id, route, names, row.max_segments, targets, failed)


def _target(
    name: str,
    accounts: Mapping[str, Account],
    text: str | None,
    template_id: int | None,
    sender: str | None,
) -> _Target | None:
    """The account as a move target, or None when it is unknown here or cannot carry what
    the campaign sends (a template gateway without a template id, a text gateway without
    text)."""
    if name not in accounts:
        return None
    gateway = gateway_for(resolve_account(name, accounts))
    limits, account = gateway.limits, gateway.account
    if limits.template_params:
        if template_id is None or template_id not in account.templates:
            return None
        template = render.template_for(account, template_id, limits)
    else:
        if text is None:
            return None
        template = render.parse(text)
    return _Target(gateway, template, template_id if limits.template_params else None, sender)


def _names(text: str | None, templates: Sequence[render.Template]) -> tuple[str, ...]:
    """The order in which planning kept placeholder values: as ``CampaignSpec.names``."""
    found = [render.parse(text).names] if text is not None else []
    found += [t.names for t in templates]
    return tuple(dict.fromkeys(n for names in found for n in names))


class _Pending(NamedTuple):
    """A never-claimed number of a movable batch, as stored."""

    id: int
    msisdn: str
    text: str | None  # the rendered text, when it differs within its batch
    params: str | None
    segments: int | None
    fields: str | None
    move_reason: str | None
    batch_text: str | None


Choose = Callable[[Sequence[str], str], Sequence[str]]


def _reroute(
    conn: Connection,
    campaign: _Campaign,
    now: datetime,
    choose: Choose,
    note: Callable[[str, str], str],
) -> Moves:
    """Move each movable number to the first of ``choose(route order, current account)``
    that can carry it; ``note(old, new)`` is what its record says."""
    moves = Moves()
    seq = itertools.count(_next_seq(conn, campaign.id))
    packers: dict[str, Packer] = {}
    reasons: dict[int, str] = {}
    for batch_id, account, provider in _movable_batches(conn, campaign.id):
        if account not in campaign.targets:
            continue  # not configured here: this process cannot re-pack its numbers
        fmt = get_adapter(provider).limits.number_format
        placed = [
            (row, _place(campaign, row, to_e164_digits(row.msisdn, fmt), account, choose))
            for row in _pending_rows(conn, batch_id)
        ]
        if all(item is None for _row, item in placed) or not _take(conn, batch_id, now):
            continue  # nothing of it moves, or a worker claimed it meanwhile
        for row, item in placed:
            if item is None:  # stays on its account, in a new batch there
                destination, item = account, _unchanged(row)
            else:
                destination = item[0]
                reasons[row.id] = _appended(row.move_reason, note(account, destination))
                moves.moved += 1
            packer = packers.get(destination)
            if packer is None:
                target = campaign.targets[destination]
                packer = packers[destination] = target.gateway.packer(target.sender, seq=seq)
            packer.add(item[1])
    closed: list[ClosedBatch] = []
    for packer in packers.values():
        packer.finish()
        closed += packer.take_closed()
    _store(conn, campaign.id, closed, reasons, now, moves)
    moves.stranded = _stranded(conn, campaign)
    return moves


def _place(
    campaign: _Campaign, row: _Pending, e164: str, current: str, choose: Choose
) -> tuple[str, Item] | None:
    """(account, the number as it sends it) for a move, or None when the number stays."""
    order = campaign.route.accounts_for(e164)
    for name in choose(order, current):
        if name == current:
            return None
        target = campaign.targets.get(name)
        item = _item_for(campaign, row, e164, target) if target is not None else None
        if item is not None:
            return name, item
    return None


def _item_for(campaign: _Campaign, row: _Pending, e164: str, target: _Target) -> Item | None:
    """The number as ``target`` sends it, or None when it cannot go there (another country,
    a placeholder value it lacks, a text over that gateway's limits)."""
    msisdn = for_gateway(e164, target.number_format)
    values = _values(row.fields, campaign.names, target.template)
    if msisdn is None or values is None:
        return None
    text = target.template.render(values)
    size = segments.measure(text)
    limits = target.gateway.limits
    if size.segments > campaign.max_segments or (
        limits.max_text_chars is not None and size.chars > limits.max_text_chars
    ):
        return None
    budget = target.gateway.url_budget(target.sender)
    if budget is not None and not budget.fits_one(text):
        return None
    params = None
    if target.template_id is not None and target.template.names:
        params = json.dumps(list(values), ensure_ascii=False)
    return Item(row.id, msisdn, text, params, size.segments, row.fields)


def _values(
    fields: str | None, names: tuple[str, ...], template: render.Template
) -> tuple[str, ...] | None:
    """The row's values for ``template``'s placeholders, defaults filled in (() for a plain
    text); None when one is missing there."""
    if not template.names:
        return ()
    by_name = dict(zip(names, json.loads(fields), strict=False)) if fields is not None else {}
    values = [None if by_name.get(n) is None else str(by_name[n]) for n in template.names]
    try:
        return template.fill(values)
    except MissingPlaceholder:
        return None


def _unchanged(row: _Pending) -> tuple[str, Item]:
    text = row.text or row.batch_text or ""
    return "", Item(row.id, row.msisdn, text, row.params, row.segments or 1, row.fields)


def _appended(previous: str | None, note: str) -> str:
    return note if not previous else f"{previous}; {note}"


def _movable_batches(conn: Connection, campaign_id: int) -> list[tuple[int, str, str]]:
    rows = conn.execute(
        select(BATCHES.c.id, BATCHES.c.account, BATCHES.c.provider)
        .where(BATCHES.c.campaign_id == campaign_id, _MOVABLE)
        .order_by(BATCHES.c.seq, BATCHES.c.id)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _pending_rows(conn: Connection, batch_id: int) -> list[_Pending]:
    rows = conn.execute(
        select(
            RECIPIENTS.c.id, RECIPIENTS.c.msisdn, RECIPIENTS.c.text, RECIPIENTS.c.params,
            RECIPIENTS.c.segments, RECIPIENTS.c.fields, RECIPIENTS.c.move_reason,
            BATCHES.c.text,
        )
        .select_from(RECIPIENTS.join(BATCHES, RECIPIENTS.c.batch_id == BATCHES.c.id))
        .where(RECIPIENTS.c.batch_id == batch_id, RECIPIENTS.c.state == RecipientState.PENDING)
        .order_by(RECIPIENTS.c.msisdn)
    ).all()  # fmt: skip
    return [_Pending._make(r) for r in rows]


def _take(conn: Connection, batch_id: int, now: datetime) -> bool:
    """Take a never-claimed batch for a move (compare-and-set to ``moved``)."""
    taken = conn.execute(
        update(BATCHES)
        .where(BATCHES.c.id == batch_id, _MOVABLE)
        .values(state=BatchState.MOVED, finished_at=now, updated_at=now, claim_token=None)
    )
    return taken.rowcount == 1


def _next_seq(conn: Connection, campaign_id: int) -> int:
    last = conn.execute(
        select(func.coalesce(func.max(BATCHES.c.seq), 0)).where(
            BATCHES.c.campaign_id == campaign_id
        )
    ).scalar_one()
    return int(last) + 1


def _store(
    conn: Connection,
    campaign_id: int,
    closed: list[ClosedBatch],
    reasons: Mapping[int, str],
    now: datetime,
    moves: Moves,
) -> None:
    if not closed:
        return
    ids = insert_batches(conn, campaign_id, closed)
    updates: list[dict[str, Any]] = []
    for batch, batch_id in zip(closed, ids, strict=True):
        moves.batches.append((batch_id, batch.account))
        for rid, msisdn, text, params, segs, _fields in batch.items:
            updates.append(
                {
                    "rid": rid, "bid": batch_id, "msisdn": msisdn,
                    "txt": text if batch.text is None else None, "params": params,
                    "segs": segs, "why": reasons.get(rid),
                }
            )  # fmt: skip
    conn.execute(
        update(RECIPIENTS)
        .where(RECIPIENTS.c.id == bindparam("rid"))
        .values(
            batch_id=bindparam("bid"), msisdn=bindparam("msisdn"), text=bindparam("txt"),
            params=bindparam("params"), segments=bindparam("segs"),
            credits=bindparam("segs"),
            move_reason=func.coalesce(bindparam("why"), RECIPIENTS.c.move_reason),
            updated_at=now,
        ),
        updates,
    )  # fmt: skip
    conn.execute(
        update(CAMPAIGNS)
        .where(CAMPAIGNS.c.id == campaign_id)
        .values(batches_total=CAMPAIGNS.c.batches_total + len(closed))
    )


def _stranded(conn: Connection, campaign: _Campaign) -> int:
    """Movable numbers still waiting on a failed account of the campaign: they have nowhere
    to go (a retry of an ambiguous send stays with its account, and is not counted)."""
    if not campaign.failed:
        return 0
    count = conn.execute(
        select(func.coalesce(func.sum(BATCHES.c.size), 0)).where(
            BATCHES.c.campaign_id == campaign.id,
            BATCHES.c.account.in_(sorted(campaign.failed)),
            _MOVABLE,
        )
    ).scalar_one()
    return int(count)


def left_on_failed_accounts(conn: Connection) -> list[tuple[int, str, str]]:
    """(campaign, account, reason) where a running routed campaign still has movable numbers
    on an account that failed for it: the tick moves them (a batch sent back there after the
    failure was handled, such as a split half)."""
    failed = CAMPAIGN_ACCOUNTS.c
    rows = conn.execute(
        select(failed.campaign_id, failed.account, failed.reason)
        .distinct()
        .select_from(
            CAMPAIGN_ACCOUNTS.join(
                BATCHES,
                and_(BATCHES.c.campaign_id == failed.campaign_id,
                     BATCHES.c.account == failed.account),
            ).join(CAMPAIGNS, CAMPAIGNS.c.id == failed.campaign_id)
        )
        .where(
            failed.state == AccountState.FAILED, CAMPAIGNS.c.state == CampaignState.RUNNING,
            CAMPAIGNS.c.route_table.is_not(None), _MOVABLE,
        )
    ).all()  # fmt: skip
    return [(r[0], r[1], r[2] or "failed") for r in rows]
