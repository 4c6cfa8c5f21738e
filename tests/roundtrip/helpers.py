"""Sending an adapter's request for real and reading both sides: results and the sandbox record."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr

from providers import (
    Account,
    Batch,
    GatewayError,
    NumberResult,
    ResultState,
    classify_transport_error,
)
from providers.registry import get_adapter
from providers.sandbox.client import SandboxClient

# Valid numbers per gateway (the manuals' shapes; the sandbox's validity rules agree).
NP = ("9841000001", "9801234567", "9761234567")  # AakashSMS: 10 digits, 98/97/96
BD = ("8801711000001", "8801812345678", "8801912345678")  # AamarSMS: 8801[3-9] + 8
AZ = ("994501234567", "994551234567", "994701234567")  # SMSPlus.az: 994 + 50/55/70/...
CI = ("2250707070707", "2250505050505", "2250101010101")  # SMSPresto: international digits

Row = tuple[str, str, str | None]  # (msisdn, text, sender) as the sandbox recorded it


def with_options(account: Account, **options: str) -> Account:
    """``account`` with adapter options set (e.g. ``method="GET"``)."""
    return account.model_copy(update={"options": {**account.options, **options}})


def with_credentials(account: Account, **credentials: str) -> Account:
    """``account`` with some credentials replaced (a wrong token, a wrong password)."""
    creds = dict(account.credentials)
    creds.update({name: SecretStr(value) for name, value in credentials.items()})
    return account.model_copy(update={"credentials": creds})


def send(http: httpx.Client, account: Account, batch: Batch) -> list[NumberResult]:
    """Build, send and parse as the worker does; transport failures become GatewayErrors."""
    adapter = get_adapter(account.provider)
    request = adapter.build_request(account, batch)
    try:
        response = http.send(request)
    except httpx.TransportError as exc:
        raise classify_transport_error(exc) from exc
    results = adapter.parse_response(batch, response)
    assert [r.msisdn for r in results] == list(batch.msisdns), "one result per number, in order"
    return results


def send_error(http: httpx.Client, account: Account, batch: Batch) -> GatewayError:
    """The GatewayError a send raises (fails the test if it returns results instead)."""
    with pytest.raises(GatewayError) as info:
        send(http, account, batch)
    return info.value


def states(results: list[NumberResult]) -> list[tuple[str, ResultState]]:
    """(msisdn, state) per result."""
    return [(r.msisdn, r.state) for r in results]


def recorded(sandbox: SandboxClient, account: str | None = None) -> list[Row]:
    """(msisdn, text, sender) of every message the sandbox accepted, in order."""
    return [(m.msisdn, m.text, m.sender) for m in sandbox.messages(account=account)]


@dataclass(frozen=True)
class Gateway:
    """A small valid batch for one gateway's funded account, and what the sandbox must record."""

    provider: str
    batch: Batch
    expected: tuple[Row, ...]


def _same_text(provider: str, numbers: tuple[str, ...], text: str, sender: str | None) -> Gateway:
    return Gateway(provider, Batch(numbers, text=text), tuple((n, text, sender) for n in numbers))


# One two-number batch per gateway, for tests that run the same scenario on all five.
GATEWAYS: dict[str, Gateway] = {
    "aakashsms_v1": _same_text("aakashsms_v1", NP[:2], "Namaste from smsq", "31001"),
    "aakashsms_v3": _same_text("aakashsms_v3", NP[:2], "Namaste from smsq", None),
    "aamarsms": _same_text("aamarsms", BD[:2], "smsq: আপনার অর্ডার প্রস্তুত", "smsq"),
    "smsplus_az": Gateway(
        "smsplus_az",
        Batch(AZ[:2], template_id=2, params=(("Aysel",), ("Murad",))),
        (
            (AZ[0], "Salam Aysel! Sifarişiniz hazırdır, ünvanınıza çatdırılacaq.", "smsq"),
            (AZ[1], "Salam Murad! Sifarişiniz hazırdır, ünvanınıza çatdırılacaq.", "smsq"),
        ),
    ),
    "smspresto": _same_text("smspresto", CI[:2], "Bonjour de smsq", "SMSQ"),
}
