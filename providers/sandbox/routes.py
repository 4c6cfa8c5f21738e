"""The table of paths the sandbox answers as a gateway, each with its handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from providers.sandbox.gate import Gate
from providers.sandbox.gateways import aakashsms_v1, aakashsms_v3, aamarsms, smsplus_az, smspresto
from providers.sandbox.state import Outcome
from providers.sandbox.wire import Request

Handler = Callable[[Request, Gate], Awaitable[Outcome]]

# The gateways' real paths, so an account moves to the sandbox by its base_url alone.
ROUTES: dict[str, Handler] = {
    aakashsms_v1.PATH: aakashsms_v1.send,
    aakashsms_v3.PATH: aakashsms_v3.send,
    aamarsms.SEND_PATH: aamarsms.send_bulk,
    aamarsms.OTP_PATH: aamarsms.send_otp,
    aamarsms.STATUS_PATH: aamarsms.sms_status,
    aamarsms.BALANCE_PATH: aamarsms.balance,
    smsplus_az.PATH: smsplus_az.send,
    smspresto.PATH: smspresto.api,
    smspresto.PATH.rstrip("/"): smspresto.api,  # a missing trailing slash would be redirected
}
