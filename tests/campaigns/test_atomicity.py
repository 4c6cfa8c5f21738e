"""A campaign is created whole or not at all, even when the database itself fails mid-way.

The failure is injected in the database (a trigger refusing one row of the second chunk),
not by patching our code: the writer thread's error must reach the caller and roll back the
chunk it had already written.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine

import campaigns
from campaigns import InputError, iter_recipients, submit_campaign
from campaigns.planning import CHUNK_ROWS
from tests.campaigns.helpers import nepal, nepal_numbers, row_counts

FAILING_ROW = CHUNK_ROWS + 123

SQLITE_TRIGGER = f"""
CREATE TRIGGER refuse_row BEFORE INSERT ON recipients WHEN NEW.row_no = {FAILING_ROW}
BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END
"""
PG_TRIGGER = (
    f"""
CREATE FUNCTION refuse_row() RETURNS trigger AS $$
BEGIN
  IF NEW.row_no = {FAILING_ROW} THEN RAISE EXCEPTION 'refused by test trigger'; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
""",
    "CREATE TRIGGER refuse_row BEFORE INSERT ON recipients FOR EACH ROW "
    "EXECUTE FUNCTION refuse_row()",
)


def _install_trigger(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            statements = (SQLITE_TRIGGER,) if engine.dialect.name == "sqlite" else PG_TRIGGER
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_a_database_error_in_the_second_chunk_leaves_nothing(
    db_url: str, dispatched: list[int]
) -> None:
    _install_trigger(db_url)
    before = row_counts(db_url)
    with pytest.raises(Exception, match="refused by test trigger"):
        submit_campaign(nepal(), nepal_numbers(CHUNK_ROWS + 1000), text="Hi", database_url=db_url)
    assert row_counts(db_url) == before
    assert dispatched == []
    # The same list without the refused row goes through: the failure was that row alone.
    numbers = nepal_numbers(CHUNK_ROWS + 1000)
    del numbers[FAILING_ROW - 1 :]
    campaign_id = submit_campaign(nepal(), numbers, text="Hi", database_url=db_url)
    assert row_counts(db_url)["recipients"] == FAILING_ROW - 1
    assert sum(1 for _ in iter_recipients(campaign_id, database_url=db_url)) == FAILING_ROW - 1


def test_nul_characters_are_refused_or_kept_printable(db_url: str) -> None:
    rows = [{"msisdn": "9840000001", "name": "a"}, {"msisdn": "9840000002", "name": "b\x00c"}]
    with pytest.raises(InputError, match='row 2: column "name" contains a NUL character'):
        submit_campaign(nepal(), rows, text="Hi {name}", strict=True, database_url=db_url)
    # Not strict: that row alone is rejected, with the reason (which holds no NUL itself).
    campaign_id = submit_campaign(nepal(), rows, text="Hi {name}", database_url=db_url)
    (rejected,) = iter_recipients(campaign_id, "rejected", database_url=db_url)
    assert (rejected.row_no, rejected.reason) == (
        2,
        'column "name" contains a NUL character (placeholder {name} in text)',
    )
    campaign_id = submit_campaign(nepal(), ["98400\x0000001", "9840000002"], text="Hi",
                                  database_url=db_url)  # fmt: skip
    (invalid,) = iter_recipients(campaign_id, "invalid", database_url=db_url)
    assert invalid.msisdn == "98400\\000001"


def test_every_public_name_resolves_and_models_import_stays_light() -> None:
    assert {getattr(campaigns, name).__name__ for name in campaigns.__all__} == set(
        campaigns.__all__
    )
    probe = "import sys, campaigns.models; print('campaigns.api' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "False"
