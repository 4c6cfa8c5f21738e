"""Property tests: AakashSMS v1/v3 and AamarSMS parsers never fail in any way but GatewayError.

Whatever the status (100-599) and body (random bytes, random JSON, the manuals' samples with
keys dropped or retyped), a parser either raises GatewayError or returns exactly one result
per batch number, in batch order; balance and status parsers return a finite float or a
(state, word) pair.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers import (
    Batch,
    GatewayError,
    NumberResult,
    ResultState,
    aakashsms_v1,
    aakashsms_v3,
    aamarsms,
)
from tests.providers import test_aakashsms_v1 as v1_cases
from tests.providers import test_aakashsms_v3 as v3_cases
from tests.providers import test_aamarsms as aamar_cases

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Keys and values the parsers look for, so random JSON often reaches their inner branches.
KEYS = [
    "error", "message", "data", "valid", "invalid", "mobile", "id", "credit", "network",
    "status", "response_code", "count", "response", "success", "campaign_cost",
    "delivery_status", "MSISDN", "Status", "StatusText", "STATUS", "AVAILABLE BALANCE =",
]  # fmt: skip
INTERESTING = [
    100, 101, 106, 109, 110, 201, 4003, 4006, "100", "110", "201", "4006", 0, 1, -1, 2**70,
    True, False, None, "", "Delivered", "Failed", "SENT", "9779818000000", "8801829673377",
    "The provided Auth Token is not valid.", 1e308, -0.0, float("inf"), float("nan"),
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=16)
    | st.sampled_from(INTERESTING)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=24,
)


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with, at any depth, keys dropped, values retyped or list items removed."""
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(json_values)  # retyped
    if isinstance(value, dict):
        kept = {k: v for k, v in value.items() if draw(st.integers(0, 4))}  # some keys dropped
        return {k: draw(mutated(v)) for k, v in kept.items()}
    if isinstance(value, list):
        return [draw(mutated(v)) for v in value if draw(st.integers(0, 4))]
    return value


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()  # NaN/Infinity as Python's json writes (and reads) them


def bodies(samples: list[Any]) -> st.SearchStrategy[bytes]:
    """Random bytes, random JSON, and mutations of the manual's samples."""
    return st.one_of(
        st.binary(max_size=200),
        st.text(max_size=120).map(str.encode),
        json_values.map(_json_bytes),
        # Twice the weight: mutated samples reach the parsers' deepest branches.
        st.sampled_from(samples).flatmap(mutated).map(_json_bytes),
        st.sampled_from(samples).flatmap(mutated).map(_json_bytes),
    )


def _response(status: int, body: bytes) -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": "application/json"})


def responses_for(samples: list[Any]) -> st.SearchStrategy[httpx.Response]:
    """Any status from 100 to 599 with any of ``bodies(samples)``."""
    # Half the answers are 200, where the body alone decides.
    return st.builds(_response, st.just(200) | st.integers(100, 599), bodies(samples))


def _batches(numbers: st.SearchStrategy[str], known: list[str]) -> st.SearchStrategy[Batch]:
    msisdns = st.lists(st.sampled_from(known) | numbers, min_size=1, max_size=5, unique=True)
    return msisdns.map(lambda ms: Batch(msisdns=tuple(ms), text="t"))


NP_BATCHES = _batches(
    st.from_regex(r"9[678][0-9]{8}", fullmatch=True),
    ["9818000000", "988585584", "9841000001"],
)
BD_BATCHES = _batches(
    st.from_regex(r"8801[3-9][0-9]{8}", fullmatch=True),
    ["8801829673377", "8801730085980", "8801711111111"],
)

V1_SAMPLES = [v1_cases.SAMPLE_OK, {"response": "Invalid AuthToken", "response_code": 4003}]
V3_SAMPLES = [v3_cases.SAMPLE_OK, v3_cases.SAMPLE_FAIL]
AAMAR_SAMPLES = [aamar_cases.SAMPLE_OK, aamar_cases.SAMPLE_OTP]
STATUS_SAMPLES = [aamar_cases.SAMPLE_STATUS]
BALANCE_SAMPLES = [aamar_cases.SAMPLE_BALANCE]

BatchParser = Callable[[Batch, httpx.Response], list[NumberResult]]


def _check_batch_parser(parse: BatchParser, batch: Batch, response: httpx.Response) -> None:
    try:
        results = parse(batch, response)
    except GatewayError:
        return
    assert [r.msisdn for r in results] == list(batch.msisdns)
    assert all(isinstance(r.state, ResultState) for r in results)
    assert all(r.credits is None or math.isfinite(r.credits) for r in results)


@SETTINGS
@given(batch=NP_BATCHES, response=responses_for(V1_SAMPLES))
def test_aakashsms_v1_parse_response(batch: Batch, response: httpx.Response) -> None:
    _check_batch_parser(aakashsms_v1.parse_response, batch, response)


@SETTINGS
@given(batch=NP_BATCHES, response=responses_for(V3_SAMPLES))
def test_aakashsms_v3_parse_response(batch: Batch, response: httpx.Response) -> None:
    _check_batch_parser(aakashsms_v3.parse_response, batch, response)


@pytest.mark.parametrize("parse", [aamarsms.parse_response, aamarsms.parse_otp])
@SETTINGS
@given(batch=BD_BATCHES, response=responses_for(AAMAR_SAMPLES))
def test_aamarsms_send_parsers(parse: BatchParser, batch: Batch, response: httpx.Response) -> None:
    _check_batch_parser(parse, batch, response)


@SETTINGS
@given(response=responses_for(STATUS_SAMPLES))
def test_aamarsms_parse_status(response: httpx.Response) -> None:
    try:
        state, word = aamarsms.parse_status(response)
    except GatewayError:
        return
    assert isinstance(state, ResultState) and isinstance(word, str)


@SETTINGS
@given(response=responses_for(BALANCE_SAMPLES))
def test_aamarsms_parse_balance(response: httpx.Response) -> None:
    try:
        balance = aamarsms.parse_balance(response)
    except GatewayError:
        return
    assert isinstance(balance, float) and math.isfinite(balance)


def test_samples_parse_cleanly() -> None:
    """The generators' seeds are real successes, so mutations start from the happy path."""
    ok = httpx.Response(200, content=_json_bytes(v1_cases.SAMPLE_OK))
    assert [r.state for r in aakashsms_v1.parse_response(v1_cases.BATCH, ok)] == [
        ResultState.SENT
    ] * 2
    ok3 = httpx.Response(200, content=_json_bytes(v3_cases.SAMPLE_OK))
    assert len(aakashsms_v3.parse_response(v3_cases.SAMPLE_BATCH, ok3)) == 2
    balance = httpx.Response(200, content=_json_bytes(aamar_cases.SAMPLE_BALANCE))
    assert aamarsms.parse_balance(balance) == pytest.approx(502.56559)
