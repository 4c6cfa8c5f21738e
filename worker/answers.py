"""What a gateway's refusal or silence means for a batch, and what the worker does about it.

``on_error`` routes a ``GatewayError`` by its kind (DESIGN.md invariants 4 and 5):
retryable goes back to ``retry_wait`` with a backoff (or, when the account's circuit opened
on a routed campaign, fails over); ambiguous leaves the numbers ``unknown`` unless the
account resends ambiguous sends; an account error pauses the campaign or fails it over; one
bad number splits the batch; anything else fails its numbers with the gateway's code. Every
write names the claim token, so a batch someone else resolved is reported ``LOST``.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection

from campaigns.errors import CampaignError
from campaigns.failover import Moves, fail_over
from campaigns.models import BatchState, PauseKind, RecipientState
from providers import Account, ErrorKind, GatewayError
from worker import store
from worker.circuit import Trip
from worker.context import WorkerContext
from worker.store import BatchHead, BatchRef, ClaimedNumber

log = logging.getLogger(__name__)

# Waits that go back to the broker: attempt n waits about RETRY_BASE_S * 2^(n-1), capped.
MAX_ATTEMPTS = 5  # broker-level attempts of one batch, each with its quick retries
RETRY_BASE_S = 2.0
RETRY_MAX_S = 120.0


class Outcome(StrEnum):
    """What happened to a batch in one ``send_batch`` call."""

    SKIPPED = "skipped"  # not claimable (claimed elsewhere, done, campaign not running)
    DEFERRED = "deferred"  # no turn at the door within the hold time: back to the broker
    DONE = "done"  # the gateway answered per number; outcomes stored
    RETRY = "retry"  # not accepted: back to retry_wait, re-enqueued with a countdown
    FAILED = "failed"  # every number failed (request error, retries exhausted)
    UNKNOWN = "unknown"  # may have been accepted: numbers unknown, not resent
    PAUSED = "paused"  # account error: campaign paused, batch pending again
    SPLIT = "split"  # one bad number refused the request: halves enqueued
    MOVED = "moved"  # the account failed: its numbers moved to their next account (failover)
    LOST = "lost"  # someone else resolved the batch while we were sending


@dataclass(frozen=True, slots=True)
class SendDecision:
    """The result of ``send_batch``: an outcome, and what the task must enqueue.

    ``detail`` carries no number, text or gateway message: the task returns it and Celery
    logs the return value at INFO.
    """

    outcome: Outcome
    detail: str = ""
    enqueue: tuple[BatchRef, ...] = ()  # each with its own countdown (delay_s)


def summary(err: GatewayError) -> str:
    """An error as a decision's detail: its kind and code, never the gateway's words."""
    code = f" (code {err.code})" if err.code else ""
    status = f" (HTTP {err.http_status})" if err.http_status and not err.code else ""
    return f"{err.kind.value}{code}{status}"


def bounded(countdown_s: float, ctx: WorkerContext) -> float:
    """A countdown kept well inside the broker's visibility timeout: Redis redelivers an
    unacknowledged message after it, and a message with a countdown waits unacknowledged."""
    return max(0.05, min(countdown_s, RETRY_MAX_S, ctx.timings.visibility_timeout_s / 4))


def lost(head: BatchHead, what: str) -> SendDecision:
    """Someone else resolved the batch while we held it: only the tick takes an in-flight
    batch from a live worker, after ``stale_after_s``, which must exceed the longest send."""
    log.error("batch %d was resolved by someone else while in flight: %s", head.id, what)
    return SendDecision(Outcome.LOST, "resolved by someone else while in flight")


def on_error(
    ctx: WorkerContext,
    head: BatchHead,
    account: Account,
    token: str,
    rows: list[ClaimedNumber],
    err: GatewayError,
) -> SendDecision:
    """Decide what a failed request means for the batch we hold (by ``token``)."""
    if err.kind is ErrorKind.RETRYABLE:
        trip = _not_accepted(ctx, account)
        if trip is not None and head.routed:
            return _account_failed(ctx, head, token, err, trip.reason(str(err)))
        return retry_later(ctx, head, token, err)
    if err.kind is ErrorKind.AMBIGUOUS:
        if account.resend_ambiguous:
            return retry_later(ctx, head, token, err)
        return _end(ctx, head, token, err, BatchState.UNKNOWN, RecipientState.UNKNOWN)
    if err.kind is ErrorKind.ACCOUNT:
        reason = err.message if err.code is None else f"{err.message} (code {err.code})"
        return _account_failed(ctx, head, token, err, reason)
    if err.kind is ErrorKind.RECIPIENT and len(rows) > 1:
        return _split(ctx, head, token, rows, err)
    return _end(ctx, head, token, err, BatchState.FAILED, RecipientState.FAILED)


def retry_later(
    ctx: WorkerContext, head: BatchHead, token: str, err: GatewayError, floor_s: float = 0.0
) -> SendDecision:
    """Not accepted: back to ``retry_wait`` for a backoff (failed after ``MAX_ATTEMPTS``)."""
    attempt = head.attempts + 1  # the claim counted this attempt
    if attempt >= MAX_ATTEMPTS:
        # Exhausted: a resent-ambiguous batch may have gone out, so it stays unknown.
        if err.kind is ErrorKind.AMBIGUOUS:
            return _end(ctx, head, token, err, BatchState.UNKNOWN, RecipientState.UNKNOWN)
        return _end(ctx, head, token, err, BatchState.FAILED, RecipientState.FAILED)
    backoff_s = RETRY_BASE_S * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
    countdown_s = bounded(max(backoff_s, floor_s), ctx)
    now = ctx.clock()
    with ctx.transaction() as conn:
        state = store.send_back(
            conn, head, token, state=BatchState.RETRY_WAIT,
            next_attempt_at=now + timedelta(seconds=countdown_s),
            error_kind=err.kind.value, error=str(err), now=now,
        )  # fmt: skip
    if state is None:
        return lost(head, f"retry after {err}")
    if state != BatchState.RETRY_WAIT:
        return SendDecision(Outcome.SKIPPED, f"campaign cancelled during {summary(err)}")
    ref = BatchRef(head.id, head.campaign_id, head.account, countdown_s, head.priority)
    return SendDecision(Outcome.RETRY, summary(err), (ref,))


def _end(
    ctx: WorkerContext,
    head: BatchHead,
    token: str,
    err: GatewayError,
    batch_state: BatchState,
    recipient_state: RecipientState,
) -> SendDecision:
    with ctx.transaction() as conn:
        ended = store.end_batch(
            conn, head, token, batch_state=batch_state, recipient_state=recipient_state,
            error_kind=err.kind.value, code=err.code, message=err.message, now=ctx.clock(),
        )  # fmt: skip
    if not ended:
        return lost(head, str(err))
    outcome = Outcome.UNKNOWN if batch_state == BatchState.UNKNOWN else Outcome.FAILED
    return SendDecision(outcome, summary(err))


def _not_accepted(ctx: WorkerContext, account: Account) -> Trip | None:
    circuits = ctx.circuits
    if circuits is None:
        return None
    return circuits.not_accepted(
        account.name, account.circuit_failures, account.circuit_open_after_s
    )


def _fail_over(
    conn: Connection, ctx: WorkerContext, head: BatchHead, reason: str, now: datetime
) -> Moves | None:
    """Move the campaign's numbers off the failed account, in a savepoint: a move that cannot
    finish (a fallback misconfigured on this worker) undoes itself, and the caller pauses the
    campaign instead of leaving this batch in flight for the tick to call unknown."""
    try:
        with conn.begin_nested():
            return fail_over(conn, head.campaign_id, head.account, reason, now, ctx.accounts)
    except (CampaignError, LookupError, ValueError) as exc:
        log.error("campaign %d: failover off account %r failed: %s", head.campaign_id,
                  head.account, exc)  # fmt: skip
        return None


def _account_failed(
    ctx: WorkerContext, head: BatchHead, token: str, err: GatewayError, reason: str
) -> SendDecision:
    """The account cannot send for now: a routed campaign moves its never-claimed numbers on
    to their next account (this batch's among them); otherwise, or where no account is
    left, the campaign pauses with the gateway's words (DESIGN.md invariants 5 and 10)."""
    now = ctx.clock()
    moves = None
    with ctx.transaction() as conn:
        # Not this batch's fault: its attempt is not counted, its numbers were not accepted.
        state = store.send_back(
            conn, head, token, state=BatchState.PENDING, next_attempt_at=None,
            error_kind=ErrorKind.RETRYABLE.value, error=str(err), now=now, undo_attempt=True,
        )  # fmt: skip
        if state == BatchState.PENDING and head.routed:
            moves = _fail_over(conn, ctx, head, reason, now)
            if moves is None:
                why = f"account {head.account!r}: {reason}; failover could not move its numbers"
                store.pause_campaign(conn, head.campaign_id, PauseKind.ACCOUNT, why)
            elif moves.stranded:
                why = f"account {head.account!r}: {reason}; {moves.stranded} numbers have no "
                store.pause_campaign(conn, head.campaign_id, PauseKind.ACCOUNT, why + "fallback")
        elif state == BatchState.PENDING:
            store.pause_campaign(conn, head.campaign_id, PauseKind.ACCOUNT, reason)
    if state is None:
        return lost(head, str(err))
    if moves is None or moves.stranded:
        log.warning("campaign %d paused by account %r: %s", head.campaign_id, head.account, reason)
    if moves is None:
        return SendDecision(Outcome.PAUSED, summary(err))
    log.warning(
        "campaign %d: account %r failed over (%s): %d numbers moved",
        head.campaign_id, head.account, reason, moves.moved,
    )  # fmt: skip
    refs = tuple(
        BatchRef(i, head.campaign_id, account, priority=head.priority)
        for i, account in moves.batches
    )
    outcome = Outcome.PAUSED if moves.stranded else Outcome.MOVED
    return SendDecision(outcome, f"{moves.moved} numbers moved: {summary(err)}", refs)


def _split(
    ctx: WorkerContext, head: BatchHead, token: str, rows: list[ClaimedNumber], err: GatewayError
) -> SendDecision:
    with ctx.transaction() as conn:
        new_ids = store.split(conn, head, token, [r.id for r in rows], ctx.clock())
    if new_ids is None:
        return lost(head, str(err))
    refs = tuple(
        BatchRef(i, head.campaign_id, head.account, priority=head.priority) for i in new_ids
    )
    return SendDecision(Outcome.SPLIT, f"{len(rows)} numbers halved over {summary(err)}", refs)
