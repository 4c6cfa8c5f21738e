"""Telling the worker that a campaign has work, without importing the worker.

The API calls ``notify(campaign_id)`` after committing a campaign (or resuming, or re-planning
failures). The worker installs its dispatcher with ``set_dispatcher``; without one, or when it
fails, nothing is lost: the worker's periodic tick releases scheduled campaigns from the
database anyway (DESIGN.md invariant 7), the notification only saves the wait for the tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

_dispatcher: Callable[[int], None] | None = None
_sender: Callable[[int, int, str], None] | None = None


def set_dispatcher(fn: Callable[[int], None] | None) -> None:
    """Install the function called with a campaign id when it has work (None removes it)."""
    global _dispatcher
    _dispatcher = fn


def set_sender(fn: Callable[[int, int, str], None] | None) -> None:
    """Install the function that puts a single message's batch straight on its account's
    queue, called with (campaign id, batch id, account); None removes it."""
    global _sender
    _sender = fn


def send_now(campaign_id: int, batch_id: int, account: str) -> None:
    """Hand a single message's batch to the worker at once (no dispatch task in between: one
    broker message per message). Without a sender, ``notify``; if it fails, a warning: the
    tick's lost-batch sweep enqueues the batch of a running campaign that has no message."""
    fn = _sender
    if fn is None:
        notify(campaign_id)
        return
    try:
        fn(campaign_id, batch_id, account)
    except Exception as exc:  # committed already: never fail the call, the tick recovers it
        log.warning(
            "message %d: hand-off to the worker failed (%s: %s); the periodic tick will send it",
            campaign_id,
            type(exc).__name__,
            exc,
        )


def notify(campaign_id: int) -> None:
    """Tell the dispatcher about ``campaign_id``; a no-op without one, a warning if it fails."""
    fn = _dispatcher
    if fn is None:
        return
    try:
        fn(campaign_id)
    except Exception as exc:  # the tick is the safety net: never fail a committed submit
        log.warning(
            "campaign %d: hand-off to the worker failed (%s: %s); the periodic tick will "
            "release it",
            campaign_id,
            type(exc).__name__,
            exc,
        )
