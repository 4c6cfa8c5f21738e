"""Every adapter declares its optional calls (balance, archive, status) as typed capabilities,
and a gateway module's functions for them are the ones its adapter holds."""

from __future__ import annotations

import pytest

from providers import Adapter, ArchiveQuery, BalanceQuery, StatusQuery, aamarsms, smspresto
from providers.registry import MODULES, get_adapter

# Provider -> the capabilities its gateway's manual documents and its adapter declares.
DECLARED: dict[str, set[str]] = {
    "aakashsms_v1": set(),
    "aakashsms_v3": set(),
    "aamarsms": {"balance", "status"},
    "smsplus_az": set(),
    "smspresto": {"balance", "archive"},
}
TYPES = {"balance": BalanceQuery, "archive": ArchiveQuery, "status": StatusQuery}


def declared(adapter: Adapter) -> set[str]:
    """The capabilities ``adapter`` holds, each checked to be of its declared type."""
    found = set()
    for name, kind in TYPES.items():
        capability = getattr(adapter, name)
        if capability is not None:
            assert isinstance(capability, kind), (adapter.name, name)
            found.add(name)
    return found


def test_every_provider_is_in_the_table() -> None:
    assert set(DECLARED) == set(MODULES)


@pytest.mark.parametrize("provider", sorted(MODULES))
def test_capabilities_are_declared_typed(provider: str) -> None:
    assert declared(get_adapter(provider)) == DECLARED[provider]


def test_capabilities_hold_the_modules_functions() -> None:
    # Dataclass equality compares the functions by identity.
    assert aamarsms.ADAPTER.balance == BalanceQuery(
        build_request=aamarsms.build_balance_request, parse=aamarsms.parse_balance
    )
    assert aamarsms.ADAPTER.status == StatusQuery(
        build_request=aamarsms.build_status_request, parse=aamarsms.parse_status
    )
    assert smspresto.ADAPTER.balance == BalanceQuery(
        build_request=smspresto.build_balance_request, parse=smspresto.parse_balance
    )
    assert smspresto.ADAPTER.archive == ArchiveQuery(
        build_request=smspresto.build_archive_request,
        parse=smspresto.parse_archive,
        timezone=smspresto.archive_timezone,
        delivered=smspresto.archive_delivered,
    )
