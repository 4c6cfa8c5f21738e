"""The README stays true: its commands parse against the real CLI, its make targets exist,
its config example loads, and its Python example runs (against the sandbox)."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main

from campaigns import get_campaign, set_dispatcher
from campaigns.routes import Route, RouteTable, load_routes
from campaigns.settings import Settings, get_settings
from providers.sandbox.client import SandboxClient
from smsq.cli import app
from tests.cli.helpers import Dispatches

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _shell_commands() -> list[str]:
    """Every command of the sh blocks: continuation lines joined, comments and `;` split."""
    commands: list[str] = []
    for block in _blocks("sh"):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #")[0].split(" # ")[0].strip()
            commands += [part.strip() for part in line.split(" ; ") if part.strip()]
    return commands


def _smsq_commands() -> list[list[str]]:
    out = []
    for command in _shell_commands():
        words = shlex.split(command)
        while words and "=" in words[0] and not words[0].startswith("-"):
            words = words[1:]  # VAR=value prefixes
        if words and words[0] == "smsq":
            out.append(words[1:])
    return out


def test_readme_starts_with_exactly_the_two_commands() -> None:
    first = _blocks("sh")[0].strip().splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["make demo", "make test"]


def test_every_make_target_named_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.M))
    named = set(re.findall(r"`make (\w+)`", README)) | {
        c.split()[1] for c in _shell_commands() if c.startswith("make ")
    }
    assert named and named <= targets


def _is_group(command: Any) -> bool:
    # typer vendors click: its groups are not click.Group, so ask for the group's methods.
    return hasattr(command, "list_commands") and hasattr(command, "get_command")


def _resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The (sub)command the words name, and the words left for it to parse."""
    command: Any = typer.main.get_command(app)
    args = list(words)
    while _is_group(command):
        ctx = command.make_context(command.name, [], resilient_parsing=True)
        name = args.pop(0)
        sub = command.get_command(ctx, name)
        assert sub is not None, f"README names `smsq {' '.join(words)}`: no {name!r}"
        command = sub
    return command, args


def test_every_smsq_command_in_the_readme_parses() -> None:
    commands = _smsq_commands()
    assert len(commands) >= 15
    for words in commands:
        command, args = _resolve(words)
        # make_context parses every option and argument as the CLI would, or raises
        with command.make_context(command.name, args) as ctx:
            assert ctx.command is command


def test_an_unknown_option_would_be_caught() -> None:
    """The check above can fail: a misspelt option is refused by make_context."""
    command, args = _resolve(["submit", "--account", "x", "--txet", "hi", "1"])
    with pytest.raises(Exception, match="txet"):
        command.make_context(command.name, args)


def test_every_smsq_subcommand_is_documented() -> None:
    root: Any = typer.main.get_command(app)
    ctx = root.make_context("smsq", [], resilient_parsing=True)
    documented = {words[0] for words in _smsq_commands()}
    assert set(root.list_commands(ctx)) <= documented


def test_settings_named_in_the_readme_exist() -> None:
    fields = {f"SMSQ_{name.upper()}" for name in Settings.model_fields}
    # and the variables .env.example documents (tests/ops checks that the code reads them)
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    fields |= set(re.findall(r"^#? ?(SMSQ_[A-Z_]+)=", example, flags=re.M))
    named = set(re.findall(r"`(SMSQ_[A-Z_]+)`", README)) - {"SMSQ_CONFIG", "SMSQ_TEST_PG_URL"}
    assert named and named <= fields, named - fields


def test_config_example_and_python_example_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: SandboxClient, redis_url: str
) -> None:
    """The README's TOML loads as written; pointed at the sandbox and the private Redis, its
    Python example runs and hands its campaign to the workers' broker."""
    from campaigns.db import dispose_engines
    from providers import load_accounts

    toml, route_example = _blocks("toml")
    config = tmp_path / "smsq.toml"
    # Every account at the sandbox: no test reaches a real gateway.
    config.write_text(re.sub(r'base_url = "https://[^"]+"', f'base_url = "{sandbox.url}"', toml))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMSQ_CONFIG", str(config))
    monkeypatch.setenv("SMSQ_ACCOUNTS__NEPAL__CREDENTIALS__AUTH_TOKEN", "sandbox-aakash-token")
    monkeypatch.setenv("SMSQ_DATABASE_URL", f"sqlite:///{tmp_path}/readme.db")
    monkeypatch.setenv("SMSQ_BROKER_URL", redis_url)
    get_settings.cache_clear()
    monkeypatch.setenv(
        "SMSQ_ACCOUNTS__NEPAL_BACKUP__CREDENTIALS__AUTH_TOKEN", "sandbox-aakash-token"
    )
    monkeypatch.setenv("SMSQ_ACCOUNTS__BAKU__CREDENTIALS__TOKEN", "sandbox-smsplus-token")
    monkeypatch.setenv("SMSQ_ACCOUNTS__ABIDJAN__CREDENTIALS__API_KEY", "sandbox-presto-key")
    monkeypatch.setenv("SMSQ_ACCOUNTS__ABIDJAN__CREDENTIALS__API_PASS", "sandbox-presto-pass")
    monkeypatch.setenv("SMSQ_ACCOUNTS__DHAKA__CREDENTIALS__USER", "sandbox")
    monkeypatch.setenv("SMSQ_ACCOUNTS__DHAKA__CREDENTIALS__PASSWORD", "sandbox-pass")
    accounts = load_accounts()
    assert accounts["nepal"].secret("auth_token") == "sandbox-aakash-token"
    assert accounts["baku"].templates == {2: "Salam {name}! Sifarişiniz hazırdır."}
    routes = load_routes()
    assert set(routes["default"].accounts()) <= set(accounts)  # every account it names exists
    mixed = tomllib.loads(route_example)["routes"]["mixed"]
    assert RouteTable(Route.model_validate(mixed)).accounts_for("9779801234567")[0] == (
        "nepal_backup"
    )
    (tmp_path / "customers.csv").write_text(
        "msisdn,name\n9841000001,Sita\n9851000002,Hari\n12345,Bad\n9841000001,Sita\n"
    )
    (tmp_path / "customers-np-bd-az-ci.csv").write_text(
        "msisdn,name\n9841000003,Sita\n+8801711000004,Rahim\n+994501000005,Aysel\n"
        "+2250701000006,Awa\n+971501234567,Nobody\n"
    )
    # The Python blocks run in order, in one namespace, as a reader would type them.
    examples = [b for b in _blocks("python") if "submit_campaign" in b]
    assert len(examples) == 2
    examples.sort(key=lambda block: "upgrade()" not in block)  # the API's imports come first
    namespace: dict[str, object] = {}
    try:
        exec(compile(examples[0], "README.md", "exec"), namespace)  # noqa: S102
        first = namespace["campaign_id"]
        exec(compile(examples[1], "README.md", "exec"), namespace)  # noqa: S102
        routed = namespace["campaign_id"]
        info = get_campaign(routed)  # type: ignore[arg-type]
    finally:
        set_dispatcher(None)
        get_settings.cache_clear()
        dispose_engines()
    plan = namespace["plan"]
    assert (plan.valid, plan.invalid, plan.duplicate) == (2, 1, 1)  # type: ignore[attr-defined]
    assert isinstance(first, int) and isinstance(routed, int)
    assert Dispatches(redis_url) == [first, routed]  # worker.connect() handed both off
    shares = {a.account: a.planned for a in info.accounts}
    assert shares == {"nepal": 1, "nepal_backup": 0, "dhaka": 1, "baku": 1, "abidjan": 1}
    assert info.recipients == {"pending": 4, "rejected": 1}
