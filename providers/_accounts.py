"""Provider accounts from configuration: a TOML file and the environment, secrets kept secret.

An account is configured in the file named by ``SMSQ_CONFIG`` (default ``./smsq.toml``)::

    [accounts.nepal]
    provider = "aakashsms_v3"
    base_url = "https://sms.aakashsms.com"
    sender = "31001"
    rate_per_s = 5

and its credentials are best given in the environment, never in the file that is committed::

    SMSQ_ACCOUNTS__NEPAL__CREDENTIALS__AUTH_TOKEN=...

Credentials are ``SecretStr``: their repr, str and JSON dump show ``**********``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ProviderName = Literal["aakashsms_v1", "aakashsms_v3", "aamarsms", "smsplus_az", "smspresto"]


class Account(BaseModel):
    """One provider account: where to send, as whom, how fast, with which (secret) credentials."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    provider: ProviderName
    base_url: str = Field(description="scheme and host, e.g. https://smsplus.az or the sandbox")
    credentials: dict[str, SecretStr] = Field(default_factory=dict)
    sender: str | None = None
    rate_per_s: float | None = Field(default=None, gt=0, description="requests per second")
    # One spelling of messages per second everywhere; ``msgs_per_s``, the key's first name,
    # is still read from config files and the environment.
    messages_per_s: float | None = Field(
        default=None,
        gt=0,
        description="messages per second",
        validation_alias=AliasChoices("messages_per_s", "msgs_per_s"),
    )
    max_recipients: int | None = Field(default=None, gt=0, description="override the adapter's")
    max_url_chars: int | None = Field(default=None, gt=200, description="override the adapter's")
    timeout_s: float = Field(default=30.0, gt=0)
    # What one segment costs in the gateway's credit unit (Limits.credit_unit): 1 credit where
    # the gateway counts credits; a gateway charging money (AamarSMS, BDT) has no price until
    # the account sets one, and estimates then say so instead of guessing.
    price_per_segment: float | None = Field(default=None, gt=0)
    resend_ambiguous: bool = False  # OTP use: resend numbers whose request may have been lost
    # The circuit opens (a routed campaign fails over to the next account) after this many
    # sends in a row were not accepted (connect errors, 5xx, throttling; a send is one batch
    # attempt, up to three requests), or when none was accepted for this long since the first.
    circuit_failures: int = Field(default=5, ge=1)
    circuit_open_after_s: float = Field(default=60.0, gt=0)
    options: dict[str, str] = Field(default_factory=dict)  # adapter-specific, documented there
    # SMSPlus.az approved templates by id: text with named placeholders ("Salam {name}");
    # their order of first appearance gives first/second/third_parameters.
    templates: dict[int, str] = Field(default_factory=dict)
    default_region: str | None = None  # ISO region for numbers pasted without a country code

    def secret(self, name: str) -> str:
        """The plain value of credential ``name``; raises KeyError naming only the field."""
        try:
            return self.credentials[name].get_secret_value()
        except KeyError:
            raise KeyError(f"account {self.name!r} has no credential {name!r}") from None

    def secret_values(self) -> tuple[str, ...]:
        """Every credential value, for tests and filters that must prove none leaked."""
        return tuple(
            v.get_secret_value() for v in self.credentials.values() if v.get_secret_value()
        )


class SmsqSettingsBase(BaseSettings):
    """Settings read from the environment first, then smsq's config file (``SMSQ_CONFIG``)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_path())
        # Environment wins over the file, so secrets can stay out of it.
        return (init_settings, env_settings, toml)


class AccountsSettings(SmsqSettingsBase):
    """The ``[accounts.*]`` tables of the config file, overridable from ``SMSQ_ACCOUNTS__...``."""

    model_config = SettingsConfigDict(env_prefix="SMSQ_", env_nested_delimiter="__", extra="ignore")

    accounts: dict[str, Account] = Field(default_factory=dict)


def config_path() -> Path:
    """The config file: ``$SMSQ_CONFIG`` or ``./smsq.toml``."""
    return Path(os.environ.get("SMSQ_CONFIG", "smsq.toml"))


def load_accounts() -> dict[str, Account]:
    """Every configured account by name, each carrying its own name.

    A config file named explicitly by ``SMSQ_CONFIG`` must exist: a mistyped path would
    otherwise read as "no accounts configured". The default ``./smsq.toml`` may be absent
    (accounts can come from the environment alone).
    """
    named = os.environ.get("SMSQ_CONFIG")
    if named and not Path(named).is_file():
        raise ValueError(f"SMSQ_CONFIG={named}: no such file")
    settings = AccountsSettings()
    return {name: acc.model_copy(update={"name": name}) for name, acc in settings.accounts.items()}
