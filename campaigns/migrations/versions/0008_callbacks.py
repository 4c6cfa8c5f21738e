"""Status callbacks: an outbox of events per campaign, and where and how they are delivered.

``callback_streams`` holds a campaign's callback URL, the owner of its signing secret (the
secret is derived from the server's master key, never stored) and the delivery lease;
``callback_events`` is the outbox, written in the transaction of the change it reports.
``batches.callback_emitted`` says a batch's outcomes are in the outbox; ``api_keys`` gets
the default ``callback_url`` of the campaigns submitted with the key.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """The two callback tables, the batches' flag and the keys' default URL."""
    with op.batch_alter_table("batches") as batch:
        batch.add_column(
            sa.Column("callback_emitted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("callback_url", sa.Text(), nullable=True))
    op.create_table(
        "callback_streams",
        sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(40), nullable=False),
        sa.Column("next_seq", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("planned_emitted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )  # fmt: skip
    op.create_table(
        "callback_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("campaign_id", "seq", name="uq_callback_events_seq"),
    )  # fmt: skip
    op.create_index(
        "ix_callback_events_campaign_state", "callback_events", ["campaign_id", "state"]
    )
    op.create_index("ix_callback_events_state_due", "callback_events", ["state", "next_attempt_at"])


def downgrade() -> None:
    """Drop the outbox and its columns (undelivered events are lost)."""
    op.drop_index("ix_callback_events_state_due", table_name="callback_events")
    op.drop_index("ix_callback_events_campaign_state", table_name="callback_events")
    op.drop_table("callback_events")
    op.drop_table("callback_streams")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("callback_url")
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("callback_emitted")
