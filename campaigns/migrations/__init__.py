"""Alembic migrations of smsq's schema; run them with ``campaigns.schema.upgrade``."""
