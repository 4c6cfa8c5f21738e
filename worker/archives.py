"""The tick's use of gateway archives: which accounts to walk, how fast, and what for.

An account with an archive (``reconcile.has_archive``) is walked while it has work:

- recovery (a quarter of its rate at most, ``RECOVERY_SHARE``): batches left in flight by
  dead workers, and ``unknown`` numbers still being checked (``archive_check_until`` ahead,
  set for ``store.UNKNOWN_RECHECK_S`` whenever a batch on such a gateway leaves numbers
  unknown: by the tick, or by an ambiguous send through ``store.check_unknown_later``);
- delivery (``DELIVERY_SHARE``, a new walk at most every ``DELIVERY_WALK_EVERY_S``): numbers
  sent within ``archive_apply.DELIVERY_WINDOW_S``, whose fate the archive's status tells.

Each page is settled by ``archive_apply.apply_page``; ``Walked`` tells ``worker.recovery``
what the walks have covered, so it can decide when a dead worker's batch is settled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select

from campaigns.models import Batch, BatchState, Recipient
from campaigns.models import RecipientState as RS
from providers import Account, ArchiveEntry
from providers.registry import MODULES
from worker.archive_apply import DELIVERY_WINDOW_S, PageOutcome, apply_page
from worker.clock import as_utc
from worker.context import WorkerContext
from worker.reconcile import WalkState, has_archive, load_state, walk

RECOVERY_SHARE = 0.25  # of the account's requests/s, at most, while recovering numbers
DELIVERY_SHARE = 0.05  # while only asking for fates
DELIVERY_WALK_EVERY_S = 60.0
# Asking for fates never takes more than this many archive pages a second, whatever the
# account's rate: at 5% of a fast account's (the sandbox's 10,000/s) it would read the whole
# day's archive over and over beside the campaign (bench.e2e fell from 16,400 to 8,600
# msgs/s on SQLite, 15,300 to 1,500 on PostgreSQL).
DELIVERY_PAGES_MAX_PER_S = 1.0


@dataclass(frozen=True, slots=True)
class Walked:
    """How far an account's archive walks have come, for settling batches left in flight."""

    state: WalkState
    stale_after_s: float

    @property
    def finished_began(self) -> datetime | None:
        """When the last finished walk began."""
        return self.state.finished_began

    def began_for(self, sent_at: datetime) -> datetime | None:
        """When the archive could first be read for a batch sent at ``sent_at``: the start of
        the first walk that began once the batch was stale (every page of such a walk was
        matched against it); None while no such walk has begun."""
        ready = sent_at + timedelta(seconds=self.stale_after_s)
        for began in (self.state.finished_began, self.state.began):
            if began is not None and began >= ready:
                return began
        return None


def walk_accounts(
    ctx: WorkerContext, now: datetime, stale: Sequence[tuple[str, datetime]]
) -> tuple[dict[str, Walked], PageOutcome]:
    """Walk every account with archive work a few pages on; ``stale`` lists the (account,
    sent_at) of batches left in flight. Returns the walks of accounts with an archive."""
    recovery: dict[str, datetime] = {}
    for name, sent_at in stale:
        recovery[name] = min(sent_at, recovery.get(name, sent_at))
    for name, since in _checking(ctx, now).items():
        recovery[name] = min(since, recovery.get(name, since))
    delivery, newest = _delivery(ctx, now)
    outcome = PageOutcome()
    walks: dict[str, Walked] = {}
    stale_before = now - timedelta(seconds=ctx.timings.stale_after_s)
    for name in sorted(set(recovery) | set(delivery)):
        account = ctx.accounts.get(name)
        if account is None or not has_archive(account.provider):
            continue
        since = min(d for d in (recovery.get(name), delivery.get(name)) if d is not None)
        # Fates are asked again every DELIVERY_WALK_EVERY_S, but at once for batches sent
        # since the last walk began: their rows have not been looked at yet.
        seen_until = load_state(ctx, name).finished_began
        unseen = name in newest and (seen_until is None or newest[name] >= seen_until)
        # Recovering numbers is urgent; fates are not: new sends start a walk at once, but
        # at the delivery pace, so a running campaign does not pay for its own fates.
        urgent = name in recovery

        def settle(rows: list[ArchiveEntry], at: datetime, account: Account = account) -> None:
            apply_page(ctx, account, rows, at, stale_before, outcome)

        report = walk(
            ctx, account, since, RECOVERY_SHARE if urgent else DELIVERY_SHARE, settle,
            restart_after_s=0.0 if urgent or unseen else DELIVERY_WALK_EVERY_S,
            max_pages_per_s=math.inf if urgent else DELIVERY_PAGES_MAX_PER_S,
        )  # fmt: skip
        walks[name] = Walked(report.state, ctx.timings.stale_after_s)
    return walks, outcome


def _archive_providers() -> list[str]:
    return [provider for provider in MODULES if has_archive(provider)]


def _checking(ctx: WorkerContext, now: datetime) -> dict[str, datetime]:
    """Account -> oldest send among its batches with unknown numbers still being checked."""
    has_unknown = exists().where(Recipient.batch_id == Batch.id, Recipient.state == RS.UNKNOWN)
    query = (
        select(Batch.account, func.min(Batch.sent_at))
        .where(Batch.archive_check_until > now, Batch.sent_at.is_not(None), has_unknown)
        .group_by(Batch.account)
    )
    with ctx.engine.connect() as conn:
        return {account: as_utc(at) for account, at in conn.execute(query) if at is not None}


def _delivery(ctx: WorkerContext, now: datetime) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """Account -> oldest and newest send among its batches done within the window.

    No per-number test (an EXISTS over every recent batch's rows would read them all each
    tick): an account is walked for fates, at the delivery pace, for ``DELIVERY_WINDOW_S``
    after its last send, and a walk settles only the numbers still ``sent``.
    """
    query = (
        select(Batch.account, func.min(Batch.sent_at), func.max(Batch.sent_at))
        .where(
            Batch.provider.in_(_archive_providers()),
            Batch.state == BatchState.DONE,
            Batch.sent_at > now - timedelta(seconds=DELIVERY_WINDOW_S),
        )
        .group_by(Batch.account)
    )
    with ctx.engine.connect() as conn:
        rows = [(a, first, last) for a, first, last in conn.execute(query) if first and last]
    return {a: as_utc(first) for a, first, _ in rows}, {a: as_utc(last) for a, _, last in rows}
