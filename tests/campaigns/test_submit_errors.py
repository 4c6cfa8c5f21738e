"""Bad input: an error naming the field and the row, and nothing written (invariant 8)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from campaigns import (
    CampaignError,
    InputError,
    InvalidTemplate,
    MissingPlaceholder,
    NothingToSend,
    TextTooLong,
    UnknownAccount,
    submit_campaign,
)
from campaigns.planning import CHUNK_ROWS
from tests.campaigns.helpers import azerbaijan, nepal, nepal_numbers, row_counts

Case = tuple[str, Callable[[str], Any], type[CampaignError], str]


def _rows_with_hole(count: int, hole_row: int) -> list[dict[str, str]]:
    rows = [{"msisdn": n, "name": "Ram"} for n in nepal_numbers(count)]
    rows[hole_row - 1]["name"] = " "
    return rows


CASES: list[Case] = [
    (
        "empty placeholder value after a whole chunk was written, strict",
        lambda url: submit_campaign(
            nepal(), _rows_with_hole(CHUNK_ROWS + 500, CHUNK_ROWS + 17), text="Hi {name}",
            strict=True, database_url=url,
        ),
        MissingPlaceholder,
        f'row {CHUNK_ROWS + 17}: column "name" is empty (placeholder {{name}} in text)',
    ),
    (
        "every row without its placeholder value",
        lambda url: submit_campaign(nepal(), nepal_numbers(2), text="Hi {name}", database_url=url),
        NothingToSend,
        "no sendable number among 2 rows (0 invalid, 0 duplicate, 0 suppressed, 2 rejected); "
        'row 1: rejected: column "name" has no value (placeholder {name} in text)',
    ),
    (
        "send time in the past",
        lambda url: submit_campaign(
            nepal(), nepal_numbers(1), text="Hi", send_at=datetime.now(UTC) - timedelta(minutes=5),
            database_url=url,
        ),
        InputError,
        "is in the past",
    ),
    (
        "a default given twice, differently",
        lambda url: submit_campaign(
            nepal(), nepal_numbers(1), text="Hi {name|friend}, {name|pal}", database_url=url
        ),
        InvalidTemplate,
        "text: placeholder {name} has two defaults, 'friend' and 'pal': give one",
    ),
    (
        "a phone_column the dicts do not have",
        lambda url: submit_campaign(
            nepal(), [{"msisdn": "9841000001"}], text="Hi", phone_column="mobile",
            database_url=url,
        ),
        InputError,
        'row 1: no "mobile" key (keys: msisdn)',
    ),
    (
        "unknown account name",
        lambda url: submit_campaign(
            "nowhere", nepal_numbers(1), text="Hi", accounts={"nepal": nepal()}, database_url=url
        ),
        UnknownAccount,
        "account 'nowhere' is not configured (known: nepal)",
    ),
    (
        "campaign text over max_segments",
        lambda url: submit_campaign(
            nepal(), nepal_numbers(3), text="x" * 400, max_segments=2, database_url=url
        ),
        TextTooLong,
        "text: text is 3 segments (GSM-7); max_segments is 2",
    ),
    (
        "fixed part of a personal text over the limit",
        lambda url: submit_campaign(
            nepal(), [{"msisdn": "9840000001", "n": "a"}], text="{n}" + "y" * 170,
            max_segments=1, database_url=url,
        ),
        TextTooLong,
        "text: without its placeholders, text is 2 segments (GSM-7); max_segments is 1",
    ),
    (
        "every personal row over the limit",
        lambda url: submit_campaign(
            nepal(), [{"msisdn": n, "n": "z" * 200} for n in nepal_numbers(2)], text="{n}",
            max_segments=1, database_url=url,
        ),
        TextTooLong,
        "every sendable row is over the gateway's limits (2 rejected); row 1: rejected: text "
        "is 2 segments (GSM-7); max_segments is 1",
    ),
    (
        "no sendable number",
        lambda url: submit_campaign(nepal(), ["123", "abc", ""], text="Hi", database_url=url),
        NothingToSend,
        "no sendable number among 3 rows (3 invalid, 0 duplicate, 0 suppressed); row 1: "
        "invalid: too short",
    ),
    (
        "empty list",
        lambda url: submit_campaign(nepal(), [], text="Hi", database_url=url),
        NothingToSend,
        "the recipient list has no rows",
    ),
    (
        "template gateway given a text",
        lambda url: submit_campaign(azerbaijan(), ["+994501000001"], text="Hi", database_url=url),
        InvalidTemplate,
        "smsplus_az sends approved templates: give template_id, not text",
    ),
    (
        "template id unknown to the account",
        lambda url: submit_campaign(
            azerbaijan(), ["+994501000001"], template_id=3, database_url=url
        ),
        InvalidTemplate,
        "template_id 3 is not among account 'az''s templates (known: 7, 8, 9, 10)",
    ),
    (
        "text gateway given a template id",
        lambda url: submit_campaign(nepal(), nepal_numbers(1), template_id=7, database_url=url),
        InvalidTemplate,
        "aakashsms_v3 sends a text: template_id 7 cannot be used",
    ),
    (
        "naive send time",
        lambda url: submit_campaign(
            nepal(), nepal_numbers(1), text="Hi", send_at=datetime(2030, 1, 1), database_url=url
        ),
        InputError,
        "send_at 2030-01-01T00:00:00 has no timezone",
    ),
    (
        "malformed window",
        lambda url: submit_campaign(
            nepal(), nepal_numbers(1), text="Hi", window=("9:00", "18:00"), database_url=url
        ),
        InputError,
        "window start must be \"HH:MM\" (00:00-23:59), got '9:00'",
    ),
    (
        "unknown window zone",
        lambda url: submit_campaign(
            nepal(), nepal_numbers(1), text="Hi", window=("09:00", "18:00"),
            window_tz="Mars/Olympus", database_url=url,
        ),
        InputError,
        "window_tz 'Mars/Olympus' is not a known time zone",
    ),
    (
        "empty text",
        lambda url: submit_campaign(nepal(), nepal_numbers(1), text="  ", database_url=url),
        InputError,
        "text is empty",
    ),
    (
        "bad max_segments",
        lambda url: submit_campaign(
            nepal(), nepal_numbers(1), text="Hi", max_segments=0, database_url=url
        ),
        InputError,
        "max_segments must be a positive integer, got 0",
    ),
    (
        "a list item that is not a number",
        lambda url: submit_campaign(
            nepal(), [*nepal_numbers(5), cast(str, None)], text="Hi", database_url=url
        ),
        InputError,
        "row 6: expected a number or a dict with an msisdn, got NoneType",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("label", "call", "error", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_names_the_problem_and_writes_nothing(
    db_url: str,
    dispatched: list[int],
    label: str,
    call: Callable[[str], Any],
    error: type[CampaignError],
    message: str,
) -> None:
    before = row_counts(db_url)
    with pytest.raises(error, match=re.escape(message)):
        call(db_url)
    assert row_counts(db_url) == before, label
    assert dispatched == []


def test_csv_errors_name_the_file_row_and_column(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("msisdn,name\n9840000001,Ram\n9840000002,\n", encoding="utf-8")
    with pytest.raises(MissingPlaceholder, match=r'row 2: column "name" is empty'):
        submit_campaign(nepal(), path, text="Hi {name}", strict=True, database_url=sqlite_url)
    with pytest.raises(InputError, match=r'no column "city" for placeholder \{city\}'):
        submit_campaign(nepal(), path, text="Hi {city}", database_url=sqlite_url)
    assert row_counts(sqlite_url)["recipients"] == 0


def test_an_account_given_without_a_name_is_refused(sqlite_url: str) -> None:
    with pytest.raises(InputError, match="needs a name"):
        submit_campaign(nepal(name=""), nepal_numbers(1), text="Hi", database_url=sqlite_url)
