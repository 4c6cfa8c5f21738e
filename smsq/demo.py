"""``smsq demo``: one real campaign per gateway, end to end, on embedded defaults.

SQLite in ``var/demo/smsq.db``, Redis at ``$SMSQ_BROKER_URL`` when one answers there (else a
private ``redis-server`` on a free port), the sandbox on loopback standing in for all five
gateways, real Celery worker processes and beat. Every process it starts is stopped on the
way out, Ctrl-C included.
"""

from __future__ import annotations

import csv
import random
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rich.console import Console

from campaigns import api
from campaigns.routes import Route
from providers import Account
from providers.sandbox.accounts import sandbox_accounts
from smsq.views import campaigns_table, watch

if TYPE_CHECKING:
    from smsq.local import LocalStack

DEMO_DIR = Path("var") / "demo"
SCHEDULED_DELAY_S = 8  # the scheduled campaign starts this long after submission
DEMO_RATE_PER_S = 6.0  # requests per second per account: slow enough to watch the bars move
DEMO_LATENCY_MS = 25.0  # the sandbox answers like a gateway a little way off
DEMO_TIMEOUT_S = 120.0
SUPPRESSED = "8801711000001"  # on the opt-out list, and in the Bangladesh campaign's list

# Real-looking numbers per gateway, as people paste them.
_NP_PREFIXES = ("984", "985", "986", "974", "976", "980", "981", "982")
_BD_PREFIXES = ("017", "018", "019", "016", "015", "013")
_AZ_PREFIXES = ("050", "051", "055", "070", "077")
_CI_PREFIXES = ("07", "05", "01")
_NAMES = ("Aarav", "Sita", "Rina", "Bikash", "Maya", "Anil", "Gita", "Hari", "Kiran", "Puja")
_AZ_NAMES = ("Aysel", "Rəşad", "Günay", "Elvin", "Nərmin", "Tural")
_CI_NAMES = ("Awa", "Koffi", "Aminata", "Yao", "Fatou", "Moussa", "Adjoua")


@dataclass
class DemoCampaign:
    """One campaign the demo submits (through an account, or a route), and what it shows."""

    account: str | None
    name: str
    recipients: Any
    text: str | None = None
    template_id: int | None = None
    send_at: datetime | None = None
    shows: str = ""
    route: Route | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# One route over every country, and one whose first account runs out of credits part way.
WORLD = Route.model_validate(
    {
        "name": "world",
        "default_region": "NP",
        "977": ["aakashsms_v3", "aakashsms_v1"],
        "880": ["aamarsms"],
        "994": ["smsplus_az", "smspresto"],
        "225": ["smspresto"],
    }
)
PREPAID = "aakashsms_v3_low_credits"  # a sandbox account; the demo gives it a few credits
PREPAID_CREDITS = 150.0
PREPAID_ROUTE = Route.model_validate(
    {"name": "nepal-prepaid", "default_region": "NP", "977": [PREPAID, "aakashsms_v1"]}
)


def _numbers(rng: random.Random, prefixes: tuple[str, ...], digits: int, count: int) -> list[str]:
    return [
        rng.choice(prefixes) + "".join(rng.choices("0123456789", k=digits)) for _ in range(count)
    ]


def _with_mistakes(numbers: list[str], rng: random.Random, bad: list[str]) -> list[str]:
    """The list as people hand it over: a few repeats and a few that cannot be numbers."""
    repeats = rng.sample(numbers, k=max(1, len(numbers) // 100))
    out = numbers + repeats + bad
    rng.shuffle(out)
    return out


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def demo_campaigns(
    workdir: Path, suppressed: str = SUPPRESSED, seed: int = 7
) -> list[DemoCampaign]:
    """The demo's campaigns: several thousand numbers over the five gateways."""
    rng = random.Random(seed)
    np_plain = _with_mistakes(_numbers(rng, _NP_PREFIXES, 7, 900), rng, ["12345", "01-4412345"])
    np_people = [{"msisdn": "+977 " + n, "name": rng.choice(_NAMES)}
                 for n in _numbers(rng, _NP_PREFIXES, 7, 800)]  # fmt: skip
    bd = _with_mistakes(_numbers(rng, _BD_PREFIXES, 8, 1000), rng, ["0171234", "+1 415 555 0100"])
    bd.append(suppressed)
    az_people = [{"msisdn": n, "name": rng.choice(_AZ_NAMES)}
                 for n in _numbers(rng, _AZ_PREFIXES, 7, 600)]  # fmt: skip
    ci_people = [{"msisdn": "+225 " + n, "name": rng.choice(_CI_NAMES)}
                 for n in _numbers(rng, _CI_PREFIXES, 8, 700)]  # fmt: skip
    soon = datetime.now(UTC) + timedelta(seconds=SCHEDULED_DELAY_S)
    return [
        DemoCampaign("aakashsms_v1", "nepal-festival", np_plain,
                     text="Happy Tihar from smsq! 🪔 Show this SMS for 10% off.",
                     shows="emoji (UCS-2), invalid and duplicate numbers"),
        DemoCampaign("aakashsms_v3", "nepal-personal",
                     _write_csv(workdir / "nepal.csv", np_people),
                     text="नमस्ते {name}, तपाईंको अर्डर तयार छ।",
                     shows="CSV, personalized Devanagari text grouped by rendered text"),
        DemoCampaign("aamarsms", "bangladesh-bangla", bd,
                     text="প্রিয় গ্রাহক, আপনার অর্ডার পাঠানো হয়েছে। ধন্যবাদ!",
                     shows="Bangla over a GET gateway (URL budget), a suppressed number"),
        DemoCampaign("smsplus_az", "azerbaijan-template", az_people, template_id=2,
                     shows="approved template with a parameter per number (Azerbaijani)"),
        DemoCampaign("smspresto", "cote-divoire-scheduled", ci_people,
                     text="Bonjour {name}, votre colis arrive demain.", send_at=soon,
                     shows=f"a text per recipient, scheduled {SCHEDULED_DELAY_S} s ahead"),
        DemoCampaign(None, "four-countries", _mixed(rng), route=WORLD,
                     text="Hello {name}, your parcel ships today.", template_id=2,
                     shows="one route: each number to its country's gateway"),
        DemoCampaign(None, "nepal-failover", _numbers(rng, _NP_PREFIXES, 7, 500),
                     route=PREPAID_ROUTE, text="Namaste! Your bill is ready.",
                     shows=f"the first account's {PREPAID_CREDITS:g} credits run out: "
                           "the rest fails over to the second"),
    ]  # fmt: skip


def _mixed(rng: random.Random) -> list[dict[str, str]]:
    """People of four countries in one list, written as each writes their own numbers."""
    rows = [{"msisdn": n, "name": rng.choice(_NAMES)} for n in _numbers(rng, _NP_PREFIXES, 7, 120)]
    rows += [{"msisdn": "+88" + n, "name": "Rahim"} for n in _numbers(rng, _BD_PREFIXES, 8, 80)]
    rows += [{"msisdn": "+994 " + n[1:], "name": rng.choice(_AZ_NAMES)}
             for n in _numbers(rng, _AZ_PREFIXES, 7, 60)]  # fmt: skip
    rows += [{"msisdn": "+225 " + n, "name": rng.choice(_CI_NAMES)}
             for n in _numbers(rng, _CI_PREFIXES, 8, 80)]  # fmt: skip
    rng.shuffle(rows)
    return rows


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Let SIGTERM unwind like Ctrl-C, so the cleanup below runs either way."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _demo_accounts(sandbox_url: str) -> dict[str, Account]:
    wanted = ("aakashsms_v1", "aakashsms_v3", "aamarsms", "smsplus_az", "smspresto", PREPAID)
    demo = sandbox_accounts(sandbox_url)
    return {name: demo[name].model_copy(update={"rate_per_s": DEMO_RATE_PER_S}) for name in wanted}


def run_demo(console: Console, workdir: Path = DEMO_DIR) -> None:
    """Start everything, submit the demo campaigns, watch them, summarize, stop everything."""
    from smsq.local import local_stack

    started = time.monotonic()
    workdir = workdir.resolve()  # the worker processes run in a folder of their own
    shutil.rmtree(workdir, ignore_errors=True)  # a fresh database each run
    workdir.mkdir(parents=True)
    db_path = workdir / "smsq.db"
    database_url = f"sqlite:///{db_path}"
    with _terminate_as_interrupt():
        campaigns = demo_campaigns(workdir, SUPPRESSED)
        faults = {"latency_ms": DEMO_LATENCY_MS, "fail_numbers": fail_numbers(campaigns)}
        with local_stack(
            workdir=workdir / "run", database_url=database_url, accounts=_demo_accounts,
            configured_redis=True, sandbox_faults=faults, workers={"demo": 2},
            tick_interval_s=1.0, stale_after_s=30.0, api=True, callbacks=True,
        ) as stack:  # fmt: skip
            config = stack.cluster.config
            where = "private" if stack.private_redis else "given"
            console.print(f"[bold]redis[/] {config.broker_url} ({where})")
            console.print(f"[bold]sandbox[/] {stack.sandbox.url} (all five gateways)")
            console.print("[bold]workers[/] 2 processes, the callbacks worker and beat started")
            _print_api(console, stack, database_url)
            stack.sandbox.set_balances(**{PREPAID: PREPAID_CREDITS})
            accounts = dict(config.accounts)
            ids = _submit_all(console, campaigns, database_url, accounts)
            infos = watch(ids, lambda i: api.get_campaign(i, database_url=database_url),
                          console, timeout_s=DEMO_TIMEOUT_S)  # fmt: skip
            accepted = len(stack.sandbox.messages())
        console.print(campaigns_table(infos))
        _report(console, infos, accepted, db_path, time.monotonic() - started)


def _print_api(console: Console, stack: LocalStack, database_url: str) -> None:
    """The API's address and a key for it (the demo's own database: a throwaway key)."""
    from campaigns.api_keys import create_key

    assert stack.api is not None
    key = create_key("demo", database_url=database_url).key
    console.print(f"[bold]api[/] {stack.api.url}/v1 (OpenAPI: {stack.api.url}/v1/openapi.json)")
    console.print(f"  curl -H 'Authorization: Bearer {key}' {stack.api.url}/v1/campaigns",
                  soft_wrap=True, highlight=False, markup=False)  # fmt: skip
    console.print(f"[bold]dashboard[/] {stack.api.url}/ (log in with that key, while the demo "
                  "runs)", soft_wrap=True, highlight=False)  # fmt: skip


def fail_numbers(campaigns: list[DemoCampaign]) -> list[str]:
    """Numbers the sandbox gateways will refuse one by one (as gateways do), in the
    gateways' own formats: two Nepali numbers of the first campaign, two Bangladeshi ones."""
    nepal = [n for n in campaigns[0].recipients if len(n) == 10][:2]
    bangladesh = ["88" + n for n in campaigns[2].recipients if len(n) == 11][:2]
    return nepal + bangladesh


def _submit_all(
    console: Console,
    campaigns: list[DemoCampaign],
    database_url: str,
    accounts: dict[str, Account],
) -> list[int]:
    api.suppress([f"+{SUPPRESSED}"], "opted out (demo)", database_url=database_url)
    ids = []
    for c in campaigns:
        campaign_id = api.submit_campaign(
            c.account, c.recipients, text=c.text, template_id=c.template_id, send_at=c.send_at,
            name=c.name, route=c.route, database_url=database_url, accounts=accounts,
        )  # fmt: skip
        info = api.get_campaign(campaign_id, database_url=database_url)
        console.print(f"  #{campaign_id} {c.name}: {info.recipients_total} rows, "
                      f"{info.batches_total} batches, {info.encoding}; {c.shows}")  # fmt: skip
        ids.append(campaign_id)
    return ids


def _report(console: Console, infos: list[Any], accepted: int, db: Path, took_s: float) -> None:
    # Delivered and undelivered numbers were sent first: the gateway accepted them too.
    sent = sum(i.recipients.get(s, 0) for i in infos for s in ("sent", "delivered", "undelivered"))
    verdict = "they agree" if accepted == sent else "they DISAGREE"
    console.print(
        f"The sandbox accepted {accepted} messages; the database records {sent} sent "
        f"({verdict}). The demo took {took_s:.1f} s."
    )
    console.print(f"Database: {db.resolve()}")
    console.print(f"  SMSQ_DATABASE_URL=sqlite:///{db} .venv/bin/smsq status")
    console.print(f'  sqlite3 {db} "select state, count(*) from recipients group by state"')
