"""The dashboard in a real browser: Playwright driving Debian's Chromium against the API's
application on a loopback port, over a running cluster (worker, beat, Redis, the sandbox).

The test logs in with a key, watches a running campaign's bar move (read twice, the page's
script moved it), pauses the campaign with its button and checks the database agrees,
downloads the CSV export, checks that no page is wider than a phone, and saves a screenshot
of each page at a desktop's and a phone's width under ``var/screenshots/``. Chromium is
launched from ``/usr/bin/chromium`` (``SMSQ_CHROMIUM`` to use another): Playwright never
downloads a browser. Without one, the test is skipped and says where it looked.
"""

from __future__ import annotations

import csv
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from campaigns import api as domain
from campaigns.api_keys import create_key
from campaigns.models import CampaignState, PauseKind
from campaigns.routes import Route
from providers import Account
from providers.sandbox.client import SandboxClient, SandboxProcess
from smsq.api import ApiConfig, create_app
from smsq.api_process import free_port
from smsq.exports import COLUMNS
from tests.cli.helpers import funded_accounts
from tests.fixtures.cluster import StartCluster
from worker.local import LocalCluster

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = os.environ.get("SMSQ_CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}  # an iPhone 12-15's CSS width
SLOW = "aakashsms_v3"
# The slow account sends at most 4 requests of 5 numbers a second (its own rate limit, on
# top of the sandbox's 100 ms per request): 300 numbers take 15 s or more, so the campaign
# is still running while the test watches it, and is paused long before it ends.
SLOW_RATE_PER_S, SLOW_BATCH, SLOW_NUMBERS = 4.0, 5, 300
MOVE_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser's path; the test is skipped, before any cluster starts, without one."""
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; or SMSQ_CHROMIUM)")
    return CHROMIUM


@contextmanager
def _served(app: FastAPI) -> Iterator[str]:
    """``app`` on a free loopback port, in a thread of this process; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def cluster(
    chromium: str, start_cluster: StartCluster, sandbox_proc: SandboxProcess
) -> Iterator[LocalCluster]:
    """One worker process (two slots) and beat, the slow account throttled."""
    accounts = funded_accounts(sandbox_proc.url)
    accounts[SLOW] = accounts[SLOW].model_copy(
        update={"rate_per_s": SLOW_RATE_PER_S, "max_recipients": SLOW_BATCH}
    )
    with start_cluster(
        accounts, folder="dashboard-cluster", workers={"w1": 2}, tick_interval_s=0.3
    ) as running:
        yield running


def _submit(cluster: LocalCluster, accounts: dict[str, Account]) -> tuple[int, int]:
    """A routed campaign that ends at once (two accounts) and the slow one, in that order."""
    db = cluster.config.database_url
    route = Route.model_validate({"name": "two", "977": ["aakashsms_v1"], "225": ["smspresto"]})
    routed = domain.submit_campaign(
        recipients=[f"+97798420{i:05d}" for i in range(40)]
        + [f"+22507{i:08d}" for i in range(30)],
        text="Hello", route=route, name="Routed: Nepal & Côte d'Ivoire", database_url=db,
        accounts=accounts,
    )  # fmt: skip
    numbers = [f"98410{i:05d}" for i in range(SLOW_NUMBERS)] + ["12345"]
    slow = domain.submit_campaign(
        SLOW, numbers, "Namaste! Dashain offers inside.", name="Dashain greetings",
        database_url=db, accounts=accounts,
    )  # fmt: skip
    return routed, slow


def _done(page: Any, selector: str) -> int:
    return int(page.get_attribute(selector + " [data-bar]", "aria-valuenow"))


def _fits_a_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide at {PHONE['width']}px"


def test_the_dashboard_in_a_browser(
    chromium: str, cluster: LocalCluster, sandbox: SandboxClient, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    sandbox.set_faults(latency_ms=100)
    config = cluster.config
    key = create_key("browser", database_url=config.database_url).key
    app = create_app(ApiConfig(database_url=config.database_url, accounts=config.accounts))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with _served(app) as base, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        desktop = browser.new_context(viewport=DESKTOP)
        page = desktop.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        # A stranger is sent to the login; the key logs in and comes back.
        routed, slow = _submit(cluster, dict(config.accounts))
        page.goto(f"{base}/")
        assert page.url.startswith(f"{base}/login")
        page.screenshot(path=SCREENSHOTS / "login-desktop.png")
        page.fill("#key", key)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(f"{base}/")

        # The running campaign's bar moves by itself (the page's script polls).
        row = f"[data-campaign='{slow}']"
        page.wait_for_function(
            "sel => +document.querySelector(sel + ' [data-bar]').getAttribute('aria-valuenow') > 0",
            arg=row, timeout=MOVE_TIMEOUT_MS,
        )  # fmt: skip
        first = _done(page, row)
        page.wait_for_function(
            "([sel, was]) => +document.querySelector(sel + ' [data-bar]')"
            ".getAttribute('aria-valuenow') > was",
            arg=[row, first], timeout=MOVE_TIMEOUT_MS,
        )  # fmt: skip
        second = _done(page, row)
        assert second > first, (first, second)
        assert page.inner_text(f"{row} [data-field=state]") == "running"
        page.wait_for_selector(f"[data-campaign='{routed}'][data-state='completed']",
                               timeout=MOVE_TIMEOUT_MS)  # fmt: skip
        assert page.locator(f"[data-campaign='{routed}'] [data-account]").count() == 2
        page.wait_for_function(  # the rate and time left appear once there is a rate
            "sel => document.querySelector(sel + ' [data-field=left]').textContent.trim()",
            arg=row, timeout=MOVE_TIMEOUT_MS,
        )  # fmt: skip
        page.screenshot(path=SCREENSHOTS / "campaigns-desktop.png", full_page=True)

        # Its page; pause it with the button, and the database agrees.
        page.click(f"{row} a.name")
        page.wait_for_url(f"{base}/campaigns/{slow}")
        page.screenshot(path=SCREENSHOTS / "campaign-running-desktop.png")
        page.click("button[data-action=pause]")
        page.wait_for_url(f"{base}/campaigns/{slow}")
        assert f"Campaign #{slow} paused" in page.inner_text(".flash")
        assert page.inner_text("[data-campaign] [data-field=state]") == "paused"
        info = domain.get_campaign(slow, database_url=config.database_url)
        assert (info.state, info.pause_kind) == (CampaignState.PAUSED, PauseKind.USER)
        assert info.reason == "paused from the dashboard (browser)"
        assert page.locator("button[data-action=resume]").count() == 1
        page.screenshot(path=SCREENSHOTS / "campaign-desktop.png", full_page=True)

        # The CSV button downloads every row, with its state.
        with page.expect_download() as download:
            page.click("[data-export]")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        with saved.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert tuple(rows[0]) == COLUMNS and len(rows) == SLOW_NUMBERS + 1
        states = {r["state"] for r in rows}
        assert "sent" in states and "invalid" in states, states
        assert saved.name == f"campaign-{slow}-recipients.csv"

        # A phone: the same session, every page within its width.
        phone = browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
            storage_state=desktop.storage_state(),
        )  # fmt: skip
        small = phone.new_page()
        small.on("pageerror", lambda exc: errors.append(str(exc)))
        for path, name in (("/", "campaigns"), (f"/campaigns/{slow}", "campaign"),
                           (f"/campaigns/{routed}", "campaign-routed")):  # fmt: skip
            small.goto(base + path)
            _fits_a_phone(small)
            small.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
        stranger = browser.new_context(viewport=PHONE, device_scale_factor=2).new_page()
        stranger.goto(f"{base}/")
        _fits_a_phone(stranger)
        stranger.screenshot(path=SCREENSHOTS / "login-phone.png")
        browser.close()
    domain.cancel_campaign(slow, database_url=config.database_url)
    assert errors == []  # the pages' script threw nothing
