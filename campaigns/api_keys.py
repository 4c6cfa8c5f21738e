"""Keys of the HTTP API: made once, stored as a hash, checked on every call, revoked at once.

A key is ``smsq_`` and 43 URL-safe characters: 32 random bytes (256 bits) from ``secrets``.
Only its SHA-256 is stored. A slow password hash (argon2, bcrypt) protects guessable
secrets against a stolen table; a 256-bit random key cannot be guessed from its SHA-256, so
one fast hash is as safe and costs about a microsecond per call instead of tens of
milliseconds. ``verify_key`` reads the table on every call (one unique-index lookup): there
is no cache, so a revoked key is refused at the very next call.

The table is domain data (the callbacks of a later issue give a key a default
``callback_url`` that the worker reads), so it lives here, below the application layer
that serves it (``smsq api``) and the CLI that manages it (``smsq api-key``).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from campaigns.callbacks.secrets import api_key_owner, owner_secret
from campaigns.callbacks.urls import check_callback_url
from campaigns.db import get_engine, read_only
from campaigns.errors import CampaignError, InputError
from campaigns.models import as_utc
from campaigns.tables import API_KEYS

KEY_PREFIX = "smsq_"
KEY_BYTES = 32  # 256 bits of randomness
SHOWN_PREFIX_CHARS = 9  # "smsq_" and 4 random characters: tells keys apart in a list
NAME_MAX_CHARS = 100
# last_used_at is written at most this often per key and process: a write per call would
# take SQLite's write lock on every read of the API (and only a rough time is wanted).
LAST_USED_EVERY_S = 60.0


class ApiKeyNotFound(CampaignError):
    """Raised when no key that is not revoked has the given name or id."""


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """One key as listed: never the key itself, only its first characters."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    callback_url: str | None = None  # the default of campaigns submitted with the key


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key just made: ``key`` is shown to the user once and is stored nowhere; so is
    ``callback_secret`` (derived, campaigns.callbacks.secrets), when it has a callback_url."""

    info: ApiKeyInfo
    key: str
    callback_secret: str | None = None


def hash_key(key: str) -> str:
    """The SHA-256 (hex) under which ``key`` is stored."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def create_key(
    name: str, *, callback_url: str | None = None, database_url: str | None = None
) -> NewApiKey:
    """Make a key named ``name``; InputError when the name is empty, too long or in use.

    ``callback_url``: where the status callbacks of campaigns submitted with this key go,
    unless a campaign names its own; they are signed with the key's ``callback_secret``.
    """
    callback_url = check_callback_url(callback_url)
    name = name.strip()
    if not name or len(name) > NAME_MAX_CHARS:
        raise InputError(f"name: give 1 to {NAME_MAX_CHARS} characters")
    if name.isdigit():
        raise InputError(f"name: {name!r} would read as a key id (use letters too)")
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    prefix, now = key[:SHOWN_PREFIX_CHARS], datetime.now(UTC)
    values = {
        "name": name, "key_hash": hash_key(key), "prefix": prefix, "created_at": now,
        "callback_url": callback_url,
    }  # fmt: skip
    try:
        with get_engine(database_url).begin() as conn:
            key_id = conn.execute(insert(API_KEYS).values(**values).returning(API_KEYS.c.id))
            new_id: int = key_id.scalar_one()
    except IntegrityError:
        raise InputError(f"name: a key named {name!r} exists (revoke it first)") from None
    info = ApiKeyInfo(new_id, name, prefix, now, None, None, callback_url)
    secret = owner_secret(api_key_owner(new_id)) if callback_url is not None else None
    return NewApiKey(info, key, secret)


def list_keys(
    *, include_revoked: bool = False, database_url: str | None = None
) -> list[ApiKeyInfo]:
    """Every key (the revoked ones too with ``include_revoked``), oldest first."""
    query = select(*_INFO_COLUMNS).order_by(API_KEYS.c.id)
    if not include_revoked:
        query = query.where(API_KEYS.c.revoked_at.is_(None))
    with get_engine(database_url).connect() as conn:
        return [_info(row) for row in conn.execute(query)]


def revoke_key(name_or_id: str, *, database_url: str | None = None) -> ApiKeyInfo:
    """Revoke the key named ``name_or_id`` (or with that id); returns it, revoked.

    From the next call on, the key is refused. ApiKeyNotFound when no key that is not
    revoked has that name or id.
    """
    match = API_KEYS.c.name == name_or_id
    if name_or_id.isdigit():
        match = or_(match, API_KEYS.c.id == int(name_or_id))
    now = datetime.now(UTC)
    with get_engine(database_url).begin() as conn:
        row = conn.execute(
            select(*_INFO_COLUMNS).where(match, API_KEYS.c.revoked_at.is_(None))
        ).first()
        if row is None:
            raise ApiKeyNotFound(f"no API key named or numbered {name_or_id!r}")
        conn.execute(update(API_KEYS).where(API_KEYS.c.id == row.id).values(revoked_at=now))
    info = _info(row)
    return ApiKeyInfo(
        info.id, info.name, info.prefix, info.created_at, info.last_used_at, now,
        info.callback_url,
    )  # fmt: skip


def verify_key(key: str, *, database_url: str | None = None) -> ApiKeyInfo | None:
    """The key's record when ``key`` is a key that is not revoked, else None.

    Reads the table every time (no cache outlives a revoke). The lookup is by hash, so the
    time it takes says nothing about how close a wrong key was.
    """
    if not key.startswith(KEY_PREFIX):
        return None
    engine = get_engine(database_url)
    digest = hash_key(key)
    query = select(*_INFO_COLUMNS).where(
        API_KEYS.c.key_hash == digest, API_KEYS.c.revoked_at.is_(None)
    )
    with read_only(engine) as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    if _LAST_USED.due(digest):  # by hash: ids repeat across databases
        with engine.begin() as conn:
            _touch(conn, row.id)
    return _info(row)


def active_key(key_id: int, *, database_url: str | None = None) -> ApiKeyInfo | None:
    """The key of id ``key_id`` if it is not revoked, else None (the dashboard's session holds
    a key's id, never the key: this is read at each of its requests, so a revoke logs out)."""
    query = select(*_INFO_COLUMNS).where(API_KEYS.c.id == key_id, API_KEYS.c.revoked_at.is_(None))
    with read_only(get_engine(database_url)) as conn:
        row = conn.execute(query).first()
    return None if row is None else _info(row)


def _touch(conn: Connection, key_id: int) -> None:
    conn.execute(
        update(API_KEYS).where(API_KEYS.c.id == key_id).values(last_used_at=datetime.now(UTC))
    )


class _Throttle:
    """Says when a key's last_used_at is due for a write in this process."""

    def __init__(self, every_s: float) -> None:
        self._every_s = every_s
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, digest: str) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(digest)
            if last is not None and now - last < self._every_s:
                return False
            self._last[digest] = now
            return True


_LAST_USED = _Throttle(LAST_USED_EVERY_S)
_INFO_COLUMNS = (
    API_KEYS.c.id, API_KEYS.c.name, API_KEYS.c.prefix, API_KEYS.c.created_at,
    API_KEYS.c.last_used_at, API_KEYS.c.revoked_at, API_KEYS.c.callback_url,
)  # fmt: skip


def _info(row: Row[Any, Any, Any, Any, Any, Any, Any]) -> ApiKeyInfo:
    m = row._mapping
    last_used, revoked = m["last_used_at"], m["revoked_at"]
    return ApiKeyInfo(
        m["id"], m["name"], m["prefix"], as_utc(m["created_at"]),
        None if last_used is None else as_utc(last_used),
        None if revoked is None else as_utc(revoked), m["callback_url"],
    )  # fmt: skip
