"""The alembic migrations create exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from campaigns.models import Base
from campaigns.schema import current_revision, upgrade


def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def test_upgraded_schema_matches_the_models(db_url: str) -> None:
    assert current_revision(db_url) == "0001"
    assert _differences(db_url) == []


def test_partial_unique_index_is_partial(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        indexes = {i["name"]: i for i in inspect(engine).get_indexes("recipients")}
    finally:
        engine.dispose()
    unique = indexes["uq_recipients_campaign_msisdn"]
    assert unique["unique"]
    assert unique["column_names"] == ["campaign_id", "msisdn"]
    options = unique.get("dialect_options", {})
    clause = options.get("sqlite_where", options.get("postgresql_where"))
    assert clause is not None
    assert "invalid" in str(clause) and "duplicate" in str(clause)


def test_upgrade_is_idempotent_and_works_on_an_empty_file(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    assert current_revision(url) is None
    upgrade(url)
    upgrade(url)  # a second run changes nothing
    assert current_revision(url) == "0001"
    assert _differences(url) == []


def test_a_differing_model_would_be_noticed(sqlite_url: str) -> None:
    # The comparison is not vacuous: drop an index and it reports the difference.
    engine = create_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_recipients_batch")
    finally:
        engine.dispose()
    assert _differences(sqlite_url) != []
