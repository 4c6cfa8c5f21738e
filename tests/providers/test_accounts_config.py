"""Accounts load from the TOML file, and the environment supplies (and overrides) secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers import load_accounts


def test_accounts_from_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "smsq.toml"
    cfg.write_text(
        '[accounts.nepal]\nprovider = "aakashsms_v3"\nbase_url = "http://127.0.0.1:9"\n'
        'sender = "31001"\nrate_per_s = 5\n'
    )
    monkeypatch.setenv("SMSQ_CONFIG", str(cfg))
    monkeypatch.setenv("SMSQ_ACCOUNTS__NEPAL__CREDENTIALS__AUTH_TOKEN", "tok-123")
    accounts = load_accounts()
    nepal = accounts["nepal"]
    assert nepal.name == "nepal" and nepal.provider == "aakashsms_v3"
    assert nepal.rate_per_s == 5 and nepal.secret("auth_token") == "tok-123"
    assert "tok-123" not in repr(accounts)


def test_unknown_provider_is_rejected_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "smsq.toml"
    cfg.write_text('[accounts.x]\nprovider = "nope"\nbase_url = "http://127.0.0.1:9"\n')
    monkeypatch.setenv("SMSQ_CONFIG", str(cfg))
    with pytest.raises(ValueError, match="provider"):
        load_accounts()


def test_messages_per_s_is_also_read_under_its_old_name_msgs_per_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "smsq.toml"
    base = 'provider = "aakashsms_v3"\nbase_url = "http://127.0.0.1:9"\n'
    cfg.write_text(
        f"[accounts.new]\n{base}messages_per_s = 200\n[accounts.old]\n{base}msgs_per_s = 150\n"
        f"[accounts.env]\n{base}"
    )
    monkeypatch.setenv("SMSQ_CONFIG", str(cfg))
    monkeypatch.setenv("SMSQ_ACCOUNTS__ENV__MSGS_PER_S", "75")
    accounts = load_accounts()
    assert [accounts[n].messages_per_s for n in ("new", "old", "env")] == [200, 150, 75]
