"""Asking a gateway for the account's balance, for ``estimate``: one short request, no crash."""

from __future__ import annotations

import httpx

from providers import Account, Adapter, GatewayError, redact_text

BALANCE_TIMEOUT_S = 5.0


def fetch_balance(
    adapter: Adapter, account: Account, timeout_s: float = BALANCE_TIMEOUT_S
) -> tuple[float | None, str | None]:
    """``(balance, None)``, or ``(None, why)`` when the gateway has no balance query or the
    query failed (connection refused, timeout, an error answer). The reason carries no
    credential: URLs in it are redacted."""
    query = adapter.balance
    if query is None:
        return None, f"{adapter.name} reports no balance"
    try:
        request = query.build_request(account)
        with httpx.Client(timeout=timeout_s) as client:
            response = client.send(request)
        return query.parse(response), None
    except (httpx.HTTPError, GatewayError, ValueError, KeyError) as exc:
        return None, redact_text(f"balance query failed: {type(exc).__name__}: {exc}")
