"""Everything the sandbox remembers between requests: accounts, balances, record, faults.

One process, one event loop, no threads: handlers read and write this state without locks,
and nothing awaits between a gateway's validation and the commit of what it accepted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from providers._accounts import ProviderName
from providers.sandbox.accounts import DEMO_ACCOUNTS, DemoAccount
from providers.sandbox.faults import Faults, FaultSettings
from providers.sandbox.record import Draft, MessageIds, RecordedMessage, Recorder, sequence_id
from providers.sandbox.wire import Reply


@dataclass(slots=True)
class Outcome:
    """What a gateway handler decided: a final reply, or drafts to accept and how to answer.

    Exactly one of ``reply`` and ``render`` is set. ``render`` turns the recorded messages
    (with their ids) into the success answer; it runs only after the commit.
    """

    provider: ProviderName
    account: DemoAccount | None
    reply: Reply | None = None
    drafts: Sequence[Draft] = ()
    render: Callable[[list[RecordedMessage]], Reply] | None = None
    message_ids: MessageIds = sequence_id


FATES = ("pending", "delivered", "undelivered")


@dataclass(slots=True)
class Fates:
    """What became of accepted messages, as the status calls report it: set by tests through
    ``POST /_sandbox/fates``, by message id or by number, else ``default`` ("pending": the
    gateway has no delivery report yet, as right after a send)."""

    default: str = "pending"
    by_number: dict[str, str] = field(default_factory=dict)
    by_id: dict[str, str] = field(default_factory=dict)

    def of(self, message: RecordedMessage) -> str:
        """The fate of one recorded message."""
        found = self.by_id.get(message.message_id) or self.by_number.get(message.msisdn)
        return found or self.default

    def snapshot(self) -> dict[str, object]:
        """The settings as ``GET /_sandbox/fates`` shows them."""
        return {"default": self.default, "numbers": self.by_number, "ids": self.by_id}


class SandboxState:
    """Demo accounts and their balances, the record, and the live faults."""

    def __init__(
        self, faults: FaultSettings, accounts: Sequence[DemoAccount] = DEMO_ACCOUNTS
    ) -> None:
        self.accounts = {a.name: a for a in accounts}
        self._by_key = {(a.provider, a.key): a for a in accounts}
        self.initial_faults = faults
        self.faults = Faults(faults)
        self.record = Recorder()
        self.balances = {a.name: a.balance for a in accounts}
        # account -> {"received": n, "accepted": n, "<fault kind>": n}: send requests only
        self.requests: dict[str, Counter[str]] = {}
        self.fates = Fates()

    def count(self, account: DemoAccount | None, what: str) -> None:
        """Count one send request of ``account`` (unknown credentials count under "")."""
        name = account.name if account is not None else ""
        counts = self.requests.get(name)
        if counts is None:
            counts = self.requests[name] = Counter()
        counts[what] += 1

    def find(self, provider: ProviderName, key: str) -> DemoAccount | None:
        """The account of ``provider`` whose identifying credential is ``key``."""
        return self._by_key.get((provider, key))

    def balance(self, account: DemoAccount) -> float:
        """What ``account`` has left: credits, or BDT for AamarSMS."""
        return self.balances[account.name]

    def commit(self, outcome: Outcome, *, arrival_s: float | None = None) -> list[RecordedMessage]:
        """Record the outcome's drafts as accepted (their request arrived at ``arrival_s``)
        and charge the account for them."""
        account = outcome.account
        if account is None:
            raise ValueError("only an identified account can accept messages")
        self.balances[account.name] -= sum(d.credits for d in outcome.drafts)
        drafts, ids = outcome.drafts, outcome.message_ids
        return self.record.add(account.name, outcome.provider, drafts, ids, arrival_s=arrival_s)

    def set_faults(self, settings: FaultSettings) -> None:
        """Replace the faults: counters start again from the new settings."""
        self.faults = Faults(settings)

    def reset(self) -> None:
        """Forget the record, refill the balances, and restore the faults given at start."""
        self.record.clear()
        self.requests.clear()
        self.balances = {a.name: a.balance for a in self.accounts.values()}
        self.faults = Faults(self.initial_faults)
        self.fates = Fates()
