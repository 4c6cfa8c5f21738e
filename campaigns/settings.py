"""Process-wide settings: where the database and the broker are, and the worker's timings.

Read from ``SMSQ_*`` environment variables first, then the top level of the config file
(``$SMSQ_CONFIG``, default ``./smsq.toml``), then the defaults below, which suit one machine:
SQLite in ``./var/smsq.db`` and Redis on localhost.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from providers._accounts import SmsqSettingsBase

# The worker's timing defaults, here once: Settings and worker.context.Timings both use them.
TICK_INTERVAL_S = 2.0
# A batch claimed or in flight for longer than this is presumed abandoned by a dead worker.
STALE_AFTER_S = 120.0
# Redis redelivers an unacknowledged task after this; it must exceed any task's run time.
VISIBILITY_TIMEOUT_S = 3600


class Settings(SmsqSettingsBase):
    """smsq's own settings (accounts are read separately, by ``providers.load_accounts``)."""

    model_config = SettingsConfigDict(env_prefix="SMSQ_", extra="ignore")

    database_url: str = "sqlite:///var/smsq.db"
    broker_url: str = "redis://127.0.0.1:6379/0"
    # Where the shared rate limiter keeps its buckets; the broker's Redis when unset.
    redis_url: str | None = None
    tick_interval_s: float = Field(default=TICK_INTERVAL_S, gt=0)
    stale_after_s: float = Field(default=STALE_AFTER_S, gt=0)
    visibility_timeout_s: int = Field(default=VISIBILITY_TIMEOUT_S, gt=0)
    # Status callbacks (campaigns.callbacks): the master key every signing secret is derived
    # from (unset: a key file made on first use, see callbacks.secrets), how long one POST
    # may take, and for how long a failing event is retried before it is given up.
    callback_master_key: SecretStr | None = None
    callback_master_key_file: str = "var/callback-master.key"
    callback_timeout_s: float = Field(default=10.0, gt=0)
    callback_retry_for_s: float = Field(default=24 * 3600.0, gt=0)
    callback_backoff_s: float = Field(default=5.0, gt=0)  # the first wait; doubles each time
    callback_backoff_max_s: float = Field(default=3600.0, gt=0)

    @property
    def limiter_url(self) -> str:
        """The Redis URL of the rate limiter."""
        return self.redis_url or self.broker_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
