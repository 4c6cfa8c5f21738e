"""Archive reconciliation that is not starved, and delivery states.

- ``batches.archive_read_at``: when the gateway's archive could first be read for a batch
  left in flight by a dead worker; the batch's missing numbers are given up as ``unknown``
  only once a whole archive pass that began ``stale_after_s`` after that has not shown them.
- ``batches.archive_check_until``: until when the archive is still searched for the batch's
  ``unknown`` numbers (found ones move to ``sent``, forward only).
- ``recipients.delivery_status``: the gateway's own word for a sent message's fate, verbatim
  (SMSPresto ``HIS_STATUT``, AamarSMS ``STATUS``); ``recipients.delivery_checked_at``: when it
  was last asked (so a status call asks each message at a bounded pace).

Recipient states gain ``undelivered`` (``delivered`` was already known): states are plain
strings, so no data changes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the archive times to batches and the delivery columns to recipients."""
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("archive_read_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("archive_check_until", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("recipients") as batch:
        batch.add_column(sa.Column("delivery_status", sa.String(50), nullable=True))
        batch.add_column(
            sa.Column("delivery_checked_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    """Drop them; undelivered numbers (a state 0007 does not know) read as sent again."""
    op.execute("UPDATE recipients SET state = 'sent' WHERE state = 'undelivered'")
    with op.batch_alter_table("recipients") as batch:
        batch.drop_column("delivery_checked_at")
        batch.drop_column("delivery_status")
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("archive_check_until")
        batch.drop_column("archive_read_at")
