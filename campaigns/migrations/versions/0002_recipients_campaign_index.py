"""Recipients are found by campaign through (campaign_id) alone, not (campaign_id, state).

Every change of a recipient's state (pending -> in_flight -> sent, twice per number) moved
its entry in the old index, and planning filled it for every row: the worker's two bulk
updates per batch and the planner's inserts paid for an index that only per-state counts
used. Those counts now read the campaign's rows through (campaign_id), whose entries never
move: the e2e benchmark's writes per batch got cheaper (see the README's benchmark table).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Swap the (campaign_id, state) index for one on campaign_id."""
    op.create_index("ix_recipients_campaign", "recipients", ["campaign_id"], unique=False)
    op.drop_index("ix_recipients_campaign_state", table_name="recipients")


def downgrade() -> None:
    """Bring the (campaign_id, state) index back."""
    op.create_index(
        "ix_recipients_campaign_state", "recipients", ["campaign_id", "state"], unique=False
    )
    op.drop_index("ix_recipients_campaign", table_name="recipients")
