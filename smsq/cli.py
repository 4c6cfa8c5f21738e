"""The ``smsq`` command line: submit and steer campaigns, run the sandbox, workers and beat.

Every mistake a user can make ends in one clear line on stderr and a non-zero exit, never
a traceback: see ``main``.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from campaigns import api
from campaigns.credits import label as credits_text
from campaigns.csvfile import MAX_ROW_CHARS
from campaigns.db import DatabaseUrlError, existing_database
from campaigns.errors import CampaignError, InputError
from campaigns.settings import get_settings
from campaigns.spec import utc_send_at
from campaigns.status import campaign_ids
from smsq import cli_api
from smsq.exports import write_csv
from smsq.views import campaigns_table, dumps, planned_label, to_jsonable, watch
from worker import connect as connect_workers

app = typer.Typer(
    name="smsq",
    help="Bulk-SMS campaigns on Celery and Redis, for five gateways and a local sandbox.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.command("api")(cli_api.api)
app.add_typer(cli_api.api_key_app, name="api-key")

out = Console()
err = Console(stderr=True)

CampaignId = Annotated[int, typer.Argument(help="campaign id (see `smsq status`)")]


class CliError(Exception):
    """Raised when a command cannot go on; its message is the one line the user sees."""


def _parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        example = "2026-12-01T09:30+05:45"
        raise InputError(f"--at: {value!r} is not an ISO date-time like {example}") from None
    if at.tzinfo is None:
        raise InputError(f"--at: {value!r} has no time zone offset (add e.g. +05:45 or Z)")
    try:
        utc_send_at(at)  # the API's own check, named as the CLI's option
    except InputError as exc:
        raise InputError(f"--at: {exc}") from None
    return at


def _parse_window(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    start, sep, end = value.partition("-")
    if not sep:
        raise InputError(f"--window: {value!r} is not HH:MM-HH:MM")
    return start.strip(), end.strip()


def _recipients(csv: Path | None, numbers: list[str]) -> str | list[str]:
    if csv is not None and numbers:
        raise InputError("give either --csv or numbers, not both")
    if csv is not None:
        if not csv.is_file():
            raise InputError(f"--csv: {csv} is not a readable file")
        return str(csv)
    if not numbers:
        raise InputError("no recipients: give --csv FILE or numbers")
    return [n for arg in numbers for n in arg.split(",") if n.strip()]


def _database() -> str:
    """The configured database, which must exist: a command that reads or steers campaigns
    never creates an empty SQLite file where a mistyped path points (``smsq db upgrade``
    does)."""
    url = get_settings().database_url
    existing_database(url)
    return url


def _check_broker() -> None:
    """Fail early, with one line, when the broker that workers listen on cannot be reached."""
    from kombu import Connection

    url = get_settings().broker_url
    try:
        with Connection(url, connect_timeout=3) as conn:
            # One quick retry: kombu's default waits 2 s before it, for a refused connection.
            conn.ensure_connection(max_retries=1, timeout=3, interval_start=0, interval_step=0)
    except Exception as exc:  # kombu raises transport-specific errors
        text = str(exc).strip()
        why = text.splitlines()[0] if text else type(exc).__name__
        raise CliError(f"broker unreachable at {_hide(url)}: {why}") from None


def _hide(url: str) -> str:
    from providers import redact_url

    return redact_url(url)


@app.command()
def submit(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option(help="configured account name")] = None,
    route: Annotated[
        str | None, typer.Option(help="configured route: each number by its prefix")
    ] = None,
    numbers: Annotated[list[str] | None, typer.Argument(help="numbers (or comma lists)")] = None,
    csv: Annotated[Path | None, typer.Option(help="CSV with a msisdn column")] = None,
    text: Annotated[str | None, typer.Option(help="text, {column} placeholders allowed")] = None,
    template_id: Annotated[int | None, typer.Option(help="SMSPlus.az template id")] = None,
    sender: Annotated[str | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option()] = None,
    at: Annotated[str | None, typer.Option(help="send time, ISO 8601 with offset")] = None,
    window: Annotated[str | None, typer.Option(help="daily send window HH:MM-HH:MM")] = None,
    tz: Annotated[str | None, typer.Option(help="time zone of --window")] = None,
    idempotency_key: Annotated[str | None, typer.Option()] = None,
    max_segments: Annotated[int, typer.Option()] = 10,
    phone_column: Annotated[
        str | None, typer.Option(help="the CSV column with the numbers (default: by its name)")
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="a row without a placeholder value fails the whole campaign")
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="write every row not sent, with its reason, to this CSV")
    ] = None,
    callback_url: Annotated[
        str | None, typer.Option(help="POST signed status callbacks here (http/https)")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="estimate only; writes nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Submit a campaign (or estimate it with --dry-run) through one account or a route.

    With --callback-url, the secret that signs its callbacks is printed once."""
    if (account is None) == (route is None):
        # A usage error (exit code 2, the help named), like click's own "Missing option".
        what = "give --account or --route, not both" if account else "Missing option '--account'"
        raise typer.BadParameter(f"{what} (or '--route')", ctx=ctx)
    kwargs: dict[str, Any] = dict(
        text=text, template_id=template_id, sender=sender, send_at=_parse_at(at), name=name,
        idempotency_key=idempotency_key, max_segments=max_segments,
        window=_parse_window(window), window_tz=tz, route=route, strict=strict,
        phone_column=phone_column, rejects=rejects, callback_url=callback_url,
    )  # fmt: skip
    recipients = _recipients(csv, numbers or [])
    _database()
    if dry_run:
        estimate = api.estimate(account, recipients, **kwargs)
        _emit(estimate) if as_json else _print_estimate(estimate, rejects)
        return
    _check_arguments(account, recipients, kwargs)  # a typo is reported before the broker
    _check_broker()
    connect_workers()  # submit hands the campaign to the workers at once

    campaign_id = api.submit_campaign(account, recipients, **kwargs)
    info = api.get_campaign(campaign_id)
    secret = api.callback_secret(campaign_id) if callback_url is not None else None
    if as_json:
        _emit(info if secret is None else {**to_jsonable(info), "callback_secret": secret})
        return
    _say(
        f"campaign {campaign_id} {info.state}: {info.recipients_total} rows, "
        f"{info.batches_total} batches, {planned_label(info)} planned"
    )
    if secret is not None:
        _say(f"callback secret (shown only now; it signs X-Smsq-Signature): {secret}")
    if rejects is not None:
        _say(f"rows not sent, with their reasons: {rejects}")


def _check_arguments(
    account: str | None, recipients: str | list[str], kwargs: dict[str, Any]
) -> None:
    """What can be checked without reading the rows: the account or route, the text and its
    length, the send time and window, the CSV's header (submit_campaign checks them all
    again)."""
    from campaigns.planning import Planner
    from campaigns.recipients_input import RowSource
    from campaigns.spec import build_spec

    own = {k: v for k, v in kwargs.items() if k not in ("phone_column", "rejects")}
    spec = build_spec(account, accounts=None, **own)
    Planner(spec)  # TextTooLong when the text alone is over the limits
    with RowSource(recipients, spec.names, phone_column=kwargs["phone_column"]):
        pass


def _say(message: str) -> None:
    """One line as it is: never wrapped at the terminal's width, no markup read into it."""
    out.print(message, soft_wrap=True, markup=False, highlight=False)


def _emit(value: object) -> None:
    """JSON on stdout as it is: no wrapping or colour, so scripts can parse it."""
    sys.stdout.write(dumps(value) + "\n")


def _print_estimate(estimate: api.Estimate, rejects: Path | None) -> None:
    """The estimate as three tables: the counts, every reason a row is not sent (with its
    first rows), and the first messages as they would go out."""
    out.print(_estimate_table(estimate))
    if estimate.problems:
        out.print(_problems_table(estimate))
    if estimate.samples:
        out.print(_samples_table(estimate))
    if rejects is not None:
        _say(f"rows not sent, with their reasons: {rejects}")


def _estimate_table(estimate: api.Estimate) -> Table:
    table = Table(title="estimate (nothing written)", show_header=False)
    for field in ("rows", "valid", "invalid", "duplicate", "suppressed", "rejected", "encoding",
                  "segments_max", "batches"):  # fmt: skip
        value = getattr(estimate, field)
        table.add_row(field, "" if value is None else str(value))
    table.add_row("credits", _estimate_credits(estimate))
    for field in ("balance", "balance_error", "number_column"):
        value = getattr(estimate, field)
        table.add_row(field, "" if value is None else str(value))
    if len(estimate.accounts) > 1 or estimate.no_route:
        table.add_row("no_route", str(estimate.no_route))
        for share in estimate.accounts:
            table.add_row(f"account {share.account}", _share_line(share))
    return table


def _estimate_credits(estimate: api.Estimate) -> str:
    if estimate.credit_unit != "mixed":
        return credits_text(estimate.credits, estimate.credit_unit, named=True)
    return "mixed units: " + ", ".join(
        f"{credits_text(s.credits, s.credit_unit, named=True)} on {s.account}"
        for s in estimate.accounts
    )


def _problems_table(estimate: api.Estimate) -> Table:
    table = Table(title="rows not sent, by reason", header_style="bold")
    for column in ("state", "rows", "reason", "first rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for problem in estimate.problems:
        table.add_row(
            problem.state, str(problem.count), problem.reason, "\n".join(problem.examples)
        )
    return table


def _samples_table(estimate: api.Estimate) -> Table:
    table = Table(title="messages as they would go out (first rows)", header_style="bold")
    for column in ("row", "number", "account", "text"):
        table.add_column(column, justify="right" if column == "row" else "left")
    for sample in estimate.samples:
        table.add_row(str(sample.row_no), sample.msisdn, sample.account, sample.text)
    return table


def _share_line(share: api.AccountEstimate) -> str:
    """One account's share of an estimate, in its gateway's units."""
    credits = credits_text(share.credits, share.credit_unit, named=True)
    balance = share.balance_error or "" if share.balance is None else f"{share.balance:g}"
    return (
        f"{share.provider}: {share.numbers} numbers, {share.batches} batches, "
        f"{share.segments} segments, {credits}, {share.rejected} rejected; balance {balance}"
    )


@app.command("send")
def send_cmd(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="one number")],
    text: Annotated[str | None, typer.Option(help="the text (text gateways)")] = None,
    template_id: Annotated[int | None, typer.Option(help="SMSPlus.az template id")] = None,
    account: Annotated[str | None, typer.Option(help="configured account name")] = None,
    route: Annotated[str | None, typer.Option(help="configured route")] = None,
    sender: Annotated[str | None, typer.Option()] = None,
    idempotency_key: Annotated[str | None, typer.Option()] = None,
    wait: Annotated[bool, typer.Option(help="wait for the gateway's answer")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Send one message now (an OTP, a receipt), ahead of campaign batches on its account."""
    from campaigns import messages

    if (account is None) == (route is None):
        what = "give --account or --route, not both" if account else "Missing option '--account'"
        raise typer.BadParameter(f"{what} (or '--route')", ctx=ctx)
    _check_broker()
    connect_workers()
    message_id = messages.send_message(
        number, text, template_id, account=account, route=route, sender=sender,
        idempotency_key=idempotency_key,
    )  # fmt: skip
    info = messages.get_message(message_id)
    deadline = time.monotonic() + SEND_WAIT_S
    while wait and info.state in _UNSETTLED and time.monotonic() < deadline:
        time.sleep(0.1)
        info = messages.get_message(message_id)
    if as_json:
        _emit(info)
        return
    # The gateway's words matter when it refused; on success they are noise ("queued", "OK").
    said = " ".join(w for w in (info.gateway_code, info.gateway_message) if w)
    why = f" ({said})" if said and info.state in _REFUSED else ""
    _say(f"message {message_id} {info.state} via {info.account}{why}")


SEND_WAIT_S = 60.0  # smsq send --wait gives up after this (the message goes on regardless)
_UNSETTLED = ("pending", "in_flight")
_REFUSED = ("failed", "unknown", "undelivered")


@app.command()
def status(
    campaign_id: Annotated[int | None, typer.Argument(help="one campaign; default: recent")] = None,
    limit: Annotated[int, typer.Option(help="how many recent campaigns")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show campaigns: state, recipients per state, credits, elapsed time, when one waits."""
    url = _database()
    if campaign_id is not None:
        ids = [campaign_id]
    else:  # campaigns only: a single message is read with smsq send --json
        ids = sorted(campaign_ids(limit, database_url=url))
    infos = [api.get_campaign(i) for i in ids]
    if as_json:
        _emit(infos[0] if campaign_id is not None else infos)
    else:
        out.print(campaigns_table(infos))


@app.command("watch")
def watch_cmd(
    campaign_ids: Annotated[list[int], typer.Argument(help="campaign ids")],
    timeout: Annotated[
        float | None, typer.Option(help="stop watching after this many seconds")
    ] = None,
) -> None:
    """Live progress until the campaigns end (elapsed time from each one's start)."""
    _database()
    for i in campaign_ids:
        api.get_campaign(i)  # fail with one line on an unknown id, before drawing bars
    infos = watch(campaign_ids, api.get_campaign, out, timeout_s=timeout)
    out.print(campaigns_table(infos))


@app.command()
def pause(campaign_id: CampaignId) -> None:
    """Pause a campaign before its next batch."""
    _database()
    api.pause_campaign(campaign_id)
    _say(f"campaign {campaign_id} paused")


@app.command()
def resume(campaign_id: CampaignId) -> None:
    """Resume a paused campaign; sent numbers are never sent again."""
    _database()
    api.get_campaign(campaign_id)  # an unknown id is reported before the broker
    _check_broker()
    connect_workers()

    state = api.resume_campaign(campaign_id)
    _say(f"campaign {campaign_id} {state}")


@app.command()
def cancel(campaign_id: CampaignId) -> None:
    """Cancel a campaign: every unsent number becomes cancelled."""
    _database()
    count = api.cancel_campaign(campaign_id)
    _say(f"campaign {campaign_id} cancelled ({count} numbers not sent)")


@app.command("retry-failed")
def retry_failed(campaign_id: CampaignId) -> None:
    """Send the failed numbers again (never the sent ones)."""
    _database()
    api.get_campaign(campaign_id)  # an unknown id is reported before the broker
    _check_broker()
    connect_workers()

    count = api.retry_failed(campaign_id)
    _say(f"campaign {campaign_id}: {count} failed numbers planned again")


RegionOption = Annotated[
    str | None, typer.Option("--region", help="country of numbers without a code, e.g. NP")
]
AccountOption = Annotated[
    str | None, typer.Option("--account", help="read national numbers in this account's country")
]
CsvOption = Annotated[Path | None, typer.Option("--csv", help="CSV with a number column")]
PhoneColumn = Annotated[str | None, typer.Option(help="the CSV column with the numbers")]


@app.command("suppress")
def suppress_cmd(
    numbers: Annotated[list[str] | None, typer.Argument(help="numbers (or comma lists)")] = None,
    reason: Annotated[str, typer.Option(help="why (opt-out, complaint, ...)")] = "opt-out",
    region: RegionOption = None,
    account: AccountOption = None,
    csv: CsvOption = None,
    phone_column: PhoneColumn = None,
) -> None:
    """Add numbers to the global opt-out list (with a country code, or --region/--account)."""
    count = api.suppress(reason=reason, **_opt_out(numbers, csv, region, account, phone_column))
    _say(f"{count} numbers suppressed")


@app.command("unsuppress")
def unsuppress_cmd(
    numbers: Annotated[list[str] | None, typer.Argument(help="numbers (or comma lists)")] = None,
    region: RegionOption = None,
    account: AccountOption = None,
    csv: CsvOption = None,
    phone_column: PhoneColumn = None,
) -> None:
    """Remove numbers from the global opt-out list (read as `suppress` reads them)."""
    count = api.unsuppress(**_opt_out(numbers, csv, region, account, phone_column))
    _say(f"{count} numbers unsuppressed")


def _opt_out(
    numbers: list[str] | None,
    csv: Path | None,
    region: str | None,
    account: str | None,
    phone_column: str | None,
) -> dict[str, Any]:
    """What suppress and unsuppress pass on: the numbers, and how to read national ones."""
    _database()
    recipients = _recipients(csv, numbers or [])
    return dict(numbers=recipients, default_region=region, account=account,
                phone_column=phone_column)  # fmt: skip


@app.command("suppressions")
def suppressions_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the opt-out list: each number with its reason and since when."""
    url = _database()
    entries = api.iter_suppressions(database_url=url)
    if as_json:
        _emit(list(entries))
        return
    count = 0
    for entry in entries:  # one line each, streamed: the list may be long
        _say(f"+{entry.msisdn}  {entry.created_at:%Y-%m-%d %H:%M}Z  {entry.reason or ''}".rstrip())
        count += 1
    err.print(f"{count} numbers on the opt-out list", highlight=False)


@app.command("recipients")
def recipients_cmd(
    campaign_id: CampaignId,
    state: Annotated[
        str | None, typer.Option(help="only this state (failed, rejected, ...)")
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="write to this file (default: stdout)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of CSV")] = False,
) -> None:
    """Every recipient as CSV: row, number, state, reason, gateway code and message, message
    id, credits (or one JSON object per line)."""
    url = _database()
    rows = api.iter_recipients(campaign_id, state, database_url=url)
    if as_json:
        for info in rows:
            sys.stdout.write(json.dumps(to_jsonable(info), ensure_ascii=False) + "\n")
        return
    if csv is None:
        write_csv(rows, sys.stdout)
        return
    with csv.open("w", newline="", encoding="utf-8") as out:
        count = write_csv(rows, out)
    _say(f"{count} recipients of campaign {campaign_id} written to {csv}")


@app.command("callbacks")
def callbacks_cmd(
    campaign_id: CampaignId,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A campaign's status callbacks: each event's seq, type, delivery state, attempts and
    last error (the secret is never shown again)."""
    from campaigns.callbacks import list_callbacks

    url, events = list_callbacks(campaign_id, database_url=_database())
    if as_json:
        _emit({"callback_url": url, "events": events})
        return
    if url is None:
        _say(f"campaign {campaign_id} has no callback_url")
        return
    counts = Counter(str(e.state) for e in events)
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    _say(f"campaign {campaign_id} callbacks to {url}: {summary or 'none yet'}")
    _say(f"{'seq':>5}  {'event':<12} {'type':<17} {'state':<10} {'tries':>5}  last error")
    for e in events:
        seq = "-" if e.seq is None else str(e.seq)
        _say(f"{seq:>5}  {e.event_id:<12} {e.type:<17} {e.state:<10} {e.attempts:>5}  "
             f"{e.last_error or '-'}")  # fmt: skip


@app.command()
def accounts(balance: Annotated[bool, typer.Option(help="ask each gateway")] = False) -> None:
    """List configured accounts with their limits (and balances with --balance)."""
    from campaigns.balance import fetch_balance
    from campaigns.gateway import gateway_for
    from providers import load_accounts

    rows: list[list[str]] = []
    reasons: list[str] = []
    for acc in load_accounts().values():
        gw = gateway_for(acc)
        rate_per_s = acc.rate_per_s or gw.adapter.limits.default_rate_per_s
        row = [
            acc.name,
            acc.provider,
            acc.base_url,
            acc.sender or "",
            f"{rate_per_s:g}",
            f"{acc.messages_per_s:g}" if acc.messages_per_s else "",
            str(gw.max_recipients),  # the account's override included
        ]
        if balance:
            value, why = fetch_balance(gw.adapter, acc)
            # Money or credits in full: "g" would show 123456.78 as 123457 and 1e8 as 1e+08.
            row.append(f"{value:,.2f}".removesuffix(".00") if value is not None else "n/a")
            if value is None:
                reasons.append(f"{acc.name}: {why or 'no balance'}")
        rows.append(row)
    table = Table(
        title="accounts",
        header_style="bold",
        caption="\n".join(reasons) or None,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    # Names and numbers are never cut on a narrow terminal; a long URL or sender folds.
    table.add_column("name", no_wrap=True)
    table.add_column("provider", no_wrap=True)
    table.add_column("base_url", overflow="fold")
    table.add_column("sender", overflow="fold")
    for column in ("req/s", "msg/s", "max/req", *(("balance",) if balance else ())):
        table.add_column(column, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    out.print(table)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sandbox(ctx: typer.Context) -> None:
    """Serve the sandbox imitating all five gateways (flags: python -m providers.sandbox -h)."""
    from providers.sandbox.cli import main as sandbox_main

    raise typer.Exit(sandbox_main(list(ctx.args)))


def _exec(argv: list[str]) -> NoReturn:
    """Replace this process with ``argv`` (celery), so signals reach it directly."""
    os.execv(argv[0], argv)


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="threads per process (default: from the account's rate)")
    ] = None,
    accounts: Annotated[
        str | None, typer.Option(help="serve only these accounts, in one process: a,b")
    ] = None,
    callbacks: Annotated[
        bool,
        typer.Option(
            help="also run the `now` process: single messages ahead of campaigns, and the "
            "status callbacks"
        ),
    ] = True,
) -> None:
    """Run the workers: a process per configured account (its queues and the control queue),
    and one for single messages and status callbacks."""
    from providers import load_accounts
    from worker import supervisor

    env = os.environ.get("SMSQ_WORKER_CONCURRENCY")
    together = [a.strip() for a in accounts.split(",") if a.strip()] if accounts else None
    configured = load_accounts()
    groups = supervisor.groups_for(
        configured, together=together, concurrency=concurrency or (int(env) if env else None)
    )
    if callbacks:
        served = {name for group in groups for name in group.accounts}
        groups.append(supervisor.now_group({name: configured[name] for name in sorted(served)}))
    supervisor.main(groups)


@app.command()
def beat() -> None:
    """Run Celery beat: the periodic tick (scheduled campaigns, windows, repairs)."""
    from worker.cli_support import beat_argv

    _exec(beat_argv())


@app.command()
def flower(
    port: Annotated[int, typer.Option()] = 5555,
    address: Annotated[str, typer.Option(help="0.0.0.0 in a container")] = "127.0.0.1",
) -> None:
    """Run Flower on the broker, behind basic auth (FLOWER_BASIC_AUTH=user:password)."""
    auth = os.environ.get("FLOWER_BASIC_AUTH")
    if not auth:
        # Never unauthenticated: make a password for this run and say it once.
        auth = f"smsq:{secrets.token_urlsafe(12)}"
        err.print(f"FLOWER_BASIC_AUTH not set; this run's login is {auth}")
    os.environ["FLOWER_BASIC_AUTH"] = auth
    argv = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "flower"]
    _exec([*argv, f"--port={port}", f"--address={address}"])


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema of the configured database."""
    from campaigns.schema import upgrade

    upgrade()
    _say(f"database at {_hide(get_settings().database_url)} is up to date")


@app.command()
def demo() -> None:
    """Run a real campaign per gateway end to end on embedded defaults."""
    from smsq.demo import run_demo

    run_demo(out)


def _fail(message: str, code: int = 1) -> NoReturn:
    # Plain text, one line: rich would wrap a long message at the terminal's width.
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    sys.stderr.write(f"smsq: error: {line}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _usage_errors() -> tuple[type[Exception], ...]:
    """click's usage errors, and those of the click that typer >= 0.2x vendors (typer._click)."""
    import click
    import typer.exceptions

    vendored = getattr(typer.exceptions, "TyperException", None)
    return (click.ClickException, *((vendored,) if vendored is not None else ()))


def _usage(exc: Exception) -> NoReturn:
    """A usage error as one line; a bare ``smsq`` (or ``smsq db``) prints its help instead."""
    format_message = getattr(exc, "format_message", None)
    message = format_message() if format_message is not None else str(exc)
    code = getattr(exc, "exit_code", 2)
    if type(exc).__name__ == "NoArgsIsHelpError":
        sys.stdout.write(message.rstrip() + "\n")
        raise SystemExit(code)
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and getattr(ctx, "command_path", None):
        message += f" (see `{ctx.command_path} --help`)"
    _fail(message, code)


def _database_error(exc: Exception) -> NoReturn:
    from sqlalchemy.exc import ProgrammingError

    text = str(getattr(exc, "orig", None) or exc).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    missing = isinstance(exc, ProgrammingError) or "no such table" in reason
    hint = " (try `smsq db upgrade`)" if missing else ""
    _fail(f"database at {_hide(get_settings().database_url)} unusable: {reason}{hint}", 2)


def _os_error(exc: OSError) -> NoReturn:
    """A file or folder that cannot be made or opened; the database's folder named as such."""
    from sqlalchemy.engine import make_url

    what = f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)
    url = get_settings().database_url
    try:
        parsed = make_url(url)
        database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    except Exception:  # an unparsable URL names no folder
        database = None
    if database and exc.filename and Path(exc.filename) in Path(database).parents:
        _fail(f"database at {_hide(url)} unusable: cannot create {what}", 2)
    _fail(what)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run a command; any error a user can cause is one line and a non-zero exit."""
    import click
    import typer
    from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

    try:
        code = app(args=argv, prog_name="smsq", standalone_mode=False)
    except (click.exceptions.Abort, typer.Abort):
        _fail("aborted", 130)
    except _usage_errors() as exc:
        _usage(exc)
    except (CampaignError, CliError) as exc:
        _fail(str(exc))
    except KeyError as exc:  # unknown account or provider: the message names it
        _fail(str(exc.args[0]) if exc.args else "not found")
    except (OperationalError, ProgrammingError, ArgumentError) as exc:
        _database_error(exc)
    except DatabaseUrlError as exc:
        _fail(f"database at {_hide(get_settings().database_url)} unusable: {exc}", 2)
    except ValueError as exc:  # pydantic's ValidationError: a bad config file or variable
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        _fail("configuration: " + "; ".join(lines[:3]))
    except OSError as exc:
        _os_error(exc)
    except MemoryError:
        _fail(
            f"out of memory (smsq reads a list a row at a time, rows up to {MAX_ROW_CHARS:,} "
            "characters: this machine has too little memory left)"
        )
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    if isinstance(code, int) and code:  # typer.Exit(n) comes back as n without standalone_mode
        raise SystemExit(code)
