"""Sending one batch: its turn at the account's door, the claim, the request, every outcome.

The order is what keeps DESIGN.md's invariants:

1. Read the batch; skip it unless it is claimable and its campaign is running.
2. Wait for a turn at the account's door (``worker.door``): a reserved moment from the
   shared limiter, holding no claim while waiting, so a pause or cancel that arrives
   meanwhile wins at step 3 and a worker killed while waiting leaves a plain pending batch.
3. Shortly before the moment, one transaction claims the batch by compare-and-set (pending,
   or retry_wait and due, with the campaign running) and marks it ``in_flight``, then
   commits. The batch row carries in-flight for its numbers, which stay ``pending`` until
   their outcome is written, so each number is written once per attempt (invariant 2: the
   CAS admits one winner and ``in_flight`` is durable before the request exists).
4. At the moment (``Turn.at_door``: a request later than the tolerance reserves again), send
   over the process's pooled HTTP client, retrying in process only what never reached the
   gateway (each retry at a moment of its own). A "too many requests" lowers the account's
   rate for every worker and the batch, back to pending, waits for its next turn here.
5. One transaction writes every number's outcome (one bulk statement), finishes the batch,
   and completes the campaign when no batch is open; or ``worker.answers`` decides what the
   error means (retry later, unknown, pause or fail over, fail, split).

Every write after the claim names the claim token, so a tick that gave this batch up for
dead, or any other late writer, cannot be overwritten. The task that called ``send_batch``
acts on the returned ``SendDecision`` (enqueue halves or moved batches, a countdown retry).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

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
from worker.answers import (
    MAX_ATTEMPTS,
    RETRY_BASE_S,
    RETRY_MAX_S,
    Outcome,
    SendDecision,
    bounded,
    lost,
    on_error,
    retry_later,
)
from worker.context import WorkerContext
from worker.door import Deferred, Turn
from worker.ratelimit import Rate
from worker.store import BatchHead, BatchRef, ClaimedNumber

__all__ = [
    "MAX_ATTEMPTS",
    "RETRY_BASE_S",
    "RETRY_MAX_S",
    "Outcome",
    "SendDecision",
    "build_batch",
    "rate_for",
    "send_batch",
    "timeout_for",
]

log = logging.getLogger(__name__)

# In-process retries of requests that never reached the gateway: at most this many tries,
# 50 ms then 100 ms (+ up to 50 ms jitter) apart, each at a moment of its own.
QUICK_ATTEMPTS = 3
QUICK_WAIT_INITIAL_S = 0.05
QUICK_WAIT_MAX_S = 0.2
QUICK_WAIT_JITTER_S = 0.05
RETRY_EARLY_OK_S = 1.0  # clock skew between workers tolerated on a retry's due time
# A batch's task holds its broker message this long at most while it waits for a turn (a
# throttled account); past it, the batch goes back to the broker once with a countdown.
HOLD_MAX_S = 300.0
# "Too many requests" answers a task absorbs in process (each lowers the account's rate and
# waits for a new turn) before the batch goes back to the broker.
THROTTLED_IN_PROCESS = 20
CONNECT_TIMEOUT_MAX_S = 10.0  # connect and pool waits are short whatever the read timeout

_RESULT_STATE = {
    ResultState.SENT: RecipientState.SENT,
    ResultState.FAILED: RecipientState.FAILED,
    ResultState.UNKNOWN: RecipientState.UNKNOWN,
}


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
    rate = rate_for(account, adapter)
    for throttled in range(THROTTLED_IN_PROCESS + 1):
        turn = _turn(ctx, head, account, rate)
        if isinstance(turn, Deferred):
            ref = BatchRef(head.id, head.campaign_id, head.account, bounded(turn.wait_s, ctx),
                           head.priority)  # fmt: skip
            return SendDecision(Outcome.DEFERRED, turn.reason, (ref,))
        with turn:
            decision = _take_turn(ctx, head, account, adapter, turn)
        if not isinstance(decision, _Throttled):
            return decision
        if throttled == THROTTLED_IN_PROCESS:
            return retry_later(ctx, head, decision.token, decision.err)
        ctx.limiter.throttled(account.name, rate)
        if not _back_to_pending(ctx, head, decision):
            return lost(head, "throttled, then gone")
    raise AssertionError("unreachable: the loop returns")


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


class _Throttled:
    """The gateway said "too many requests" to a batch we held (by ``token``)."""

    def __init__(self, token: str, err: GatewayError) -> None:
        self.token, self.err = token, err


def _turn(ctx: WorkerContext, head: BatchHead, account: Account, rate: Rate) -> Turn | Deferred:
    door = ctx.door(account.name, rate)

    def touch() -> None:  # the batch's message is held here, not lost
        store.touch(ctx.engine, head.id, ctx.clock())

    return door.turn(
        head.size, priority=head.priority, touch=touch,
        touch_every_s=ctx.timings.tick_interval_s, hold_s=HOLD_MAX_S,
    )  # fmt: skip


def _take_turn(
    ctx: WorkerContext, head: BatchHead, account: Account, adapter: Adapter, turn: Turn
) -> SendDecision | _Throttled:
    """Steps 3 to 5 within one turn: claim, send at the moment, store or decide."""
    turn.sleep_until_claim()
    token = uuid.uuid4().hex
    with ctx.transaction() as conn:
        rows = store.claim_in_flight(conn, head.id, token, ctx.clock(), _due_by(ctx))
    if rows is None:
        return SendDecision(Outcome.SKIPPED, "claim lost")
    try:
        batch, request = _build_request(head, rows, account, adapter)
        results = _send_with_quick_retries(ctx, adapter, batch, request, turn)
    except GatewayError as err:
        if err.throttled:
            return _Throttled(token, err)
        return on_error(ctx, head, account, token, rows, err)
    if ctx.circuits is not None:
        ctx.circuits.accepted(account.name)
    return _store_results(ctx, head, token, rows, results)


def _back_to_pending(ctx: WorkerContext, head: BatchHead, throttled: _Throttled) -> bool:
    """A throttled request was not accepted: the batch is pending again, attempt uncounted."""
    now = ctx.clock()
    with ctx.transaction() as conn:
        state = store.send_back(
            conn, head, throttled.token, state=BatchState.PENDING, next_attempt_at=None,
            error_kind=throttled.err.kind.value, error=str(throttled.err), now=now,
            undo_attempt=True,
        )  # fmt: skip
    return state == BatchState.PENDING


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


def _pause_unconfigured(head: BatchHead, ctx: WorkerContext) -> SendDecision:
    reason = f"account {head.account!r} is not configured on this worker"
    with ctx.transaction() as conn:
        store.pause_campaign(conn, head.campaign_id, PauseKind.ACCOUNT, reason)
    log.warning("campaign %d paused: %s", head.campaign_id, reason)
    return SendDecision(Outcome.PAUSED, reason)


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
    # Only what certainly was not accepted, and not a "slow down": that lowers the rate.
    return isinstance(exc, GatewayError) and exc.retryable and not exc.throttled


def _send_with_quick_retries(
    ctx: WorkerContext, adapter: Adapter, batch: Batch, request: httpx.Request, turn: Turn
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
                turn.again(len(batch.msisdns))
            else:
                turn.at_door(len(batch.msisdns))
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
        return lost(head, f"{len(outcomes)} outcomes dropped")
    return SendDecision(Outcome.DONE, f"{len(outcomes)} numbers")
