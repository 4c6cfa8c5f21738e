"""The global opt-out list, and the hand-off to the worker."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine, select

from campaigns import InputError, set_dispatcher, suppress, unsuppress
from campaigns.handoff import notify
from campaigns.suppression import SuppressionLookup
from campaigns.tables import SUPPRESSIONS
from tests.campaigns.helpers import row_counts


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
