"""Creating and upgrading the database schema with alembic, configured in code.

``upgrade(url)`` brings any database (an empty one included) to the newest revision; running
it again does nothing. ``smsq db upgrade`` and the test fixtures call it.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

SCRIPT_LOCATION = "campaigns:migrations"


def alembic_config(url: str) -> Config:
    """An alembic Config for ``url`` with smsq's migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    # ConfigParser interpolation treats "%" specially; escaped URLs keep their %XX intact.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Upgrade the database at ``url`` (default: the configured one) to ``revision``."""
    if url is None:
        from campaigns.settings import get_settings

        url = get_settings().database_url
    command.upgrade(alembic_config(make_url(url).render_as_string(hide_password=False)), revision)


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    from campaigns.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
