"""The alembic migrations create exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect

from campaigns.models import Base
from campaigns.schema import current_revision, upgrade

HEAD = "0011"  # the newest migration


def _differences(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def test_upgraded_schema_matches_the_models(db_url: str) -> None:
    assert current_revision(db_url) == HEAD
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
    # The flag fixed at planning, not the state that the worker updates (migration 0003).
    assert str(clause).strip("()") == "unique_in_campaign"


def test_upgrade_is_idempotent_and_works_on_an_empty_file(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    assert current_revision(url) is None
    upgrade(url)
    upgrade(url)  # a second run changes nothing
    assert current_revision(url) == HEAD
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


def _insert_campaign(conn: Connection) -> None:
    """Campaign 1, in the columns every revision has."""
    conn.exec_driver_sql(
        "INSERT INTO campaigns (id, account, provider, state, max_segments, "
        "recipients_total, batches_total, credits_planned, created_at) "
        "VALUES (1, 'a', 'smspresto', 'running', 10, 4, 0, 1, '2026-01-01 00:00:00')"
    )


def test_a_0001_database_upgrades_keeping_its_rows_and_downgrades(tmp_path: object) -> None:
    from alembic import command

    from campaigns.schema import alembic_config

    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(url, "0001")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _insert_campaign(conn)
            conn.exec_driver_sql(
                "INSERT INTO recipients (campaign_id, row_no, msisdn, state, attempts) VALUES "
                "(1, 1, '2250701020304', 'pending', 0), (1, 2, '2250701020304', 'duplicate', 0),"
                " (1, 3, '12', 'invalid', 0), (1, 4, '12', 'invalid', 0)"
            )
        upgrade(url)
        assert current_revision(url) == HEAD
        assert _differences(url) == []
        names = {i["name"] for i in inspect(engine).get_indexes("recipients")}
        assert "ix_recipients_campaign" in names and "ix_recipients_campaign_state" not in names
        with engine.connect() as conn:
            kept = conn.exec_driver_sql(
                "SELECT row_no, msisdn, state, unique_in_campaign FROM recipients ORDER BY row_no"
            ).all()
        assert kept == [
            (1, "2250701020304", "pending", 1),
            (2, "2250701020304", "duplicate", 0),
            (3, "12", "invalid", 0),
            (4, "12", "invalid", 0),
        ]

        command.downgrade(alembic_config(url), "0001")
        indexes = {i["name"]: i for i in inspect(engine).get_indexes("recipients")}
        assert "ix_recipients_campaign_state" in indexes and "ix_recipients_campaign" not in indexes
        where = indexes["uq_recipients_campaign_msisdn"]["dialect_options"]["sqlite_where"]
        assert "invalid" in str(where)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM recipients").scalar_one() == 4
    finally:
        engine.dispose()


def test_the_unique_index_refuses_a_repeated_sendable_number_only(sqlite_url: str) -> None:
    from sqlalchemy.exc import IntegrityError

    insert_row = (
        "INSERT INTO recipients (campaign_id, row_no, msisdn, state, attempts, unique_in_campaign)"
        " VALUES (1, ?, ?, ?, 0, ?)"
    )
    engine = create_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            _insert_campaign(conn)
            conn.exec_driver_sql(insert_row, (1, "2250701020304", "pending", True))
            conn.exec_driver_sql(insert_row, (2, "2250701020304", "duplicate", False))
            conn.exec_driver_sql(insert_row, (3, "2250701020304", "duplicate", False))
        with engine.begin() as conn, pytest.raises(IntegrityError):
            conn.exec_driver_sql(insert_row, (4, "2250701020304", "suppressed", True))
    finally:
        engine.dispose()


def test_counts_and_outcome_updates_read_through_an_index(sqlite_url: str) -> None:
    """Per-campaign reads and per-batch writes never scan the whole recipients table."""
    queries = [
        "SELECT state, count(*) FROM recipients WHERE campaign_id = 1 GROUP BY state",
        "SELECT id FROM recipients WHERE campaign_id = 1 AND id > 5 ORDER BY id LIMIT 10",
        "UPDATE recipients SET state = 'sent' WHERE batch_id = 3 AND state = 'in_flight'",
    ]
    engine = create_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            for query in queries:
                plan = " ".join(
                    str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}")
                )
                assert re.search(r"USING (COVERING )?INDEX ix_recipients_", plan), (query, plan)
    finally:
        engine.dispose()


def test_a_0003_database_with_campaigns_upgrades_to_routes_and_back(db_url: str) -> None:
    """Campaigns planned before routes keep working: their batches take the campaign's
    account and each gets its campaign_accounts row with the share it planned."""
    from alembic import command

    from campaigns.schema import alembic_config
    from campaigns.status import get_campaign

    config = alembic_config(db_url)
    command.downgrade(config, "0003")
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            _insert_campaign(conn)
            conn.exec_driver_sql(
                "INSERT INTO batches (id, campaign_id, seq, state, size, attempts) "
                "VALUES (1, 1, 1, 'done', 2, 1)"
            )
            conn.exec_driver_sql(
                "INSERT INTO recipients (campaign_id, row_no, msisdn, batch_id, state, segments,"
                " credits, attempts, unique_in_campaign) VALUES "
                "(1, 1, '2250701020304', 1, 'sent', 2, 2.0, 1, true), "
                "(1, 2, '2250701020305', 1, 'failed', 2, 2.0, 1, true), "
                "(1, 3, '2250701020306', NULL, 'rejected', 12, NULL, 0, true)"
            )
        upgrade(db_url)
        assert current_revision(db_url) == HEAD
        assert _differences(db_url) == []
        with engine.connect() as conn:
            batch = conn.exec_driver_sql("SELECT account, provider FROM batches").one()
            share = conn.exec_driver_sql(
                "SELECT account, provider, state, valid, rejected, batches, segments "
                "FROM campaign_accounts"
            ).one()
        assert tuple(batch) == ("a", "smspresto")
        assert tuple(share) == ("a", "smspresto", "active", 2, 1, 0, 4)
        info = get_campaign(1, database_url=db_url)
        assert info.account == "a" and info.route is None
        [account] = info.accounts
        assert account.recipients == {"sent": 1, "failed": 1, "rejected": 1}
        assert account.credits_spent == 2.0 and account.planned == 2

        command.downgrade(config, "0003")
        with engine.connect() as conn:
            count = conn.exec_driver_sql("SELECT count(*) FROM recipients").scalar_one()
            account_of = conn.exec_driver_sql("SELECT account FROM campaigns").scalar_one()
        assert (count, account_of) == (3, "a")
        upgrade(db_url)
    finally:
        from campaigns.db import dispose_engines

        dispose_engines()
        engine.dispose()


def test_a_0004_database_mid_send_upgrades_to_write_once_numbers_and_back(db_url: str) -> None:
    """Rows an older worker left in flight become pending (their batch still says in flight,
    and the tick resolves it); every campaign is a campaign, not a single message; and on
    PostgreSQL the recipients' pages keep room for HOT updates."""
    from alembic import command

    from campaigns.db import dispose_engines
    from campaigns.schema import alembic_config
    from campaigns.status import get_campaign

    config = alembic_config(db_url)
    command.downgrade(config, "0004")
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            _insert_campaign(conn)
            conn.exec_driver_sql(
                "INSERT INTO batches (id, campaign_id, seq, state, size, attempts, account, "
                "provider) VALUES (1, 1, 1, 'in_flight', 2, 1, 'a', 'smspresto')"
            )
            conn.exec_driver_sql(
                "INSERT INTO recipients (campaign_id, row_no, msisdn, batch_id, state, attempts,"
                " unique_in_campaign) VALUES (1, 1, '2250701020304', 1, 'in_flight', 1, true),"
                " (1, 2, '2250701020305', 1, 'in_flight', 1, true)"
            )
        upgrade(db_url)
        assert _differences(db_url) == []
        with engine.connect() as conn:
            states = conn.exec_driver_sql("SELECT DISTINCT state FROM recipients").scalars().all()
            kind = conn.exec_driver_sql("SELECT kind FROM campaigns").scalar_one()
            options = (
                conn.exec_driver_sql(
                    "SELECT reloptions FROM pg_class WHERE relname = 'recipients'"
                ).scalar_one()
                if conn.dialect.name == "postgresql"
                else ["fillfactor=40"]  # SQLite has no fillfactor: nothing to check
            )
        assert (states, kind) == (["pending"], "campaign")
        assert "fillfactor=40" in options  # 0005 set 80, 0011 loosened it
        # Still reported in flight: the batch row carries it.
        assert get_campaign(1, database_url=db_url).recipients == {"in_flight": 2}

        command.downgrade(config, "0004")
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("campaigns")}
        assert "kind" not in columns
        upgrade(db_url)
    finally:
        dispose_engines()
        engine.dispose()


def test_a_0005_database_with_campaigns_upgrades_to_fingerprints_and_back(db_url: str) -> None:
    """Campaigns from before fingerprints keep their rows and their idempotency keys: a key
    reused on one returns it (there is nothing to compare); a new campaign stores its own."""
    from alembic import command

    from campaigns import submit_campaign
    from campaigns.db import dispose_engines
    from campaigns.schema import alembic_config
    from tests.campaigns.helpers import nepal, nepal_numbers

    config = alembic_config(db_url)
    command.downgrade(config, "0005")
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            _insert_campaign(conn)
            conn.exec_driver_sql("UPDATE campaigns SET idempotency_key = 'before-0006'")
            conn.exec_driver_sql(
                "INSERT INTO recipients (campaign_id, row_no, msisdn, state, attempts, "
                "unique_in_campaign) VALUES (1, 1, '2250701020304', 'pending', 0, true)"
            )
            if conn.dialect.name == "postgresql":  # the row took id 1 by hand, not the sequence
                conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('campaigns', 'id'), 1)")
        upgrade(db_url)
        assert current_revision(db_url) == HEAD
        assert _differences(db_url) == []
        with engine.connect() as conn:
            kept = conn.exec_driver_sql(
                "SELECT id, idempotency_key, request_fingerprint FROM campaigns"
            ).one()
        assert tuple(kept) == (1, "before-0006", None)
        again = submit_campaign(
            nepal(), nepal_numbers(2), text="Hi", idempotency_key="before-0006",
            database_url=db_url,
        )  # fmt: skip
        fresh = submit_campaign(
            nepal(), nepal_numbers(2), text="Hi", idempotency_key="after-0006",
            database_url=db_url,
        )  # fmt: skip
        with engine.connect() as conn:
            stored = conn.exec_driver_sql(
                f"SELECT request_fingerprint FROM campaigns WHERE id = {fresh}"
            ).scalar_one()
        assert again == 1 and '"account": "nepal"' in stored

        command.downgrade(config, "0005")
        with engine.connect() as conn:
            counts = conn.exec_driver_sql(
                "SELECT (SELECT count(*) FROM campaigns), (SELECT count(*) FROM recipients)"
            ).one()
        assert tuple(counts) == (2, 3)
        upgrade(db_url)
    finally:
        dispose_engines()
        engine.dispose()


def test_deleting_a_campaign_deletes_its_recipients_though_no_key_is_checked(
    db_url: str,
) -> None:
    """0010: no foreign key checked per inserted number; a trigger keeps the cascade, and a
    downgrade puts the key back."""
    from alembic import command

    from campaigns.schema import alembic_config

    engine = create_engine(db_url)
    try:
        assert inspect(engine).get_foreign_keys("recipients") == []
        with engine.begin() as conn:
            _insert_campaign(conn)
            conn.exec_driver_sql(
                "INSERT INTO recipients (campaign_id, row_no, msisdn, state, attempts) VALUES "
                "(1, 1, '2250701020304', 'pending', 0), (2, 1, '2250701020305', 'pending', 0)"
            )
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM campaigns WHERE id = 1")
        with engine.connect() as conn:
            left = conn.exec_driver_sql("SELECT campaign_id FROM recipients").scalars().all()
        assert left == [2]  # campaign 1's went with it; the stray row is not checked on insert

        command.downgrade(alembic_config(db_url), "0009")
        engine.dispose()  # SQLite: a pooled connection may still read the schema it knew
        [key] = inspect(engine).get_foreign_keys("recipients")
        assert (key["referred_table"], key["constrained_columns"]) == ("campaigns", ["campaign_id"])
        with engine.connect() as conn:  # the stray row could not have a key: it is gone
            assert conn.exec_driver_sql("SELECT count(*) FROM recipients").scalar_one() == 0
        upgrade(db_url)
        assert _differences(db_url) == []
    finally:
        engine.dispose()
