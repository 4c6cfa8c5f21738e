"""Planning a campaign: every row classified, every sendable number placed in a batch.

Rows stream through in chunks of ``CHUNK_ROWS``. For each chunk the numbers are normalized
for the gateway (``invalid`` when they cannot be a mobile number there), repeats are marked
``duplicate``, numbers on the global opt-out list ``suppressed``; each remaining number's text
is rendered, measured and checked against the hard limits (``rejected`` when over them), and
the number goes into a batch. Closed batches and classified rows go to a ``Sink`` once per
chunk, so memory holds one chunk, the open batches and the set of numbers seen.

Decisions (DESIGN.md invariant 8, "bad input gets a clear error"):

- The campaign's own text over a hard limit (characters, segments, a GET gateway's URL) is
  a ``TextTooLong`` error before any row is read; for a personalized text, its fixed part.
- One personalized row over a limit is recorded ``rejected`` with the reason; when every
  sendable row is rejected, the submission fails with ``TextTooLong`` naming the first.
- A row with a missing or empty placeholder value fails the whole submission
  (``MissingPlaceholder`` naming the row and column): it is an error in the list, not a
  property of one number.
- No sendable number at all (every row invalid, duplicate or suppressed, or no rows) is
  ``NothingToSend``: such a campaign is almost always a wrong file, column or region.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import NamedTuple, Protocol

from campaigns import segments
from campaigns.batching import ClosedBatch, Item, UrlBudget
from campaigns.errors import InputError, NothingToSend, TextTooLong
from campaigns.models import RecipientState as RS
from campaigns.numbers import InvalidNumber, normalizer
from campaigns.recipients_input import Row
from campaigns.spec import CampaignSpec
from campaigns.suppression import SuppressionLookup

# Rows per chunk. Each chunk costs the writer thread a few hand-offs of the GIL (up to the 5 ms
# switch interval each) and one sweep of the unique index; 50,000 planned a million numbers
# about 1 s faster than 20,000, for some 15 MB more memory.
CHUNK_ROWS = 50_000
FIRST_CHUNK_ROWS = 5_000  # chunks double from here up to CHUNK_ROWS
_RAW_CHARS = 32  # Recipient.msisdn's width: an invalid row keeps at most this much raw input
_EXAMPLES = 3  # reasons quoted in an error about the whole list

# (row number, msisdn, E.164 digits, placeholder values): a new valid number of the chunk.
_Fresh = tuple[int, str, str, tuple[str | None, ...] | None]
_MSISDN = itemgetter(1)


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


class Sink(Protocol):
    """Where planned rows go: the database (submit) or nowhere (estimate)."""

    def write(self, settled: list[Settled], closed: list[ClosedBatch]) -> None:
        """Store one chunk's settled rows and the batches closed since the last call."""


class NullSink:
    """A sink that keeps nothing: the dry run of ``estimate``."""

    def write(self, settled: list[Settled], closed: list[ClosedBatch]) -> None:
        """Drop the chunk."""


@dataclass
class Tally:
    """Counts of one planning run: what ``estimate`` reports and the campaign row records."""

    rows: int = 0
    valid: int = 0
    invalid: int = 0
    duplicate: int = 0
    suppressed: int = 0
    rejected: int = 0
    segments_max: int = 0
    segments_total: int = 0
    batches: int = 0
    encodings: set[str] = field(default_factory=set)
    examples: list[str] = field(default_factory=list)  # "row 3: invalid: too short"

    @property
    def credits(self) -> float:
        """Credits planned: one per segment per sendable number."""
        return float(self.segments_total)

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


class Planner:
    """Classifies rows and packs sendable ones; ``run`` feeds a sink and returns the tally."""

    def __init__(self, spec: CampaignSpec) -> None:
        """Prepare for ``spec``; raises TextTooLong when the campaign's own text cannot fit."""
        gateway = spec.gateway
        self.spec = spec
        self.tally = Tally()
        try:
            self._normalize = normalizer(
                gateway.limits.number_format, gateway.account.default_region
            )
        except ValueError as exc:  # a default_region that contradicts the gateway's country
            raise InputError(f"account {gateway.account.name!r}: {exc}") from None
        self._budget: UrlBudget | None = gateway.url_budget(spec.sender)
        self._packer = gateway.packer(spec.sender)
        self._seen: dict[int | str, int] = {}  # number -> first row; ints are smaller than str
        self._verdicts: dict[str, _Verdict] = {}
        self._settled: list[Settled] = []
        self._check_fixed_text()
        plain = spec.template.is_plain
        self._plain: _Verdict | None = self._judge(spec.template.source) if plain else None

    def run(
        self,
        rows: Iterable[Row],
        sink: Sink,
        suppressions: SuppressionLookup,
        *,
        require_sendable: bool = True,
    ) -> Tally:
        """Plan every row into ``sink`` and return the tally.

        With ``require_sendable`` (submit), a list with nothing to send raises NothingToSend,
        or TextTooLong when every sendable row was rejected; ``estimate`` reports it instead.
        """
        for chunk in _chunks(iter(rows), CHUNK_ROWS):
            self._plan_chunk(chunk, suppressions)
            self._flush(sink)
        self._packer.finish()
        self._flush(sink)
        if require_sendable:
            self._check_sendable()
        return self.tally

    def _flush(self, sink: Sink) -> None:
        closed = self._packer.take_closed()
        self.tally.batches += len(closed)
        sink.write(self._settled, closed)
        self._settled = []

    def _plan_chunk(self, chunk: list[Row], suppressions: SuppressionLookup) -> None:
        fresh = self._classify_numbers(chunk)
        if not suppressions.empty:
            blocked = suppressions.suppressed({e164 for _, _, e164, _ in fresh})
            if blocked:
                fresh = self._settle_suppressed(fresh, blocked)
        # Batches are filled in number order within the chunk, and rows are written in that
        # order too: each batch's rows are then neighbours in the table and the unique index
        # is filled in one sweep. The worker updates a batch's rows twice; scattered over a
        # chunk they cost a page each (sending random lists was 1.8x slower in bench.e2e).
        fresh.sort(key=_MSISDN)
        if self._plain is not None:
            self._plan_plain(fresh, self._plain)
        else:
            for row_no, msisdn, _e164, values in fresh:
                self._plan_personal(row_no, msisdn, values)

    def _settle_suppressed(self, fresh: list[_Fresh], blocked: set[str]) -> list[_Fresh]:
        kept = []
        for entry in fresh:
            if entry[2] in blocked:
                self._settle(entry[0], entry[1], RS.SUPPRESSED, "on the suppression list")
            else:
                kept.append(entry)
        return kept

    def _plan_plain(self, fresh: list[_Fresh], verdict: _Verdict) -> None:
        """The same text for everyone: measured once, no rendering, items made in bulk."""
        text, segs = self.spec.template.source, verdict.segments
        self._count_valid(len(fresh), verdict)
        new = _new
        self._packer.add_many(
            [new(Item, (row_no, msisdn, text, None, segs)) for row_no, msisdn, _, _ in fresh]
        )

    def _classify_numbers(self, chunk: list[Row]) -> list[_Fresh]:
        """Normalize the chunk's numbers; settle invalid and duplicate rows at once."""
        normalize, seen = self._normalize, self._seen
        fresh: list[_Fresh] = []
        self.tally.rows += len(chunk)
        for row_no, raw, values in chunk:
            try:
                number = normalize(raw)
            except InvalidNumber as exc:
                self._settle_invalid(row_no, raw, exc.reason)
                continue
            msisdn = number.msisdn
            key: int | str = int(msisdn) if msisdn.isdigit() and msisdn[0] != "0" else msisdn
            first = seen.get(key)
            if first is not None:
                self._settle(row_no, msisdn, RS.DUPLICATE, f"same number as row {first}")
                continue
            seen[key] = row_no
            fresh.append((row_no, msisdn, number.e164, values))
        return fresh

    def _plan_personal(
        self, row_no: int, msisdn: str, values: tuple[str | None, ...] | None
    ) -> None:
        """Render one row's text, judge it, and pack the row or settle it as rejected."""
        template, params = self.spec.template, None
        filled = template.values_for(row_no, values)
        text = template.render(filled)
        if self.spec.template_id is not None:
            params = json.dumps(filled, ensure_ascii=False)
        verdict = self._verdict(text)
        if verdict.reason is not None:
            self._settle(row_no, msisdn, RS.REJECTED, verdict.reason, verdict.segments)
            return
        self._count_valid(1, verdict)
        self._packer.add(Item(row_no, msisdn, text, params, verdict.segments))

    def _count_valid(self, count: int, verdict: _Verdict) -> None:
        if not count:
            return
        tally = self.tally
        tally.valid += count
        tally.segments_total += count * verdict.segments
        tally.segments_max = max(tally.segments_max, verdict.segments)
        tally.encodings.add(verdict.encoding)

    def _verdict(self, text: str) -> _Verdict:
        verdict = self._verdicts.get(text)
        if verdict is None:
            if len(self._verdicts) >= 8192:
                self._verdicts.clear()  # personalized texts: keep the cache bounded
            verdict = self._verdicts[text] = self._judge(text)
        return verdict

    def _judge(self, text: str) -> _Verdict:
        size = segments.measure(text)
        limits, reason = self.spec.gateway.limits, None
        if not text.strip():
            reason = "text is empty"
        elif limits.max_text_chars is not None and size.chars > limits.max_text_chars:
            reason = (
                f"text is {size.chars} characters; the gateway takes at most "
                f"{limits.max_text_chars}"
            )
        elif size.segments > self.spec.max_segments:
            reason = (
                f"text is {size.segments} segments ({size.encoding}); "
                f"max_segments is {self.spec.max_segments}"
            )
        elif self._budget is not None and not self._budget.fits_one(text):
            reason = (
                f"text takes {self._budget.base_chars(text)} URL characters once encoded; "
                f"the gateway's URL limit is {self._budget.limit_chars}"
            )
        return _Verdict(size.segments, size.encoding, reason)

    def _check_fixed_text(self) -> None:
        """The campaign's own text (or a personalized text's fixed part) must fit the limits."""
        template = self.spec.template
        own = template.fixed_text if template.names else template.source
        if template.names and not own.strip():
            return  # all placeholders: only the rows can tell
        reason = self._judge(own).reason
        if reason is not None:
            where = "without its placeholders, " if template.names else ""
            raise TextTooLong(f"{template.field}: {where}{reason}")

    def _settle(
        self,
        row_no: int,
        msisdn: str,
        state: RS,
        reason: str,
        segs: int | None = None,
    ) -> None:
        self._settled.append(_new(Settled, (row_no, msisdn, state, reason, segs)))
        tally = self.tally
        # The tally's counters are named after the planned-terminal states.
        setattr(tally, state, getattr(tally, state) + 1)
        if len(tally.examples) < _EXAMPLES:
            tally.examples.append(f"row {row_no}: {state}: {reason}")

    def _settle_invalid(self, row_no: int, raw: str, reason: str) -> None:
        raw = raw.strip().replace("\x00", "\\0")  # kept for the user; NUL cannot be stored
        if len(raw) > _RAW_CHARS:
            reason = f"{reason} (input {raw[:200]!r})"
        self._settle(row_no, raw[:_RAW_CHARS], RS.INVALID, reason)

    def _check_sendable(self) -> None:
        tally = self.tally
        if tally.valid:
            return
        examples = "; ".join(tally.examples)
        if tally.rejected:
            raise TextTooLong(
                f"every sendable row is over the gateway's limits ({tally.rejected} rejected); "
                f"{examples}"
            )
        if not tally.rows:
            raise NothingToSend("the recipient list has no rows")
        raise NothingToSend(
            f"no sendable number among {tally.rows} rows ({tally.invalid} invalid, "
            f"{tally.duplicate} duplicate, {tally.suppressed} suppressed); {examples}"
        )


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    """Chunks of ``size`` rows, the first ones smaller: the writer thread starts on the first
    chunk early instead of waiting for a whole one, which matters for small campaigns.
    """
    step = min(FIRST_CHUNK_ROWS, size)
    while chunk := list(islice(rows, step)):
        yield chunk
        step = min(step * 2, size)
