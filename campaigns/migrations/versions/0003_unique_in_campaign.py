"""The unique (campaign_id, msisdn) index reads a fixed flag instead of the recipient's state.

Its predicate was ``state NOT IN ('invalid', 'duplicate')``. A partial index whose predicate
names a column that an UPDATE sets is maintained by that UPDATE: SQLite deleted and
re-inserted the entry of every number at each of its two state changes while it was sent
(PostgreSQL likewise loses HOT updates). With a real, unordered list those entries are
spread over the whole index: sending 100,000 random numbers spent most of its time there
(bench.e2e on SQLite: 8,100 msgs/s before this revision). ``unique_in_campaign`` is set at
planning (false only for invalid and duplicate rows) and never changes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_recipients_campaign_msisdn"
OLD_PREDICATE = "state NOT IN ('invalid', 'duplicate')"
NEW_PREDICATE = "unique_in_campaign"


def upgrade() -> None:
    """Add the flag, set it from the planned states, and rebuild the index on it."""
    op.add_column(
        "recipients",
        sa.Column("unique_in_campaign", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    recipients = sa.table("recipients", sa.column("state"), sa.column("unique_in_campaign"))
    op.execute(
        recipients.update()
        .where(recipients.c.state.in_(("invalid", "duplicate")))
        .values(unique_in_campaign=sa.false())
    )
    op.drop_index(INDEX, table_name="recipients")
    _create_index(NEW_PREDICATE)


def downgrade() -> None:
    """Back to the predicate on state, without the flag."""
    op.drop_index(INDEX, table_name="recipients")
    _create_index(OLD_PREDICATE)
    with op.batch_alter_table("recipients") as batch:  # SQLite rebuilds the table to drop it
        batch.drop_column("unique_in_campaign")


def _create_index(predicate: str) -> None:
    op.create_index(
        INDEX,
        "recipients",
        ["campaign_id", "msisdn"],
        unique=True,
        sqlite_where=sa.text(predicate),
        postgresql_where=sa.text(predicate),
    )
