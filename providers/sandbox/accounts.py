"""The sandbox's built-in demo accounts: well-known fake credentials, one funded per gateway.

Each gateway has a funded account named after its provider (``aakashsms_v1``, ...) and
accounts that exist to be refused (no credits, inactive, expired, ...). The names are the
sandbox's account names everywhere: in the message record, as fault scopes, and as the keys
of ``sandbox_accounts(base_url)``, which turns them into ready-to-use smsq ``Account`` objects.

AakashSMS v1 and v3 accept the same tokens (as the real gateway does), but each API keeps
its own sandbox account and balance, so a record says which API a message went through.
Balances are credits (SMS segments), except AamarSMS, which counts money (BDT).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from pydantic import SecretStr

from providers._accounts import Account, ProviderName

FUNDED_BALANCE = 100_000_000.0  # enough for any benchmark; reset restores it
LOW_BALANCE = 2.0  # two credits: a three-number send is refused as insufficient
HIGH_RATE_PER_S = 10_000.0  # sandbox accounts are never the bottleneck of a benchmark

AAKASH_TOKEN = "sandbox-aakash-token"
AAKASH_SENDER = "31001"  # the manual's "from field value"
AAKASH_TOKEN_NO_CREDITS = "sandbox-aakash-no-credits"
AAKASH_TOKEN_LOW_CREDITS = "sandbox-aakash-low-credits"
AAKASH_TOKEN_INACTIVE = "sandbox-aakash-inactive"
AAKASH_TOKEN_EXPIRED = "sandbox-aakash-expired"
AAKASH_TOKEN_IP_LOCKED = "sandbox-aakash-ip-locked"  # v1 only: allows 203.0.113.7 alone

AAMAR_USER = "sandbox"
AAMAR_PASSWORD = "sandbox-pass"
AAMAR_SENDER = "smsq"
AAMAR_USER_NO_CREDITS = "sandbox-no-credits"
AAMAR_USER_RESELLER_EMPTY = "sandbox-reseller-empty"
AAMAR_PRICE_PER_SEGMENT_BDT = 0.25

SMSPLUS_TOKEN = "sandbox-smsplus-token"
SMSPLUS_SENDER = "smsq"  # the one approved sender name
SMSPLUS_TOKEN_NO_CREDITS = "sandbox-smsplus-no-credits"
SMSPLUS_TOKEN_UNSIGNED = "sandbox-smsplus-unsigned"  # contract not signed: code 106

PRESTO_API_KEY = "sandbox-presto-key"
PRESTO_API_PASS = "sandbox-presto-pass"
PRESTO_SENDER = "SMSQ"
PRESTO_API_KEY_NO_CREDITS = "sandbox-presto-no-credits"

# SMSPlus.az approved templates as the gateway holds them: positional {1}, {2}, {3}.
SMSPLUS_TEMPLATES: Mapping[int, str] = MappingProxyType(
    {
        1: "Your smsq sandbox test message.",
        2: "Salam {1}! Sifarişiniz hazırdır, ünvanınıza çatdırılacaq.",
        3: "Hello {1}, your code is {2}. It expires in {3} minutes.",
    }
)
# The names smsq's Account.templates uses for the same placeholders, in order.
SMSPLUS_PARAMETER_NAMES: Mapping[int, tuple[str, ...]] = MappingProxyType(
    {1: (), 2: ("name",), 3: ("name", "code", "minutes")}
)


class Refusal(StrEnum):
    """An account-level state that makes the gateway refuse every send."""

    INACTIVE = "inactive"  # AakashSMS 4004
    EXPIRED = "expired"  # AakashSMS 4005
    CONTRACT_UNSIGNED = "contract_unsigned"  # SMSPlus.az 106
    RESELLER_EMPTY = "reseller_empty"  # AamarSMS 107


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One account the sandbox knows, with the credentials smsq would configure for it."""

    name: str
    provider: ProviderName
    credentials: Mapping[str, str]  # smsq credential names (auth_token, user, ...) -> values
    balance: float
    sender: str | None = None
    refusal: Refusal | None = None
    allowed_ips: tuple[str, ...] = ()  # empty: any client address
    templates: Mapping[int, str] = field(default_factory=dict)  # SMSPlus.az, positional

    @property
    def key(self) -> str:
        """The credential that identifies the account (token, user name or API key)."""
        return next(iter(self.credentials.values()))


def _aakash(provider: ProviderName) -> list[DemoAccount]:
    def account(
        suffix: str,
        token: str,
        balance: float,
        refusal: Refusal | None = None,
        allowed_ips: tuple[str, ...] = (),
    ) -> DemoAccount:
        creds = {"auth_token": token}
        return DemoAccount(
            provider + suffix, provider, creds, balance, AAKASH_SENDER, refusal, allowed_ips
        )

    accounts = [
        account("", AAKASH_TOKEN, FUNDED_BALANCE),
        account("_no_credits", AAKASH_TOKEN_NO_CREDITS, 0.0),
        account("_low_credits", AAKASH_TOKEN_LOW_CREDITS, LOW_BALANCE),
        account("_inactive", AAKASH_TOKEN_INACTIVE, FUNDED_BALANCE, Refusal.INACTIVE),
        account("_expired", AAKASH_TOKEN_EXPIRED, FUNDED_BALANCE, Refusal.EXPIRED),
    ]
    if provider == "aakashsms_v1":
        ip_locked = ("203.0.113.7",)  # TEST-NET-3: never a loopback client
        accounts.append(
            account("_ip_locked", AAKASH_TOKEN_IP_LOCKED, FUNDED_BALANCE, None, ip_locked)
        )
    return accounts


def _aamar() -> list[DemoAccount]:
    def creds(user: str) -> dict[str, str]:
        return {"user": user, "password": AAMAR_PASSWORD}

    return [
        DemoAccount("aamarsms", "aamarsms", creds(AAMAR_USER), FUNDED_BALANCE, AAMAR_SENDER),
        DemoAccount("aamarsms_no_credits", "aamarsms", creds(AAMAR_USER_NO_CREDITS), 0.0),
        DemoAccount(
            "aamarsms_reseller_empty",
            "aamarsms",
            creds(AAMAR_USER_RESELLER_EMPTY),
            FUNDED_BALANCE,
            refusal=Refusal.RESELLER_EMPTY,
        ),
    ]


def _smsplus() -> list[DemoAccount]:
    def account(
        name: str, token: str, balance: float, refusal: Refusal | None = None
    ) -> DemoAccount:
        creds = {"token": token}
        return DemoAccount(
            name, "smsplus_az", creds, balance, SMSPLUS_SENDER, refusal, templates=SMSPLUS_TEMPLATES
        )

    return [
        account("smsplus_az", SMSPLUS_TOKEN, FUNDED_BALANCE),
        account("smsplus_az_no_credits", SMSPLUS_TOKEN_NO_CREDITS, 0.0),
        account(
            "smsplus_az_unsigned", SMSPLUS_TOKEN_UNSIGNED, FUNDED_BALANCE, Refusal.CONTRACT_UNSIGNED
        ),
    ]


def _presto() -> list[DemoAccount]:
    def creds(key: str) -> dict[str, str]:
        return {"api_key": key, "api_pass": PRESTO_API_PASS}

    return [
        DemoAccount("smspresto", "smspresto", creds(PRESTO_API_KEY), FUNDED_BALANCE, PRESTO_SENDER),
        DemoAccount(
            "smspresto_no_credits",
            "smspresto",
            creds(PRESTO_API_KEY_NO_CREDITS),
            0.0,
            PRESTO_SENDER,
        ),
    ]


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    *_aakash("aakashsms_v1"),
    *_aakash("aakashsms_v3"),
    *_aamar(),
    *_smsplus(),
    *_presto(),
)

_DEFAULT_REGION: Mapping[str, str] = {
    "aakashsms_v1": "NP",
    "aakashsms_v3": "NP",
    "aamarsms": "BD",
    "smsplus_az": "AZ",
    "smspresto": "CI",
}


def named_template(template_id: int) -> str:
    """SMSPlus.az template ``template_id`` with smsq's named placeholders ("Salam {name}")."""
    text = SMSPLUS_TEMPLATES[template_id]
    for position, name in enumerate(SMSPLUS_PARAMETER_NAMES[template_id], start=1):
        text = text.replace("{" + str(position) + "}", "{" + name + "}")
    return text


def to_account(demo: DemoAccount, base_url: str) -> Account:
    """The smsq ``Account`` that reaches ``demo`` on a sandbox at ``base_url``."""
    templates = {tid: named_template(tid) for tid in demo.templates}
    return Account(
        name=demo.name,
        provider=demo.provider,
        base_url=base_url.rstrip("/"),
        credentials={k: SecretStr(v) for k, v in demo.credentials.items()},
        sender=demo.sender,
        rate_per_s=HIGH_RATE_PER_S,
        templates=templates,
        default_region=_DEFAULT_REGION[demo.provider],
    )


def sandbox_accounts(base_url: str) -> dict[str, Account]:
    """Every demo account as a ready-to-use smsq ``Account`` pointing at ``base_url``.

    Keys are account names: the funded account of each gateway is keyed by its provider name
    (``"smsplus_az"``), the others by what they trigger (``"aakashsms_v1_no_credits"``).
    """
    return {demo.name: to_account(demo, base_url) for demo in DEMO_ACCOUNTS}
