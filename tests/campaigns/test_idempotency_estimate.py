"""Idempotent submits (also under a race), and estimate: a dry run that writes nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from campaigns import (
    IdempotencyConflict,
    InputError,
    MissingPlaceholder,
    NothingToSend,
    estimate,
    get_campaign,
    submit_campaign,
    suppress,
)
from campaigns.db import get_engine
from campaigns.tables import CAMPAIGNS
from tests.campaigns.helpers import (
    azerbaijan,
    bangladesh,
    bd_numbers,
    nepal,
    nepal_numbers,
    presto,
    row_counts,
)


def test_same_key_returns_the_first_campaign(db_url: str, dispatched: list[int]) -> None:
    first = submit_campaign(
        nepal(), nepal_numbers(3), text="Hi", idempotency_key="order-1", database_url=db_url
    )
    # A retry may compute its send time afresh and pass a generator: the same request.
    again = submit_campaign(
        nepal(), iter(nepal_numbers(3)), text="Hi", idempotency_key="order-1",
        send_at=datetime.now(UTC) + timedelta(hours=1), database_url=db_url,
    )  # fmt: skip
    other = submit_campaign(
        nepal(), nepal_numbers(2), text="Hi", idempotency_key="order-2", database_url=db_url
    )
    assert again == first != other
    assert get_campaign(first, database_url=db_url).recipients_total == 3
    assert row_counts(db_url)["campaigns"] == 2
    assert dispatched == [first, other]


# (what the retry changes, the arguments it passes, what the error names)
CONFLICTS = [
    ("text", dict(text="Other"), "a different text:"),
    ("list", dict(recipients=nepal_numbers(4)), "a different recipient list:"),
    ("one number", dict(recipients=[*nepal_numbers(2), "9840000009"]), "recipient list"),
    ("text and list", dict(text="Other", recipients=nepal_numbers(9)),
     "a different text and recipient list"),
    ("account", dict(account=nepal(name="nepal2")), "a different account"),
    ("sender", dict(sender="OTHER"), "a different sender"),
]  # fmt: skip


@pytest.mark.parametrize("change", [c[1] for c in CONFLICTS], ids=[c[0] for c in CONFLICTS])
def test_same_key_with_another_request_is_refused_naming_what_differs(
    db_url: str, dispatched: list[int], change: dict[str, Any]
) -> None:
    words = next(c[2] for c in CONFLICTS if c[1] is change)
    first = submit_campaign(
        nepal(), nepal_numbers(3), text="Hi", idempotency_key="k", database_url=db_url
    )
    before = row_counts(db_url)
    request: dict[str, Any] = dict(account=nepal(), recipients=nepal_numbers(3), text="Hi")
    with pytest.raises(IdempotencyConflict) as caught:
        submit_campaign(**(request | change), idempotency_key="k", database_url=db_url)
    message = str(caught.value)
    assert message.startswith(f"idempotency_key 'k' is campaign {first}'s"), message
    assert words in message and "nothing was written" in message
    assert row_counts(db_url) == before and dispatched == [first]


def test_a_campaign_from_before_fingerprints_keeps_its_key(db_url: str) -> None:
    first = submit_campaign(
        nepal(), nepal_numbers(3), text="Hi", idempotency_key="old", database_url=db_url
    )
    with get_engine(db_url).begin() as conn:  # as migration 0006 leaves older campaigns
        conn.execute(update(CAMPAIGNS).values(request_fingerprint=None))
    again = submit_campaign(
        nepal(), nepal_numbers(5), text="Other", idempotency_key="old", database_url=db_url
    )
    assert again == first


def test_a_retried_csv_is_the_same_request(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("msisdn,name\n9841000001,Ram\n9841000002,Sita\n")
    args: dict[str, Any] = dict(text="Hi {name}", idempotency_key="csv", database_url=db_url)
    first = submit_campaign(nepal(), path, **args)
    assert submit_campaign(nepal(), str(path), **args) == first
    path.write_text("msisdn,name\n9841000001,Ram\n9841000002,Gita\n")  # one value edited
    with pytest.raises(IdempotencyConflict, match="recipient list"):
        submit_campaign(nepal(), path, **args)


def test_racing_submits_with_one_key_create_one_campaign(db_url: str) -> None:
    """The second submit starts while the first is inside its transaction. On PostgreSQL it
    passes the key check (nothing committed yet), blocks on the unique key, loses when the
    first commits, and returns the winner's id; on SQLite its key check already waits for
    the first transaction's write lock and finds the committed campaign."""
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def second() -> None:
        try:
            results["second"] = submit_campaign(
                nepal(), nepal_numbers(4), text="Hi", idempotency_key="race",
                database_url=db_url,
            )  # fmt: skip
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    racer = threading.Thread(target=second)

    def numbers() -> Iterator[str]:
        # Read inside the first submit's transaction, after its campaign row was inserted.
        racer.start()
        time.sleep(0.5)  # the racer checks the key (nothing yet) and blocks on its insert
        yield from nepal_numbers(4)

    results["first"] = submit_campaign(
        nepal(), numbers(), text="Hi", idempotency_key="race", database_url=db_url
    )
    racer.join(timeout=60)
    assert not errors
    assert results["second"] == results["first"]
    assert row_counts(db_url)["campaigns"] == 1


def test_estimate_reports_what_submit_would_plan_and_writes_nothing(db_url: str) -> None:
    suppress(["+9779840000002"], database_url=db_url)
    before = row_counts(db_url)
    rows = [{"msisdn": n, "name": "Ram"} for n in nepal_numbers(150)]
    rows += [{"msisdn": "42", "name": "x"}, {"msisdn": "9840000005", "name": "y"}]
    rows.append({"msisdn": "9850000001", "name": "R" * 400})  # 3 segments
    result = estimate(
        nepal(), rows, text="Hi {name}", max_segments=2, database_url=db_url, check_balance=False
    )
    assert row_counts(db_url) == before
    assert (result.rows, result.valid, result.invalid, result.duplicate) == (153, 149, 1, 1)
    assert (result.suppressed, result.rejected) == (1, 1)
    assert (result.encoding, result.encodings) == ("GSM-7", ("GSM-7",))
    assert (result.segments_max, result.segments_total, result.credits) == (1, 149, 149.0)
    assert result.batches == 2
    assert result.balance is None and result.balance_error is None

    campaign_id = submit_campaign(
        nepal(), rows, text="Hi {name}", max_segments=2, database_url=db_url
    )
    info = get_campaign(campaign_id, database_url=db_url)
    assert info.batches_total == result.batches and info.credits_planned == result.credits


def test_estimate_reports_an_empty_list_instead_of_failing(sqlite_url: str) -> None:
    result = estimate(nepal(), ["1", "2"], text="Hi", database_url=sqlite_url)
    assert (result.valid, result.invalid, result.batches, result.encoding) == (0, 2, 0, None)
    assert result.examples[0] == "row 1: invalid: too short for a Nepali mobile number"


def test_estimate_multipart_and_mixed_encodings(sqlite_url: str) -> None:
    rows = [{"msisdn": "9840000001", "w": "hello"}, {"msisdn": "9840000002", "w": "নমস্কার"}]
    result = estimate(nepal(), rows, text="{w} " + "a" * 150, database_url=sqlite_url)
    assert result.encoding == "mixed" and result.encodings == ("GSM-7", "UCS-2")
    # 156 GSM-7 characters fit one part; 158 UCS-2 units take three parts of 67.
    assert (result.segments_max, result.segments_total) == (3, 4)


def test_balance_failure_is_reported_not_raised(sqlite_url: str) -> None:
    result = estimate(bangladesh(), bd_numbers(3), text="Hi", database_url=sqlite_url)
    assert result.valid == 3 and result.balance is None
    assert result.balance_error is not None and "ConnectError" in result.balance_error
    assert "bd-secret-pass" not in result.balance_error


def test_gateway_without_a_balance_query_says_so(sqlite_url: str) -> None:
    result = estimate(azerbaijan(), ["+994501000001"], template_id=8, database_url=sqlite_url)
    assert result.balance is None and result.balance_error == "smsplus_az reports no balance"


class _StockHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # SMSPresto's counters answer a bare number
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"12345"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stock_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StockHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_balance_is_read_from_the_gateway(sqlite_url: str, stock_server: str) -> None:
    result = estimate(
        presto(base_url=stock_server), ["0700000001"], text="Hi", database_url=sqlite_url
    )
    assert (result.balance, result.balance_error) == (12345.0, None)


def test_the_estimate_shows_every_problem_at_once_and_sample_messages(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A list with three empty names, two short numbers and a spreadsheet's damage: one dry
    run names them all, by reason, and the rejects file lists every row with its reason."""
    rows = [
        {"msisdn": "9841000001", "name": "Sita"},
        {"msisdn": "9841000002", "name": ""},
        {"msisdn": "12345", "name": "Ram"},
        {"msisdn": "9841000004", "name": " "},
        {"msisdn": "9.82807E+9", "name": "Hari"},
        {"msisdn": "9841000001", "name": "Sita"},
        {"msisdn": "9841000007"},
        {"msisdn": "678", "name": "Gita"},
        {"msisdn": "9762768809.0", "name": "Maya"},
    ]
    rejects = tmp_path / "rejects.csv"
    result = estimate(
        nepal(), rows, text="Namaste {name}", rejects=rejects, database_url=sqlite_url,
        check_balance=False,
    )  # fmt: skip
    assert (result.valid, result.rejected, result.invalid, result.duplicate) == (2, 3, 3, 1)
    found = {(p.state, p.reason): (p.count, p.examples) for p in result.problems}
    assert found == {
        ("rejected", 'column "name" is empty (placeholder {name} in text)'): (2, (
            'row 2 (9841000002): column "name" is empty (placeholder {name} in text)',
            'row 4 (9841000004): column "name" is empty (placeholder {name} in text)',
        )),
        ("rejected", 'column "name" has no value (placeholder {name} in text)'): (1, (
            'row 7 (9841000007): column "name" has no value (placeholder {name} in text)',
        )),
        ("invalid", "too short for a Nepali mobile number"): (2, (
            "row 3 (12345): too short for a Nepali mobile number",
            "row 8 (678): too short for a Nepali mobile number",
        )),
        ("invalid", "shortened by a spreadsheet"): (1, (
            "row 5 (9.82807E+9): shortened by a spreadsheet: 9.82807E+9 kept only 6 digits of "
            "10 (format the column as text and export it again)",
        )),
        ("duplicate", "same number as an earlier row"): (1, (
            "row 6 (9841000001): same number as row 1",
        )),
    }  # fmt: skip
    assert [(s.row_no, s.msisdn, s.text) for s in result.samples] == [
        (1, "9841000001", "Namaste Sita"), (9, "9762768809", "Namaste Maya"),
    ]  # fmt: skip
    written = rejects.read_text(encoding="utf-8").splitlines()
    assert written[0] == "row,number,state,reason"
    assert [line.split(",")[:3] for line in written[1:]] == [
        ["2", "9841000002", "rejected"], ["3", "12345", "invalid"],
        ["4", "9841000004", "rejected"], ["5", "9.82807E+9", "invalid"],
        ["6", "9841000001", "duplicate"], ["7", "9841000007", "rejected"],
        ["8", "678", "invalid"],
    ]  # fmt: skip


def test_a_strict_estimate_fails_on_the_first_missing_value(sqlite_url: str) -> None:
    rows = [{"msisdn": "9841000001", "name": ""}, {"msisdn": "9841000002", "name": ""}]
    with pytest.raises(MissingPlaceholder, match=r'^row 1: column "name" is empty'):
        estimate(nepal(), rows, text="Hi {name}", strict=True, database_url=sqlite_url)


def test_rejects_are_written_at_submit_even_when_nothing_is_sendable(
    db_url: str, tmp_path: Path, dispatched: list[int]
) -> None:
    rejects = tmp_path / "out" / "rejects.csv"
    rejects.parent.mkdir()
    with pytest.raises(NothingToSend):
        submit_campaign(nepal(), ["1", "22"], text="Hi", rejects=rejects, database_url=db_url)
    assert rejects.read_text().splitlines()[1:] == [
        "1,1,invalid,too short for a Nepali mobile number",
        "2,22,invalid,too short for a Nepali mobile number",
    ]
    campaign_id = submit_campaign(
        nepal(), ["9841000001", "1"], text="Hi", rejects=rejects, database_url=db_url
    )
    assert rejects.read_text().splitlines()[1:] == [
        "2,1,invalid,too short for a Nepali mobile number"
    ]
    assert dispatched == [campaign_id]
    with pytest.raises(InputError, match="rejects: cannot write"):
        submit_campaign(nepal(), ["9841000001"], text="Hi", rejects=tmp_path / "no" / "r.csv",
                        database_url=db_url)  # fmt: skip
