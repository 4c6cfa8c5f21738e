"""What stands between a request and a gateway handler: latency, faults, the rate ceiling.

A handler identifies the account first, then asks ``admit``; if that returns a reply, the
gateway never saw the request. ``finish`` commits what the handler accepted and applies
the after-accept faults, so those always find the messages already recorded and charged.
"""

from __future__ import annotations

import asyncio
import dataclasses

from providers._accounts import ProviderName
from providers.sandbox.accounts import DemoAccount
from providers.sandbox.faults import FaultKind
from providers.sandbox.state import Outcome, SandboxState
from providers.sandbox.wire import Reply, Request, html_reply, json_reply

GARBAGE = html_reply(200, "We&#39;ll be back soon: scheduled maintenance")


class Gate:
    """Admission and completion of gateway requests over one ``SandboxState``."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def fail_numbers(self, account: DemoAccount) -> frozenset[str]:
        """Numbers the faults make the gateway refuse for ``account``."""
        faults = self.state.faults
        return faults.fail_numbers(account.name) if faults.active else frozenset()

    async def admit(
        self, req: Request, account: DemoAccount | None, provider: ProviderName, *, send: bool
    ) -> Reply | None:
        """None to let the gateway handle the request, or the fault reply that replaces it."""
        if send:
            self.state.count(account, "received")
        faults = self.state.faults
        if not faults.active:
            return None
        name = account.name if account is not None else None
        # Decided at arrival, as a gateway counts its ceiling; the answer, refusal or not,
        # comes back after the latency.
        now, later = faults.before_accept(name, req.arrived_s) if send else (None, None)
        latency_s = faults.latency_s(name)
        if latency_s > 0:
            await asyncio.sleep(latency_s)
        req.rolled_fault = later
        if now is None:
            return None
        self.state.count(account, now.value)
        return before_accept_reply(now, provider)

    def finish(self, req: Request, outcome: Outcome) -> Reply:
        """The reply to send: the handler's, or its accepted drafts committed and answered."""
        if outcome.render is None:
            if outcome.reply is None:
                raise ValueError("an outcome needs a reply or a render")
            return outcome.reply
        reply = outcome.render(self.state.commit(outcome, arrival_s=req.arrived_s))
        self.state.count(outcome.account, "accepted")
        faults = self.state.faults
        if not faults.active:
            return reply
        name = outcome.account.name if outcome.account is not None else None
        rolled = FaultKind(req.rolled_fault) if req.rolled_fault else None
        kind = faults.after_accept(name, rolled)
        return reply if kind is None else after_accept_reply(kind, reply, faults.hold_s(name))


def before_accept_reply(kind: FaultKind, provider: ProviderName) -> Reply:
    """The answer of a fault that strikes before the gateway accepted anything."""
    if kind is FaultKind.HTTP_429:
        return html_reply(429, "429 Too Many Requests", extra=((b"retry-after", b"1"),))
    if kind is FaultKind.HTTP_500:
        return html_reply(500, "500 Internal Server Error")
    if kind is FaultKind.GATEWAY_ERROR and provider == "smsplus_az":
        message = "There was an error sending the message."
        return json_reply({"success": False, "code": "122", "message": message})
    if kind in (FaultKind.HTTP_503, FaultKind.GATEWAY_ERROR):
        # Only SMSPlus.az documents a transient code; elsewhere the outage shows as a 503.
        return html_reply(503, "503 Service Temporarily Unavailable")
    return GARBAGE


def after_accept_reply(kind: FaultKind, reply: Reply, hold_s: float) -> Reply:
    """The answer of a fault that strikes after the messages were recorded and charged."""
    if kind is FaultKind.HTTP_504:
        return html_reply(504, "504 Gateway Time-out")
    if kind is FaultKind.TIMEOUT_AFTER_ACCEPT:
        return dataclasses.replace(reply, hold_s=hold_s)
    if kind is FaultKind.DROP_CONNECTION_AFTER_ACCEPT:
        return dataclasses.replace(reply, drop=True)
    return GARBAGE
