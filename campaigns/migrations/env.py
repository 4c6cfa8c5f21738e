"""Alembic environment: migrates the database of the config's ``sqlalchemy.url``.

``campaigns.schema.upgrade`` builds the config in code (no alembic.ini) and may hand over an
open connection in ``config.attributes["connection"]``; otherwise an engine is made here with
the same SQLite settings (WAL, busy timeout) as the application's.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from campaigns.db import make_engine
from campaigns.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    if connection.dialect.name == "sqlite" and not connection.in_transaction():
        # Batch mode rebuilds a table by copying it, dropping the old one and renaming the
        # copy; with foreign keys on, dropping campaigns would cascade-delete every batch and
        # recipient. The pragma only takes effect outside a transaction, so it is set on the
        # driver's connection before the migration's transaction begins.
        connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new engine for the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no sqlalchemy.url in the alembic config")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
