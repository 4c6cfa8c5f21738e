"""The bulk writer's SQLite statements and PostgreSQL COPY texts store exactly the rows the
plain-row path describes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from campaigns.batching import ClosedBatch, Item
from campaigns.bulk import (
    RECIPIENT_COLUMNS,
    PreparedChunk,
    batch_rows,
    plain_rows,
    prepare_chunk,
    write_chunk,
)
from campaigns.db import get_engine
from campaigns.models import RecipientState
from campaigns.planning import Settled
from campaigns.schema import upgrade
from campaigns.tables import BATCHES, CAMPAIGNS, RECIPIENTS

CAMPAIGN_ID = 1


def _chunk() -> tuple[list[Settled], list[ClosedBatch]]:
    """One chunk mixing every kind of row the planner writes."""
    settled: list[Settled] = [
        Settled(3, "12345", RecipientState.INVALID, "too short", None),
        Settled(9, "9841000001", RecipientState.DUPLICATE, "same number as row 1", None),
        Settled(11, "9841000009", RecipientState.REJECTED, "text is 12 segments", 12),
    ]
    shared = ClosedBatch(
        seq=1,
        text="Hi all",
        # Numbers of different lengths, one a prefix of another, out of order.
        items=[
            Item(1, "9841000001", "Hi all", None, 2),
            Item(2, "984100000", "Hi all", None, 2),
            Item(4, "98410000011", "Hi all", None, 2),
            Item(5, "9700000000", "Hi all", None, 2),
        ],
        account="nepal",
        provider="aakashsms_v3",
    )
    personal = ClosedBatch(
        seq=2,
        text=None,
        items=[
            Item(6, "9852000000", "Hi Ram", None, 1, '["Ram"]'),  # routed: fields kept
            Item(7, "9851000000", "Hi Sita ✓", None, 1, '["Sita ✓"]'),
        ],
        account="nepal",
        provider="aakashsms_v3",
    )
    templated = ClosedBatch(
        seq=3,
        text="Code {code}",
        items=[
            Item(8, "9861000000", "Code 1", '["1"]', 1),
            Item(10, "9860000000", "Code 2", '["2"]', 1),
        ],
        account="baku",
        provider="smsplus_az",
    )
    return settled, [shared, personal, templated]


def _stored(url: str) -> list[tuple[object, ...]]:
    columns = [RECIPIENTS.c[name] for name in RECIPIENT_COLUMNS]
    with get_engine(url).connect() as conn:
        return sorted(tuple(row) for row in conn.execute(select(*columns)))


def _write(url: str, ids: list[int], prepared: PreparedChunk) -> list[tuple[object, ...]]:
    """Write a prepared chunk to the database at ``url``, read the recipients back."""
    upgrade(url)
    with get_engine(url).begin() as conn:
        conn.execute(
            insert(CAMPAIGNS).values(
                id=CAMPAIGN_ID, account="a", provider="aakashsms_v3", state="draft",
                max_segments=10, recipients_total=0, batches_total=0, credits_planned=0.0,
                created_at=datetime.now(UTC),
            )
        )  # fmt: skip
        write_chunk(conn, CAMPAIGN_ID, prepared)
        batches = conn.execute(
            select(BATCHES.c.id, BATCHES.c.seq, BATCHES.c.size, BATCHES.c.account)
        ).all()
    accounts = ("nepal", "nepal", "baku")
    assert sorted(batches) == sorted(zip(ids, (1, 2, 3), (4, 2, 2), accounts, strict=True))
    return _stored(url)


@pytest.mark.parametrize(
    ("ids", "packed"),
    [([7, 8, 9], True), ([10**12 + 1, 10**12 + 2, 10**12 + 3], False)],
    ids=["packed", "batch-ids-too-wide-for-packing"],
)
def test_sqlite_statements_store_the_same_rows_as_plain_rows(
    tmp_path: Path, ids: list[int], packed: bool
) -> None:
    expected = plain_rows(CAMPAIGN_ID, *_chunk(), ids)
    assert len(expected) == 11
    prepared = prepare_chunk("sqlite", CAMPAIGN_ID, *_chunk(), ids)
    assert (prepared.packed_json is not None) is packed
    assert prepared.pending_json is not None  # the per-recipient and template batches

    stored = _write(f"sqlite:///{tmp_path / 'bulk.db'}", ids, prepared)

    assert stored == sorted(expected)
    by_row = {row[1]: row for row in stored}
    assert by_row[2][2:5] == ("984100000", ids[0], RecipientState.PENDING)
    assert by_row[4][2] == "98410000011"
    assert by_row[7][6] == "Hi Sita ✓"  # a text that differs within its batch is kept
    assert by_row[8][7] == '["1"]' and by_row[8][6] is None  # template: parameters, no text
    assert by_row[6][-1] == '["Ram"]' and by_row[1][-1] is None  # fields where planned
    assert by_row[11][4:6] == (RecipientState.REJECTED, "text is 12 segments")


def test_plain_rows_path_stores_the_same_rows(tmp_path: Path) -> None:
    """The row tuples (COPY on PostgreSQL, executemany on SQLite before 3.38) as written."""
    ids = [7, 8, 9]
    settled, closed = _chunk()
    expected = plain_rows(CAMPAIGN_ID, settled, closed, ids)
    prepared = PreparedChunk(batch_rows(CAMPAIGN_ID, closed, ids), rows=expected)

    stored = _write(f"sqlite:///{tmp_path / 'rows.db'}", ids, prepared)

    assert stored == sorted(expected)
    unique_at = RECIPIENT_COLUMNS.index("unique_in_campaign")
    assert [row[unique_at] for row in sorted(stored, key=lambda r: r[1])] == [
        True, True, False, True, True, True, True, True, False, True, True,
    ]  # fmt: skip  # rows 3 (invalid) and 9 (duplicate) may repeat a number


def test_postgresql_copy_text_stores_the_same_rows(pg_url: str) -> None:
    ids = [7, 8, 9]
    expected = plain_rows(CAMPAIGN_ID, *_chunk(), ids)
    prepared = prepare_chunk("postgresql", CAMPAIGN_ID, *_chunk(), ids)
    assert prepared.copy_text is not None and prepared.copy_text.count(b"\n") == 4  # "Hi all"
    assert prepared.rows is not None and len(prepared.rows) == 3 + 4  # settled, other batches

    stored = _write(pg_url, ids, prepared)

    assert stored == sorted(expected)
