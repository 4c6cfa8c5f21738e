"""The sending engine: single messages, numbers written once per attempt, room for HOT updates.

- ``campaigns.kind``: ``campaign``, or ``message`` for a single message (``send_message``),
  whose batch goes to its account's priority queue and ahead at the door.
- Recipients stay ``pending`` while their batch is in flight (the batch row carries it), so
  the worker writes each number once per attempt. Rows an older worker left ``in_flight``
  are ``pending`` again here: their batch says in flight, and the tick resolves it.
- PostgreSQL: recipients get ``fillfactor = 80``, so that the outcome update of a row finds
  room on its page and stays a HOT update (no new index entries, no bloat to vacuum). Only
  new pages are filled that loosely; a ``VACUUM FULL`` repacks an existing table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECIPIENTS_FILLFACTOR = 80


def upgrade() -> None:
    """Add the campaign kind, settle legacy in-flight rows, loosen recipients' pages."""
    op.add_column(
        "campaigns",
        sa.Column("kind", sa.String(20), nullable=False, server_default="campaign"),
    )
    op.execute("UPDATE recipients SET state = 'pending' WHERE state = 'in_flight'")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE recipients SET (fillfactor = {RECIPIENTS_FILLFACTOR})")


def downgrade() -> None:
    """Drop the kind (single messages become one-number campaigns) and the fillfactor."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE recipients RESET (fillfactor)")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("kind")
