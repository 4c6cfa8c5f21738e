"""What a planning run found that a user wants to see before anything is sent: every row that
will not be sent, counted by reason with the first few of each, and a sample of the messages
that will be, as their recipients will read them.

Reasons are grouped by their kind: the reason up to its first colon for a refused number
("not a Nepali mobile number: +91 (IN)" counts under "not a Nepali mobile number"), a fixed
wording for duplicates, the reason itself otherwise. A list of garbage could hold endless
distinct reasons ("unexpected character 'x'" for every x): past ``MAX_REASONS`` they count as
"other reasons", so memory stays bounded.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

EXAMPLES_PER_REASON: Final = 3
SAMPLES: Final = 3
MAX_REASONS: Final = 50
OTHER_REASONS: Final = "other reasons"


@dataclass(frozen=True, slots=True)
class Problem:
    """Rows not sent for one reason: their state, the reason, how many, and the first few
    (``"row 3 (98412): too short for a Nepali mobile number"``)."""

    state: str
    reason: str
    count: int
    examples: tuple[str, ...]


@dataclass(frozen=True, order=True, slots=True)
class Sample:
    """One message as it would go out: its row, number (as its gateway takes it), account and
    text."""

    row_no: int
    msisdn: str
    account: str
    text: str


@dataclass
class _Count:
    count: int = 0
    examples: list[str] = field(default_factory=list)


class Findings:
    """Collects problems and samples while rows are planned (in row order, chunk by chunk)."""

    def __init__(self) -> None:
        self._problems: dict[tuple[str, str], _Count] = {}
        self.samples: list[Sample] = []
        self.samples_final = False  # a full sample from earlier chunks: later rows come after

    def problem(self, row_no: int, shown: str, state: str, reason: str, kind: str) -> None:
        """Count one row that will not be sent, under ``(state, kind)``."""
        key = (state, kind)
        counted = self._problems.get(key)
        if counted is None:
            if len(self._problems) >= MAX_REASONS:
                key = (state, OTHER_REASONS)
            counted = self._problems.setdefault(key, _Count())
        counted.count += 1
        if len(counted.examples) < EXAMPLES_PER_REASON:
            counted.examples.append(f"row {row_no} ({shown}): {reason}")

    def wants_sample(self, row_no: int) -> bool:
        """Whether a message of ``row_no`` would be among the first rows' sample."""
        samples = self.samples
        return not self.samples_final and (len(samples) < SAMPLES or row_no < samples[-1].row_no)

    def offer(self, candidates: Iterable[Sample]) -> None:
        """Keep the messages of the lowest row numbers among the samples and ``candidates``."""
        self.samples = heapq.nsmallest(SAMPLES, [*self.samples, *candidates])

    def end_chunk(self) -> None:
        """A chunk is planned: with a full sample, no later row can enter it."""
        self.samples_final = len(self.samples) >= SAMPLES

    def problems(self) -> tuple[Problem, ...]:
        """Every problem, the most frequent first."""
        ordered = sorted(self._problems.items(), key=lambda item: -item[1].count)
        return tuple(
            Problem(state, reason, counted.count, tuple(counted.examples))
            for (state, reason), counted in ordered
        )


def reason_kind(reason: str) -> str:
    """What a refused number's reason is counted under: the reason up to its first colon."""
    return reason.partition(":")[0]
