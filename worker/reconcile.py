"""Finding out after the fact whether numbers went out, from a gateway's message archive.

When a worker dies with a batch in flight, smsq cannot know whether the gateway took it.
Gateways with an archive (SMSPresto's ``list-archive``; a provider module opts in by
exporting ``build_archive_request`` and ``parse_archive``) can tell: a number found there,
with the batch's text, sent no earlier than the batch, was accepted. Anything unreadable
answers "cannot tell" (None), never "absent": absent would invite a resend.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import httpx

from providers import Account, GatewayError
from providers.registry import MODULES
from worker.context import WorkerContext
from worker.ratelimit import Rate, RateLimitTimeout
from worker.sending import timeout_for

log = logging.getLogger(__name__)

ARCHIVE_PAGE_SIZE = 500
ARCHIVE_MAX_PAGES = 40  # 20,000 archive rows per stale batch at most, then give up on the rest
CLOCK_SKEW_S = 300  # archive times come from the gateway's clock and zone
ARCHIVE_LIMITER_MAX_WAIT_S = 2.0


def has_archive(provider: str) -> bool:
    """True when the provider's module can list sent messages."""
    return _archive_functions(provider) is not None


def read_archive(
    ctx: WorkerContext, account: Account, rate: Rate, since: datetime
) -> list[Any] | None:
    """The account's archived messages from ``since`` (less clock skew) on, at most
    ``ARCHIVE_MAX_PAGES`` pages; None when the archive could not be read.
    """
    functions = _archive_functions(account.provider)
    if functions is None:
        return None
    build, parse, zone = functions
    tz = zone(account)
    date_from = (since - timedelta(seconds=CLOCK_SKEW_S)).astimezone(tz).date()
    date_to = ctx.clock().astimezone(tz).date()
    entries: dict[str, Any] = {}  # by archive id: pages may overlap
    for page in range(ARCHIVE_MAX_PAGES):
        request = build(account, date_from, date_to, page * ARCHIVE_PAGE_SIZE, ARCHIVE_PAGE_SIZE)
        request.extensions["timeout"] = timeout_for(account).as_dict()
        try:
            ctx.limiter.acquire(
                account.name, rate, 1, max_wait_s=ARCHIVE_LIMITER_MAX_WAIT_S, sleep=ctx.sleep
            )
            rows = parse(ctx.http.send(request), tz=tz)
        except (httpx.TransportError, GatewayError, RateLimitTimeout) as exc:
            log.warning("archive of account %r not readable: %s", account.name, exc)
            return None
        fresh = [row for row in rows if row.id not in entries]
        entries.update((row.id, row) for row in fresh)
        if len(rows) < ARCHIVE_PAGE_SIZE or not fresh:
            break
    return list(entries.values())


def sent_numbers(
    entries: list[Any], texts: Mapping[str, str | None], sent_at: datetime
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


def _archive_functions(
    provider: str,
) -> (
    tuple[Callable[..., httpx.Request], Callable[..., list[Any]], Callable[[Account], tzinfo]]
    | None
):
    module_name = MODULES.get(provider)
    if module_name is None:
        return None
    module = importlib.import_module(module_name)
    build = getattr(module, "build_archive_request", None)
    parse = getattr(module, "parse_archive", None)
    if build is None or parse is None:
        return None
    zone = getattr(module, "archive_timezone", None) or (lambda _account: UTC)
    return build, parse, zone
