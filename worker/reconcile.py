"""Finding out after the fact whether numbers went out, from a gateway's message archive.

When a worker dies with a batch in flight, smsq cannot know whether the gateway took it.
Gateways with an archive (SMSPresto's ``list-archive``; an adapter declares one as its
``archive`` capability, a ``providers.ArchiveQuery``) can tell: a number found there, with
the batch's text, sent no earlier than the batch, was accepted. Anything unreadable
answers "cannot tell", never "absent": absent would invite a resend.

The archive is read as a *walk* (``walk``): a few pages a tick, resumed where the last tick
left it, until a page comes back short. Why not one read per tick, as before issue 14: the
archive is listed by day, in an order the manual does not give (the sandbox lists oldest
first), and a busy account's day holds tens of thousands of rows. Reading 40 pages at most
and taking that for the whole archive missed every row after the 20,000th: with two
20,000-number campaigns in a day at 4 requests/s and workers killed mid-campaign, 200
numbers the gateway had accepted were settled ``unknown`` (reproduced; the archive read was
never refused a slot of the rate limit, as first suspected, and it made each such tick last
21 s). A finished walk has seen every row the archive held when it began, in either order:
rows added at the top push the others down, to be read twice, never skipped.

Each page takes a priority slot of the account's rate limit (``Door.at_priority_moment``: ahead of
campaign batches, so a saturated account cannot starve it), and pages go at most at a share
of the account's rate (``share``), so reconciling never takes a campaign's pace away.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

import httpx

from providers import Account, ArchiveEntry, ArchiveQuery, GatewayError
from providers.registry import archive_of, get_adapter
from worker import keys, upkeep
from worker.context import WorkerContext
from worker.ratelimit import Rate
from worker.sending import rate_for

log = logging.getLogger(__name__)

ARCHIVE_PAGE_SIZE = 500
# A walk this long (1,000,000 rows) ends as if the archive ended: the numbers it did not
# reach stay unknown and are looked for again by the next walks (the ``unknown`` re-check).
WALK_MAX_PAGES = 2000
MAX_PAGES_PER_TICK = 8
CLOCK_SKEW_S = 300  # archive times come from the gateway's clock and zone
PASS_KEEP_S = 86_400

PageHandler = Callable[[list[ArchiveEntry], datetime], None]  # (rows, when read)


def has_archive(provider: str) -> bool:
    """True when the provider's adapter can list sent messages."""
    return archive_of(provider) is not None


@dataclass
class WalkState:
    """Where an account's walk stands, kept in Redis between ticks (times in epoch s)."""

    date_from: str = ""  # ISO date of the walk's first day, in the gateway's zone
    offset: int = 0  # the next page's first row
    started_at: float | None = None  # when the walk's first page was asked for
    pages: int = 0
    last_ids: list[str] | None = None  # the previous page's ids: a gateway ignoring offsets
    next_page_at: float = 0.0
    finished_started_at: float | None = None  # when the last finished walk began
    finished_at: float | None = None

    @property
    def began(self) -> datetime | None:
        """When the walk in progress began (None: none has read a page yet)."""
        return _dt(self.started_at)

    @property
    def finished_began(self) -> datetime | None:
        """When the last finished walk began: every row archived before is known."""
        return _dt(self.finished_started_at)


@dataclass(frozen=True, slots=True)
class WalkReport:
    """What one tick's part of a walk did."""

    state: WalkState
    pages: int  # pages read this tick
    began: datetime | None  # when a walk began this tick, if one did
    readable: bool  # False when a page could not be read (the walk waits for next tick)


def walk(
    ctx: WorkerContext,
    account: Account,
    since: datetime,
    share: float,
    on_page: PageHandler,
    *,
    restart_after_s: float = 0.0,
    max_pages_per_s: float = math.inf,
) -> WalkReport:
    """Read the next pages of ``account``'s archive walk, calling ``on_page`` for each.

    ``since`` is the oldest send the caller looks for (the walk restarts when it needs an
    earlier day than it covers); pages go at most at ``share`` of the account's rate and at
    most ``max_pages_per_s``, at most ``MAX_PAGES_PER_TICK`` a tick; a new walk begins no
    sooner than ``restart_after_s`` after the last finished.
    """
    archive = archive_of(account.provider)
    state = load_state(ctx, account.name)
    if archive is None:
        return WalkReport(state, 0, None, False)
    rest = upkeep.rest_of(ctx, account.name)
    if rest.resting(ctx.clock().timestamp()):
        return WalkReport(state, 0, None, False)
    tz = archive.timezone(account)
    wanted_from = (since - timedelta(seconds=CLOCK_SKEW_S)).astimezone(tz).date().isoformat()
    if state.started_at is not None and wanted_from < state.date_from:
        state = _restarted(state)
    rate = rate_for(account, get_adapter(account.provider))
    spacing_s = 1.0 / min(rate.requests_per_s * share, max_pages_per_s)
    pages, began, readable = 0, None, True
    while pages < MAX_PAGES_PER_TICK:
        now_s = ctx.clock().timestamp()
        if now_s < state.next_page_at:
            break
        if state.started_at is None:
            rest_until = (state.finished_at or 0.0) + restart_after_s
            if now_s < rest_until:
                break
            state.date_from = wanted_from
        state.next_page_at = now_s + spacing_s  # read or not: the next page waits its turn
        rows = _page_or_none(ctx, account, archive, state, rate, rest, now_s)
        if rows is None:
            readable = False
            break
        if state.started_at is None:
            state.started_at = now_s
            began = _dt(now_s)
        pages += 1
        on_page(rows, _dt(now_s) or ctx.clock())
        if _advance(state, rows, account.name):
            state.finished_started_at, state.finished_at = state.started_at, now_s
            state = _restarted(state)
    save_state(ctx, account.name, state)
    return WalkReport(state, pages, began, readable)


def _page_or_none(
    ctx: WorkerContext,
    account: Account,
    archive: ArchiveQuery,
    state: WalkState,
    rate: Rate,
    rest: upkeep.Rest,
    now_s: float,
) -> list[ArchiveEntry] | None:
    """The walk's next page, or None (logged) when it could not be read; a gateway that did
    not answer rests from the tick's requests."""
    try:
        rows = _read_page(ctx, account, archive, state, rate)
    except httpx.TransportError as exc:  # no answer: the tick leaves the gateway alone
        rest_s = rest.unanswered(now_s)
        log.warning("archive of account %r not readable: %s (the tick leaves its gateway "
                    "alone for %.0f s)", account.name, exc, rest_s)  # fmt: skip
        return None
    except GatewayError as exc:
        rest.answered()
        log.warning("archive of account %r not readable: %s", account.name, exc)
        return None
    except Exception as exc:  # one account's archive must never stop the tick
        # The type only: an unexpected error's text could hold a GET URL's credentials.
        log.warning("archive of account %r failed: %s", account.name, type(exc).__name__)
        return None
    rest.answered()
    return rows


def _read_page(
    ctx: WorkerContext, account: Account, archive: ArchiveQuery, state: WalkState, rate: Rate
) -> list[ArchiveEntry]:
    tz = archive.timezone(account)
    date_from = date.fromisoformat(state.date_from)
    date_to = max(date_from, ctx.clock().astimezone(tz).date())
    request = archive.build_request(account, date_from, date_to, state.offset, ARCHIVE_PAGE_SIZE)
    request.extensions["timeout"] = upkeep.timeout_for(account).as_dict()
    ctx.door(account.name, rate).at_priority_moment()
    return archive.parse(ctx.http.send(request), tz=tz)


def _advance(state: WalkState, rows: list[ArchiveEntry], account: str) -> bool:
    """Move past a page; True when the walk is finished."""
    ids = [row.id for row in rows]
    repeated = bool(ids) and ids == state.last_ids  # the gateway ignored the offset
    state.offset += ARCHIVE_PAGE_SIZE
    state.pages += 1
    state.last_ids = ids
    if state.pages >= WALK_MAX_PAGES:
        log.warning("archive walk of account %r stopped after %d pages", account, state.pages)
        return True
    return len(rows) < ARCHIVE_PAGE_SIZE or repeated


def _restarted(state: WalkState) -> WalkState:
    return WalkState(
        next_page_at=state.next_page_at,
        finished_started_at=state.finished_started_at,
        finished_at=state.finished_at,
    )


_LOCAL_STATES: dict[str, str] = {}  # without Redis (a single-process context): kept here


def load_state(ctx: WorkerContext, account: str) -> WalkState:
    """The account's walk as the last tick left it (a fresh one when none or unreadable)."""
    key = keys.archive_pass(account)
    raw = ctx.redis.get(key) if ctx.redis is not None else _LOCAL_STATES.get(key)
    if raw is None:
        return WalkState()
    try:
        return WalkState(**json.loads(raw))
    except (TypeError, ValueError):
        return WalkState()


def save_state(ctx: WorkerContext, account: str, state: WalkState) -> None:
    """Keep the walk for the next tick (a day: a walk idle that long starts over)."""
    key, raw = keys.archive_pass(account), json.dumps(asdict(state))
    if ctx.redis is None:
        _LOCAL_STATES[key] = raw
    else:
        ctx.redis.set(key, raw, ex=PASS_KEEP_S)


def entry_matches(entry: ArchiveEntry, text: str | None, sent_at: datetime) -> bool:
    """True when ``entry`` shows the number accepted with ``text`` (None: any text), no
    earlier than ``sent_at`` less clock skew."""
    if text is not None and entry.message is not None and entry.message != text:
        return False
    earliest = sent_at - timedelta(seconds=CLOCK_SKEW_S)
    return entry.created_at is None or entry.created_at >= earliest


def sent_numbers(
    entries: list[ArchiveEntry], texts: Mapping[str, str | None], sent_at: datetime
) -> set[str]:
    """The numbers of ``texts`` (msisdn -> text sent) that ``entries`` show as accepted
    with that text, no earlier than ``sent_at`` (less clock skew).
    """
    wanted = (e for e in entries if e.msisdn in texts)
    return {e.msisdn for e in wanted if entry_matches(e, texts[e.msisdn], sent_at)}


def delivered_of(account: Account) -> Callable[[str | None], bool | None]:
    """The account's reading of archive statuses as fates (see ``ArchiveQuery.delivered``)."""
    archive = archive_of(account.provider)
    if archive is None:
        return lambda _status: None
    return lambda status: archive.delivered(account, status)


def _dt(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC)
