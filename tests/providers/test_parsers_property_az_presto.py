"""Property tests for the SMSPlus.az and SMSPresto parsers: whatever the status and body
(random bytes, random JSON, mutated manual samples), a parser either raises GatewayError or
answers in its documented shape - one result per number in batch order, an int, a list of
archive entries - and nothing else escapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from providers import Account, Batch, GatewayError, NumberResult, smsplus_az, smspresto
from providers.smspresto import ArchiveEntry, parse_archive, parse_counter

EXAMPLES = settings(max_examples=200, deadline=None)

# 200 dominates so that the success paths are exercised as well as the error ones.
STATUSES = st.one_of(
    st.just(200),
    st.sampled_from([201, 204, 302, 400, 401, 402, 403, 404, 405, 414, 422, 429, 500, 503, 504]),
    st.integers(min_value=100, max_value=599),
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "text/html", "text/plain; charset=utf-8", "text/plain; charset=bogus", ""]
)
KEYS = st.sampled_from(
    [
        "success",
        "code",
        "message",
        "status",
        "message-count",
        "TOTAL",
        "IDHISTORIQUE",
        "HIS_DESTINATAIRE",
        "HIS_NOMBRESMS",
        "HIS_DATEHEURECREA",
        "0",
    ]
) | st.text(max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["0", "100", "121", "102", "2", "+22508081488", "2017-04-27 15:46:23"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=25,
)

AZ_SAMPLES: list[Any] = [
    {"success": True, "code": "100", "message": "Messages sent successfully"},
    {"success": False, "code": "101", "message": "The customer token was not found."},
    {"success": False, "code": 121, "message": "The format of the mobile number is incorrect."},
]
PRESTO_SAMPLES: list[Any] = [
    {"status": 0, "message": "Message sent successfully.", "message-count": 2},
    {"status": 102, "message": "Invalid recipient"},
    {"TOTAL": "400"},
    [
        {
            "IDHISTORIQUE": "1",
            "HIS_DESTINATAIRE": "+22508081488",
            "HIS_MESSAGE": "test",
            "HIS_STATUT": "1",
            "HIS_NOMBRESMS": "1",
            "HIS_DATEHEURECREA": "2017-04-27 15:46:23",
            "HIS_DATEHEUREENVOI": "2017-04-27 15:46:26",
            "CPT_REF": "SP22558371758",
            "IDSMSFILATTENTE": "1",
            "HIS_EXPEDITEUR": "oniris",
            "NOMCONTACT": "Rémi",
        }
    ],
]


@st.composite
def mutated(draw: st.DrawFn, samples: list[Any]) -> bytes:
    """A manual-shaped answer with keys dropped or replaced, possibly truncated."""
    sample = draw(st.sampled_from(samples))
    target = sample[0] if isinstance(sample, list) else sample
    changed: dict[str, Any] = {}
    for key, value in target.items():
        action = draw(st.sampled_from(["keep"] * 6 + ["drop", "replace"]))
        if action != "drop":
            changed[key] = draw(JSON_VALUES) if action == "replace" else value
    body = json.dumps([changed] if isinstance(sample, list) else changed).encode()
    if draw(st.booleans()):
        body = body[: draw(st.integers(min_value=0, max_value=len(body)))]
    return body


def bodies(samples: list[Any]) -> st.SearchStrategy[bytes]:
    """Random bytes, random JSON, or a mutation of one of the manual's samples."""
    as_json = JSON_VALUES.map(lambda v: json.dumps(v).encode())
    return st.binary(max_size=200) | as_json | mutated(samples)


def responses(samples: list[Any]) -> st.SearchStrategy[httpx.Response]:
    return st.builds(
        lambda status, body, ctype: httpx.Response(
            status, content=body, headers={"content-type": ctype} if ctype else {}
        ),
        STATUSES,
        bodies(samples),
        CONTENT_TYPES,
    )


MSISDN_LISTS = st.lists(
    st.from_regex(r"\A[0-9]{12}\Z", fullmatch=True), min_size=1, max_size=6, unique=True
)


def check_per_number(
    parse: Callable[[Batch, httpx.Response], list[NumberResult]],
    batch: Batch,
    response: httpx.Response,
) -> None:
    try:
        results = parse(batch, response)
    except GatewayError:
        return
    assert all(isinstance(r, NumberResult) for r in results)
    assert [r.msisdn for r in results] == list(batch.msisdns)


@EXAMPLES
@given(MSISDN_LISTS, responses(AZ_SAMPLES))
def test_smsplus_az_parser_answers_per_number_or_raises(
    msisdns: list[str], response: httpx.Response
) -> None:
    batch = Batch(msisdns=tuple(msisdns), template_id=8)
    check_per_number(smsplus_az.parse_response, batch, response)


@EXAMPLES
@given(MSISDN_LISTS, responses(PRESTO_SAMPLES))
def test_smspresto_parser_answers_per_number_or_raises(
    msisdns: list[str], response: httpx.Response
) -> None:
    batch = Batch(msisdns=tuple(msisdns), text="Bonjour")
    check_per_number(smspresto.parse_response, batch, response)


@EXAMPLES
@given(responses(PRESTO_SAMPLES))
def test_smspresto_counter_is_an_int_or_raises(response: httpx.Response) -> None:
    try:
        value = parse_counter(response)
    except GatewayError:
        return
    assert isinstance(value, int) and not isinstance(value, bool) and value >= 0


@EXAMPLES
@given(responses(PRESTO_SAMPLES))
def test_smspresto_archive_is_entries_or_raises(response: httpx.Response) -> None:
    try:
        entries = parse_archive(response)
    except GatewayError:
        return
    assert isinstance(entries, list)
    for entry in entries:
        assert isinstance(entry, ArchiveEntry)
        assert entry.id and entry.msisdn.isdigit()


@EXAMPLES
@given(MSISDN_LISTS, st.data())
def test_smsplus_az_parameter_arrays_stay_aligned(msisdns: list[str], data: st.DataObject) -> None:
    width = data.draw(st.integers(min_value=0, max_value=3))
    params = tuple(tuple(data.draw(st.text(max_size=5)) for _ in range(width)) for _ in msisdns)
    batch = Batch(msisdns=tuple(msisdns), template_id=404, params=params or None)
    account = smsplus_az_account()
    body = json.loads(smsplus_az.build_request(account, batch).content)
    assert body["mobile_numbers"] == msisdns
    names = smsplus_az.PARAM_ARRAYS
    assert [n for n in names if n in body] == list(names[:width])
    for i, name in enumerate(names[:width]):
        assert body[name] == [p[i] for p in params]


@EXAMPLES
@given(MSISDN_LISTS, st.data())
def test_smspresto_texts_stay_aligned(msisdns: list[str], data: st.DataObject) -> None:
    texts = tuple(data.draw(st.text(min_size=1, max_size=20)) for _ in msisdns)
    batch = Batch(msisdns=tuple(msisdns), texts=texts)
    request = smspresto.build_request(smspresto_account(), batch)
    form = httpx.QueryParams(request.content.decode())
    sent = json.loads(form["data"])["to"]
    assert sent == [{"recipient": m, "message": t} for m, t in zip(msisdns, texts, strict=True)]


def smsplus_az_account() -> Account:
    return Account(
        provider="smsplus_az",
        base_url="http://127.0.0.1:1",
        credentials={"token": "t"},  # type: ignore[dict-item]
        sender="S",
    )


def smspresto_account() -> Account:
    return Account(
        provider="smspresto",
        base_url="http://127.0.0.1:1",
        credentials={"api_key": "k", "api_pass": "p"},  # type: ignore[dict-item]
        sender="S",
    )
