"""Signing callback bodies, and checking a signature as a receiver does (Stripe's scheme).

The header is ``X-Smsq-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256 with the owner's secret over ``"<t>.<body>"`` (the body's exact bytes). The
timestamp is inside the signed text, so an old request replayed later fails the
``tolerance_s`` check even though its signature is genuine. Several ``v1=`` entries may
appear (a receiver accepts if any matches), which leaves room to rotate secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Smsq-Signature"
EVENT_ID_HEADER = "X-Smsq-Event-Id"
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """Raised when a callback's signature header is missing, malformed, wrong or too old."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Smsq-Signature`` value for ``body`` sent at ``timestamp`` (default now)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret, t, body)}"


def verify(
    secret: str,
    header: str | None,
    body: bytes | str,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    *,
    now: float | None = None,
) -> int:
    """Check a callback as a receiver: returns the signed timestamp, or raises SignatureError.

    ``header`` is the ``X-Smsq-Signature`` value as received, ``body`` the raw request body
    (parse the JSON only after this passes). A timestamp more than ``tolerance_s`` from
    ``now`` (default the current time) is refused: it guards against replays. The
    comparison takes constant time.
    """
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    raw = body.encode("utf-8") if isinstance(body, str) else body
    timestamp, candidates = _parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(
            f"timestamp {timestamp} is {abs(current - timestamp):.0f} s from now "
            f"(tolerance {tolerance_s:g} s): a replay, or a clock far off"
        )
    expected = signature(secret, timestamp, raw)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("signature does not match the body (wrong secret or tampered)")
    return timestamp


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError(f"t={value!r} is not a unix time") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(f"{SIGNATURE_HEADER} needs t=<unix> and v1=<hex>, got {header!r}")
    return timestamp, candidates
