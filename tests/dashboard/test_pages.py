"""The dashboard without a browser: its login, its CSRF tokens, what its pages show (escaped),
and that its buttons do what the Python API does."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import update

from campaigns import api as domain
from campaigns.api_keys import create_key, revoke_key
from campaigns.db import get_engine
from campaigns.models import CampaignState, RecipientState
from campaigns.tables import RECIPIENTS
from providers import Account
from smsq.dashboard.progress import duration_label, rate_label
from smsq.exports import COLUMNS

from .conftest import LATER, TestClient, csrf_of, log_in

PAGES = ["/", "/campaigns/1", "/campaigns/1?state=failed", "/campaigns/1/recipients.csv"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_stranger_to_the_login_and_back(browser: TestClient, path: str) -> None:
    answer = browser.get(path)
    assert answer.status_code == 303
    where = answer.headers["location"]
    assert where.startswith("/login")
    if path != "/":
        assert "next=" in where and browser.get(where).status_code == 200


def test_the_bars_poll_answers_a_stranger_401_not_a_page(browser: TestClient) -> None:
    answer = browser.get("/progress.json?ids=1")
    assert answer.status_code == 401 and answer.json()["error"] == "Unauthorized"


def test_a_login_with_a_key_opens_the_campaigns_and_keeps_only_its_id(
    browser: TestClient, key: str, campaign_id: int
) -> None:
    answer = log_in(browser, key, f"/campaigns/{campaign_id}")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/campaigns/{campaign_id}"
    cookie = answer.headers["set-cookie"]
    assert "smsq_session=" in cookie and "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert key not in cookie  # the session names the key's id, never the key
    listed = browser.get("/")
    assert listed.status_code == 200 and "spring sale" in listed.text
    assert key not in listed.text


@pytest.mark.parametrize("wrong", ["", "smsq_" + "x" * 43, "hunter2", "<script>alert(1)</script>"])
def test_a_wrong_key_is_refused_with_the_form_again(browser: TestClient, wrong: str) -> None:
    answer = log_in(browser, wrong)
    assert answer.status_code == 401
    assert "unknown or revoked" in answer.text and 'name="key"' in answer.text
    assert "<script>alert(1)" not in answer.text
    assert browser.get("/").status_code == 303  # still not logged in


def test_a_revoked_key_cannot_log_in_and_its_sessions_end(
    browser: TestClient, sqlite_url: str
) -> None:
    first = create_key("first", database_url=sqlite_url).key
    assert log_in(browser, first).status_code == 303
    assert browser.get("/").status_code == 200
    revoke_key("first", database_url=sqlite_url)
    assert browser.get("/").status_code == 303  # logged out at the next click
    assert log_in(browser, first).status_code == 401


@pytest.mark.parametrize("next_path", ["//evil.example/x", "https://evil.example", "/\\evil"])
def test_the_login_never_sends_anyone_off_site(
    browser: TestClient, key: str, next_path: str
) -> None:
    assert log_in(browser, key, next_path).headers["location"] == "/"


def test_logging_out_ends_the_session(dash: TestClient) -> None:
    token = csrf_of(dash.get("/"))
    assert dash.post("/logout", data={"csrf_token": token}).headers["location"] == "/login"
    assert dash.get("/").status_code == 303


def _state(sqlite_url: str, campaign_id: int) -> CampaignState:
    return domain.get_campaign(campaign_id, database_url=sqlite_url).state


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    dash: TestClient, sqlite_url: str, campaign_id: int, token: str | None
) -> None:
    data = {} if token is None else {"csrf_token": token}
    answer = dash.post(f"/campaigns/{campaign_id}/pause", data=data)
    assert answer.status_code == 403
    assert "did not come from this session" in answer.text
    assert _state(sqlite_url, campaign_id) == CampaignState.SCHEDULED


def test_another_sessions_token_is_refused(
    dash: TestClient, anonymous: TestClient, sqlite_url: str, campaign_id: int
) -> None:
    stranger = TestClient(anonymous.app)
    other_token = csrf_of(stranger.get("/login"))
    answer = dash.post(f"/campaigns/{campaign_id}/cancel", data={"csrf_token": other_token})
    assert answer.status_code == 403
    assert _state(sqlite_url, campaign_id) == CampaignState.SCHEDULED


def test_the_login_form_needs_its_token_too(browser: TestClient, key: str) -> None:
    browser.get("/login")
    answer = browser.post("/login", data={"key": key, "csrf_token": "forged"})
    assert answer.status_code == 403
    assert browser.get("/").status_code == 303


def test_the_buttons_pause_resume_and_cancel_through_the_domain(
    dash: TestClient, sqlite_url: str, campaign_id: int
) -> None:
    page = dash.get(f"/campaigns/{campaign_id}")
    assert 'data-action="pause"' in page.text and 'data-action="resume"' not in page.text
    token = csrf_of(page)
    paused = dash.post(f"/campaigns/{campaign_id}/pause", data={"csrf_token": token})
    assert paused.status_code == 303 and paused.headers["location"] == f"/campaigns/{campaign_id}"
    info = domain.get_campaign(campaign_id, database_url=sqlite_url)
    assert info.state == CampaignState.PAUSED and info.reason == "paused from the dashboard (tests)"
    shown = dash.get(f"/campaigns/{campaign_id}")
    assert f"Campaign #{campaign_id} paused" in shown.text  # said once, after the redirect
    assert "paused from the dashboard (tests)" in shown.text
    assert 'data-action="resume"' in shown.text
    assert dash.post(f"/campaigns/{campaign_id}/resume", data={"csrf_token": token}).is_redirect
    assert _state(sqlite_url, campaign_id) == CampaignState.SCHEDULED  # its send_at is ahead
    assert dash.post(f"/campaigns/{campaign_id}/cancel", data={"csrf_token": token}).is_redirect
    assert _state(sqlite_url, campaign_id) == CampaignState.CANCELLED
    again = dash.post(f"/campaigns/{campaign_id}/pause", data={"csrf_token": token})
    assert again.status_code == 303  # refused by the domain, said on the page
    assert f"campaign {campaign_id} is cancelled: cannot pause it" in dash.get(again.headers[
        "location"]).text  # fmt: skip


def test_retry_failed_plans_the_failed_numbers_again(
    dash: TestClient, sqlite_url: str, campaign_id: int
) -> None:
    _fail_rows(sqlite_url, [1])
    page = dash.get(f"/campaigns/{campaign_id}")
    assert 'data-action="retry-failed"' not in page.text  # not before it has started
    domain.pause_campaign(campaign_id, database_url=sqlite_url)
    page = dash.get(f"/campaigns/{campaign_id}")
    assert 'data-action="retry-failed"' in page.text
    answer = dash.post(f"/campaigns/{campaign_id}/retry-failed",
                       data={"csrf_token": csrf_of(page)})  # fmt: skip
    assert answer.status_code == 303
    assert "1 failed numbers planned again" in dash.get(answer.headers["location"]).text
    info = domain.get_campaign(campaign_id, database_url=sqlite_url)
    assert RecipientState.FAILED not in info.recipients


def _fail_rows(sqlite_url: str, rows: list[int], message: str = "Invalid Number") -> None:
    with get_engine(sqlite_url).begin() as conn:
        conn.execute(
            update(RECIPIENTS).where(RECIPIENTS.c.row_no.in_(rows)).values(
                state=RecipientState.FAILED, gateway_code="1002", gateway_message=message
            )
        )  # fmt: skip


def test_html_in_a_campaigns_name_and_a_gateways_message_is_shown_as_text(
    dash: TestClient, sqlite_url: str, accounts: dict[str, Account]
) -> None:
    name = '<script>alert("name")</script>'
    campaign_id = domain.submit_campaign(
        "aakashsms_v3", ["9841000001", "9841000002"], "Hi", name=name, send_at=LATER,
        database_url=sqlite_url, accounts=accounts,
    )  # fmt: skip
    _fail_rows(sqlite_url, [2], message="<img src=x onerror=alert(2)>")
    for path in ("/", f"/campaigns/{campaign_id}", f"/campaigns/{campaign_id}?state=failed"):
        page = dash.get(path)
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;" in page.text
    assert "&lt;img src=x onerror=alert(2)&gt;" in dash.get(f"/campaigns/{campaign_id}").text


def test_an_unknown_campaign_is_a_404_page(dash: TestClient) -> None:
    for path in ("/campaigns/999", "/campaigns/999/recipients.csv"):
        page = dash.get(path)
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "There is no campaign #999." in page.text and "All campaigns" in page.text


def test_an_unknown_page_or_a_bad_link_is_a_page_and_v1_still_answers_json(
    dash: TestClient,
) -> None:
    missing = dash.get("/no-such-page")
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    bad = dash.get("/?state=sleeping")
    assert bad.status_code == 400 and "not one the dashboard makes" in bad.text
    assert dash.get("/v1/campaigns").json()["error"] == "Unauthorized"  # keys, not cookies


def test_pages_carry_a_strict_content_security_policy(dash: TestClient, campaign_id: int) -> None:
    page = dash.get(f"/campaigns/{campaign_id}")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline
    assert dash.get("/static/dashboard.js").status_code == 200
    assert dash.get("/static/dashboard.css").status_code == 200


def test_no_page_shows_a_credential(
    dash: TestClient, campaign_id: int, accounts: dict[str, Account]
) -> None:
    secrets = [s for account in accounts.values() for s in account.secret_values()]
    assert secrets
    for path in ("/", f"/campaigns/{campaign_id}", f"/progress.json?ids={campaign_id}"):
        text = dash.get(path).text
        assert not [s for s in secrets if s in text]


def test_the_campaign_page_shows_counts_schedule_and_window(
    dash: TestClient, sqlite_url: str, accounts: dict[str, Account]
) -> None:
    campaign_id = domain.submit_campaign(
        "aakashsms_v3", ["9841000001", "12"], "Hi", name="night", send_at=LATER,
        window=("09:00", "18:00"), window_tz="Asia/Kathmandu", database_url=sqlite_url,
        accounts=accounts,
    )  # fmt: skip
    page = dash.get(f"/campaigns/{campaign_id}").text
    assert "09:00–18:00 Asia/Kathmandu" in page
    assert "2030-01-01 09:00:00 UTC" in page  # send at
    assert '<b data-count="pending">1</b><span>pending</span>' in page
    assert '<b data-count="invalid">1</b><span>invalid</span>' in page
    assert "too short for a Nepali mobile number" in page  # the invalid row's reason


def test_the_recipients_table_filters_by_state_and_pages(
    dash: TestClient, sqlite_url: str, accounts: dict[str, Account]
) -> None:
    numbers = [f"98410{i:05d}" for i in range(60)] + ["12"]
    campaign_id = domain.submit_campaign(
        "aakashsms_v3", numbers, "Hi", send_at=LATER, database_url=sqlite_url, accounts=accounts
    )
    first = dash.get(f"/campaigns/{campaign_id}")
    assert first.text.count('class="msisdn"') == 50 and "50 shown of 61" in first.text
    after = first.text.split("after=")[1].split("#")[0]
    second = dash.get(f"/campaigns/{campaign_id}?after={after}")
    assert second.text.count('class="msisdn"') == 11 and "Next page" not in second.text
    invalid = dash.get(f"/campaigns/{campaign_id}?state=invalid")
    assert invalid.text.count('class="msisdn"') == 1 and "1 shown of 1" in invalid.text


def test_the_csv_button_streams_the_apis_export(dash: TestClient, campaign_id: int) -> None:
    page = dash.get(f"/campaigns/{campaign_id}")
    assert f'href="/campaigns/{campaign_id}/recipients.csv"' in page.text
    answer = dash.get(f"/campaigns/{campaign_id}/recipients.csv")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 4
    invalid = dash.get(f"/campaigns/{campaign_id}/recipients.csv?state=invalid").text
    assert [r["msisdn"] for r in csv.DictReader(io.StringIO(invalid))] == ["12"]


def test_the_bars_poll_gives_each_campaigns_progress(
    dash: TestClient, sqlite_url: str, campaign_id: int
) -> None:
    _fail_rows(sqlite_url, [1])
    body = dash.get(f"/progress.json?ids={campaign_id},999,x").json()
    [shown] = body["campaigns"]  # 999 does not exist, x is no id
    assert shown["id"] == campaign_id and shown["state"] == "scheduled"
    assert shown["bar"]["total"] == 3 and shown["bar"]["done"] == 1
    assert shown["bar"]["segments"] == {"sent": 0, "failed": 1, "unknown": 0, "cancelled": 0}
    assert shown["recipients"] == {"pending": 2, "failed": 1, "invalid": 1}
    assert shown["accounts"] == []  # one account: no bar of its own


def test_a_campaign_spanning_accounts_has_a_bar_per_account(
    dash: TestClient, sqlite_url: str, accounts: dict[str, Account]
) -> None:
    from campaigns.routes import Route

    route = Route.model_validate({"name": "two", "977": ["aakashsms_v3"], "880": ["aamarsms"]})
    campaign_id = domain.submit_campaign(
        recipients=["+9779841000001", "+9779841000002", "+8801711000002"], text="Hi",
        route=route, send_at=LATER, database_url=sqlite_url, accounts=accounts,
    )  # fmt: skip
    page = dash.get("/").text
    assert 'data-account="aakashsms_v3"' in page and 'data-account="aamarsms"' in page
    [shown] = dash.get(f"/progress.json?ids={campaign_id}").json()["campaigns"]
    assert {a["label"]: a["total"] for a in shown["accounts"]} == {"aakashsms_v3": 2,
                                                                   "aamarsms": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, ""), (0.4, "0s"), (42, "42s"), (59.6, "1m 00s"), (200, "3m 20s"),
     (7500, "2h 05m")],
)  # fmt: skip
def test_times_left_read_as_the_script_writes_them(seconds: float | None, shown: str) -> None:
    assert duration_label(seconds) == shown


@pytest.mark.parametrize(
    ("rate", "shown"), [(None, ""), (0.0, ""), (0.5, "0.5/s"), (9.94, "9.9/s"), (1234.4, "1,234/s")]
)
def test_rates_read_as_the_script_writes_them(rate: float | None, shown: str) -> None:
    assert rate_label(rate) == shown
