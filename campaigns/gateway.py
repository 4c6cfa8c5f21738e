"""What one campaign may put in a request: the account's gateway limits, resolved once.

An account can override its adapter's limits (``max_recipients``, ``max_url_chars``), and an
adapter may vary them by account through ``Adapter.limits_for(account)`` (SMSPresto: its GET
form has a URL limit and one text per request, its POST form neither). A URL limit
only binds requests the adapter sends by GET (AakashSMS v3 with ``options.method = "GET"``
and an account ``max_url_chars``, say); whether it does is read off a probe request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from campaigns.batching import Packer, UrlBudget
from campaigns.errors import InputError, UnknownAccount
from providers import Account, Adapter, Limits, load_accounts
from providers import Batch as RequestBatch
from providers.registry import get_adapter


@dataclass(frozen=True, slots=True)
class Gateway:
    """An account with its adapter and the limits that hold for it."""

    account: Account
    adapter: Adapter
    limits: Limits
    max_recipients: int
    max_url_chars: int | None  # only for GET gateways, whose URL carries the numbers
    sender_max_chars: int | None

    def packer(self, sender: str | None, *, seq: Iterator[int] | None = None) -> Packer:
        """A packer for this gateway's requests (one text each unless the gateway mixes),
        numbering its batches from ``seq`` (default: from 1)."""
        budget = self.url_budget(sender)
        per_text = not self.limits.text_per_recipient and not self.limits.template_params
        per_text = per_text or budget is not None  # a URL is measured for one text
        return Packer(
            self.max_recipients, per_text=per_text, budget=budget, seq=seq,
            account=self.account.name, provider=self.account.provider,
        )  # fmt: skip

    def url_budget(self, sender: str | None) -> UrlBudget | None:
        """The URL budget of this gateway's requests, or None where the URL holds no numbers."""
        if self.max_url_chars is None:
            return None
        return UrlBudget(self.adapter, self.account, sender, self.max_url_chars)


def resolve_account(account: str | Account, accounts: Mapping[str, Account] | None) -> Account:
    """The Account itself, or the configured account of that name (UnknownAccount if none)."""
    if isinstance(account, Account):
        return account
    known = dict(accounts) if accounts is not None else load_accounts()
    found = known.get(account)
    if found is None:
        names = ", ".join(sorted(known)) or "none configured"
        raise UnknownAccount(f"account {account!r} is not configured (known: {names})")
    # The configuration's key is the name batches carry and workers' queues are named by.
    return found if found.name == account else found.model_copy(update={"name": account})


def gateway_for(account: Account) -> Gateway:
    """The gateway of ``account`` with its limits resolved (InputError for a bad setting)."""
    adapter = get_adapter(account.provider)
    try:
        limits = adapter.limits_for(account)
    except ValueError as exc:
        raise InputError(f"account {account.name!r}: {exc}") from None
    max_url = account.max_url_chars or limits.max_url_chars  # the account's overrides
    if max_url is not None and not _sends_by_get(adapter, account):
        max_url = None  # a POST's URL holds no numbers: nothing to budget
    return Gateway(
        account=account,
        adapter=adapter,
        limits=limits,
        max_recipients=account.max_recipients or limits.max_recipients,
        max_url_chars=max_url,
        sender_max_chars=limits.sender_max_chars,
    )


def _sends_by_get(adapter: Adapter, account: Account) -> bool:
    """Whether ``adapter`` sends ``account``'s batches by GET (numbers in the URL)."""
    probe = RequestBatch(msisdns=("100000000001",), text="x", sender=account.sender or "x")
    try:
        return adapter.build_request(account, probe).method == "GET"
    except Exception:  # cannot tell (e.g. a template gateway): budget the URL, to be safe
        return True
