"""Adapters by provider name: each gateway's ``ADAPTER``, imported on first use.

A gateway is one module (``providers.aamarsms``) or one package (``providers.smspresto``).
"""

from __future__ import annotations

import importlib

from providers._adapter import Adapter
from providers._capabilities import ArchiveQuery

# Provider name (as in account config) -> module or package holding its ADAPTER.
MODULES: dict[str, str] = {
    "aakashsms_v1": "providers.aakashsms_v1",
    "aakashsms_v3": "providers.aakashsms_v3",
    "aamarsms": "providers.aamarsms",
    "smsplus_az": "providers.smsplus_az",
    "smspresto": "providers.smspresto",
}


def get_adapter(provider: str) -> Adapter:
    """The adapter for ``provider``; raises KeyError naming the known providers."""
    try:
        module = MODULES[provider]
    except KeyError:
        known = ", ".join(sorted(MODULES))
        raise KeyError(f"unknown provider {provider!r} (known: {known})") from None
    adapter: Adapter = importlib.import_module(module).ADAPTER
    return adapter


def archive_of(provider: str) -> ArchiveQuery | None:
    """The provider's archive capability; None for a provider without one, or one no longer
    known (a campaign outlived its provider's adapter: its batches resolve as unknown)."""
    try:
        return get_adapter(provider).archive
    except KeyError:
        return None
