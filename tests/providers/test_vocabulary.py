"""The shared vocabulary: error classification, redaction, accounts that keep secrets."""

from __future__ import annotations

import logging

import httpx
import pytest

from providers import (
    Account,
    Batch,
    ErrorKind,
    classify_status,
    classify_transport_error,
    error_for_unreadable,
    install_log_redaction,
    redact_text,
    redact_url,
)

REQ = httpx.Request("GET", "http://127.0.0.1/api")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused", request=REQ), ErrorKind.RETRYABLE),
        (httpx.ConnectTimeout("slow", request=REQ), ErrorKind.RETRYABLE),
        (httpx.PoolTimeout("pool", request=REQ), ErrorKind.RETRYABLE),
        (httpx.ReadTimeout("read", request=REQ), ErrorKind.AMBIGUOUS),
        (httpx.RemoteProtocolError("reset", request=REQ), ErrorKind.AMBIGUOUS),
        (httpx.ReadError("reset by peer", request=REQ), ErrorKind.AMBIGUOUS),
        (httpx.WriteTimeout("write", request=REQ), ErrorKind.AMBIGUOUS),
    ],
)
def test_transport_errors_split_never_left_from_maybe_accepted(
    exc: httpx.TransportError, kind: ErrorKind
) -> None:
    assert classify_transport_error(exc).kind is kind


@pytest.mark.parametrize(
    ("status", "kind", "throttled"),
    [
        (429, ErrorKind.RETRYABLE, True),
        (500, ErrorKind.RETRYABLE, False),
        (502, ErrorKind.RETRYABLE, False),
        (503, ErrorKind.RETRYABLE, False),
        (504, ErrorKind.AMBIGUOUS, False),
    ],
)
def test_status_classification(status: int, kind: ErrorKind, throttled: bool) -> None:
    err = classify_status(httpx.Response(status))
    assert err is not None
    assert (err.kind, err.throttled, err.http_status) == (kind, throttled, status)


def test_2xx_and_4xx_are_left_to_the_body() -> None:
    assert classify_status(httpx.Response(200)) is None
    assert classify_status(httpx.Response(400)) is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [(200, ErrorKind.AMBIGUOUS), (401, ErrorKind.ACCOUNT), (404, ErrorKind.REQUEST)],
)
def test_unreadable_bodies_are_classified(status: int, kind: ErrorKind) -> None:
    assert error_for_unreadable(httpx.Response(status), "html").kind is kind


def test_redact_url_masks_every_secret_parameter() -> None:
    url = "https://aamarsms.com/api?user=bob&password=hunter2&from=X&to=8801711111111&text=hi+there"
    out = redact_url(url)
    assert "hunter2" not in out and "bob" not in out
    assert "password=***" in out and "to=8801711111111" in out and "text=hi+there" in out


def test_redact_text_finds_urls_inside_messages() -> None:
    msg = "HTTP Request: GET http://x/console/api/?action=sendsms&user=KEY1&pass=PW1 ok"
    out = redact_text(msg)
    assert "KEY1" not in out and "PW1" not in out and out.endswith(" ok")


def test_httpx_request_log_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    caplog.set_level(logging.INFO, logger="httpx")

    def ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(ok)) as client:
        client.get("http://127.0.0.1/api", params={"user": "u1", "password": "s3cret"})
    assert "s3cret" not in caplog.text


def test_account_never_shows_its_credentials() -> None:
    acc = Account(
        name="bd",
        provider="aamarsms",
        base_url="http://127.0.0.1:1",
        credentials={"user": "demo-user", "password": "topsecret"},  # type: ignore[dict-item]
    )
    for text in (repr(acc), str(acc), acc.model_dump_json()):
        assert "topsecret" not in text
    assert acc.secret("password") == "topsecret"
    with pytest.raises(KeyError, match="token") as info:
        acc.secret("token")
    assert "topsecret" not in str(info.value)


def test_batch_takes_exactly_one_text_form() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Batch(msisdns=("1",), text="a", template_id=3)
    with pytest.raises(ValueError, match="align"):
        Batch(msisdns=("1", "2"), texts=("a",))


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (b"[" * 100_000, 200, ErrorKind.AMBIGUOUS),
        (b"<html>oops</html>", 200, ErrorKind.AMBIGUOUS),
        (b"\xff\xfe\x00", 200, ErrorKind.AMBIGUOUS),
        (b"", 400, ErrorKind.REQUEST),
        (b"{}", 503, ErrorKind.RETRYABLE),
    ],
)
def test_decode_json_classifies_garbage(body: bytes, status: int, kind: ErrorKind) -> None:
    from providers import GatewayError, decode_json

    with pytest.raises(GatewayError) as info:
        decode_json(httpx.Response(status, content=body))
    assert info.value.kind is kind


@pytest.mark.parametrize(
    ("message", "expect_account"),
    [("Insufficient stock.", True), ("Account expired", True), ("Something odd", False)],
)
def test_unknown_code_with_account_wording_pauses_else_fails(
    message: str, expect_account: bool
) -> None:
    from providers import GatewayError, ResultState, outcome_for_code

    batch = Batch(msisdns=("1", "2"), text="hi")
    if expect_account:
        with pytest.raises(GatewayError) as info:
            outcome_for_code(batch, {}, "12", message, 200)
        assert (info.value.kind, info.value.code, info.value.message) == (
            ErrorKind.ACCOUNT,
            "12",
            message,
        )
    else:
        results = outcome_for_code(batch, {}, "12", message, 200)
        assert [(r.state, r.code) for r in results] == [(ResultState.FAILED, "12")] * 2


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("postgresql+psycopg://smsq:pw@pg:5432/smsq", "postgresql+psycopg://smsq:***@pg:5432/smsq"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/x", "postgresql+psycopg://nobody@127.0.0.1:1/x"),
        ("sqlite:////tmp/smsq.db", "sqlite:////tmp/smsq.db"),
    ],
)
def test_redact_url_masks_a_password_in_the_user_part(url: str, expected: str) -> None:
    assert redact_url(url) == expected
