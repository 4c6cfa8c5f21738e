"""Planning a campaign: every row classified, every sendable number placed in a batch.

Rows stream through in chunks of ``CHUNK_ROWS``. For each chunk the numbers are read (for
one account: in its gateway's format; for a route: to E.164 with the route's default region,
then, by the longest matching prefix, written for the account they route to), ``invalid``
when they cannot be a mobile number there; repeats are marked ``duplicate``, numbers on the
global opt-out list ``suppressed``, numbers no route covers ``rejected``. Each remaining
number's text is rendered and measured for its account (``rejected`` when over that
gateway's hard limits) and the number goes into a batch of that account. Closed batches and
classified rows go to a ``Sink`` once per chunk, so memory holds one chunk, the open batches
and the set of numbers seen.

Decisions (DESIGN.md invariant 8, "bad input gets a clear error"):

- The campaign's own text over a hard limit (characters, segments, a GET gateway's URL) is
  a ``TextTooLong`` error before any row is read; for a personalized text, its fixed part.
- One personalized row over a limit is recorded ``rejected`` with the reason; when every
  sendable row is rejected, the submission fails with ``TextTooLong`` naming the first.
- A number routed to an account that cannot carry what was given (a template gateway and no
  ``template_id``) is ``rejected`` with the reason saying what to add.
- A row with a missing or empty placeholder value (and no ``{name|default}``) is recorded
  ``rejected`` with the column named, and the rest goes on: one empty cell in a list of
  thousands should not hold back the others, and the estimate then shows every such row at
  once. A ``strict`` campaign fails instead (``MissingPlaceholder`` naming the row and column),
  as every campaign did before.
- No sendable number at all (every row invalid, duplicate, suppressed or rejected, or no rows)
  is ``NothingToSend``: such a campaign is almost always a wrong file, column or region.

Every row that is not sent is also counted by reason (``campaigns.findings``, what the
estimate shows), and written to a rejects file when one is asked for (``campaigns.rejects``).
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import NamedTuple, Protocol

from campaigns import segments
from campaigns.batching import ClosedBatch, Item, UrlBudget
from campaigns.credits import total as credits_total
from campaigns.errors import InputError, MissingPlaceholder, NothingToSend, TextTooLong
from campaigns.findings import SAMPLES, Findings, Sample, reason_kind
from campaigns.models import RecipientState as RS
from campaigns.numbers import InvalidNumber, Normalized, normalizer
from campaigns.numbers.formats import FORMAT_COUNTRIES, country_of_format, for_gateway
from campaigns.numbers.metadata import COUNTRY_CODE_BY_HEAD
from campaigns.recipients_input import Row
from campaigns.rejects import RejectsFile
from campaigns.routes import PrefixEntry, RouteTable
from campaigns.spec import CampaignSpec, Lane
from campaigns.suppression import SuppressionLookup
from providers import NumberFormat

# Rows per chunk. Each chunk costs the writer thread a few hand-offs of the GIL (up to the 5 ms
# switch interval each) and one sweep of the unique index; 50,000 planned a million numbers
# about 1 s faster than 20,000, for some 15 MB more memory.
CHUNK_ROWS = 50_000
FIRST_CHUNK_ROWS = 5_000  # chunks double from here up to CHUNK_ROWS
_RAW_CHARS = 32  # Recipient.msisdn's width: an invalid row keeps at most this much raw input
_EXAMPLES = 3  # reasons quoted in an error about the whole list
_DUPLICATE = "same number as an earlier row"  # how duplicates are counted among problems


class Settled(NamedTuple):
    """A row that is not sent, settled at planning with its reason."""

    row_no: int
    msisdn: str  # normalized, or the raw input (cut to the column's width) when invalid
    state: RS
    reason: str
    segments: int | None


# Plain tuples are built through tuple.__new__ on the hot path: calling a NamedTuple class
# costs 0.45 s per million rows against 0.27 s this way (the rows are the same objects).
_new = tuple.__new__
# (row number, msisdn, E.164 digits, placeholder values): a new valid number of the chunk.
_Fresh = tuple[int, str, str, tuple[str | None, ...] | None]
_MSISDN = itemgetter(1)


class Sink(Protocol):
    """Where planned rows go: the database (submit) or nowhere (estimate)."""

    def write(self, settled: list[Settled], closed: list[ClosedBatch]) -> None:
        """Store one chunk's settled rows and the batches closed since the last call."""


class NullSink:
    """A sink that keeps nothing: the dry run of ``estimate``."""

    def write(self, settled: list[Settled], closed: list[ClosedBatch]) -> None:
        """Drop the chunk."""


@dataclass
class AccountTally:
    """One account's share of a planning run; ``credits`` in the gateway's own unit."""

    account: str
    provider: str
    credit_unit: str = "credits"
    price_per_segment: float | None = 1.0  # None: the gateway charges money, price unknown
    valid: int = 0
    rejected: int = 0
    batches: int = 0
    segments_total: int = 0
    segments_max: int = 0

    @property
    def credits(self) -> float | None:
        """What the share will cost in ``credit_unit``; None when no price is known."""
        if self.price_per_segment is None:
            return None
        return self.segments_total * self.price_per_segment


@dataclass
class Tally:
    """Counts of one planning run: what ``estimate`` reports and the campaign row records.

    ``rejected`` counts every rejected row; ``no_route`` those among them that no prefix of
    the route covered. ``accounts`` holds each account's share, in the route's order.
    """

    rows: int = 0
    valid: int = 0
    invalid: int = 0
    duplicate: int = 0
    suppressed: int = 0
    rejected: int = 0
    no_route: int = 0
    missing_values: int = 0  # rejected for a placeholder value they lack
    segments_max: int = 0
    segments_total: int = 0
    batches: int = 0
    encodings: set[str] = field(default_factory=set)
    examples: list[str] = field(default_factory=list)  # "row 3: invalid: too short"
    accounts: dict[str, AccountTally] = field(default_factory=dict)
    findings: Findings = field(default_factory=Findings)  # every reason counted, samples

    @property
    def credits(self) -> float | None:
        """What the plan costs in ``credit_unit``: None across units, or when an account
        charges money and has no price."""
        return credits_total((a.credits, a.credit_unit) for a in self.accounts.values())[0]

    @property
    def credit_unit(self) -> str:
        """The accounts' one credit unit ("credits", "BDT"), or "mixed"."""
        return credits_total((a.credits, a.credit_unit) for a in self.accounts.values())[1]

    @property
    def encoding(self) -> str | None:
        """GSM-7, UCS-2, mixed, or None when nothing is sendable."""
        if not self.encodings:
            return None
        return next(iter(self.encodings)) if len(self.encodings) == 1 else "mixed"


@dataclass(frozen=True, slots=True)
class _Verdict:
    segments: int
    encoding: str
    reason: str | None  # why this text cannot be sent, or None
    kind: str | None = None  # what the reason is counted under ("text over max_segments (2)")


class _Refused(Exception):
    """Raised (and caught inside the planner) when a valid number cannot go where it routes."""

    def __init__(self, reason: str, e164: str, *, no_route: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.e164, self.no_route = reason, e164, no_route


class Planner:
    """Classifies rows and packs sendable ones; ``run`` feeds a sink and returns the tally."""

    def __init__(self, spec: CampaignSpec) -> None:
        """Prepare for ``spec``; raises TextTooLong when the campaign's own text cannot fit."""
        self.spec = spec
        self.tally = Tally()
        seq = itertools.count(1)  # one order over every account's batches
        self._lanes = [_LanePlanner(i, lane, spec, seq, self) for i, lane in enumerate(spec.lanes)]
        self._lane_at = {lane.account: i for i, lane in enumerate(spec.lanes)}
        self._seen: dict[int, int] = {}  # E.164 (as an int: smaller than str) -> first row
        self._settled: list[Settled] = []
        try:
            if spec.route is None:
                gateway = spec.gateway
                self._normalize = normalizer(
                    gateway.limits.number_format, gateway.account.default_region
                )
            else:
                self._normalize = normalizer(NumberFormat.INTL, spec.route.default_region)
                self._by_head = _country_normalizers(spec.route)
                self._routes = self._compile_routes(spec.route)
        except ValueError as exc:  # a default_region that contradicts the gateway's country
            where = (
                f"route {spec.route.name!r}"
                if spec.route
                else f"account {spec.gateway.account.name!r}"
            )
            raise InputError(f"{where}: {exc}") from None

    def run(
        self,
        rows: Iterable[Row],
        sink: Sink,
        suppressions: SuppressionLookup,
        *,
        require_sendable: bool = True,
        rejects: RejectsFile | None = None,
    ) -> Tally:
        """Plan every row into ``sink`` and return the tally.

        With ``require_sendable`` (submit), a list with nothing to send raises NothingToSend,
        or TextTooLong when every sendable row was rejected; ``estimate`` reports it instead.
        ``rejects`` gets every row not sent, and is committed once the list was read whole
        (before either error: that is when it is most wanted), discarded otherwise.
        """
        self._rejects = rejects
        try:
            for chunk in _chunks(iter(rows), CHUNK_ROWS):
                self._plan_chunk(chunk, suppressions)
                self._flush(sink)
            for lane in self._lanes:
                lane.packer.finish()
            self._flush(sink)
        except BaseException:
            if rejects is not None:
                rejects.discard()
            raise
        if rejects is not None:
            rejects.commit()
        if require_sendable:
            self._check_sendable()
        return self.tally

    def _flush(self, sink: Sink) -> None:
        closed: list[ClosedBatch] = []
        for lane in self._lanes:
            taken = lane.packer.take_closed()
            lane.tally.batches += len(taken)
            closed += taken
        closed.sort(key=lambda b: b.seq)
        self.tally.batches += len(closed)
        if self._rejects is not None:
            self._rejects.write(self._settled)
        sink.write(self._settled, closed)
        self._settled = []

    def _plan_chunk(self, chunk: list[Row], suppressions: SuppressionLookup) -> None:
        self.tally.rows += len(chunk)
        if self.spec.route is None:
            per_lane = [self._classify_numbers(chunk)]
        else:
            per_lane = self._classify_routed(chunk)
        if not suppressions.empty:
            wanted = {e164 for fresh in per_lane for _, _, e164, _ in fresh}
            blocked = suppressions.suppressed(wanted)
            if blocked:
                per_lane = [self._settle_suppressed(fresh, blocked) for fresh in per_lane]
        for lane, fresh in zip(self._lanes, per_lane, strict=True):
            # Batches are filled in number order within the chunk, and rows are written in
            # that order too: each batch's rows are then neighbours in the table and the
            # unique index is filled in one sweep. The worker updates a batch's rows; scattered
            # over a chunk they cost a page each (random lists were 1.8x slower in bench.e2e).
            fresh.sort(key=_MSISDN)
            lane.plan(fresh)
        self.tally.findings.end_chunk()

    def _settle_suppressed(self, fresh: list[_Fresh], blocked: set[str]) -> list[_Fresh]:
        kept = []
        for entry in fresh:
            if entry[2] in blocked:
                self.settle(entry[0], entry[1], RS.SUPPRESSED, "on the suppression list")
            else:
                kept.append(entry)
        return kept

    def _classify_numbers(self, chunk: list[Row]) -> list[_Fresh]:
        """One account: normalize the chunk's numbers; settle invalid and duplicate rows."""
        normalize, seen = self._normalize, self._seen
        fresh: list[_Fresh] = []
        for row_no, raw, values in chunk:
            try:
                number = normalize(raw)
            except InvalidNumber as exc:
                self._settle_invalid(row_no, raw, exc.reason)
                continue
            e164 = number.e164
            key = int(e164)  # E.164 digits always: an int is the smaller key
            first = seen.get(key)
            if first is not None:
                self.settle(
                    row_no, number.msisdn, RS.DUPLICATE, f"same number as row {first}",
                    kind=_DUPLICATE,
                )  # fmt: skip
                continue
            seen[key] = row_no
            fresh.append((row_no, number.msisdn, e164, values))
        return fresh

    def _classify_routed(self, chunk: list[Row]) -> list[list[_Fresh]]:
        """A route: read each number to E.164, then route it to its first account.

        The loop is the routed plan's hot path, inlined on purpose: a prefix that names one
        account resolves to (rows of its lane, the digits its gateway drops, the calling code
        its gateway requires) with one dict lookup per prefix length, and the MSISDN is one
        slice (measured: the first version, a method and two function calls per number,
        made routed planning 1.5x as slow as one account's).
        """
        normalize, seen, slow_route = self._normalize, self._seen, self._route
        country_of = self._by_head.get
        fast, lengths = self._fast_routes, self._prefix_lengths
        per_lane: list[list[_Fresh]] = [[] for _ in self._lanes]
        for row_no, raw, values in chunk:
            try:
                if raw[:1] == "+":
                    # A "+CC" number of a country the route names: that country's own fast
                    # path decides it at once (the same verdict as reading it from any home).
                    number = country_of(raw[1:4], normalize)(raw)
                else:
                    number = normalize(raw)
            except InvalidNumber as exc:
                self._settle_invalid(row_no, raw, exc.reason)
                continue
            e164 = number.e164
            key = int(e164)  # E.164 digits always: an int is the smaller key
            first = seen.get(key)
            if first is not None:
                self.settle(
                    row_no, e164, RS.DUPLICATE, f"same number as row {first}", kind=_DUPLICATE
                )
                continue
            seen[key] = row_no
            for length in lengths:
                target = fast.get(e164[:length])
                if target is not None:
                    break
            if target is not None and target[0] is not None and e164.startswith(target[2]):
                target[0].append((row_no, e164[target[1] :], e164, values))
                continue
            try:  # a weighted prefix, no route, or a number its account cannot take
                index, msisdn = slow_route(e164)
            except _Refused as refused:
                self._reject(row_no, e164, refused)
                continue
            per_lane[index].append((row_no, msisdn, e164, values))
        for lane, rows in zip(self._lanes, self._lane_rows, strict=True):
            per_lane[lane.index] += rows
            rows.clear()
        return per_lane

    def _compile_routes(self, route: RouteTable) -> Callable[[str], _LanePlanner | None]:
        """E.164 -> the lane it routes to first (None: no route), one dict lookup per prefix
        length; prefixes split by weight ask their entry for the number's order.

        Also prepares the hot loop's table (``_fast_routes``): for a prefix that names one
        account whose content it can carry, (that lane's rows, digits to drop, required
        calling code); weighted prefixes map to (None, 0, "") and take the slow path.
        """
        by_prefix: dict[str, _LanePlanner | PrefixEntry] = {}
        self._lane_rows: list[list[_Fresh]] = [[] for _ in self._lanes]
        self._fast_routes: dict[str, tuple[list[_Fresh] | None, int, str]] = {}
        for prefix in route.route.prefixes:
            entry = route.entry_for(prefix)  # a prefix's own entry: nothing longer matches it
            assert entry is not None
            if len(entry.orders) == 1:
                lane = self._lanes[self._lane_at[entry.orders[0][0]]]
                by_prefix[prefix] = lane
                code = _FORMAT_CODES.get(lane.number_format)
                usable = lane.refusal is None and code is not None
                national = usable and lane.number_format is NumberFormat.NP_NATIONAL
                drop = len(code or "") if national else 0
                rows = self._lane_rows[lane.index] if usable else None
                self._fast_routes[prefix] = (rows, drop, code or "")
            else:
                by_prefix[prefix] = entry
                self._fast_routes[prefix] = (None, 0, "")
        lengths = sorted({len(p) for p in by_prefix}, reverse=True)
        self._prefix_lengths = lengths
        lanes, lane_at = self._lanes, self._lane_at

        def first_lane(e164: str) -> _LanePlanner | None:
            for length in lengths:
                hit = by_prefix.get(e164[:length])
                if hit is not None:
                    if isinstance(hit, _LanePlanner):
                        return hit
                    return lanes[lane_at[hit.order_for(e164)[0]]]
            return None

        return first_lane

    def _route(self, e164: str) -> tuple[int, str]:
        """(lane, msisdn in that gateway's format) of a routed number; _Refused if none."""
        route = self.spec.route
        assert route is not None
        lane = self._routes(e164)
        if lane is None:
            raise _Refused(f"no route for +{_country_code(e164)}…", e164, no_route=True)
        if lane.refusal is not None:
            raise _Refused(lane.refusal, e164)
        msisdn = for_gateway(e164, lane.number_format)
        if msisdn is None:
            takes = country_of_format(lane.number_format)
            raise _Refused(
                f"route {route.name!r} sends it to account {lane.account!r} "
                f"({lane.provider}), which only takes {takes} numbers",
                e164,
            )
        return lane.index, msisdn

    def _reject(self, row_no: int, e164: str, refused: _Refused) -> None:
        if refused.no_route:
            self.tally.no_route += 1
        self.settle(row_no, e164, RS.REJECTED, refused.reason)

    def settle(
        self,
        row_no: int,
        msisdn: str,
        state: RS,
        reason: str,
        segs: int | None = None,
        account: str | None = None,
        kind: str | None = None,
    ) -> None:
        """Record a row that will not be sent (``account``: the account it was meant for;
        ``kind``: what its reason is counted under, default the reason itself)."""
        self._settled.append(_new(Settled, (row_no, msisdn, state, reason, segs)))
        tally = self.tally
        tally.findings.problem(row_no, msisdn, state, reason, kind or reason)
        # The tally's counters are named after the planned-terminal states.
        setattr(tally, state, getattr(tally, state) + 1)
        if account is not None and state == RS.REJECTED:
            tally.accounts[account].rejected += 1
        if len(tally.examples) < _EXAMPLES:
            tally.examples.append(f"row {row_no}: {state}: {reason}")

    def count_valid(self, lane: AccountTally, count: int, verdict: _Verdict) -> None:
        """``count`` numbers of one text placed in batches of ``lane``'s account."""
        if not count:
            return
        for tally in (self.tally, lane):
            tally.valid += count
            tally.segments_total += count * verdict.segments
            tally.segments_max = max(tally.segments_max, verdict.segments)
        self.tally.encodings.add(verdict.encoding)

    def _settle_invalid(self, row_no: int, raw: str, reason: str) -> None:
        raw = raw.strip().replace("\x00", "\\0")  # kept for the user; NUL cannot be stored
        kind = reason_kind(reason)
        if len(raw) > _RAW_CHARS:
            reason = f"{reason} (input {raw[:200]!r})"
        self.settle(row_no, raw[:_RAW_CHARS], RS.INVALID, reason, kind=kind)

    def _check_sendable(self) -> None:
        tally = self.tally
        if tally.valid:
            return
        examples = "; ".join(tally.examples)
        over_limits = tally.rejected - tally.no_route - tally.missing_values
        if over_limits and not tally.missing_values and self.spec.route is None:
            raise TextTooLong(
                f"every sendable row is over the gateway's limits ({tally.rejected} rejected); "
                f"{examples}"
            )
        if not tally.rows:
            raise NothingToSend("the recipient list has no rows")
        rejected = f", {tally.rejected} rejected" if tally.rejected else ""
        raise NothingToSend(
            f"no sendable number among {tally.rows} rows ({tally.invalid} invalid, "
            f"{tally.duplicate} duplicate, {tally.suppressed} suppressed{rejected}); {examples}"
        )


# The calling code a gateway's number format requires ("" for any country).
_FORMAT_CODES: dict[NumberFormat, str] = {
    NumberFormat.INTL: "",
    **{fmt: code for fmt, (_region, code) in FORMAT_COUNTRIES.items()},
}


def _country_normalizers(route: RouteTable) -> dict[str, Callable[[str], Normalized]]:
    """By the first three digits after "+": an international-format normalizer at home in
    the country they begin, for each country the route's prefixes name, so that a "+CC"
    number meets its own country's fast path."""
    by_region: dict[str, Callable[[str], Normalized]] = {}
    for prefix in route.route.prefixes:
        hit = COUNTRY_CODE_BY_HEAD.get((prefix + "00")[:3])
        region = hit[1] if hit is not None else None
        if region is not None and region not in by_region:
            by_region[region] = normalizer(NumberFormat.INTL, region)
    return {
        head: by_region[region]
        for head, (_size, region) in COUNTRY_CODE_BY_HEAD.items()
        if region in by_region
    }


def _country_code(e164: str) -> str:
    """The calling code that starts ``e164`` (E.164 codes are 1 to 3 digits, prefix-free)."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    for size in (1, 2, 3):
        if int(e164[:size]) in COUNTRY_CODE_TO_REGION_CODE:
            return e164[:size]
    return e164[:3]


class _LanePlanner:
    """One account's share of the planning: its gateway's limits, texts and batches."""

    def __init__(
        self, index: int, lane: Lane, spec: CampaignSpec, seq: Iterator[int], planner: Planner
    ) -> None:
        gateway = lane.gateway
        self.index = index  # among the planner's lanes
        self.spec = spec
        self.planner = planner
        self.account, self.provider = lane.account, gateway.account.provider
        self.number_format = gateway.limits.number_format
        self.refusal = lane.refusal
        self.template, self.template_id = lane.template, lane.template_id
        unit, price = gateway.limits.credit_unit, gateway.account.price_per_segment
        if price is None and unit == "credits":
            price = 1.0  # a credit per segment
        self.tally = planner.tally.accounts.setdefault(
            self.account, AccountTally(self.account, self.provider, unit, price)
        )
        self.limits = gateway.limits
        self.budget: UrlBudget | None = gateway.url_budget(lane.sender)
        self.packer = gateway.packer(lane.sender, seq=seq)
        self._verdicts: dict[str, _Verdict] = {}
        # Where this account's placeholders sit among the values a row is read with.
        names = self.template.names if self.template is not None else ()
        self._value_at = tuple(spec.names.index(n) for n in names)
        self._identity = self._value_at == tuple(range(len(spec.names)))
        # A routed, personalized row keeps every placeholder value, so that failover can
        # render it for another account (text or template).
        self._keep_fields = spec.route is not None and bool(spec.names)
        self._plain: _Verdict | None = None
        if self.template is not None:
            self._check_fixed_text()
            self._plain = self.judge(self.template.source) if self.template.is_plain else None

    def plan(self, fresh: list[_Fresh]) -> None:
        """Pack the chunk's numbers routed here (every one, for a one-account campaign)."""
        if not fresh:
            return
        if self._plain is not None and not self._keep_fields:
            self._plan_plain(fresh, self._plain)
            return
        for row_no, msisdn, _e164, values in fresh:
            self._plan_personal(row_no, msisdn, values)

    def _plan_plain(self, fresh: list[_Fresh], verdict: _Verdict) -> None:
        """The same text for everyone: measured once, no rendering, items made in bulk."""
        assert self.template is not None
        text, segs = self.template.source, verdict.segments
        self.planner.count_valid(self.tally, len(fresh), verdict)
        findings = self.planner.tally.findings
        if not findings.samples_final:
            first = heapq.nsmallest(SAMPLES, fresh)
            findings.offer(
                Sample(row_no, msisdn, self.account, text) for row_no, msisdn, _, _ in first
            )
        new = _new
        self.packer.add_many(
            [new(Item, (row_no, msisdn, text, None, segs, None)) for row_no, msisdn, _, _ in fresh]
        )

    def _plan_personal(
        self, row_no: int, msisdn: str, values: tuple[str | None, ...] | None
    ) -> None:
        """Render one row's text, judge it, and pack the row or settle it as rejected."""
        template, params = self.template, None
        assert template is not None
        own = values
        if values is not None and not self._identity:
            own = tuple(values[i] for i in self._value_at)
        try:
            filled = template.fill(own)
        except MissingPlaceholder as missing:
            self._missing_value(row_no, msisdn, str(missing))
            return
        text = template.render(filled)
        if self.template_id is not None:
            params = json.dumps(filled, ensure_ascii=False)
        fields = json.dumps(values, ensure_ascii=False) if self._keep_fields else None
        verdict = self._verdict(text)
        if verdict.reason is not None:
            self.planner.settle(
                row_no, msisdn, RS.REJECTED, verdict.reason, verdict.segments, self.account,
                verdict.kind,
            )  # fmt: skip
            return
        self.planner.count_valid(self.tally, 1, verdict)
        self.packer.add(Item(row_no, msisdn, text, params, verdict.segments, fields))
        findings = self.planner.tally.findings
        if findings.wants_sample(row_no):
            findings.offer([Sample(row_no, msisdn, self.account, text)])

    def _missing_value(self, row_no: int, msisdn: str, reason: str) -> None:
        """A row without a value its text needs: rejected (strict: the submission fails)."""
        if self.spec.strict:
            raise MissingPlaceholder(f"row {row_no}: {reason}")
        self.planner.tally.missing_values += 1
        self.planner.settle(row_no, msisdn, RS.REJECTED, reason, None, self.account)

    def _verdict(self, text: str) -> _Verdict:
        verdict = self._verdicts.get(text)
        if verdict is None:
            if len(self._verdicts) >= 8192:
                self._verdicts.clear()  # personalized texts: keep the cache bounded
            verdict = self._verdicts[text] = self.judge(text)
        return verdict

    def judge(self, text: str) -> _Verdict:
        """Segments and encoding of ``text``, and why this gateway cannot send it (or None)."""
        size = segments.measure(text)
        limits, reason, kind = self.limits, None, None
        if not text.strip():
            reason = kind = "text is empty"
        elif limits.max_text_chars is not None and size.chars > limits.max_text_chars:
            reason = (
                f"text is {size.chars} characters; the gateway takes at most "
                f"{limits.max_text_chars}"
            )
            kind = f"text over the gateway's {limits.max_text_chars} characters"
        elif size.segments > self.spec.max_segments:
            reason = (
                f"text is {size.segments} segments ({size.encoding}); "
                f"max_segments is {self.spec.max_segments}"
            )
            kind = f"text over max_segments ({self.spec.max_segments})"
        elif self.budget is not None and not self.budget.fits_one(text):
            reason = (
                f"text takes {self.budget.base_chars(text)} URL characters once encoded; "
                f"the gateway's URL limit is {self.budget.limit_chars}"
            )
            kind = f"text over the gateway's URL limit ({self.budget.limit_chars})"
        return _Verdict(size.segments, size.encoding, reason, kind)

    def _check_fixed_text(self) -> None:
        """The campaign's own text (or a personalized text's fixed part) must fit the limits."""
        template = self.template
        assert template is not None
        own = template.fixed_text if template.names else template.source
        if template.names and not own.strip():
            return  # all placeholders: only the rows can tell
        reason = self.judge(own).reason
        if reason is not None:
            where = "without its placeholders, " if template.names else ""
            account = f" for account {self.account!r}" if self.spec.route is not None else ""
            raise TextTooLong(f"{template.field}{account}: {where}{reason}")


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    """Chunks of ``size`` rows, the first ones smaller: the writer thread starts on the first
    chunk early instead of waiting for a whole one, which matters for small campaigns.
    """
    step = min(FIRST_CHUNK_ROWS, size)
    while chunk := list(islice(rows, step)):
        yield chunk
        step = min(step * 2, size)
