"""The one closed error type every adapter raises, and how transport failures map onto it."""

from __future__ import annotations

from enum import StrEnum

import httpx


class ErrorKind(StrEnum):
    """What the worker may do about a failed request; closed on purpose."""

    RETRYABLE = "retryable"  # not accepted: safe to send again after a wait
    AMBIGUOUS = "ambiguous"  # may have been accepted: numbers become unknown, not resent
    ACCOUNT = "account"  # credentials, balance, sender, IP: pause the campaign
    REQUEST = "request"  # our request was wrong for this gateway: fail its numbers
    RECIPIENT = "recipient"  # the whole request was refused over one bad number: split to isolate


class GatewayError(Exception):
    """Raised when a gateway did not accept a request as a whole; ``kind`` says what may follow."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        throttled: bool = False,
    ) -> None:
        super().__init__(f"{kind.value}: {message}" + (f" (code {code})" if code else ""))
        self.kind = kind
        self.message = message
        self.code = code
        self.http_status = http_status
        self.throttled = throttled  # the gateway asked us to slow down (429 or its own code)

    @property
    def retryable(self) -> bool:
        """True when sending the same request again cannot send a number twice."""
        return self.kind is ErrorKind.RETRYABLE


# Transport failures where the request cannot have reached the gateway's application.
_NEVER_LEFT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


def classify_transport_error(exc: httpx.TransportError) -> GatewayError:
    """Map an httpx transport failure to ``retryable`` (never left) or ``ambiguous`` (may have)."""
    name = type(exc).__name__
    if isinstance(exc, _NEVER_LEFT):
        return GatewayError(ErrorKind.RETRYABLE, f"request not sent: {name}")
    # Read timeouts, resets and protocol errors after the request was written: the gateway
    # may have queued the messages, so resending could send a number twice.
    return GatewayError(ErrorKind.AMBIGUOUS, f"no usable answer after sending: {name}")


def classify_status(response: httpx.Response) -> GatewayError | None:
    """Classify by HTTP status alone; None when the body must decide (2xx and most 4xx)."""
    status = response.status_code
    if status == 429:
        return GatewayError(
            ErrorKind.RETRYABLE, "HTTP 429 Too Many Requests", http_status=status, throttled=True
        )
    if status == 504:
        return GatewayError(ErrorKind.AMBIGUOUS, "HTTP 504 Gateway Timeout", http_status=status)
    if status >= 500:
        return GatewayError(ErrorKind.RETRYABLE, f"HTTP {status}", http_status=status)
    return None


def error_for_unreadable(response: httpx.Response, why: str) -> GatewayError:
    """The error for a body that is not what the manual shows (HTML, empty, truncated, odd shape).

    A 2xx answer we cannot read may still mean the gateway queued the messages, so it is
    ``ambiguous``; 401/403 are account problems; any other 4xx means our request was wrong.
    """
    status = response.status_code
    by_status = classify_status(response)
    if by_status is not None:
        return by_status
    if status in (401, 403):
        return GatewayError(ErrorKind.ACCOUNT, f"HTTP {status}: {why}", http_status=status)
    if 400 <= status < 500:
        return GatewayError(ErrorKind.REQUEST, f"HTTP {status}: {why}", http_status=status)
    return GatewayError(ErrorKind.AMBIGUOUS, f"HTTP {status}: {why}", http_status=status)
