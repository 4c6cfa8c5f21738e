"""The global opt-out list, and the hand-off to the worker."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from campaigns import (
    InputError,
    iter_suppressions,
    set_dispatcher,
    suppress,
    suppression,
    unsuppress,
)
from campaigns.handoff import notify
from campaigns.suppression import SuppressionLookup
from campaigns.tables import SUPPRESSIONS
from tests.campaigns.helpers import azerbaijan, bangladesh, nepal, presto, row_counts


def _listed(url: str) -> dict[str, str | None]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(SUPPRESSIONS.c.msisdn, SUPPRESSIONS.c.reason)).all()
    finally:
        engine.dispose()
    return {number: reason for number, reason in rows}


def test_suppress_stores_e164_digits_once(db_url: str) -> None:
    added = suppress(
        ["+977 984-1234567", "009779841234567", "+8801711111111"], "STOP", database_url=db_url
    )
    assert added == 2
    assert suppress(["+9779841234567", "+2250707070707"], database_url=db_url) == 1
    assert _listed(db_url) == {
        "9779841234567": "STOP",
        "8801711111111": "STOP",
        "2250707070707": None,
    }


def test_national_numbers_need_a_region(db_url: str) -> None:
    assert suppress(["9841234567"], default_region="NP", database_url=db_url) == 1
    assert "9779841234567" in _listed(db_url)


# (how the number is given, the region or account it is read in, the E.164 digits stored)
NATIONAL = [
    ("9740075654", {"default_region": "NP"}, "9779740075654"),  # not Qatar's +974
    ("9740075654", {"account": nepal()}, "9779740075654"),  # AakashSMS: Nepal
    ("01711000001", {"account": bangladesh()}, "8801711000001"),  # AamarSMS: Bangladesh
    ("0501234567", {"account": "baku", "accounts": {"baku": azerbaijan(name="baku")}},
     "994501234567"),  # an account by name: SMSPlus.az, Azerbaijan
    ("0707070707", {"account": presto()}, "2250707070707"),  # SMSPresto: its default_region
    ("771234567", {"account": presto(default_region="SN")}, "221771234567"),
]  # fmt: skip


@pytest.mark.parametrize(("number", "where", "stored"), NATIONAL)
def test_national_numbers_are_read_in_a_region_or_an_accounts_country(
    sqlite_url: str, number: str, where: dict[str, Any], stored: str
) -> None:
    assert suppress([number], "STOP", database_url=sqlite_url, **where) == 1
    assert _listed(sqlite_url) == {stored: "STOP"}


def test_a_national_number_without_a_region_is_refused_with_a_hint(sqlite_url: str) -> None:
    with pytest.raises(InputError) as caught:
        suppress(["9740075654"], database_url=sqlite_url)
    assert str(caught.value) == (
        "number '9740075654' is not a valid phone number: not a number in QA (row 1); a number "
        "without its country code needs a region or an account to be read in"
    )


def test_a_csv_of_numbers_is_suppressed_and_listed(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "stop.csv"
    path.write_text("Name;Mobile No\nRam;9841000001\nSita;9.851000002E+9\n\nHari;+8801711000003\n")
    assert suppress(path, "replied STOP", default_region="NP", database_url=sqlite_url) == 3
    listed = list(iter_suppressions(database_url=sqlite_url))
    assert [(s.msisdn, s.reason) for s in listed] == [
        ("8801711000003", "replied STOP"), ("9779841000001", "replied STOP"),
        ("9779851000002", "replied STOP"),
    ]  # fmt: skip
    assert all(s.created_at.tzinfo is not None for s in listed)
    assert unsuppress(path, default_region="NP", database_url=sqlite_url) == 3
    assert list(iter_suppressions(database_url=sqlite_url)) == []


def test_a_long_opt_out_list_is_listed_page_by_page(sqlite_url: str) -> None:
    numbers = [f"+97798410{i:05d}" for i in range(suppression.PAGE_ROWS + 5)]
    assert suppress(numbers, database_url=sqlite_url) == len(numbers)
    listed = [s.msisdn for s in iter_suppressions(database_url=sqlite_url)]
    assert listed == sorted(n.lstrip("+") for n in numbers)


def test_every_invalid_number_of_a_list_is_counted_and_nothing_added(sqlite_url: str) -> None:
    with pytest.raises(InputError, match=r"4 numbers are not valid phone numbers, so nothing"):
        suppress(["12", "+9779841000001", "abc", "x", "1"], database_url=sqlite_url)
    with pytest.raises(InputError, match="a region or an account"):
        suppress(["9841000001"], default_region="NP", account=nepal(), database_url=sqlite_url)
    with pytest.raises(InputError, match="region 'XX'"):
        suppress(["9841000001"], default_region="XX", database_url=sqlite_url)
    assert row_counts(sqlite_url)["suppressions"] == 0


def test_invalid_number_names_it_and_adds_nothing(db_url: str) -> None:
    with pytest.raises(InputError, match=r"number 'not-a-number' is not a valid phone number"):
        suppress(["+9779841234567", "not-a-number"], database_url=db_url)
    assert row_counts(db_url)["suppressions"] == 0


def test_unsuppress_counts_what_it_removed(db_url: str) -> None:
    suppress(["+9779841234567", "+8801711111111"], database_url=db_url)
    assert unsuppress(["+977 9841234567", "+2250707070707"], database_url=db_url) == 1
    assert set(_listed(db_url)) == {"8801711111111"}


@pytest.mark.parametrize("preload_max", [0, 1000])
def test_lookup_answers_the_same_preloaded_or_queried(sqlite_url: str, preload_max: int) -> None:
    suppress(["+9779841234567", "+8801711111111"], database_url=sqlite_url)
    engine = create_engine(sqlite_url)
    try:
        lookup = SuppressionLookup(engine, preload_max=preload_max)
        asked = {"9779841234567", "9779800000000", "8801711111111"}
        assert lookup.suppressed(asked) == {"9779841234567", "8801711111111"}
        assert not lookup.empty
    finally:
        engine.dispose()


def test_notify_without_a_dispatcher_does_nothing() -> None:
    set_dispatcher(None)
    notify(5)  # no error, nothing to call


def test_a_failing_dispatcher_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def broken(campaign_id: int) -> None:
        raise ConnectionError("broker down")

    set_dispatcher(broken)
    try:
        with caplog.at_level(logging.WARNING, logger="campaigns.handoff"):
            notify(42)
    finally:
        set_dispatcher(None)
    assert "campaign 42: hand-off to the worker failed (ConnectionError: broker down)" in (
        caplog.text
    )
