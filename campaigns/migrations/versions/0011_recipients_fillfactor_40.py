"""PostgreSQL: recipients pages keep three fifths free, so that every outcome update is HOT.

0005 left a fifth of each page free (``fillfactor = 80``). A page then holds about 70 new
recipient rows and room for about 13 updated versions of them (an outcome makes a row
longer: network, code, message, time); every batch updates its numbers on pages all over
the table, so only 20% of the outcome updates stayed HOT and the rest wrote a new entry in
each of the table's four indexes. Measured with ``bench.e2e``'s campaign (100,000 random
numbers, PostgreSQL, the same run): fillfactor 80, 50, 40 gave 20%, 76% and 100% HOT
updates, and the table ended smaller at 40 (28 MB against 30 MB: the versions that did not
fit went to new pages anyway). Only new pages are filled this loosely; a ``VACUUM FULL``
repacks an existing table. SQLite has no fillfactor: nothing changes there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECIPIENTS_FILLFACTOR = 40
PREVIOUS_FILLFACTOR = 80  # 0005's


def upgrade() -> None:
    """Loosen the recipients table's new pages."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE recipients SET (fillfactor = {RECIPIENTS_FILLFACTOR})")


def downgrade() -> None:
    """Back to 0005's fillfactor."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE recipients SET (fillfactor = {PREVIOUS_FILLFACTOR})")
