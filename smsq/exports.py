"""Recipients as CSV, one place for both exports: ``smsq recipients`` and the API's
``GET /v1/campaigns/{id}/recipients.csv``.

``csv_chunks`` turns a stream of recipients (``campaigns.iter_recipients``, which pages by
keyset) into CSV text a block of rows at a time: memory stays flat however many rows there
are, and a streaming HTTP response makes one thread hop per block, not per row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import TextIO

from campaigns.status import RecipientInfo

COLUMNS = (
    "row", "msisdn", "state", "reason", "gateway_code", "gateway_message", "message_id",
    "network", "segments", "credits", "attempts", "delivery_status",
)  # fmt: skip
ROWS_PER_CHUNK = 1_000  # about 70 KB of CSV per block


def _cells(r: RecipientInfo) -> tuple[object, ...]:
    return (
        r.row_no, r.msisdn, r.state.value, r.reason, r.gateway_code, r.gateway_message,
        r.provider_message_id, r.network, r.segments, r.credits, r.attempts, r.delivery_status,
    )  # fmt: skip


def csv_chunks(
    recipients: Iterable[RecipientInfo], rows_per_chunk: int = ROWS_PER_CHUNK
) -> Iterator[str]:
    """The header, then the recipients' rows, as CSV text in blocks of ``rows_per_chunk``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    pending = 0
    for recipient in recipients:
        writer.writerow(_cells(recipient))
        pending += 1
        if pending == rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def write_csv(recipients: Iterable[RecipientInfo], out: TextIO) -> int:
    """Write the recipients as CSV to ``out``; returns how many rows were written."""
    rows = 0

    def counted() -> Iterator[RecipientInfo]:
        nonlocal rows
        for recipient in recipients:
            rows += 1
            yield recipient

    for chunk in csv_chunks(counted()):
        out.write(chunk)
    return rows
