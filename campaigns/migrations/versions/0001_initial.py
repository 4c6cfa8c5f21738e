"""The initial schema: campaigns, batches, recipients, suppressions (as campaigns/models.py).

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT (as models.BigId).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Invalid and duplicate rows may repeat a number; every other row is unique per campaign.
SENDABLE_ONLY = "state NOT IN ('invalid', 'duplicate')"


def upgrade() -> None:
    """Create the four tables and their indexes."""
    _campaigns()
    op.create_table(
        "suppressions",
        sa.Column("msisdn", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("msisdn"),
    )
    _batches()
    _recipients()


def downgrade() -> None:
    """Drop everything upgrade created."""
    op.drop_table("recipients")
    op.drop_table("batches")
    op.drop_table("suppressions")
    op.drop_table("campaigns")


def _campaigns() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("pause_kind", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("sender", sa.String(length=50), nullable=True),
        sa.Column("encoding", sa.String(length=10), nullable=True),
        sa.Column("max_segments", sa.Integer(), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_start", sa.String(length=5), nullable=True),
        sa.Column("window_end", sa.String(length=5), nullable=True),
        sa.Column("window_tz", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("recipients_total", sa.Integer(), nullable=False),
        sa.Column("batches_total", sa.Integer(), nullable=False),
        sa.Column("credits_planned", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("ix_campaigns_send_at", "campaigns", ["send_at"], unique=False)
    op.create_index("ix_campaigns_state", "campaigns", ["state"], unique=False)


def _batches() -> None:
    op.create_table(
        "batches",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("parent_id", BIG_ID, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_kind", sa.String(length=20), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_batches_campaign_state", "batches", ["campaign_id", "state"], unique=False)
    op.create_index("ix_batches_state", "batches", ["state"], unique=False)


def _recipients() -> None:
    op.create_table(
        "recipients",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=32), nullable=False),
        sa.Column("batch_id", BIG_ID, nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("params", sa.Text(), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=True),
        sa.Column("credits", sa.Float(), nullable=True),
        sa.Column("provider_message_id", sa.String(length=100), nullable=True),
        sa.Column("network", sa.String(length=50), nullable=True),
        sa.Column("gateway_code", sa.String(length=50), nullable=True),
        sa.Column("gateway_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recipients_batch", "recipients", ["batch_id"], unique=False)
    op.create_index(
        "ix_recipients_campaign_state", "recipients", ["campaign_id", "state"], unique=False
    )
    op.create_index(
        "uq_recipients_campaign_msisdn",
        "recipients",
        ["campaign_id", "msisdn"],
        unique=True,
        sqlite_where=sa.text(SENDABLE_ONLY),
        postgresql_where=sa.text(SENDABLE_ONLY),
    )
