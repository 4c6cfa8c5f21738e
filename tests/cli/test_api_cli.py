"""``smsq api-key`` and ``smsq recipients``, and ``smsq api`` as a real process on loopback."""

from __future__ import annotations

import csv
import io
import signal
from collections.abc import Callable

import httpx
import pytest

from campaigns import api
from campaigns.api_keys import verify_key
from smsq.api_process import free_port
from tests.cli.helpers import SMSQ, Child, CliEnv, Dispatches, Result, assert_one_line_error

Smsq = Callable[..., Result]


def test_a_key_is_printed_once_listed_by_its_prefix_and_revoked(
    cli_env: CliEnv, smsq: Smsq
) -> None:
    made = smsq("api-key", "create", "ci")
    assert made.code == 0, made
    key = made.out.strip()
    assert key.startswith("smsq_") and "\n" not in key
    assert "shown only now" in made.err and key not in made.err
    assert verify_key(key) is not None
    listed = smsq("api-key", "list")
    assert "ci" in listed.out and key[:9] in listed.out and key not in listed.out
    assert smsq("api-key", "revoke", "ci").out.strip() == "API key 'ci' (id 1) revoked"
    assert verify_key(key) is None
    assert "ci" not in smsq("api-key", "list").out
    assert "ci" in smsq("api-key", "list", "--all").out


@pytest.mark.parametrize(
    ("args", "words"),
    [(("api-key", "revoke", "nope"), ("no API key named or numbered 'nope'",)),
     (("api-key", "create", ""), ("name: give 1 to 100 characters",)),
     (("recipients", "99"), ("campaign 99 does not exist",)),
     (("recipients", "1", "--state", "lost"), ("'lost' is not a recipient state",))],
)  # fmt: skip
def test_mistakes_are_one_line(
    cli_env: CliEnv, smsq: Smsq, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    if args[0] == "recipients" and args[1] == "1":
        api.submit_campaign("aakashsms_v3", ["9841000001"], text="hi")
    assert_one_line_error(smsq(*args), *words)


def test_recipients_export_every_row_with_its_outcome(cli_env: CliEnv, smsq: Smsq) -> None:
    campaign_id = api.submit_campaign("aakashsms_v3", ["9841000001", "12", "9841000001"],
                                      text="hi")  # fmt: skip
    printed = smsq("recipients", str(campaign_id))
    assert printed.code == 0, printed
    rows = list(csv.DictReader(io.StringIO(printed.out)))
    assert [(r["row"], r["state"]) for r in rows] == [
        ("2", "invalid"), ("3", "duplicate"), ("1", "pending"),
    ]  # fmt: skip
    assert {"msisdn", "reason", "gateway_code", "gateway_message", "message_id", "credits"} <= set(
        rows[0]
    )
    target = cli_env.tmp_path / "out.csv"
    written = smsq("recipients", str(campaign_id), "--state", "invalid", "--csv", str(target))
    assert written.out.strip() == f"1 recipients of campaign {campaign_id} written to {target}"
    assert [r["msisdn"] for r in csv.DictReader(target.open())] == ["12"]


@pytest.mark.integration
def test_smsq_api_serves_on_loopback_until_terminated(cli_env: CliEnv, smsq: Smsq) -> None:
    key = smsq("api-key", "create", "ci").out.strip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(SMSQ), "api", "--port", str(port)]
    with Child(argv, cli_env.environ(), cli_env.tmp_path, cli_env.tmp_path / "api.log") as child:
        child.wait_for("Application startup complete")
        headers = {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{url}/v1/campaigns", timeout=5).status_code == 401
        body = {"account": "aakashsms_v3", "text": "Namaste", "recipients": ["9841000001"]}
        made = httpx.post(f"{url}/v1/campaigns", json=body, headers=headers, timeout=10)
        assert made.status_code == 201, made.text
        campaign_id = made.json()["id"]
        assert Dispatches(cli_env.broker_url) == [campaign_id]  # handed to the workers
        read = httpx.get(f"{url}/v1/campaigns/{campaign_id}", headers=headers, timeout=5)
        assert read.json()["recipients"] == {"pending": 1}
        smsq("api-key", "revoke", "ci")
        assert httpx.get(f"{url}/v1/campaigns", headers=headers, timeout=5).status_code == 401
        # Uvicorn shuts down cleanly, then re-raises the signal so the process ends by it.
        assert child.stop() in (0, -signal.SIGTERM), child.output()
        assert "Application shutdown complete" in child.output()
    log = child.output()
    assert "POST /v1/campaigns 201" in log and "9841000001" not in log and key not in log
    assert "Traceback" not in log


def test_callback_url_on_submit_and_on_a_key_prints_the_secret_once(
    cli_env: CliEnv, smsq: Smsq, dispatched: Dispatches
) -> None:
    from campaigns.callbacks.secrets import api_key_owner, campaign_owner, owner_secret

    cli_env.set(SMSQ_CALLBACK_MASTER_KEY="cli-test-master-key-0123456789")
    made = smsq("api-key", "create", "crm", "--callback-url", "https://hooks.example.com/a")
    assert made.code == 0, made
    key, secret = made.out.split()
    assert secret == owner_secret(api_key_owner(1)) and "second line" in made.err
    submitted = smsq("submit", "--account", "aakashsms_v3", "--text", "hi", "9841000001",
                     "--callback-url", "https://hooks.example.com/b")  # fmt: skip
    assert submitted.code == 0, submitted
    campaign_id = submitted.campaign_id()
    own = owner_secret(campaign_owner(campaign_id))
    assert f"callback secret (shown only now; it signs X-Smsq-Signature): {own}" in submitted.out
    listed = smsq("callbacks", str(campaign_id))
    assert listed.code == 0, listed
    assert "callbacks to https://hooks.example.com/b: 1 pending" in listed.out
    assert "campaign.state" in listed.out and own not in listed.out
    as_json = smsq("callbacks", str(campaign_id), "--json").json()
    assert as_json["callback_url"] == "https://hooks.example.com/b"
    assert [(e["seq"], e["type"], e["state"]) for e in as_json["events"]] == [
        (None, "campaign.state", "pending"),
    ]
    shown = smsq("status", str(campaign_id), "--json").json()
    assert shown["callback_url"] == "https://hooks.example.com/b" and own not in str(shown)
    bad = smsq("submit", "--account", "aakashsms_v3", "--text", "hi", "9841000001",
               "--callback-url", "hooks.example.com")  # fmt: skip
    assert_one_line_error(bad, "callback_url: 'hooks.example.com' must start with http")
    assert smsq("callbacks", "99").code != 0
