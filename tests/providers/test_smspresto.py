"""SMSPresto adapter: send cases through the shared harness (POST and GET forms, every code,
broken answers), then counters, balance and the archive, the manual's samples verbatim."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from providers import Account, Batch, ErrorKind, GatewayError, NumberResult, redact_url
from providers.registry import get_adapter
from providers.smspresto import (
    ADAPTER,
    COUNTER_ACTIONS,
    ERROR_CODES,
    SENDER_MAX_CHARS,
    ArchiveEntry,
    archive_delivered,
    archive_timezone,
    build_archive_request,
    build_counter_request,
    limits_for,
    parse_archive,
    parse_counter,
)
from tests.providers.harness import Case, json_response, raw_response, run_case

KEY, PASS = "presto-KEY-5521", "presto-PASS-9904"
ACCOUNT = Account(
    name="ci",
    provider="smspresto",
    base_url="http://127.0.0.1:8798",
    credentials={"api_key": KEY, "api_pass": PASS},  # type: ignore[dict-item]
    sender="oniris",
)
GET_ACCOUNT = ACCOUNT.model_copy(update={"options": {"method": "GET"}})
PATH = "/console/api/"
TWO = ("2250708081488", "2250558371758")
ONE_TEXT = Batch(msisdns=TWO, text="Bonjour à tous")
PER_RECIPIENT = Batch(msisdns=TWO, texts=("Salut Rémi", "Salut Adrian"), sender="BANK")
REQ = httpx.Request("POST", "http://127.0.0.1:8798/console/api/")

# The manual's success sample, verbatim: its annotation makes it invalid JSON.
MANUAL_SUCCESS = """{
  "status": 0,
  "message": "Message sent successfully.",
  "message-count": 1 => Number of messages sent.
}"""


class JsonOf:
    """Equal to a string holding JSON that decodes to ``value`` (for the ``data=`` field)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and json.loads(other) == self.value

    def __repr__(self) -> str:
        return f"JsonOf({self.value!r})"


def data_form(to: list[dict[str, str]], sender: str = "oniris", **text: str) -> dict[str, Any]:
    body = {"user": KEY, "pass": PASS, "action": "sendsms", "from": sender, **text, "to": to}
    return {"data": JsonOf(body)}


def sent(batch: Batch) -> list[tuple[str, str, str | None]]:
    return [(m, "sent", None) for m in batch.msisdns]


def ok(count: object, status: object = 0) -> httpx.Response:
    return json_response(
        {"status": status, "message": "Message sent successfully.", "message-count": count}
    )


def error(status: object, message: str = "refused") -> httpx.Response:
    return json_response({"status": status, "message": message})


def check_partial(results: list[NumberResult]) -> None:
    assert {r.message for r in results} == {"accepted 1 of 2: Message sent successfully."}


EXPECTED_KINDS = {
    "1": ErrorKind.ACCOUNT,
    "10": ErrorKind.ACCOUNT,
    "11": ErrorKind.ACCOUNT,
    "100": ErrorKind.ACCOUNT,
    "101": ErrorKind.REQUEST,
    "102": ErrorKind.RECIPIENT,
    "103": ErrorKind.REQUEST,
}

CASES = [
    Case(
        "POST one text, clean JSON success",
        ONE_TEXT,
        ok(2),
        path=PATH,
        form=data_form([{"recipient": m} for m in TWO], message="Bonjour à tous"),
        headers={"content-type": "application/x-www-form-urlencoded"},
        results=sent(ONE_TEXT),
    ),
    Case(
        "POST a text per recipient, count as a string",
        PER_RECIPIENT,
        ok("2", "0"),
        path=PATH,
        form=data_form(
            [
                {"recipient": TWO[0], "message": "Salut Rémi"},
                {"recipient": TWO[1], "message": "Salut Adrian"},
            ],
            sender="BANK",
        ),
        results=sent(PER_RECIPIENT),
    ),
    Case(
        "fewer accepted than sent: unknown",
        ONE_TEXT,
        ok(1),
        results=[(m, "unknown", "0") for m in TWO],
        check_results=check_partial,
    ),
    Case(
        "more counted than sent: unknown",
        ONE_TEXT,
        ok(4),
        results=[(m, "unknown", "0") for m in TWO],
    ),
    Case(
        "manual's annotated success sample is unreadable, not a crash",
        ONE_TEXT,
        raw_response(MANUAL_SUCCESS, content_type="application/json"),
        error=ErrorKind.AMBIGUOUS,
    ),
    *[
        Case(f"status {code} (int)", ONE_TEXT, error(int(code)), error=kind, error_code=code)
        for code, kind in EXPECTED_KINDS.items()
    ],
    *[
        Case(f"status {code} (string)", ONE_TEXT, error(code), error=kind, error_code=code)
        for code, kind in EXPECTED_KINDS.items()
    ],
    Case(
        "status 1 on HTTP 401",
        ONE_TEXT,
        json_response({"status": 1}, 401),
        error=ErrorKind.ACCOUNT,
        error_code="1",
    ),
    Case(
        "unknown status: failed, code kept",
        ONE_TEXT,
        error(7),
        results=[(m, "failed", "7") for m in TWO],
    ),
    Case("429", ONE_TEXT, raw_response("busy", 429), error=ErrorKind.RETRYABLE, throttled=True),
    Case("500", ONE_TEXT, raw_response("oops", 500), error=ErrorKind.RETRYABLE),
    Case(
        "503 with a success body",
        ONE_TEXT,
        json_response({"status": 0, "message-count": 2}, 503),
        error=ErrorKind.RETRYABLE,
    ),
    Case("504", ONE_TEXT, raw_response("<h1>504</h1>", 504), error=ErrorKind.AMBIGUOUS),
    Case(
        "HTML on 200", ONE_TEXT, raw_response("<html>maintenance</html>"), error=ErrorKind.AMBIGUOUS
    ),
    Case(
        "HTML 403", ONE_TEXT, raw_response("<html>forbidden</html>", 403), error=ErrorKind.ACCOUNT
    ),
    Case("empty 200", ONE_TEXT, raw_response(b""), error=ErrorKind.AMBIGUOUS),
    Case(
        "truncated JSON",
        ONE_TEXT,
        raw_response('{"status": 0, "mess', content_type="application/json"),
        error=ErrorKind.AMBIGUOUS,
    ),
    Case("JSON list", ONE_TEXT, json_response([{"status": 0}]), error=ErrorKind.AMBIGUOUS),
    Case("no status", ONE_TEXT, json_response({"message-count": 2}), error=ErrorKind.AMBIGUOUS),
    Case("status is a bool", ONE_TEXT, ok(2, False), error=ErrorKind.AMBIGUOUS),
    Case(
        "status 0 without a count",
        ONE_TEXT,
        json_response({"status": 0}),
        error=ErrorKind.AMBIGUOUS,
    ),
    Case("count not a number", ONE_TEXT, ok("two"), error=ErrorKind.AMBIGUOUS),
    Case(
        "success status on HTTP 400",
        ONE_TEXT,
        json_response({"status": 0, "message-count": 2}, 400),
        error=ErrorKind.REQUEST,
    ),
    Case(
        "connect error",
        ONE_TEXT,
        httpx.ConnectError("refused", request=REQ),
        error=ErrorKind.RETRYABLE,
    ),
    Case(
        "read timeout", ONE_TEXT, httpx.ReadTimeout("slow", request=REQ), error=ErrorKind.AMBIGUOUS
    ),
]

GET_CASES = [
    Case(
        "GET form: comma list, credentials in the query (redacted in logs)",
        ONE_TEXT,
        ok(2),
        method="GET",
        path=PATH,
        params={
            "action": "sendsms",
            "user": KEY,
            "pass": PASS,
            "from": "oniris",
            "to": ",".join(TWO),
            "message": "Bonjour à tous",
        },
        results=sent(ONE_TEXT),
    ),
    Case(
        "GET form: per-recipient texts that agree go as one text",
        Batch(msisdns=TWO, texts=("Même texte", "Même texte")),
        error(102),
        method="GET",
        params={
            "action": "sendsms",
            "user": KEY,
            "pass": PASS,
            "from": "oniris",
            "to": ",".join(TWO),
            "message": "Même texte",
        },
        error=ErrorKind.RECIPIENT,
        error_code="102",
    ),
    Case(
        "GET form: HTML on 200",
        ONE_TEXT,
        raw_response("<html/>"),
        method="GET",
        error=ErrorKind.AMBIGUOUS,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_post_cases(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    run_case(ADAPTER, ACCOUNT, case, caplog)


@pytest.mark.parametrize("case", GET_CASES, ids=lambda c: c.label)
def test_get_cases(case: Case, caplog: pytest.LogCaptureFixture) -> None:
    run_case(ADAPTER, GET_ACCOUNT, case, caplog)


def test_get_url_keeps_commas_and_redacts_credentials() -> None:
    request = ADAPTER.build_request(GET_ACCOUNT, ONE_TEXT)
    assert f"to={TWO[0]},{TWO[1]}" in str(request.url)
    shown = redact_url(request.url)
    assert KEY not in shown and PASS not in shown
    assert "user=***" in shown and "pass=***" in shown and "action=sendsms" in shown


def test_post_keeps_credentials_out_of_the_url() -> None:
    request = ADAPTER.build_request(ACCOUNT, ONE_TEXT)
    assert request.method == "POST" and not request.url.query
    assert KEY not in repr(request) and PASS not in repr(request)


@pytest.mark.parametrize(
    ("account", "batch", "match"),
    [
        (GET_ACCOUNT, PER_RECIPIENT, "one text"),
        (ACCOUNT, Batch(msisdns=TWO, template_id=3), "template"),
        (GET_ACCOUNT, Batch(msisdns=TWO, template_id=3), "template"),
        (ACCOUNT.model_copy(update={"sender": None}), ONE_TEXT, "sender"),
        (ACCOUNT.model_copy(update={"options": {"method": "PUT"}}), ONE_TEXT, "method"),
    ],
)
def test_requests_that_cannot_be_built_are_refused(
    account: Account, batch: Batch, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        ADAPTER.build_request(account, batch)


def test_every_documented_code_is_in_the_table_with_its_kind() -> None:
    assert {code: kind for code, (kind, _) in ERROR_CODES.items()} == EXPECTED_KINDS


def test_limits_per_method() -> None:
    assert get_adapter("smspresto") is ADAPTER and SENDER_MAX_CHARS == 11
    post = limits_for(ACCOUNT)
    assert post == ADAPTER.limits and post.text_per_recipient and post.max_url_chars is None
    assert post.credential_names == ("api_key", "api_pass") and post.number_format == "intl"
    get = limits_for(GET_ACCOUNT)
    assert get.max_url_chars == 2048 and not get.text_per_recipient
    tuned = GET_ACCOUNT.model_copy(update={"max_url_chars": 4000})
    assert limits_for(tuned).max_url_chars == 4000


# --- counters and balance ---------------------------------------------------------------


def form_of(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


@pytest.mark.parametrize("action", sorted(COUNTER_ACTIONS))
def test_counter_requests(action: str) -> None:
    post = build_counter_request(ACCOUNT, action)
    assert (post.method, post.url.path) == ("POST", PATH)
    assert form_of(post) == {"action": action, "user": KEY, "pass": PASS}
    get = build_counter_request(GET_ACCOUNT, action)
    assert get.method == "GET" and dict(get.url.params) == form_of(post)
    assert KEY not in redact_url(get.url) and PASS not in redact_url(get.url)


def test_all_ten_documented_counters_and_no_others() -> None:
    assert len(COUNTER_ACTIONS) == 10 and "get-scheduled-total" in COUNTER_ACTIONS
    with pytest.raises(ValueError, match="counter"):
        build_counter_request(ACCOUNT, "list-archive")


@pytest.mark.parametrize(
    ("response", "value"),
    [
        (raw_response("10000", content_type="text/plain"), 10000),
        (raw_response(" 50\n", content_type="text/html"), 50),
        (raw_response("0"), 0),
        (raw_response('{"TOTAL": "400"}', content_type="application/json"), 400),
        (json_response({"TOTAL": 10}), 10),
    ],
)
def test_counter_values(response: httpx.Response, value: int) -> None:
    assert parse_counter(response) == value


@pytest.mark.parametrize(
    ("response", "kind", "code"),
    [
        (raw_response("10000 => Number of messages in stock."), ErrorKind.AMBIGUOUS, None),
        (raw_response("-1"), ErrorKind.AMBIGUOUS, None),
        (raw_response("12.5"), ErrorKind.AMBIGUOUS, None),
        (raw_response(""), ErrorKind.AMBIGUOUS, None),
        (raw_response("<html>err</html>"), ErrorKind.AMBIGUOUS, None),
        (json_response({"TOTAL": "many"}), ErrorKind.AMBIGUOUS, None),
        (json_response({"TOTAL": True}), ErrorKind.AMBIGUOUS, None),
        (json_response([400]), ErrorKind.AMBIGUOUS, None),
        (raw_response("10", 404), ErrorKind.REQUEST, None),
        (error(1, "Authentication failed"), ErrorKind.ACCOUNT, "1"),
        (error("11"), ErrorKind.ACCOUNT, "11"),
        (json_response({"status": 10}, 401), ErrorKind.ACCOUNT, "10"),
        (error(42), ErrorKind.REQUEST, "42"),
        (error(102, "Invalid recipient"), ErrorKind.REQUEST, "102"),  # no recipients in a query
        (raw_response("10000", 429), ErrorKind.RETRYABLE, None),
        (raw_response("10000", 500), ErrorKind.RETRYABLE, None),
        (raw_response("10000", 504), ErrorKind.AMBIGUOUS, None),
    ],
)
def test_counter_errors(response: httpx.Response, kind: ErrorKind, code: str | None) -> None:
    with pytest.raises(GatewayError) as info:
        parse_counter(response)
    assert (info.value.kind, info.value.code) == (kind, code)


def test_balance_is_the_stock() -> None:
    assert ADAPTER.balance is not None
    request = ADAPTER.balance.build_request(ACCOUNT)
    assert form_of(request)["action"] == "get-stock"
    assert ADAPTER.balance.parse(raw_response("10000", content_type="text/plain")) == 10000.0
    with pytest.raises(GatewayError) as info:
        ADAPTER.balance.parse(error(10, "Invalid API key"))
    assert info.value.kind is ErrorKind.ACCOUNT and info.value.message == "Invalid API key"


# --- archive ----------------------------------------------------------------------------

# The manual's archive sample, verbatim (trailing spaces included).
MANUAL_ARCHIVE = """[  
  {  
    "IDHISTORIQUE": "1",  
    "HIS_DESTINATAIRE": "+22508081488",  
    "HIS_MESSAGE": "test",  
    "HIS_STATUT": "1",  
    "HIS_NOMBRESMS": "1",  
    "HIS_DATEHEURECREA": "2017-04-27 15:46:23",  
    "HIS_DATEHEUREENVOI": "2017-04-27 15:46:26",  
    "IDDATEHEURE": "2017-04-27 15:46:23",  
    "CPT_REF": "SP22558371758",  
    "IDSMSFILATTENTE": "1",  
    "HIS_EXPEDITEUR": "oniris",  
    "NOMCONTACT": "Diarrassouba Rémi"  
  },  
  {  
    "IDHISTORIQUE": "2",  
    "HIS_DESTINATAIRE": "+22558371758",  
    "HIS_MESSAGE": "test",  
    "HIS_STATUT": "1",  
    "HIS_NOMBRESMS": "1",  
    "HIS_DATEHEURECREA": "2017-04-27 15:46:23",  
    "HIS_DATEHEUREENVOI": "2017-04-27 15:46:25",  
    "IDDATEHEURE": "2017-04-27 15:46:23",  
    "CPT_REF": "SP22558371758",  
    "IDSMSFILATTENTE": "2",  
    "HIS_EXPEDITEUR": "oniris",  
    "NOMCONTACT": "Adrian Leman"  
  }  
]"""

FIRST = ArchiveEntry(
    id="1",
    msisdn="22508081488",
    message="test",
    status="1",
    segments=1,
    created_at=datetime(2017, 4, 27, 15, 46, 23, tzinfo=UTC),
    sent_at=datetime(2017, 4, 27, 15, 46, 26, tzinfo=UTC),
    account_ref="SP22558371758",
    queue_id="1",
    sender="oniris",
    contact_name="Diarrassouba Rémi",
)


def test_manual_archive_sample() -> None:
    response = raw_response(MANUAL_ARCHIVE, content_type="application/json")
    first, second = parse_archive(response)
    assert first == FIRST
    assert (second.id, second.msisdn, second.contact_name) == ("2", "22558371758", "Adrian Leman")
    assert second.sent_at == datetime(2017, 4, 27, 15, 46, 25, tzinfo=UTC)


def test_archive_times_take_the_given_zone() -> None:
    plus_one = timezone(timedelta(hours=1))
    entries = parse_archive(raw_response(MANUAL_ARCHIVE), tz=plus_one)
    assert entries[0].created_at == datetime(2017, 4, 27, 14, 46, 23, tzinfo=UTC)
    lagos = ACCOUNT.model_copy(update={"options": {"timezone": "Africa/Lagos"}})
    assert archive_timezone(ACCOUNT) is UTC
    assert str(archive_timezone(lagos)) == "Africa/Lagos"
    with pytest.raises(ValueError, match="timezone"):
        archive_timezone(ACCOUNT.model_copy(update={"options": {"timezone": "Mars/Olympus"}}))


def row(**fields: Any) -> dict[str, Any]:
    base = {"IDHISTORIQUE": "9", "HIS_DESTINATAIRE": "+2250708081488"}
    return {**base, **fields}


def test_archive_skips_bad_rows_and_blanks_garbled_fields() -> None:
    body = [
        "not a row",
        None,
        {"HIS_DESTINATAIRE": "+2250708081488"},  # no id
        row(IDHISTORIQUE=""),
        row(HIS_DESTINATAIRE="n/a"),
        row(HIS_DESTINATAIRE=None),
        row(
            IDHISTORIQUE=12,
            HIS_NOMBRESMS="two",
            HIS_DATEHEURECREA="0000-00-00 00:00:00",
            HIS_DATEHEUREENVOI=20170427,
            HIS_STATUT=2,
            NOMCONTACT={"first": "x"},
            HIS_MESSAGE=["x"],
        ),
    ]
    (entry,) = parse_archive(json_response(body))
    assert (entry.id, entry.msisdn, entry.status) == ("12", "2250708081488", "2")
    assert entry.segments is None and entry.created_at is None and entry.sent_at is None
    assert entry.contact_name is None and entry.message is None and entry.sender is None


def test_archive_accepts_empty_lists_and_object_keyed_rows() -> None:
    assert parse_archive(json_response([])) == []
    keyed = parse_archive(json_response({"0": row(IDHISTORIQUE="5"), "3": row(IDHISTORIQUE="6")}))
    assert [e.id for e in keyed] == ["5", "6"]


@pytest.mark.parametrize(
    ("response", "kind", "code"),
    [
        (error(1, "Authentication failed"), ErrorKind.ACCOUNT, "1"),
        (error("11"), ErrorKind.ACCOUNT, "11"),
        (error(55), ErrorKind.REQUEST, "55"),
        (json_response({}), ErrorKind.AMBIGUOUS, None),
        (json_response({"TOTAL": "3"}), ErrorKind.AMBIGUOUS, None),
        (json_response({"status": 0}), ErrorKind.AMBIGUOUS, None),
        (json_response(None), ErrorKind.AMBIGUOUS, None),
        (raw_response(""), ErrorKind.AMBIGUOUS, None),
        (raw_response(MANUAL_ARCHIVE[:200]), ErrorKind.AMBIGUOUS, None),
        (raw_response("<html>login</html>"), ErrorKind.AMBIGUOUS, None),
        (json_response([row()], 404), ErrorKind.REQUEST, None),
        (json_response([row()], 503), ErrorKind.RETRYABLE, None),
    ],
)
def test_archive_errors(response: httpx.Response, kind: ErrorKind, code: str | None) -> None:
    with pytest.raises(GatewayError) as info:
        parse_archive(response)
    assert (info.value.kind, info.value.code) == (kind, code)


def test_archive_request_pages_by_end_index() -> None:
    first = build_archive_request(ACCOUNT, date(2017, 4, 1), date(2017, 4, 27), 0, 50)
    assert form_of(first) == {
        "action": "list-archive",
        "user": KEY,
        "pass": PASS,
        "dateFrom": "2017-04-01",
        "dateTo": "2017-04-27",
        "from": "0",
        "to": "50",
    }
    second = build_archive_request(ACCOUNT, date(2017, 4, 1), date(2017, 4, 27), 50, 50)
    assert (form_of(second)["from"], form_of(second)["to"]) == ("50", "100")
    counting = ACCOUNT.model_copy(update={"options": {"archive_to": "count"}})
    third = build_archive_request(counting, date(2017, 4, 1), date(2017, 4, 27), 50, 50)
    assert (form_of(third)["from"], form_of(third)["to"]) == ("50", "50")


def test_archive_request_get_form_and_bad_pages() -> None:
    get = build_archive_request(GET_ACCOUNT, date(2017, 4, 1), date(2017, 4, 2), 0, 10)
    assert get.method == "GET" and get.url.params["dateTo"] == "2017-04-02"
    assert KEY not in redact_url(get.url) and PASS not in redact_url(get.url)
    for offset, limit, start in ((-1, 10, 1), (0, 0, 1), (0, 10, 3)):
        with pytest.raises(ValueError, match="archive"):
            build_archive_request(ACCOUNT, date(2017, 4, start), date(2017, 4, 2), offset, limit)


# --- delivery fates from the archive ----------------------------------------------------


def test_manual_archive_sample_read_over_a_transport_gives_fates() -> None:
    seen: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=MANUAL_ARCHIVE, headers={"content-type": "text/html"})

    assert ADAPTER.archive is not None
    request = ADAPTER.archive.build_request(ACCOUNT, date(2017, 4, 1), date(2017, 4, 27), 0, 50)
    with httpx.Client(transport=httpx.MockTransport(gateway)) as client:
        entries = ADAPTER.archive.parse(client.send(request), tz=UTC)
    assert form_of(seen[0])["action"] == "list-archive"
    assert [(e.msisdn, e.status) for e in entries] == [("22508081488", "1"), ("22558371758", "1")]
    assert [ADAPTER.archive.delivered(ACCOUNT, e.status) for e in entries] == [True, True]


@pytest.mark.parametrize(
    ("options", "status", "fate"),
    [
        ({}, "1", True),
        ({}, "2", False),
        ({}, "0", None),  # not known yet
        ({}, "", None),
        ({}, None, None),
        ({}, "DELIVRD", None),  # a word the default reading does not know: stays sent
        ({"delivered_statuses": "DELIVRD, 1"}, "delivrd", True),
        ({"undelivered_statuses": "3,4"}, "4", False),
        ({"undelivered_statuses": "3,4"}, "2", None),  # the option replaces the default
    ],
)
def test_archive_statuses_as_fates(
    options: dict[str, str], status: str | None, fate: bool | None
) -> None:
    account = ACCOUNT.model_copy(update={"options": options})
    assert archive_delivered(account, status) is fate
