"""Adapters by provider name. Each gateway module exports ``ADAPTER``; imported on first use."""

from __future__ import annotations

import importlib

from providers._adapter import Adapter

# Provider name (as in account config) -> module holding its ADAPTER.
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
