"""The signing secret of a callback owner, derived from the server's master key.

Why derived and not stored: the worker must compute the HMAC, so the secret cannot be kept
as a one-way hash the way API keys are; stored in the clear (or encrypted with a key that
sits beside the database anyway) it would leak with a copy of the database. Derived as
HMAC-SHA256(master key, owner), the database holds nothing secret: the owner is a name
(``campaign:12``, ``api_key:3``), and whoever has a database dump but not the master key
can neither sign nor verify. The costs, said plainly: whoever holds the master key (every
worker, the API and the CLI's host) can recompute any owner's secret, "shown once" is a
promise of the interfaces (submit and ``api-key create`` show it, nothing else does), and
changing the master key changes every owner's secret at once (receivers must be given the
new ones; ``smsq callbacks secret`` is deliberately absent).

The master key is ``SMSQ_CALLBACK_MASTER_KEY`` (or ``callback_master_key`` in the config
file). When neither is set, a random key is made with ``secrets`` on first use and kept in
``callback_master_key_file`` (default ``var/callback-master.key``, mode 0600), which suits
one machine; a deployment with workers on several machines sets the variable everywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from campaigns.settings import get_settings

SECRET_PREFIX = "whsec_"
MASTER_KEY_BYTES = 32


def campaign_owner(campaign_id: int) -> str:
    """The owner name of a campaign that named its own callback_url."""
    return f"campaign:{campaign_id}"


def api_key_owner(key_id: int) -> str:
    """The owner name of an API key's default callback_url."""
    return f"api_key:{key_id}"


def owner_secret(owner: str) -> str:
    """The signing secret of ``owner``: ``whsec_`` and 43 URL-safe characters (256 bits)."""
    digest = hmac.new(master_key(), b"smsq-callback:" + owner.encode(), hashlib.sha256)
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def master_key() -> bytes:
    """The master key: the setting, else the key file (made on first use)."""
    settings = get_settings()
    if settings.callback_master_key is not None:
        value = settings.callback_master_key.get_secret_value()
        if len(value) < 16:
            raise ValueError("SMSQ_CALLBACK_MASTER_KEY: give at least 16 characters")
        return value.encode()
    return _key_file(Path(settings.callback_master_key_file))


def _key_file(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(MASTER_KEY_BYTES).encode()
    # Written whole beside it, then linked into place: link fails when another process got
    # there first, and no reader ever sees a half-written file.
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key + b"\n")
    try:
        os.link(temp, path)
    except FileExistsError:
        key = path.read_bytes().strip()
    finally:
        temp.unlink()
    return key
