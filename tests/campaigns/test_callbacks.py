"""Status callbacks without a cluster: signatures, URLs, the outbox and its delivery order.

Delivery runs ``worker.callbacks.deliver_campaign`` against an ``httpx.MockTransport``
receiver with a fake clock, so backoff and giving up take no real time; the end-to-end
tests with real workers are in tests/worker/test_callbacks_e2e.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select, update

from campaigns import api_keys
from campaigns.api import (
    callback_secret,
    cancel_campaign,
    get_campaign,
    pause_campaign,
    resume_campaign,
    submit_campaign,
)
from campaigns.callbacks import (
    SignatureError,
    check_callback_url,
    list_callbacks,
    outbox,
    sign,
    verify,
)
from campaigns.callbacks.delivery import Policy
from campaigns.callbacks.secrets import api_key_owner, owner_secret
from campaigns.errors import InputError
from campaigns.settings import get_settings
from campaigns.tables import BATCHES, CALLBACK_EVENTS, RECIPIENTS
from tests.campaigns.helpers import nepal, nepal_numbers
from worker.callbacks import deliver_campaign

URL = "http://127.0.0.1:9/hooks"  # never reached: every POST goes to a MockTransport


pytestmark = pytest.mark.usefixtures("callback_master_key")


# --- signing -------------------------------------------------------------------------------


def test_a_signature_verifies_and_returns_its_timestamp() -> None:
    body = b'{"id":"evt_1","seq":1}'
    header = sign("whsec_abc", body, timestamp=1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify("whsec_abc", header, body, now=1_700_000_010) == 1_700_000_000
    assert verify("whsec_abc", header, body.decode(), now=1_700_000_010) == 1_700_000_000


@pytest.mark.parametrize(
    ("label", "secret", "body", "match"),
    [
        ("tampered body", "whsec_abc", b'{"id":"evt_1","seq":2}', "does not match"),
        ("wrong secret", "whsec_xyz", b'{"id":"evt_1","seq":1}', "does not match"),
        ("empty body", "whsec_abc", b"", "does not match"),
    ],
)
def test_a_changed_body_or_another_secret_is_refused(
    label: str, secret: str, body: bytes, match: str
) -> None:
    header = sign("whsec_abc", b'{"id":"evt_1","seq":1}', timestamp=1_700_000_000)
    with pytest.raises(SignatureError, match=match):
        verify(secret, header, body, now=1_700_000_000)


def test_an_old_or_future_timestamp_is_refused_even_with_a_genuine_signature() -> None:
    body = b"{}"
    header = sign("whsec_abc", body, timestamp=1_700_000_000)
    with pytest.raises(SignatureError, match="tolerance 300 s"):
        verify("whsec_abc", header, body, now=1_700_000_301)
    with pytest.raises(SignatureError, match="tolerance 300 s"):
        verify("whsec_abc", header, body, now=1_699_999_699)
    assert verify("whsec_abc", header, body, tolerance_s=600, now=1_700_000_301)


def test_the_timestamp_is_signed_so_it_cannot_be_refreshed() -> None:
    body = b"{}"
    old = sign("whsec_abc", body, timestamp=1_700_000_000)
    replayed = old.replace("t=1700000000", "t=1700009999")
    with pytest.raises(SignatureError, match="does not match"):
        verify("whsec_abc", replayed, body, now=1_700_009_999)


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (None, "missing X-Smsq-Signature"),
        ("", "missing X-Smsq-Signature"),
        ("v1=abc", "needs t=<unix> and v1=<hex>"),
        ("t=1700000000", "needs t=<unix> and v1=<hex>"),
        ("t=soon,v1=abc", "not a unix time"),
    ],
)
def test_a_malformed_header_says_what_is_wrong(header: str | None, match: str) -> None:
    with pytest.raises(SignatureError, match=match):
        verify("whsec_abc", header, b"{}", now=1_700_000_000)


def test_any_matching_v1_entry_is_accepted_for_secret_rotation() -> None:
    body = b"{}"
    good = sign("whsec_new", body, timestamp=1_700_000_000).split(",")[1]
    header = f"t=1700000000,v1={'0' * 64},{good}"
    assert verify("whsec_new", header, body, now=1_700_000_000) == 1_700_000_000


def test_secrets_are_per_owner_derived_from_the_master_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = owner_secret("campaign:1")
    assert first.startswith("whsec_") and len(first) == len("whsec_") + 43
    assert owner_secret("campaign:1") == first  # the worker recomputes the same one
    assert owner_secret("campaign:2") != first
    assert owner_secret(api_key_owner(1)) != first
    monkeypatch.setenv("SMSQ_CALLBACK_MASTER_KEY", "another-master-key-987654321")
    get_settings.cache_clear()
    assert owner_secret("campaign:1") != first


# --- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "https://example.com/smsq?token=abc", "HTTPS://x.io"]
)
def test_http_and_https_urls_are_accepted(url: str) -> None:
    assert check_callback_url(url) == url


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("ftp://example.com/x", "must start with http:// or https://"),
        ("example.com/hook", "must start with http:// or https://"),
        ("http:///path-only", "has no host"),
        ("   ", "empty"),
        ("http://user:pw@example.com/", "no user or password"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://exa mple.com/", "whitespace"),
        (42, "expected a URL string, got int"),
    ],
)
def test_a_bad_url_is_refused_naming_the_field(url: object, match: str) -> None:
    with pytest.raises(InputError, match=f"^callback_url: .*{match}"):
        check_callback_url(url)


def test_submit_with_a_bad_url_writes_nothing(sqlite_url: str) -> None:
    with pytest.raises(InputError, match="callback_url: 'mailto:a@b.c' must start with http"):
        submit_campaign(
            nepal(), nepal_numbers(2), text="Hi", callback_url="mailto:a@b.c",
            database_url=sqlite_url,
        )  # fmt: skip
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(select(CALLBACK_EVENTS)).first() is None
    engine.dispose()


def test_an_api_key_may_carry_a_default_url_and_its_own_secret(sqlite_url: str) -> None:
    new = api_keys.create_key("crm", callback_url=URL, database_url=sqlite_url)
    assert new.info.callback_url == URL
    assert new.callback_secret == owner_secret(api_key_owner(new.info.id))
    listed = api_keys.list_keys(database_url=sqlite_url)
    assert [k.callback_url for k in listed] == [URL]
    plain = api_keys.create_key("ci", database_url=sqlite_url)
    assert plain.callback_secret is None
    with pytest.raises(InputError, match="callback_url:"):
        api_keys.create_key("bad", callback_url="nope", database_url=sqlite_url)


# --- the outbox and its delivery -----------------------------------------------------------


class Receiver:
    """A MockTransport receiver: answers with ``status`` (a list is used up in turn)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.status: list[int] = []
        self.events: list[dict[str, object]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        verify(self.secret, request.headers["X-Smsq-Signature"], request.content)
        event = json.loads(request.content)
        assert request.headers["X-Smsq-Event-Id"] == event["id"]
        code = self.status.pop(0) if self.status else 200
        if code == 200:
            self.events.append(event)
        return httpx.Response(code)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _finish_batches(url: str, campaign_id: int) -> None:
    """Play the worker: every batch done, every number sent with a message id."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            update(BATCHES).where(BATCHES.c.campaign_id == campaign_id).values(state="done")
        )
        conn.execute(
            update(RECIPIENTS)
            .where(RECIPIENTS.c.campaign_id == campaign_id, RECIPIENTS.c.state == "pending")
            .values(state="sent", provider_message_id="m-1", gateway_code="200")
        )
    engine.dispose()


def _sweep(url: str) -> int:
    engine = create_engine(url)
    written = outbox.sweep(engine, datetime.now(UTC))
    engine.dispose()
    return written


def _deliver(
    url: str, campaign_id: int, receiver: Callable[[httpx.Request], httpx.Response],
    clock: Clock, policy: Policy,
) -> tuple[int, int]:  # fmt: skip
    engine = create_engine(url)
    client = httpx.Client(transport=httpx.MockTransport(receiver))
    try:
        return deliver_campaign(engine, client, campaign_id, policy, clock)
    finally:
        client.close()
        engine.dispose()


POLICY = Policy(timeout_s=1.0, retry_for_s=60.0, backoff_s=1.0, backoff_max_s=8.0)


def test_state_changes_and_outcomes_are_delivered_once_in_order(db_url: str) -> None:
    numbers = nepal_numbers(3) + ["12"]  # one invalid: reported as settled at submit
    campaign_id = submit_campaign(
        nepal(), numbers, text="Hi", callback_url=URL, database_url=db_url
    )
    pause_campaign(campaign_id, "lunch", database_url=db_url)
    resume_campaign(campaign_id, database_url=db_url)
    _finish_batches(db_url, campaign_id)
    assert _sweep(db_url) == 2  # the invalid row, then the batch of three
    assert _sweep(db_url) == 0  # each reported once
    cancel_campaign(campaign_id, database_url=db_url)  # a terminal state, after the outcomes

    receiver, clock = Receiver(callback_secret(campaign_id)), Clock()
    assert _deliver(db_url, campaign_id, receiver, clock, POLICY) == (6, 0)
    events = receiver.events
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5, 6]
    states = [e["data"]["state"] for e in events if e["type"] == "campaign.state"]  # type: ignore[index]
    assert states == ["scheduled", "paused", "running", "cancelled"]
    assert events[1]["data"] == {"state": "paused", "reason": "lunch"}
    recipients = [r for e in events if e["type"] == "recipients.final"
                  for r in e["data"]["recipients"]]  # type: ignore[index]  # fmt: skip
    assert sorted(r["state"] for r in recipients) == ["invalid", "sent", "sent", "sent"]
    assert {r["message_id"] for r in recipients if r["state"] == "sent"} == {"m-1"}
    assert events[-1]["type"] == "campaign.state"
    info = get_campaign(campaign_id, database_url=db_url)
    assert info.callback_url == URL and info.callbacks == {"delivered": 6}
    assert _deliver(db_url, campaign_id, receiver, clock, POLICY) == (0, 0)  # nothing left


def test_a_failing_event_holds_back_the_next_until_it_is_delivered(sqlite_url: str) -> None:
    campaign_id = submit_campaign(
        nepal(), nepal_numbers(2), text="Hi", callback_url=URL, database_url=sqlite_url
    )
    pause_campaign(campaign_id, database_url=sqlite_url)
    receiver, clock = Receiver(callback_secret(campaign_id)), Clock()
    receiver.status = [500, 503]
    assert _deliver(sqlite_url, campaign_id, receiver, clock, POLICY) == (0, 1)
    assert receiver.events == []  # "paused" did not overtake "scheduled"
    assert _deliver(sqlite_url, campaign_id, receiver, clock, POLICY) == (0, 0)  # backing off
    [first, second] = list_callbacks(campaign_id, database_url=sqlite_url)[1]
    assert (first.state, first.attempts, first.last_error, first.seq) == (
        "failing", 1, "HTTP 500", 1,
    )  # fmt: skip
    assert (second.state, second.seq) == ("pending", None)
    clock.now += timedelta(seconds=1.3)  # past the first wait (1 s, jittered by a fifth)
    assert _deliver(sqlite_url, campaign_id, receiver, clock, POLICY) == (0, 1)
    clock.now += timedelta(seconds=2.5)  # the second wait doubles
    assert _deliver(sqlite_url, campaign_id, receiver, clock, POLICY) == (2, 0)
    assert [e["seq"] for e in receiver.events] == [1, 2]
    assert get_campaign(campaign_id, database_url=sqlite_url).callbacks == {"delivered": 2}
    [first, _second] = list_callbacks(campaign_id, database_url=sqlite_url)[1]
    assert (first.state, first.attempts) == ("delivered", 3)


def test_an_event_still_failing_past_the_bound_is_given_up_and_the_next_goes(
    sqlite_url: str,
) -> None:
    campaign_id = submit_campaign(
        nepal(), nepal_numbers(2), text="Hi", callback_url=URL, database_url=sqlite_url
    )
    receiver, clock = Receiver(callback_secret(campaign_id)), Clock()

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    assert _deliver(sqlite_url, campaign_id, down, clock, POLICY) == (0, 1)
    pause_campaign(campaign_id, database_url=sqlite_url)  # written while the receiver is down
    clock.now += timedelta(seconds=POLICY.retry_for_s + 1)
    assert _deliver(sqlite_url, campaign_id, down, clock, POLICY) == (0, 2)
    events = list_callbacks(campaign_id, database_url=sqlite_url)[1]
    # Both past the bound: the first after its retries, the second on its first failure.
    assert [(e.state, e.last_error) for e in events] == [("given_up", "ConnectError")] * 2
    info = get_campaign(campaign_id, database_url=sqlite_url)
    assert info.callbacks == {"given_up": 2}
    resume_campaign(campaign_id, database_url=sqlite_url)  # the receiver is back
    assert _deliver(sqlite_url, campaign_id, receiver, clock, POLICY) == (1, 0)
    assert [(e["seq"], e["data"]["state"]) for e in receiver.events] == [(3, "running")]  # type: ignore[index]


def test_a_held_lease_keeps_a_second_delivery_out_until_it_expires(sqlite_url: str) -> None:
    from campaigns.callbacks import delivery

    campaign_id = submit_campaign(
        nepal(), nepal_numbers(1), text="Hi", callback_url=URL, database_url=sqlite_url
    )
    engine = create_engine(sqlite_url)
    now = datetime.now(UTC)
    token = delivery.take_lease(engine, campaign_id, now, lease_s=30)
    assert token is not None
    event = delivery.next_event(engine, campaign_id, token, now, lease_s=30)
    assert event is not None and event.seq == 1  # the "killed" worker got this far
    assert delivery.take_lease(engine, campaign_id, now, lease_s=30) is None
    assert delivery.ready_campaigns(engine, now) == []
    later = now + timedelta(seconds=31)
    assert delivery.ready_campaigns(engine, later) == [campaign_id]
    retaken = delivery.take_lease(engine, campaign_id, later, lease_s=30)
    assert retaken is not None
    again = delivery.next_event(engine, campaign_id, retaken, later, lease_s=30)
    assert again is not None and (again.id, again.seq) == (event.id, 1)
    assert again.body() == event.body()  # the same bytes: receivers dedupe by id
    engine.dispose()


def test_a_campaign_without_callback_url_writes_no_events(sqlite_url: str) -> None:
    campaign_id = submit_campaign(nepal(), nepal_numbers(2), text="Hi", database_url=sqlite_url)
    pause_campaign(campaign_id, database_url=sqlite_url)
    _finish_batches(sqlite_url, campaign_id)
    assert _sweep(sqlite_url) == 0
    info = get_campaign(campaign_id, database_url=sqlite_url)
    assert (info.callback_url, info.callbacks) == (None, {})
    assert list_callbacks(campaign_id, database_url=sqlite_url) == (None, [])


def test_without_a_master_key_one_is_made_once_in_a_private_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SMSQ_CALLBACK_MASTER_KEY")
    key_file = tmp_path / "var" / "master.key"
    monkeypatch.setenv("SMSQ_CALLBACK_MASTER_KEY_FILE", str(key_file))
    get_settings.cache_clear()
    first = owner_secret("campaign:1")
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert owner_secret("campaign:1") == first  # read back, not made again
    assert list(key_file.parent.iterdir()) == [key_file]  # no temporary file left


def test_the_readmes_verify_snippets_accept_a_real_signature_and_refuse_a_forged_one() -> None:
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S)
              if "X-Smsq-Signature" in b or "def valid(" in b]  # fmt: skip
    assert len(blocks) == 2
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    body = b'{"id":"evt_1","seq":1}'
    header = sign("whsec_abc", body)
    assert namespace["valid"]("whsec_abc", header, body)
    assert not namespace["valid"]("whsec_abc", header, body + b" ")
    assert not namespace["valid"]("whsec_abc", sign("whsec_abc", body, timestamp=1), body)
    assert namespace["handle"]({"X-Smsq-Signature": header + "0"}, body, "whsec_abc") is None


def test_a_cancelled_event_follows_the_numbers_it_cancelled(sqlite_url: str) -> None:
    campaign_id = submit_campaign(
        nepal(), nepal_numbers(3), text="Hi", callback_url=URL, database_url=sqlite_url
    )
    assert cancel_campaign(campaign_id, database_url=sqlite_url) == 3
    receiver, clock = Receiver(callback_secret(campaign_id)), Clock()
    assert _deliver(sqlite_url, campaign_id, receiver, clock, POLICY) == (3, 0)
    types = [(e["type"], e["data"].get("state")) for e in receiver.events]  # type: ignore[attr-defined]
    assert types == [
        ("campaign.state", "scheduled"), ("recipients.final", None),
        ("campaign.state", "cancelled"),
    ]  # fmt: skip
    [batch] = [e for e in receiver.events if e["type"] == "recipients.final"]
    assert [r["state"] for r in batch["data"]["recipients"]] == ["cancelled"] * 3  # type: ignore[index]
    assert _sweep(sqlite_url) == 0  # the sweep finds nothing left to report
