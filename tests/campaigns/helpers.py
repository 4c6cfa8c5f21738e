"""Accounts for the campaign tests, and reading a plan back the way the worker will.

Every account points at 127.0.0.1:9 (discard): planning sends nothing, and a test that does
reach out (estimate's balance) gets a refused connection.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from campaigns.tables import BATCHES, CAMPAIGNS, RECIPIENTS, SUPPRESSIONS
from providers import Account
from providers import Batch as RequestBatch
from providers.registry import get_adapter

NOWHERE = "http://127.0.0.1:9"


def nepal(**overrides: Any) -> Account:
    """AakashSMS v3 (POST, 100 numbers per request)."""
    fields: dict[str, Any] = dict(
        name="nepal", provider="aakashsms_v3", base_url=NOWHERE,
        credentials={"auth_token": "np-secret-token"},
    )  # fmt: skip
    return Account(**(fields | overrides))


def nepal_v1(**overrides: Any) -> Account:
    """AakashSMS v1 (form POST, 100 numbers)."""
    fields: dict[str, Any] = dict(
        name="nepal-v1", provider="aakashsms_v1", base_url=NOWHERE,
        credentials={"auth_token": "np1-secret"}, sender="31001",
    )  # fmt: skip
    return Account(**(fields | overrides))


def bangladesh(**overrides: Any) -> Account:
    """AamarSMS (GET, 100 numbers, 2000 URL characters)."""
    fields: dict[str, Any] = dict(
        name="bd", provider="aamarsms", base_url=NOWHERE,
        credentials={"user": "bd-user", "password": "bd-secret-pass"}, sender="Brand",
    )  # fmt: skip
    return Account(**(fields | overrides))


def azerbaijan(**overrides: Any) -> Account:
    """SMSPlus.az (templates with named parameters, 160 characters)."""
    fields: dict[str, Any] = dict(
        name="az", provider="smsplus_az", base_url=NOWHERE,
        credentials={"token": "az-secret-token"}, sender="AzBrand",
        templates={
            7: "Salam {name}, kodunuz {code}. Sabah {name} ucun gorusenedek.",
            8: "Xidmet saat 10-da baslayir.",
            9: "{a} {b} {c} {d}",
            10: "{note}",
        },
    )  # fmt: skip
    return Account(**(fields | overrides))


def presto(**overrides: Any) -> Account:
    """SMSPresto (POST data=, a text per recipient, 500 numbers)."""
    fields: dict[str, Any] = dict(
        name="presto", provider="smspresto", base_url=NOWHERE,
        credentials={"api_key": "presto-key", "api_pass": "presto-pass"}, sender="Presto",
        default_region="CI",
    )  # fmt: skip
    return Account(**(fields | overrides))


def nepal_numbers(count: int, start: int = 0) -> list[str]:
    """``count`` distinct valid Nepali mobiles (NTC 984...)."""
    return [f"984{start + i:07d}" for i in range(count)]


def bd_numbers(count: int) -> list[str]:
    """``count`` distinct valid Bangladeshi mobiles, written nationally (017...)."""
    return [f"0171{i:07d}" for i in range(count)]


def az_numbers(count: int) -> list[str]:
    """``count`` distinct valid Azerbaijani mobiles (+994 50...)."""
    return [f"+99450{i:07d}" for i in range(count)]


def ci_numbers(count: int) -> list[str]:
    """``count`` distinct valid Ivorian mobiles (07... Orange, 10 digits)."""
    return [f"07{i:08d}" for i in range(count)]


def row_counts(url: str) -> dict[str, int]:
    """Rows per table: what a failed submit must leave unchanged."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (CAMPAIGNS, BATCHES, RECIPIENTS, SUPPRESSIONS)
            }
    finally:
        engine.dispose()


@dataclass(frozen=True)
class PlannedRequest:
    """One planned batch, rebuilt as the worker does, and the adapter's request for it."""

    batch_id: int
    seq: int
    size: int
    batch: RequestBatch
    request: httpx.Request


def planned_requests(url: str, campaign_id: int, account: Account) -> list[PlannedRequest]:
    """Every pending batch of the campaign as a providers.Batch and its HTTP request.

    Recipients in id order; ``Batch.text`` when the batch has one text, else per-recipient
    texts, or the campaign's template id with the recipients' parameters.
    """
    engine = create_engine(url)
    adapter = get_adapter(account.provider)
    out: list[PlannedRequest] = []
    try:
        with engine.connect() as conn:
            campaign = (
                conn.execute(select(CAMPAIGNS).where(CAMPAIGNS.c.id == campaign_id)).one()._mapping
            )
            batches = conn.execute(
                select(BATCHES).where(BATCHES.c.campaign_id == campaign_id).order_by(BATCHES.c.seq)
            ).all()
            for b in batches:
                members = conn.execute(
                    select(RECIPIENTS.c.msisdn, RECIPIENTS.c.text, RECIPIENTS.c.params)
                    .where(RECIPIENTS.c.batch_id == b.id)
                    .order_by(RECIPIENTS.c.id)
                ).all()
                batch = _request_batch(campaign, b.text, members)
                out.append(
                    PlannedRequest(
                        b.id, b.seq, b.size, batch, adapter.build_request(account, batch)
                    )
                )
    finally:
        engine.dispose()
    return out


def _request_batch(campaign: Any, text: str | None, members: Sequence[Any]) -> RequestBatch:
    msisdns = tuple(m.msisdn for m in members)
    sender = campaign["sender"]
    if campaign["template_id"] is not None:
        params = tuple(tuple(json.loads(m.params)) if m.params else () for m in members)
        return RequestBatch(
            msisdns=msisdns, template_id=campaign["template_id"],
            params=params if any(params) else None, sender=sender,
        )  # fmt: skip
    if text is not None:
        return RequestBatch(msisdns=msisdns, text=text, sender=sender)
    return RequestBatch(msisdns=msisdns, texts=tuple(m.text for m in members), sender=sender)
