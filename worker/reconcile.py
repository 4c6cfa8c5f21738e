"""Finding out after the fact whether numbers went out, from a gateway's message archive.

When a worker dies with a batch in flight, smsq cannot know whether the gateway took it.
Gateways with an archive (SMSPresto's ``list-archive``; an adapter declares one as its
``archive`` capability, a ``providers.ArchiveQuery``) can tell: a number found there, with
the batch's text, sent no earlier than the batch, was accepted. Anything unreadable
answers "cannot tell" (None), never "absent": absent would invite a resend.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

import httpx

from providers import Account, ArchiveEntry, ArchiveQuery, GatewayError
from providers.registry import get_adapter
from worker.context import WorkerContext
from worker.ratelimit import Rate, RateLimitTimeout
from worker.sending import timeout_for

log = logging.getLogger(__name__)

ARCHIVE_PAGE_SIZE = 500
ARCHIVE_MAX_PAGES = 40  # 20,000 archive rows per stale batch at most, then give up on the rest
CLOCK_SKEW_S = 300  # archive times come from the gateway's clock and zone
ARCHIVE_LIMITER_MAX_WAIT_S = 2.0


def has_archive(provider: str) -> bool:
    """True when the provider's adapter can list sent messages."""
    return _archive_of(provider) is not None


def read_archive(
    ctx: WorkerContext, account: Account, rate: Rate, since: datetime
) -> list[ArchiveEntry] | None:
    """The account's archived messages from ``since`` (less clock skew) on, at most
    ``ARCHIVE_MAX_PAGES`` pages; None when the archive could not be read.
    """
    archive = _archive_of(account.provider)
    if archive is None:
        return None
    tz = archive.timezone(account)
    date_from = (since - timedelta(seconds=CLOCK_SKEW_S)).astimezone(tz).date()
    date_to = ctx.clock().astimezone(tz).date()
    entries: dict[str, ArchiveEntry] = {}  # by archive id: pages may overlap
    for page in range(ARCHIVE_MAX_PAGES):
        offset = page * ARCHIVE_PAGE_SIZE
        request = archive.build_request(account, date_from, date_to, offset, ARCHIVE_PAGE_SIZE)
        request.extensions["timeout"] = timeout_for(account).as_dict()
        try:
            ctx.limiter.acquire(
                account.name, rate, 1, max_wait_s=ARCHIVE_LIMITER_MAX_WAIT_S, sleep=ctx.sleep
            )
            rows = archive.parse(ctx.http.send(request), tz=tz)
        except (httpx.TransportError, GatewayError, RateLimitTimeout) as exc:
            log.warning("archive of account %r not readable: %s", account.name, exc)
            return None
        fresh = [row for row in rows if row.id not in entries]
        entries.update((row.id, row) for row in fresh)
        if len(rows) < ARCHIVE_PAGE_SIZE or not fresh:
            break
    return list(entries.values())


def sent_numbers(
    entries: list[ArchiveEntry], texts: Mapping[str, str | None], sent_at: datetime
) -> set[str]:
    """The numbers of ``texts`` (msisdn -> text sent) that ``entries`` show as accepted
    with that text, no earlier than ``sent_at`` (less clock skew).
    """
    earliest = sent_at - timedelta(seconds=CLOCK_SKEW_S)
    found = set()
    for entry in entries:
        if entry.msisdn not in texts:
            continue
        text = texts[entry.msisdn]
        if text is not None and entry.message is not None and entry.message != text:
            continue
        if entry.created_at is None or entry.created_at >= earliest:
            found.add(entry.msisdn)
    return found


def _archive_of(provider: str) -> ArchiveQuery | None:
    """The provider's archive capability; None for a provider without one, or one no longer
    known (a campaign outlived its provider's adapter: its batches resolve as unknown)."""
    try:
        return get_adapter(provider).archive
    except KeyError:
        return None
