"""The CLI of the HTTP API: ``smsq api`` serves it, ``smsq api-key`` manages its keys.

A key is printed once, alone on stdout (``KEY=$(smsq api-key create ci)``), with what to do
with it on stderr; only its hash is stored (campaigns.api_keys).
"""

from __future__ import annotations

from typing import Annotated

import typer

from campaigns import api_keys

api_key_app = typer.Typer(help="Keys of the HTTP API (smsq api).", no_args_is_help=True)


def api(
    host: Annotated[str, typer.Option(help="0.0.0.0 in a container")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="processes sharing the port")] = 1,
) -> None:
    """Serve the HTTP API: REST under /v1 (OpenAPI at /v1/openapi.json), API keys required."""
    from smsq.api.server import serve

    serve(host=host, port=port, workers=workers)


@api_key_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="who or what uses the key")],
    callback_url: Annotated[
        str | None,
        typer.Option(help="default status callback URL of the campaigns submitted with it"),
    ] = None,
) -> None:
    """Make a key and print it, once: only its hash is stored. With --callback-url, its
    callback signing secret is printed once too, on the second line."""
    new = api_keys.create_key(name, callback_url=callback_url)
    typer.echo(new.key)
    if new.callback_secret is not None:
        typer.echo(new.callback_secret)
    typer.echo(
        f"API key {new.info.name!r} (id {new.info.id}) created: it is shown only now; "
        "send it as 'Authorization: Bearer KEY'",
        err=True,
    )
    if new.callback_secret is not None:
        typer.echo(
            f"callbacks of its campaigns go to {callback_url}, signed with the secret on the "
            "second line (shown only now): check X-Smsq-Signature with it",
            err=True,
        )


@api_key_app.command("list")
def list_(
    revoked: Annotated[bool, typer.Option("--all", help="revoked keys too")] = False,
) -> None:
    """The keys: id, name, first characters, when made, last used and revoked."""
    keys = api_keys.list_keys(include_revoked=revoked)
    typer.echo(f"{'id':>4}  {'name':<24} {'key':<12} {'created':<20} {'last used':<20} revoked")
    for k in keys:
        cells = (_when(k.created_at), _when(k.last_used_at), _when(k.revoked_at))
        typer.echo(f"{k.id:>4}  {k.name:<24} {k.prefix + '…':<12} {cells[0]:<20} "
                   f"{cells[1]:<20} {cells[2]}")  # fmt: skip


@api_key_app.command("revoke")
def revoke(name_or_id: Annotated[str, typer.Argument(help="the key's name or id")]) -> None:
    """Revoke a key: the next call that sends it is refused (401)."""
    key = api_keys.revoke_key(name_or_id)
    typer.echo(f"API key {key.name!r} (id {key.id}) revoked")


def _when(value: object) -> str:
    from datetime import datetime

    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else "-"
