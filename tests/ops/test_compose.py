"""The production layout, read rather than run (no Docker engine here): docker-compose.yml,
the Dockerfile and .env.example against each other and against the code.

- Each service is what the layout promises: Redis append-only and noeviction, PostgreSQL on
  a volume and healthy before the one-shot migration, workers that scale, one beat, Flower
  behind a login, the HTTP API on loopback, the sandbox.
- Each smsq service's command is a real ``smsq`` subcommand with options it has (resolved on
  the click command behind ``smsq.cli.app``), and the image's entry point is ``smsq``.
- Each environment variable the code or a service reads is documented in .env.example, and
  each one documented there is read by something; its example values are valid settings.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import typer.main
import yaml  # type: ignore[import-untyped]
from flower.command import is_flower_envvar
from sqlalchemy.engine import make_url
from typer.core import TyperGroup

from campaigns.settings import Settings
from providers import load_accounts
from providers.sandbox.cli import parser as sandbox_parser
from smsq import cli

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("providers", "campaigns", "worker", "smsq")
SMSQ_SERVICES = ("migrate", "worker", "beat", "api", "flower", "sandbox")
SERVICES = {"redis", "postgres", *SMSQ_SERVICES}
# What the official postgres image reads from its environment (its documentation).
POSTGRES_IMAGE_VARS = frozenset(
    {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "POSTGRES_INITDB_ARGS",
     "POSTGRES_INITDB_WALDIR", "POSTGRES_HOST_AUTH_METHOD", "PGDATA"}
)  # fmt: skip
# Set (uncommented) in the example: a deployment cannot run on their defaults, which point
# at one machine (SQLite in ./var, Redis on localhost, ./smsq.toml) or a throwaway login.
REQUIRED = frozenset(
    {"SMSQ_DATABASE_URL", "SMSQ_BROKER_URL", "SMSQ_CONFIG", "FLOWER_BASIC_AUTH",
     "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "SMSQ_CALLBACK_MASTER_KEY"}
)  # fmt: skip
ACCOUNT_VAR = re.compile(r"SMSQ_ACCOUNTS__[A-Z0-9_]+?__CREDENTIALS__[A-Z0-9_]+")
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


# --- what the files say --------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def service(name: str) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    return services[name]


def command_words(name: str) -> list[str]:
    command = service(name).get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(w) for w in command]


@dataclass(frozen=True)
class EnvLine:
    value: str
    active: bool  # False: shown commented out ("# NAME=value")


@cache
def env_example() -> dict[str, EnvLine]:
    """The variables of .env.example, set or commented out."""
    found: dict[str, EnvLine] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            name = match.group(2)
            assert name not in found, f".env.example lists {name} twice"
            found[name] = EnvLine(match.group(3).strip(), match.group(1) is None)
    return found


@cache
def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuations joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    instructions = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(words[0].upper(), words[1] if len(words) > 1 else "") for words in instructions]


def settings_vars() -> dict[str, str]:
    """SMSQ_* variable -> field of campaigns.settings.Settings."""
    prefix = Settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper(): name for name in Settings.model_fields}


@cache
def vars_read_in_code() -> dict[str, str]:
    """Every literal variable name the packages read from os.environ, with where."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.expr) and (name := _environ_key(node)) is not None:
                    found.setdefault(name, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _is_environ(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def _environ_key(node: ast.expr) -> str | None:
    key: ast.expr | None = None
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        key = node.slice
    elif isinstance(node, ast.Call) and node.args:
        func = node.func
        if isinstance(func, ast.Attribute) and (
            (func.attr in ("get", "pop", "setdefault") and _is_environ(func.value))
            or func.attr == "getenv"
        ):
            key = node.args[0]
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        return key.value
    return None


# --- the services --------------------------------------------------------------------------


def test_the_layout_has_every_service_and_nothing_else() -> None:
    assert set(compose()["services"]) == SERVICES


def _named_volume(name: str, target: str) -> str:
    volumes = [str(v) for v in service(name).get("volumes", [])]
    sources = [v.split(":")[0] for v in volumes if v.split(":")[1:2] == [target]]
    assert sources, f"{name} keeps {target} in no volume: {volumes}"
    assert sources[0] in (compose().get("volumes") or {}), f"{sources[0]} is not a named volume"
    return sources[0]


def test_redis_appends_to_disk_and_never_evicts() -> None:
    words = command_words("redis")
    assert words[0] == "redis-server"
    flags = dict(zip(words[1::2], words[2::2], strict=False))
    assert flags.get("--appendonly") == "yes", words
    assert flags.get("--maxmemory-policy") == "noeviction", words
    _named_volume("redis", "/data")


def test_postgres_keeps_its_data_in_a_volume_and_says_when_it_is_ready() -> None:
    postgres = service("postgres")
    assert str(postgres["image"]).startswith("postgres:")
    _named_volume("postgres", "/var/lib/postgresql/data")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_postgres_gets_only_what_its_image_reads() -> None:
    # The whole .env holds gateway credentials and Flower's login: not the database's business.
    postgres = service("postgres")
    assert "env_file" not in postgres
    assert set(postgres["environment"]) <= POSTGRES_IMAGE_VARS


def _depends(name: str) -> dict[str, str]:
    depends = service(name).get("depends_on", {})
    if isinstance(depends, list):  # the short form: started, not ready or done
        return dict.fromkeys(depends, "service_started")
    return {dep: spec.get("condition", "service_started") for dep, spec in depends.items()}


def test_the_migration_runs_once_when_postgres_is_ready() -> None:
    assert command_words("migrate") == ["db", "upgrade"]
    assert service("migrate")["restart"] == "no"  # one-shot
    # Started before PostgreSQL accepts connections, it would fail and never run again.
    assert _depends("migrate").get("postgres") == "service_healthy"


@pytest.mark.parametrize("name", ["worker", "beat", "api"])
def test_workers_beat_and_api_start_on_a_migrated_database(name: str) -> None:
    depends = _depends(name)
    assert depends.get("migrate") == "service_completed_successfully", depends
    assert depends.get("postgres") == "service_healthy", depends
    assert "redis" in depends


def test_workers_scale() -> None:
    worker = service("worker")
    assert command_words("worker")[0] == "worker"
    # `--scale worker=N` needs no fixed container name and no fixed host port; one hostname
    # for all would also give every replica the same Celery node name.
    for key in ("container_name", "ports", "hostname"):
        assert key not in worker, f"worker sets {key}: it cannot be scaled"


def test_beat_is_one_container() -> None:
    assert command_words("beat") == ["beat"]
    assert service("beat").get("deploy", {}).get("replicas", 1) == 1


def test_flower_runs_behind_the_login_from_the_environment() -> None:
    flower = service("flower")
    words = command_words("flower")
    assert words[0] == "flower"  # smsq flower: never starts unauthenticated
    assert not any(w.startswith(("--basic-auth", "--basic_auth", "--auth")) for w in words)
    environment = flower.get("environment") or {}
    assert "FLOWER_UNAUTHENTICATED_API" not in environment
    assert "FLOWER_BASIC_AUTH" not in environment  # from .env, not written in the file
    assert flower.get("env_file") == ".env"
    assert "FLOWER_UNAUTHENTICATED_API" not in env_example()
    login = env_example()["FLOWER_BASIC_AUTH"]
    assert login.active and re.fullmatch(r"[^:,\s]+:[^,\s]+(,[^:,\s]+:[^,\s]+)*", login.value)
    params = resolve(words).params
    published = [str(p).rsplit(":", 1)[-1] for p in flower.get("ports", [])]
    assert published == [str(params["port"])], "Flower listens on another port"
    assert params["address"] == "0.0.0.0"  # else the published port reaches nothing


def test_the_api_listens_where_its_port_is_published_on_loopback() -> None:
    words = command_words("api")
    assert words[0] == "api"
    params = resolve(words).params
    assert params["host"] == "0.0.0.0"  # else the published port reaches nothing
    ports = [str(p) for p in service("api").get("ports", [])]
    assert ports == [f"127.0.0.1:{params['port']}:{params['port']}"], ports


# --- commands against the CLI ----------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """``smsq <words>`` parsed by the command it names (not run)."""

    path: str
    params: dict[str, Any]
    extra_args: list[str]  # what a command that allows extra arguments passes on


def resolve(words: list[str]) -> Resolved:
    """Resolve ``words`` on the click command behind ``smsq.cli.app`` and parse them:
    an unknown command, a missing subcommand or an unknown option fails here.
    """
    command = typer.main.get_command(cli.app)
    path, rest = ["smsq"], list(words)
    while isinstance(command, TyperGroup) and rest and not rest[0].startswith("-"):
        sub = command.get_command(typer.Context(command), rest[0])
        assert sub is not None, f"`{' '.join(path)}` has no subcommand {rest[0]!r}"
        path.append(rest.pop(0))
        command = sub
    assert not isinstance(command, TyperGroup), f"`{' '.join(path)}` needs a subcommand"
    ctx = command.make_context(" ".join(path), rest)
    return Resolved(" ".join(path), dict(ctx.params), list(ctx.args))


@pytest.mark.parametrize(
    "words",
    [["nope"], ["db"], ["db", "downgrade"], ["flower", "--basic-auth", "a:b"],
     ["worker", "--concurrency", "many"], ["beat", "extra"]],
)  # fmt: skip
def test_resolve_refuses_what_smsq_would_refuse(words: list[str]) -> None:
    with pytest.raises((AssertionError, typer.TyperException)):
        resolve(words)


@pytest.mark.parametrize("name", SMSQ_SERVICES)
def test_each_smsq_service_runs_a_real_smsq_command(name: str) -> None:
    svc = service(name)
    assert svc.get("build") == "." and svc.get("image") == "smsq:latest", name
    assert svc.get("env_file") == ".env", name
    command = resolve(command_words(name))  # unknown commands and options fail here
    if name == "sandbox":  # smsq sandbox hands its flags to the sandbox's own parser
        args, unknown = sandbox_parser().parse_known_args(command.extra_args)
        assert unknown == []
        assert args.host == "0.0.0.0"
    else:
        assert command.extra_args == [], f"{command.path} ignores {command.extra_args}"


def test_the_config_file_is_mounted_where_smsq_config_points() -> None:
    config = env_example()["SMSQ_CONFIG"].value
    for name in SMSQ_SERVICES:
        targets = [str(v).split(":")[1] for v in service(name).get("volumes", [])]
        assert config in targets, f"{name} does not mount {config}"


# --- the image --------------------------------------------------------------------------------


def test_the_image_installs_the_project_and_runs_smsq() -> None:
    steps = dockerfile()
    entrypoints = [args for keyword, args in steps if keyword == "ENTRYPOINT"]
    assert [json.loads(e) for e in entrypoints] == [["smsq"]]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["smsq"] == "smsq.cli:main"
    installs = [a.split() for k, a in steps if k == "RUN" and "pip install" in a]
    assert any("." in words for words in installs), installs
    copied = {Path(a.split()[0]).name for k, a in steps if k == "COPY"}
    copied |= {w for k, a in steps if k == "COPY" for w in a.split()[:-1]}
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    needed = {"pyproject.toml", pyproject["project"]["readme"], *packages}
    assert needed <= copied, f"not copied into the image: {needed - copied}"


def test_the_image_user_can_write_var() -> None:
    steps = dockerfile()
    users = [args for keyword, args in steps if keyword == "USER"]
    if not users or users[-1] in ("root", "0"):
        return
    user = users[-1]
    workdir = PurePosixPath([a for k, a in steps if k == "WORKDIR"][-1])
    folder = str(workdir / "var")  # the default SQLite database and the demo live there
    before_user = steps[: steps.index(("USER", user))]
    made = [
        a for k, a in before_user
        if k == "RUN" and folder in a.split() and (f"-o {user}" in a or f"chown {user}" in a)
    ]  # fmt: skip
    assert made, f"smsq as {user} cannot create {folder}: nothing makes it theirs"


# --- environment variables ----------------------------------------------------------------------


def test_every_variable_the_code_reads_is_documented() -> None:
    documented = set(env_example())
    read = {**dict.fromkeys(settings_vars(), "campaigns.settings.Settings"), **vars_read_in_code()}
    missing = {name: where for name, where in read.items() if name not in documented}
    assert missing == {}, f"read but not in .env.example: {missing}"
    assert any(ACCOUNT_VAR.fullmatch(name) for name in documented), "no account credential"


def test_what_a_deployment_must_set_is_set() -> None:
    example = env_example()
    unset = sorted(name for name in REQUIRED if not (name in example and example[name].active))
    assert unset == [], f"must be set (uncommented) in .env.example: {unset}"


def test_every_documented_variable_is_read_by_something() -> None:
    settings, in_code = settings_vars(), vars_read_in_code()
    interpolated = set(INTERPOLATION.findall((ROOT / "docker-compose.yml").read_text()))
    postgres = service("postgres")
    postgres_env = set(postgres.get("environment") or {})
    if postgres.get("env_file") == ".env":
        postgres_env |= POSTGRES_IMAGE_VARS
    unread = [
        name
        for name in env_example()
        if not (
            name in settings
            or name in in_code
            or name in interpolated
            or ACCOUNT_VAR.fullmatch(name)
            or (is_flower_envvar(name) and service("flower").get("env_file") == ".env")
            or (name in POSTGRES_IMAGE_VARS and name in postgres_env)
        )
    ]
    assert unread == [], f"nothing reads {unread}"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """No SMSQ_* variable of ours, and a config file that does not exist."""
    import os

    for name in os.environ:
        if name.startswith("SMSQ_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SMSQ_CONFIG", str(tmp_path / "absent.toml"))
    yield monkeypatch


def test_commented_settings_show_their_defaults(clean_env: pytest.MonkeyPatch) -> None:
    for name, field in settings_vars().items():
        line = env_example()[name]
        default = Settings.model_fields[field].default
        if line.active or default is None:
            continue
        clean_env.setenv(name, line.value)
        assert getattr(Settings(), field) == default, f"{name}={line.value} is not the default"
        clean_env.delenv(name)


def test_the_example_values_are_valid_settings(clean_env: pytest.MonkeyPatch) -> None:
    example, settings = env_example(), settings_vars()
    for name in settings:
        clean_env.setenv(name, example[name].value)
    loaded = Settings()  # raises on a value of the wrong type or out of range
    for name, field in settings.items():
        value = getattr(loaded, field)
        assert value == type(value)(example[name].value), f"{name} was not read"
    assert int(example["SMSQ_WORKER_CONCURRENCY"].value) > 0


def test_the_example_urls_name_the_compose_services() -> None:
    example = {name: line.value for name, line in env_example().items()}
    database = make_url(example["SMSQ_DATABASE_URL"])
    assert database.host in SERVICES and database.host == "postgres"
    assert database.username == example["POSTGRES_USER"]
    assert database.password == example["POSTGRES_PASSWORD"]
    assert database.database == example["POSTGRES_DB"]
    for name in ("SMSQ_BROKER_URL", "SMSQ_REDIS_URL"):
        assert urlsplit(example[name]).hostname == "redis", name


def test_an_account_credential_from_the_environment_reaches_its_account(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (name, line), *others = [(n, v) for n, v in env_example().items() if ACCOUNT_VAR.fullmatch(n)]
    account = name.removeprefix("SMSQ_ACCOUNTS__").split("__CREDENTIALS__")[0].lower()
    credential = name.split("__CREDENTIALS__")[1].lower()
    config = tmp_path / "smsq.toml"
    config.write_text(
        f'[accounts.{account}]\nprovider = "aakashsms_v3"\nbase_url = "https://example.test"\n'
        '[accounts.other]\nprovider = "smspresto"\nbase_url = "https://example.test"\n'
    )
    clean_env.setenv("SMSQ_CONFIG", str(config))
    clean_env.setenv(name, line.value)
    assert load_accounts()[account].secret(credential) == line.value
    # The example's account lines are commented: set as they stand, they would stop a
    # deployment whose file has no such account (the account would lack provider and URL).
    assert not line.active and all(not other.active for _n, other in others)
