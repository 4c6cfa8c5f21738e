"""Sending one batch: claim it, wait for the account's rate limit, send, store every outcome.

The order is what keeps DESIGN.md's invariants:

1. Read the batch; skip it unless it is claimable and its campaign is running.
2. Take a slot from the account's shared limiter, holding no claim while waiting: a pause or
   cancel that arrives during the wait wins at step 3, and a worker killed while waiting
   leaves a plain pending batch behind.
3. One transaction claims the batch by compare-and-set (pending, or retry_wait and due, with
   the campaign running) and marks it and its numbers ``in_flight``, then commits. Claim and
   in_flight are one step (the batch never rests in ``claimed``) because nothing that waits
   separates them: no sleep, no network, only building the request, a few milliseconds.
   Invariant 2 holds: the CAS admits one winner and ``in_flight`` is durable before the
   request exists. The only price: a worker dying within those milliseconds leaves numbers
   ``unknown`` (the tick resolves the batch) that were never sent, never numbers sent twice.
4. Send over the process's pooled HTTP client, retrying in process only what never reached
   the gateway (tenacity: a few attempts, a few hundred milliseconds in all).
5. One transaction writes every number's outcome (one bulk statement), finishes the batch, and
   completes the campaign when no batch is open; or decides what the error means (retry
   later, unknown, pause the campaign, fail, split).

Every write after the claim names the claim token, so a tick that gave this batch up for
dead, or any other late writer, cannot be overwritten. The task that called ``send_batch``
acts on the returned ``SendDecision`` (enqueue halves, re-enqueue with a countdown).
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from sqlalchemy import Connection
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from campaigns.errors import CampaignError
from campaigns.failover import Moves, fail_over
from campaigns.models import BatchState, CampaignState, PauseKind, RecipientState
from providers import (
    Account,
    Adapter,
    Batch,
    ErrorKind,
    GatewayError,
    NumberResult,
    ResultState,
    classify_transport_error,
)
from providers.registry import get_adapter
from worker import store
from worker.circuit import Trip
from worker.context import WorkerContext
from worker.ratelimit import Rate, RateLimitTimeout
from worker.store import BatchHead, BatchRef, ClaimedNumber

log = logging.getLogger(__name__)

# In-process retries of requests that never reached the gateway: at most this many tries,
# 50 ms then 100 ms (+ up to 50 ms jitter) apart, so under half a second in all.
QUICK_ATTEMPTS = 3
QUICK_WAIT_INITIAL_S = 0.05
QUICK_WAIT_MAX_S = 0.2
QUICK_WAIT_JITTER_S = 0.05
# Longer waits go back to the broker: attempt n waits about RETRY_BASE_S * 2^(n-1), capped.
MAX_ATTEMPTS = 5  # broker-level attempts of one batch, each with its quick retries
RETRY_BASE_S = 2.0
RETRY_MAX_S = 120.0
RETRY_EARLY_OK_S = 1.0  # clock skew between workers tolerated on a retry's due time
# A task waits this long at most for a rate-limit slot before it holds a claim; longer (a
# throttled account) and it goes back to the broker with a countdown instead of sleeping.
LIMITER_MAX_WAIT_S = 5.0
QUICK_LIMITER_MAX_WAIT_S = 1.0  # the same bound while in flight, between quick retries
CONNECT_TIMEOUT_MAX_S = 10.0  # connect and pool waits are short whatever the read timeout

_RESULT_STATE = {
    ResultState.SENT: RecipientState.SENT,
    ResultState.FAILED: RecipientState.FAILED,
    ResultState.UNKNOWN: RecipientState.UNKNOWN,
}


class Outcome(StrEnum):
    """What happened to a batch in one ``send_batch`` call."""

    SKIPPED = "skipped"  # not claimable (claimed elsewhere, done, campaign not running)
    DEFERRED = "deferred"  # the rate limit asked for a long wait: re-enqueued, nothing claimed
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
    """The result of ``send_batch``: an outcome, and what the task must enqueue."""

    outcome: Outcome
    detail: str = ""
    enqueue: tuple[BatchRef, ...] = ()  # each with its own countdown (delay_s)


def send_batch(batch_id: int, ctx: WorkerContext) -> SendDecision:
    """Send batch ``batch_id`` if it is ours to send; see the module docstring for the steps."""
    head = store.load_head(ctx.engine, batch_id)
    if head is None:
        return SendDecision(Outcome.SKIPPED, "no such batch")
    why_not = _not_claimable(head, ctx)
    if why_not:
        return SendDecision(Outcome.SKIPPED, why_not)
    account = ctx.accounts.get(head.account)
    if account is None:
        return _pause_unconfigured(head, ctx)
    adapter = get_adapter(head.provider)
    try:
        ctx.limiter.acquire(
            account.name, rate_for(account, adapter), head.size,
            max_wait_s=LIMITER_MAX_WAIT_S, sleep=ctx.sleep,
        )  # fmt: skip
    except RateLimitTimeout as exc:
        ref = BatchRef(head.id, head.campaign_id, head.account, _bounded(exc.wait_s, ctx))
        return SendDecision(Outcome.DEFERRED, str(exc), (ref,))
    token = uuid.uuid4().hex
    with ctx.transaction() as conn:
        rows = store.claim_in_flight(conn, head.id, token, ctx.clock(), _due_by(ctx))
    if rows is None:
        return SendDecision(Outcome.SKIPPED, "claim lost")
    return _send_claimed(ctx, head, account, adapter, token, rows)


def rate_for(account: Account, adapter: Adapter) -> Rate:
    """The account's shared limits: its own rate, else the gateway's documented default."""
    return Rate(
        requests_per_s=account.rate_per_s or adapter.limits.default_rate_per_s,
        messages_per_s=account.messages_per_s,
    )


def timeout_for(account: Account) -> httpx.Timeout:
    """Explicit timeouts: reads and writes get the account's ``timeout_s``; connecting less."""
    short = min(account.timeout_s, CONNECT_TIMEOUT_MAX_S)
    return httpx.Timeout(connect=short, read=account.timeout_s, write=account.timeout_s, pool=short)


def build_batch(head: BatchHead, rows: list[ClaimedNumber]) -> Batch:
    """The adapter's batch from the stored rows: one text, a text each, or a template."""
    msisdns = tuple(r.msisdn for r in rows)
    if head.template_id is not None:
        params = None
        if any(r.params for r in rows):
            params = tuple(tuple(str(v) for v in json.loads(r.params or "[]")) for r in rows)
        return Batch(msisdns, template_id=head.template_id, params=params, sender=head.sender)
    if head.text is not None:
        return Batch(msisdns, text=head.text, sender=head.sender)
    texts = tuple(r.text for r in rows)
    if any(t is None for t in texts):
        raise ValueError(f"batch {head.id}: a recipient has no text and the batch none either")
    return Batch(msisdns, texts=tuple(t for t in texts if t is not None), sender=head.sender)


def _not_claimable(head: BatchHead, ctx: WorkerContext) -> str:
    if head.campaign_state != CampaignState.RUNNING:
        return f"campaign is {head.campaign_state}"
    if head.state == BatchState.RETRY_WAIT:
        if head.next_attempt_at is not None and head.next_attempt_at > _due_by(ctx):
            return "retry not due yet"
        return ""
    return "" if head.state == BatchState.PENDING else f"batch is {head.state}"


def _due_by(ctx: WorkerContext) -> datetime:
    # A retry may start a little before its time: the worker that set it may run a clock
    # ahead of ours, and an early retry is as safe as a late one.
    return ctx.clock() + timedelta(seconds=RETRY_EARLY_OK_S)


def _bounded(countdown_s: float, ctx: WorkerContext) -> float:
    # Redis redelivers an unacknowledged message after the visibility timeout, and a message
    # with a countdown waits unacknowledged: keep every countdown well inside it.
    return max(0.05, min(countdown_s, RETRY_MAX_S, ctx.timings.visibility_timeout_s / 4))


def _pause_unconfigured(head: BatchHead, ctx: WorkerContext) -> SendDecision:
    reason = f"account {head.account!r} is not configured on this worker"
    with ctx.transaction() as conn:
        store.pause_campaign(conn, head.campaign_id, PauseKind.ACCOUNT, reason)
    log.warning("campaign %d paused: %s", head.campaign_id, reason)
    return SendDecision(Outcome.PAUSED, reason)


def _send_claimed(
    ctx: WorkerContext,
    head: BatchHead,
    account: Account,
    adapter: Adapter,
    token: str,
    rows: list[ClaimedNumber],
) -> SendDecision:
    try:
        batch, request = _build_request(head, rows, account, adapter)
        results = _send_with_quick_retries(ctx, account, adapter, batch, request)
    except RateLimitTimeout as exc:
        slow = GatewayError(ErrorKind.RETRYABLE, "rate limit slot not free in time")
        return _retry_later(ctx, head, account, token, slow, floor_s=exc.wait_s)
    except GatewayError as err:
        return _on_error(ctx, head, account, token, rows, err)
    if ctx.circuits is not None:
        ctx.circuits.accepted(account.name)
    return _store_results(ctx, head, token, rows, results)


def _build_request(
    head: BatchHead, rows: list[ClaimedNumber], account: Account, adapter: Adapter
) -> tuple[Batch, httpx.Request]:
    """The batch and its request; what cannot be built is a GatewayError like any other."""
    try:
        batch = build_batch(head, rows)
        request = adapter.build_request(account, batch)
    except KeyError as exc:  # a credential the gateway needs is missing from the config
        raise GatewayError(ErrorKind.ACCOUNT, f"account configuration: {exc.args[0]}") from exc
    except ValueError as exc:  # this batch cannot be put in this gateway's request
        raise GatewayError(ErrorKind.REQUEST, f"request not built: {exc}") from exc
    request.extensions["timeout"] = timeout_for(account).as_dict()
    return batch, request


def _quick_wait() -> wait_exponential_jitter:
    try:
        return wait_exponential_jitter(
            multiplier=QUICK_WAIT_INITIAL_S, max=QUICK_WAIT_MAX_S, jitter=QUICK_WAIT_JITTER_S
        )
    except TypeError:  # tenacity before 9.1 names the first wait ``initial``
        return wait_exponential_jitter(
            initial=QUICK_WAIT_INITIAL_S, max=QUICK_WAIT_MAX_S, jitter=QUICK_WAIT_JITTER_S
        )


def _quick_retryable(exc: BaseException) -> bool:
    # Only what certainly was not accepted, and not a "slow down": that waits in the broker.
    return isinstance(exc, GatewayError) and exc.retryable and not exc.throttled


def _send_with_quick_retries(
    ctx: WorkerContext, account: Account, adapter: Adapter, batch: Batch, request: httpx.Request
) -> list[NumberResult]:
    retrying = Retrying(
        stop=stop_after_attempt(QUICK_ATTEMPTS),
        wait=_quick_wait(),
        retry=retry_if_exception(_quick_retryable),
        sleep=ctx.sleep,
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            if attempt.retry_state.attempt_number > 1:  # every request pays the rate limit
                ctx.limiter.acquire(
                    account.name, rate_for(account, adapter), len(batch.msisdns),
                    max_wait_s=QUICK_LIMITER_MAX_WAIT_S, sleep=ctx.sleep,
                )  # fmt: skip
            return _exchange(ctx, adapter, batch, request)
    raise AssertionError("unreachable: tenacity returns or re-raises")


def _exchange(
    ctx: WorkerContext, adapter: Adapter, batch: Batch, request: httpx.Request
) -> list[NumberResult]:
    try:
        response = ctx.http.send(request)
    except httpx.TransportError as exc:
        raise classify_transport_error(exc) from exc
    try:
        return adapter.parse_response(batch, response)
    except GatewayError:
        raise
    except Exception as exc:  # an adapter bug after sending: the gateway may have taken it
        log.exception("parse_response failed on a %d answer", response.status_code)
        raise GatewayError(
            ErrorKind.AMBIGUOUS, f"answer not understood ({type(exc).__name__})"
        ) from exc


def _store_results(
    ctx: WorkerContext,
    head: BatchHead,
    token: str,
    rows: list[ClaimedNumber],
    results: list[NumberResult],
) -> SendDecision:
    by_msisdn = {r.msisdn: r for r in results}
    outcomes: list[store.NumberOutcome] = []
    for row in rows:
        res = by_msisdn.get(row.msisdn)
        if res is None:  # adapters answer for every number; this guards against one that didn't
            res = NumberResult(row.msisdn, ResultState.UNKNOWN, message="not in the answer")
        outcomes.append(
            store.NumberOutcome(
                _RESULT_STATE[res.state], res.provider_message_id, res.network, res.credits,
                res.code, res.message, row.id,
            )
        )  # fmt: skip
    with ctx.transaction() as conn:
        stored = store.write_results(conn, head, token, outcomes, ctx.clock())
    if not stored:
        return _lost(head, f"{len(outcomes)} outcomes dropped")
    return SendDecision(Outcome.DONE, f"{len(outcomes)} numbers")


def _lost(head: BatchHead, what: str) -> SendDecision:
    # Only the tick takes an in-flight batch from a live worker, after settings.stale_after_s:
    # that setting must exceed the longest request (timeout_s times the quick attempts).
    log.error("batch %d was resolved by someone else while in flight: %s", head.id, what)
    return SendDecision(Outcome.LOST, what)


def _on_error(
    ctx: WorkerContext,
    head: BatchHead,
    account: Account,
    token: str,
    rows: list[ClaimedNumber],
    err: GatewayError,
) -> SendDecision:
    pause_s = ctx.limiter.throttle(account.name) if err.throttled else 0.0
    if err.kind is ErrorKind.RETRYABLE:
        trip = _not_accepted(ctx, account)
        if trip is not None and head.routed:
            return _account_failed(ctx, head, token, err, trip.reason(str(err)))
        return _retry_later(ctx, head, account, token, err, floor_s=pause_s)
    if err.kind is ErrorKind.AMBIGUOUS:
        if account.resend_ambiguous:
            return _retry_later(ctx, head, account, token, err)
        return _end(ctx, head, token, err, BatchState.UNKNOWN, RecipientState.UNKNOWN)
    if err.kind is ErrorKind.ACCOUNT:
        reason = err.message if err.code is None else f"{err.message} (code {err.code})"
        return _account_failed(ctx, head, token, err, reason)
    if err.kind is ErrorKind.RECIPIENT and len(rows) > 1:
        return _split(ctx, head, token, rows, err)
    return _end(ctx, head, token, err, BatchState.FAILED, RecipientState.FAILED)


def _retry_later(
    ctx: WorkerContext,
    head: BatchHead,
    account: Account,
    token: str,
    err: GatewayError,
    floor_s: float = 0.0,
) -> SendDecision:
    attempt = head.attempts + 1  # the claim counted this attempt
    if attempt >= MAX_ATTEMPTS:
        # Exhausted: a resent-ambiguous batch may have gone out, so it stays unknown.
        if err.kind is ErrorKind.AMBIGUOUS:
            return _end(ctx, head, token, err, BatchState.UNKNOWN, RecipientState.UNKNOWN)
        return _end(ctx, head, token, err, BatchState.FAILED, RecipientState.FAILED)
    backoff_s = RETRY_BASE_S * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
    countdown_s = _bounded(max(backoff_s, floor_s), ctx)
    now = ctx.clock()
    with ctx.transaction() as conn:
        state = store.send_back(
            conn, head, token, state=BatchState.RETRY_WAIT,
            next_attempt_at=now + timedelta(seconds=countdown_s),
            error_kind=err.kind.value, error=str(err), now=now,
        )  # fmt: skip
    if state is None:
        return _lost(head, f"retry after {err}")
    if state != BatchState.RETRY_WAIT:
        return SendDecision(Outcome.SKIPPED, f"campaign cancelled during {err}")
    ref = BatchRef(head.id, head.campaign_id, head.account, countdown_s)
    return SendDecision(Outcome.RETRY, str(err), (ref,))


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
        return _lost(head, str(err))
    outcome = Outcome.UNKNOWN if batch_state == BatchState.UNKNOWN else Outcome.FAILED
    return SendDecision(outcome, str(err))


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
        return _lost(head, str(err))
    if moves is None or moves.stranded:
        log.warning("campaign %d paused by account %r: %s", head.campaign_id, head.account, reason)
    if moves is None:
        return SendDecision(Outcome.PAUSED, reason)
    log.warning(
        "campaign %d: account %r failed over (%s): %d numbers moved",
        head.campaign_id, head.account, reason, moves.moved,
    )  # fmt: skip
    refs = tuple(BatchRef(i, head.campaign_id, account) for i, account in moves.batches)
    outcome = Outcome.PAUSED if moves.stranded else Outcome.MOVED
    return SendDecision(outcome, f"{moves.moved} numbers moved: {reason}", refs)


def _split(
    ctx: WorkerContext, head: BatchHead, token: str, rows: list[ClaimedNumber], err: GatewayError
) -> SendDecision:
    with ctx.transaction() as conn:
        new_ids = store.split(conn, head, token, [r.id for r in rows], ctx.clock())
    if new_ids is None:
        return _lost(head, str(err))
    refs = tuple(BatchRef(i, head.campaign_id, head.account) for i in new_ids)
    return SendDecision(Outcome.SPLIT, f"{len(rows)} numbers halved over {err}", refs)
