"""Idempotency that notices a different request: a fingerprint of each campaign's request.

``campaigns.request_fingerprint`` (nullable JSON text) holds what a submission asked for: the
account or route, hashes of the text and of the rows as read, the template id and the sender
(``campaigns.idempotency``). A submit that reuses an idempotency key compares its own with it.
Campaigns submitted before this revision have none (NULL): their key keeps returning them, as
it always did, since nothing is known to compare.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """A nullable column: existing rows keep NULL, no table is rewritten on PostgreSQL."""
    op.add_column("campaigns", sa.Column("request_fingerprint", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the fingerprints (keys go back to returning whatever campaign holds them)."""
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("request_fingerprint")
