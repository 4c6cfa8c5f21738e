"""Idempotent submits: the same key and the same request give the same campaign, and the same
key with a different request is refused with IdempotencyConflict naming what differs.

A request is where it goes (the account, or the route with its table as configured: an
edited table sends numbers elsewhere), what it sends (the text, the template id, the sender
as resolved) and to whom (a hash of the rows as read: every number and placeholder value, in
order). The send time, window, name and ``max_segments`` are left out: a client that retries
with a recomputed "now" is retrying the same campaign. Texts and rows are stored as hashes,
so the fingerprint (``campaigns.request_fingerprint``) stays small whatever the list.

The rows can only be hashed as they are read, and a generator can be read once, so a submit
whose key is already taken reads its rows for the hash alone (nothing is planned) before it
answers either way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Final

from campaigns.errors import IdempotencyConflict
from campaigns.recipients_input import Row
from campaigns.spec import CampaignSpec

# What each part of a fingerprint is called in an IdempotencyConflict, in the order named.
PARTS: Final = {
    "account": "account",
    "route": "route",
    "text": "text",
    "template_id": "template",
    "sender": "sender",
    "recipients": "recipient list",
    "callback_url": "callback_url",
}
_HASH_HEX_CHARS = 32  # 128 bits: no two lists of one key collide by chance


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_HEX_CHARS]


class RowsHash:
    """A hash of the rows as they are read: iterate ``rows(source)`` instead of the source."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def rows(self, source: Iterable[Row]) -> Iterator[Row]:
        """``source``'s rows, each added to the hash on its way through."""
        update = self._hash.update
        for row in source:
            update(repr(row[1:]).encode("utf-8", "surrogatepass"))  # number, values
            yield row

    def hexdigest(self) -> str:
        """The hash of every row read so far."""
        return self._hash.hexdigest()[:_HASH_HEX_CHARS]


def fingerprint(spec: CampaignSpec, rows: RowsHash) -> str:
    """The request of ``spec`` with the rows hashed so far, as stored with its campaign."""
    route = spec.route.to_json() if spec.route is not None else None
    parts = {
        "account": spec.gateway.account.name if spec.route is None else None,
        "route": _digest(route) if route is not None else None,
        "text": _digest(spec.text) if spec.text is not None else None,
        "template_id": spec.template_id,
        "sender": spec.sender if spec.route else spec.lanes[0].sender,
        "recipients": rows.hexdigest(),
    }
    if spec.callback_url is not None:  # absent otherwise: older fingerprints stay equal
        parts["callback_url"] = spec.callback_url
    return json.dumps(parts, sort_keys=True)


def check_same_request(key: str, campaign_id: int, stored: str | None, ours: str) -> int:
    """``campaign_id`` when its stored fingerprint matches ``ours`` (or it has none, being
    older than fingerprints); IdempotencyConflict naming what differs otherwise."""
    if stored is None:
        return campaign_id
    theirs, mine = json.loads(stored), json.loads(ours)
    differs = [label for part, label in PARTS.items() if theirs.get(part) != mine.get(part)]
    if not differs:
        return campaign_id
    raise IdempotencyConflict(
        f"idempotency_key {key!r} is campaign {campaign_id}'s, submitted with a different "
        f"{' and '.join(differs)}: nothing was written (use a new key for a new campaign)"
    )
