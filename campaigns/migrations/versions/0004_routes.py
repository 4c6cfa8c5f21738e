"""Campaigns across providers: the account moves from the campaign to each batch.

A routed campaign has no one account: ``campaigns.account``/``provider`` become nullable and
``route``/``route_table`` (the route as configured at submit) are added; every batch names
the account that sends it; ``campaign_accounts`` holds each account's planned share and
whether it may still send; recipients gain ``fields`` (routed, personalized rows: the
placeholder values, for re-rendering after a failover) and ``move_reason``.

Campaigns planned before this revision keep working: their batches take the campaign's
account, and each campaign gets its one ``campaign_accounts`` row with the share it planned.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_BACKFILL_BATCHES = (
    "UPDATE batches SET "
    "account = (SELECT c.account FROM campaigns c WHERE c.id = batches.campaign_id), "
    "provider = (SELECT c.provider FROM campaigns c WHERE c.id = batches.campaign_id)"
)
# One row per existing campaign with what it planned: sendable rows are those in a batch.
_BACKFILL_ACCOUNTS = (
    "INSERT INTO campaign_accounts (campaign_id, account, provider, position, state, valid, "
    "rejected, batches, segments, credits_planned) "
    "SELECT c.id, c.account, c.provider, 0, 'active', "
    "(SELECT count(*) FROM recipients r WHERE r.campaign_id = c.id AND r.batch_id IS NOT NULL), "
    "(SELECT count(*) FROM recipients r WHERE r.campaign_id = c.id AND r.state = 'rejected'), "
    "c.batches_total, "
    "(SELECT coalesce(sum(r.segments), 0) FROM recipients r "
    " WHERE r.campaign_id = c.id AND r.batch_id IS NOT NULL), "
    "c.credits_planned FROM campaigns c"
)


def upgrade() -> None:
    """Nullable campaign account, batch accounts, campaign_accounts, recipients' new columns."""
    with op.batch_alter_table("campaigns") as batch:
        batch.alter_column("account", existing_type=sa.String(100), nullable=True)
        batch.alter_column("provider", existing_type=sa.String(40), nullable=True)
        batch.add_column(sa.Column("route", sa.String(100), nullable=True))
        batch.add_column(sa.Column("route_table", sa.Text(), nullable=True))
    op.add_column("batches", sa.Column("account", sa.String(100), nullable=True))
    op.add_column("batches", sa.Column("provider", sa.String(40), nullable=True))
    op.execute(_BACKFILL_BATCHES)
    with op.batch_alter_table("batches") as batch:
        batch.alter_column("account", existing_type=sa.String(100), nullable=False)
        batch.alter_column("provider", existing_type=sa.String(40), nullable=False)
    op.add_column("recipients", sa.Column("fields", sa.Text(), nullable=True))
    op.add_column("recipients", sa.Column("move_reason", sa.Text(), nullable=True))
    op.create_table(
        "campaign_accounts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "campaign_id",
            BigId,
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("credits_planned", sa.Float(), nullable=False),
        sa.UniqueConstraint("campaign_id", "account", name="uq_campaign_accounts"),
    )
    op.execute(_BACKFILL_ACCOUNTS)


def downgrade() -> None:
    """Back to one account per campaign (a routed campaign keeps its first batch's account)."""
    op.execute(
        "UPDATE campaigns SET "
        "account = (SELECT b.account FROM batches b WHERE b.campaign_id = campaigns.id "
        "ORDER BY b.id LIMIT 1), "
        "provider = (SELECT b.provider FROM batches b WHERE b.campaign_id = campaigns.id "
        "ORDER BY b.id LIMIT 1) WHERE account IS NULL"
    )
    op.execute("UPDATE campaigns SET account = '', provider = '' WHERE account IS NULL")
    op.drop_table("campaign_accounts")
    with op.batch_alter_table("recipients") as batch:
        batch.drop_column("move_reason")
        batch.drop_column("fields")
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("provider")
        batch.drop_column("account")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("route_table")
        batch.drop_column("route")
        batch.alter_column("provider", existing_type=sa.String(40), nullable=False)
        batch.alter_column("account", existing_type=sa.String(100), nullable=False)
