"""One harness for every adapter's table of cases, in the manner of nyaruka/courier.

A case names a batch, the gateway's mocked answer, what the request must look like, and
either the per-number results or the error kind expected. The harness sends the adapter's
request through ``httpx.MockTransport``, fails on a mock that was never used or used twice,
and checks that no credential reached a log line, an exception message or a result.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from providers import (
    Account,
    Adapter,
    Batch,
    ErrorKind,
    GatewayError,
    NumberResult,
    install_log_redaction,
    redact_url,
)

log = logging.getLogger("smsq.test.adapter")

# (msisdn, state, code) per number; provider ids/networks/credits checked via `check_results`.
Expected = list[tuple[str, str, str | None]]


@dataclass
class Case:
    """One row of an adapter's table."""

    label: str
    batch: Batch
    # The gateway's answer: an httpx.Response, or an exception the transport raises.
    response: httpx.Response | Exception
    method: str = "POST"
    path: str | None = None
    # Expected request fields: query params, form fields or JSON body (whichever applies).
    params: Mapping[str, str] | None = None
    form: Mapping[str, str] | None = None
    json_body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    results: Expected | None = None
    error: ErrorKind | None = None
    error_code: str | None = None
    throttled: bool | None = None
    check_results: Callable[[list[NumberResult]], None] | None = None


def json_response(body: Any, status: int = 200) -> httpx.Response:
    """A JSON answer as the gateway would send it."""
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )


def raw_response(
    body: str | bytes, status: int = 200, content_type: str = "text/html"
) -> httpx.Response:
    """A non-JSON answer (HTML error page, plain number, truncated body)."""
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(status, content=content, headers={"content-type": content_type})


def _check_request(case: Case, request: httpx.Request) -> None:
    assert request.method == case.method, case.label
    if case.path is not None:
        assert request.url.path == case.path, case.label
    if case.params is not None:
        got = {k: v for k, v in request.url.params.multi_items()}
        assert got == dict(case.params), case.label
    if case.form is not None:
        parsed = parse_qs(request.content.decode(), keep_blank_values=True)
        got_form = {k: v[0] for k, v in parsed.items()}
        assert got_form == dict(case.form), case.label
    if case.json_body is not None:
        assert json.loads(request.content) == case.json_body, case.label
    for name, value in case.headers.items():
        assert request.headers.get(name) == value, case.label


def _check_outcome(
    case: Case, results: list[NumberResult] | None, error: GatewayError | None
) -> None:
    if case.error is not None:
        assert error is not None, f"{case.label}: expected {case.error}, got results {results}"
        assert error.kind is case.error, f"{case.label}: {error!r}"
        if case.error_code is not None:
            assert error.code == case.error_code, case.label
        if case.throttled is not None:
            assert error.throttled is case.throttled, case.label
    else:
        assert error is None, f"{case.label}: unexpected {error!r}"
        assert results is not None
        assert [r.msisdn for r in results] == list(case.batch.msisdns), case.label
        if case.results is not None:
            got = [(r.msisdn, r.state.value, r.code) for r in results]
            assert got == case.results, case.label
        if case.check_results is not None:
            case.check_results(results)


def run_case(
    adapter: Adapter, account: Account, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    """Build, send through a one-shot mock, parse, and check one case end to end."""
    install_log_redaction()
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) > 1:
            raise AssertionError(f"{case.label}: adapter's request sent twice")
        if isinstance(case.response, Exception):
            raise case.response
        return case.response

    request = adapter.build_request(account, case.batch)
    _check_request(case, request)
    caplog.set_level(logging.DEBUG)
    log.info("sending %s", redact_url(request.url))
    results: list[NumberResult] | None = None
    error: GatewayError | None = None
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        try:
            response = client.send(request)
        except httpx.TransportError as exc:
            from providers import classify_transport_error

            error = classify_transport_error(exc)
        else:
            try:
                results = adapter.parse_response(case.batch, response)
            except GatewayError as exc:
                error = exc
    assert len(calls) == 1, f"{case.label}: mock not used"

    _check_outcome(case, results, error)

    exposed = [caplog.text, repr(account), str(account), repr(results), str(error), repr(error)]
    for secret in account.secret_values():
        for text in exposed:
            assert secret not in text, f"{case.label}: a credential leaked"
