"""Routes: each number to the account of its longest prefix, planned by that gateway's rules."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select

from campaigns import estimate, get_campaign, submit_campaign
from campaigns.batching import ClosedBatch
from campaigns.errors import InputError, UnknownAccount
from campaigns.numbers.formats import to_e164_digits
from campaigns.planning import Planner, Settled
from campaigns.routes import Route, RouteTable, load_routes
from campaigns.spec import build_spec
from campaigns.suppression import SuppressionLookup
from campaigns.tables import BATCHES, RECIPIENTS
from providers import Account
from providers import Batch as RequestBatch
from providers.registry import get_adapter
from tests.campaigns.helpers import azerbaijan, bangladesh, nepal, nepal_v1, presto

ACCOUNTS: dict[str, Account] = {
    a.name: a
    for a in (
        nepal(name="nepal"),
        nepal_v1(name="ncell_cheap"),
        bangladesh(name="dhaka"),
        azerbaijan(name="baku"),
        presto(name="abidjan"),
        presto(name="world"),
    )
}
MIXED = Route.model_validate(
    {
        "name": "mixed",
        "default_region": "NP",
        "977": ["nepal", "world"],
        "977980": ["ncell_cheap", "nepal"],  # an operator's range (Ncell)
        "880": ["dhaka"],
        "994": ["baku", "world"],
        "225": ["abidjan"],
    }
)


def _rows(url: str, campaign_id: int) -> dict[str, tuple[Any, ...]]:
    """E.164 -> (state, account of its batch, msisdn as stored, reason, params)."""
    return dict(_all_rows(url, campaign_id))


def _all_rows(url: str, campaign_id: int) -> list[tuple[str, tuple[Any, ...]]]:
    """Every row as (E.164, (state, account of its batch, msisdn, reason, params))."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    RECIPIENTS.c.msisdn, RECIPIENTS.c.state, BATCHES.c.account,
                    BATCHES.c.provider, RECIPIENTS.c.reason, RECIPIENTS.c.params,
                )
                .select_from(RECIPIENTS.outerjoin(BATCHES, BATCHES.c.id == RECIPIENTS.c.batch_id))
                .where(RECIPIENTS.c.campaign_id == campaign_id)
            ).all()  # fmt: skip
    finally:
        engine.dispose()
    out = []
    for msisdn, state, account, provider, reason, params in rows:
        fmt = get_adapter(provider).limits.number_format if provider else None
        e164 = to_e164_digits(msisdn, fmt) if fmt is not None else msisdn
        out.append((e164, (state, account, msisdn, reason, params)))
    return out


def test_a_route_reads_names_weights_and_its_default_region() -> None:
    route = Route.model_validate(
        {
            "default_region": "NP",
            "977": ["nepal", "nepal_backup"],
            "880": [{"account": "dhaka", "weight": 3}, {"account": "dhaka_b", "weight": 1}],
            "225": "abidjan",
        }
    )
    assert route.default_region == "NP"
    assert route.accounts() == ["nepal", "nepal_backup", "dhaka", "dhaka_b", "abidjan"]
    table = RouteTable(route)
    assert table.accounts_for("9779841234567") == ("nepal", "nepal_backup")
    assert table.accounts_for("971501234567") == ()
    assert RouteTable.from_json(table.to_json()).accounts_for("2250701020304") == ("abidjan",)


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"97a": ["x"]}, "must be 1 to 15 digits"),
        ({"977": []}, "names no account"),
        ({"977": ["x", "x"]}, "names an account twice"),
        ({"977": [{"account": "x", "weight": 0}]}, "every weight is 0"),
        ({"default_region": "NP"}, "at least one prefix"),
        ({"977": [{"account": "x", "weight": -1}]}, "greater than or equal to 0"),
    ],
)
def test_a_bad_route_is_refused_naming_the_problem(table: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Route.model_validate(table)


def test_routes_load_from_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "smsq.toml"
    config.write_text(
        '[routes.default]\ndefault_region = "NP"\n"977" = ["nepal", "nepal_backup"]\n'
        '"977980" = ["ncell_cheap", "nepal"]\n'
        '"880" = [{account = "dhaka", weight = 3}, {account = "dhaka_b", weight = 1}]\n'
    )
    monkeypatch.setenv("SMSQ_CONFIG", str(config))
    routes = load_routes()
    assert routes["default"].name == "default"
    table = RouteTable(routes["default"])
    assert table.accounts_for("9779801234567") == ("ncell_cheap", "nepal")  # longest prefix
    assert table.accounts_for("9779841234567") == ("nepal", "nepal_backup")
    config.write_text('[routes.bad]\n"9x" = ["a"]\n')
    with pytest.raises(InputError, match="routes configuration: routes.bad"):
        load_routes()


def test_weights_split_a_prefix_in_proportion_and_each_falls_back_to_the_other() -> None:
    route = Route.model_validate(
        {"880": [{"account": "a", "weight": 3}, {"account": "b", "weight": 1}, "c"]}
    )
    table = RouteTable(route)
    orders = Counter(table.accounts_for(f"8801711{i:06d}") for i in range(8000))
    assert set(orders) == {("a", "b", "c"), ("b", "a", "c")}  # c: a fallback only
    share = orders["a", "b", "c"] / 8000
    assert 0.72 < share < 0.78, share
    # The same number always gets the same order (planning and failover agree).
    assert table.accounts_for("8801711000042") == table.accounts_for("8801711000042")


def test_a_mixed_country_list_goes_to_each_routes_account_in_its_gateways_format(
    db_url: str,
) -> None:
    numbers = [
        "9841000001", "+977 984-1000002", "9801000003",  # Nepal; 980 → ncell_cheap
        "8801711000004", "+8801711000005",  # Bangladesh (digits without +: read as international)
        "+994501000006",  # Azerbaijan (template gateway)
        "+2250701000007",  # Côte d'Ivoire
        "+971501234567",  # UAE: no route
        "9841000001",  # a repeat
        "12345",  # not a number
    ]  # fmt: skip
    campaign_id = submit_campaign(
        recipients=numbers, route=MIXED, text="Namaste from smsq", template_id=8,
        database_url=db_url, accounts=ACCOUNTS,
    )  # fmt: skip
    every = _all_rows(db_url, campaign_id)
    rows = {e164: row for e164, row in every if row[0] != "duplicate"}
    routed = {e164: (row[1], row[2]) for e164, row in rows.items() if row[0] == "pending"}
    assert routed == {
        "9779841000001": ("nepal", "9841000001"),
        "9779841000002": ("nepal", "9841000002"),
        "9779801000003": ("ncell_cheap", "9801000003"),
        "8801711000004": ("dhaka", "8801711000004"),
        "8801711000005": ("dhaka", "8801711000005"),
        "994501000006": ("baku", "994501000006"),
        "2250701000007": ("abidjan", "2250701000007"),
    }
    assert rows["971501234567"][0] == "rejected"
    assert rows["971501234567"][3] == "no route for +971…"
    states = Counter(row[0] for _e164, row in every)
    assert states == {"pending": 7, "rejected": 1, "duplicate": 1, "invalid": 1}
    info = get_campaign(campaign_id, database_url=db_url)
    assert info.route == "mixed" and info.account is None
    shares = {a.account: (a.planned, a.recipients) for a in info.accounts}
    assert shares["nepal"] == (2, {"pending": 2})
    assert shares["baku"] == (1, {"pending": 1})
    assert shares["world"] == (0, {})  # a fallback only, nothing planned on it


def test_a_number_routed_where_its_content_cannot_go_is_rejected_saying_what_to_add(
    db_url: str,
) -> None:
    campaign_id = submit_campaign(
        recipients=["+994501000006", "9841000001"], route=MIXED, text="Hello", database_url=db_url,
        accounts=ACCOUNTS,
    )  # fmt: skip
    rows = _rows(db_url, campaign_id)
    assert rows["994501000006"][0] == "rejected"
    assert "sends approved templates: add template_id" in rows["994501000006"][3]
    assert rows["9779841000001"][:2] == ("pending", "nepal")


def test_an_estimate_gives_every_accounts_share_and_the_numbers_without_a_route(
    db_url: str,
) -> None:
    numbers = [f"984{i:07d}" for i in range(250)] + [f"+8801711{i:06d}" for i in range(120)]
    numbers += ["+971501234567", "+14155550100"]
    plan = estimate(
        recipients=numbers, route=MIXED, text="Namaste", template_id=8, database_url=db_url,
        accounts=ACCOUNTS, check_balance=False,
    )  # fmt: skip
    assert (plan.valid, plan.rejected, plan.no_route) == (370, 2, 2)
    shares = {s.account: s for s in plan.accounts}
    assert [s.account for s in plan.accounts] == MIXED.accounts()
    assert (shares["nepal"].numbers, shares["nepal"].batches, shares["nepal"].segments) == (
        250, 3, 250,
    )  # fmt: skip
    assert shares["nepal"].credits == 250 and shares["nepal"].credit_unit == "credits"
    # AamarSMS charges money: no price configured, no guess.
    assert (shares["dhaka"].numbers, shares["dhaka"].batches) == (120, 2)
    assert shares["dhaka"].credits is None and shares["dhaka"].credit_unit == "BDT"
    priced = {**ACCOUNTS, "dhaka": bangladesh(name="dhaka", price_per_segment=0.25)}
    plan = estimate(
        recipients=numbers, route=MIXED, text="Namaste", template_id=8, database_url=db_url,
        accounts=priced, check_balance=False,
    )  # fmt: skip
    assert {s.account: s.credits for s in plan.accounts}["dhaka"] == 30.0


def test_a_route_naming_an_unconfigured_account_fails_before_any_row_is_read() -> None:
    route = Route.model_validate({"name": "r", "977": ["nepal", "ghost"]})
    with pytest.raises(UnknownAccount, match="route 'r' names account 'ghost'"):
        build_spec(
            route=route, text="Hi", template_id=None, sender=None, send_at=None, name=None,
            idempotency_key=None, max_segments=10, window=None, window_tz=None,
            accounts=ACCOUNTS,
        )  # fmt: skip
    with pytest.raises(InputError, match="exactly one of account and route"):
        submit_campaign("nepal", ["9841000001"], route=route, text="Hi", accounts=ACCOUNTS)
    with pytest.raises(InputError, match="account: expected an account name"):
        submit_campaign(["9841000001"], route=route, text="Hi", accounts=ACCOUNTS)


class _Capture:
    """A sink that keeps what the planner wrote."""

    def __init__(self) -> None:
        self.settled: list[Settled] = []
        self.closed: list[ClosedBatch] = []

    def write(self, settled: list[Settled], closed: list[ClosedBatch]) -> None:
        self.settled += settled
        self.closed += closed


class _NoSuppressions(SuppressionLookup):
    def __init__(self) -> None:
        self._preloaded = set()


_COUNTRIES = {
    "977": ("98{:08d}", "NP"),
    "880": ("+88017{:08d}", "BD"),
    "994": ("+99450{:07d}", "AZ"),
    "225": ("+22507{:08d}", "CI"),
}


@st.composite
def _route_tables(draw: st.DrawFn) -> Route:
    prefixes: dict[str, Any] = {}
    names = list(ACCOUNTS)
    for prefix in draw(st.sets(st.sampled_from(sorted(_COUNTRIES)), min_size=1)):
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
        if draw(st.booleans()):
            weights = draw(st.lists(st.integers(0, 3), min_size=len(chosen), max_size=len(chosen)))
            weights[0] = max(weights[0], 1)
            pairs = zip(chosen, weights, strict=True)
            prefixes[prefix] = [{"account": a, "weight": w} for a, w in pairs]
        else:
            prefixes[prefix] = chosen
    return Route.model_validate({"name": "drawn", "default_region": "NP", **prefixes})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    route=_route_tables(),
    picks=st.lists(
        st.tuples(st.sampled_from(sorted(_COUNTRIES)), st.integers(0, 400)), max_size=300
    ),
    max_recipients=st.integers(1, 7),
)
def test_every_sendable_number_is_in_exactly_one_batch_of_its_routed_account(
    route: Route, picks: list[tuple[str, int]], max_recipients: int
) -> None:
    accounts = {
        n: a.model_copy(update={"max_recipients": max_recipients}) for n, a in ACCOUNTS.items()
    }
    numbers = [_COUNTRIES[c][0].format(i) for c, i in picks]
    spec = build_spec(
        route=route, text="Hello {name}" if picks and picks[0][1] % 2 else "Hello",
        template_id=7, sender=None, send_at=None, name=None, idempotency_key=None,
        max_segments=10, window=None, window_tz=None, accounts=accounts,
    )  # fmt: skip
    rows = [{"msisdn": n, "name": f"n{i}", "code": "1"} for i, n in enumerate(numbers)]
    sink = _Capture()
    from campaigns.recipients_input import RowSource

    with RowSource(rows, spec.names) as source:
        tally = Planner(spec).run(source, sink, _NoSuppressions(), require_sendable=False)
    table = RouteTable(route)
    placed: Counter[str] = Counter()
    for batch in sink.closed:
        limits = get_adapter(batch.provider).limits
        assert 1 <= len(batch.items) <= max_recipients
        fmt = limits.number_format
        e164s = [to_e164_digits(item.msisdn, fmt) for item in batch.items]
        if limits.unique_numbers:
            assert len(set(e164s)) == len(e164s)
        for e164 in e164s:
            assert table.accounts_for(e164)[0] == batch.account, (e164, batch.account)
            placed[e164] += 1
        lane = next(lane for lane in spec.lanes if lane.account == batch.account)
        if lane.gateway.max_url_chars is not None:  # a GET gateway: the whole URL fits
            assert batch.text is not None
            request = RequestBatch(tuple(i.msisdn for i in batch.items), text=batch.text)
            url = get_adapter(batch.provider).build_request(accounts[batch.account], request).url
            assert len(str(url)) <= lane.gateway.max_url_chars
    assert all(count == 1 for count in placed.values())
    assert sum(placed.values()) == tally.valid
    distinct = {_e164(c, i) for c, i in picks}
    covered = {e for e in distinct if table.accounts_for(e)}
    assert tally.no_route == len(distinct - covered)
    assert tally.valid + tally.rejected == len(distinct)


def _e164(country: str, i: int) -> str:
    shape, _region = _COUNTRIES[country]
    number = shape.format(i).lstrip("+")
    return "977" + number if country == "977" else number
