"""After a bulk submit, PostgreSQL's planner knows the tables' new size before the workers
query them (campaigns.api._analyze): a small submit leaves that to autovacuum."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from campaigns import submit_campaign
from campaigns.api import ANALYZE_AFTER_ROWS
from campaigns.db import get_engine
from tests.campaigns.helpers import nepal, nepal_numbers


def _planned_rows(db_url: str) -> float:
    """The recipients table's size as the planner last recorded it."""
    with get_engine(db_url).connect() as conn:
        return float(
            conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'recipients'"))
            .scalar_one()
        )  # fmt: skip


def test_a_bulk_submit_refreshes_the_planners_statistics(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's planner statistics; SQLite keeps none unless asked")
    submit_campaign(nepal(), nepal_numbers(50), text="Hi", database_url=db_url)
    assert _planned_rows(db_url) <= 0  # never analyzed: -1 on PostgreSQL 14 and later
    submit_campaign(
        nepal(), nepal_numbers(ANALYZE_AFTER_ROWS, start=100), text="Hi", database_url=db_url
    )
    assert _planned_rows(db_url) == ANALYZE_AFTER_ROWS + 50
