"""API keys: made once, stored as a hash, checked on every call, revoked at once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from campaigns.api_keys import (
    ApiKeyNotFound,
    create_key,
    hash_key,
    list_keys,
    revoke_key,
    verify_key,
)
from campaigns.db import get_engine
from campaigns.errors import InputError
from campaigns.tables import API_KEYS


def test_a_key_is_256_random_bits_and_only_its_hash_is_stored(db_url: str) -> None:
    new = create_key("ci", database_url=db_url)
    assert re.fullmatch(r"smsq_[A-Za-z0-9_-]{43}", new.key)
    assert new.key != create_key("ci-2", database_url=db_url).key
    with get_engine(db_url).connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(API_KEYS))]
    assert all(new.key not in str(v) for row in rows for v in row.values())
    assert rows[0]["key_hash"] == hash_key(new.key) and rows[0]["prefix"] == new.key[:9]


def test_a_key_verifies_until_it_is_revoked(db_url: str) -> None:
    new = create_key("partner", database_url=db_url)
    found = verify_key(new.key, database_url=db_url)
    assert found is not None and found.name == "partner" and found.last_used_at is None
    assert list_keys(database_url=db_url)[0].last_used_at is not None  # written on first use
    revoked = revoke_key("partner", database_url=db_url)
    assert revoked.revoked_at is not None
    assert verify_key(new.key, database_url=db_url) is None
    assert list_keys(database_url=db_url) == []
    assert [k.name for k in list_keys(include_revoked=True, database_url=db_url)] == ["partner"]


@pytest.mark.parametrize("wrong", ["", "smsq_", "smsq_" + "A" * 43, "Bearer x", "x" * 5000])
def test_what_is_not_a_key_does_not_verify(db_url: str, wrong: str) -> None:
    create_key("ci", database_url=db_url)
    assert verify_key(wrong, database_url=db_url) is None


def test_revoke_takes_a_name_or_an_id_and_a_name_is_free_again_after(db_url: str) -> None:
    first = create_key("ci", database_url=db_url)
    with pytest.raises(InputError, match="a key named 'ci' exists"):
        create_key("ci", database_url=db_url)
    revoke_key(str(first.info.id), database_url=db_url)
    second = create_key("ci", database_url=db_url)
    assert verify_key(second.key, database_url=db_url) is not None
    with pytest.raises(ApiKeyNotFound, match="no API key named or numbered 'nope'"):
        revoke_key("nope", database_url=db_url)
    with pytest.raises(ApiKeyNotFound):
        revoke_key(str(first.info.id), database_url=db_url)  # already revoked


@pytest.mark.parametrize(("name", "why"), [("", "1 to 100"), ("x" * 101, "1 to 100"),
                                           ("42", "read as a key id")])  # fmt: skip
def test_a_name_must_be_usable(sqlite_url: str, name: str, why: str) -> None:
    with pytest.raises(InputError, match=why):
        create_key(name, database_url=sqlite_url)
