"""For receivers of smsq's status callbacks: ``verify`` a request's ``X-Smsq-Signature``.

    from smsq.callbacks import SignatureError, verify

    verify(secret, request.headers["X-Smsq-Signature"], raw_body)  # raises SignatureError

The implementation is ``campaigns.callbacks.signing``; README, "Status callbacks", shows
the same check in plain ``hmac`` for receivers written in other languages.
"""

from campaigns.callbacks.signing import (
    DEFAULT_TOLERANCE_S,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    SignatureError,
    sign,
    verify,
)

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "SignatureError",
    "sign",
    "verify",
]
