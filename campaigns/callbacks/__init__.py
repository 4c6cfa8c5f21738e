"""Status callbacks: signed JSON events POSTed to a campaign's ``callback_url``.

- ``signing``: the ``X-Smsq-Signature`` header and ``verify`` for receivers.
- ``secrets``: each owner's signing secret, derived from the server's master key.
- ``urls``: checking a ``callback_url``.
- ``outbox``: events written in the transaction of the change they report.
- ``delivery``: the per-campaign lease, the next event, recording each attempt.
- ``status``: a campaign's events and their delivery, for ``smsq callbacks ID``.

The POSTs themselves are made by the worker (``worker.callbacks``), on a queue of their own.
"""

from campaigns.callbacks.signing import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    SignatureError,
    sign,
    verify,
)
from campaigns.callbacks.status import CallbackEventInfo, list_callbacks
from campaigns.callbacks.urls import check_callback_url

__all__ = [
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "CallbackEventInfo",
    "SignatureError",
    "check_callback_url",
    "list_callbacks",
    "sign",
    "verify",
]
