"""The sandbox's memory of every message a gateway accepted, in order, for tests to inspect."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

FIRST_MESSAGE_ID = 2673160  # the AakashSMS v3 manual's sample id; ids only go up from there


@dataclass(frozen=True, slots=True)
class Draft:
    """A message a gateway is about to accept: who, what, and what it costs."""

    msisdn: str
    text: str  # after template substitution
    segments: int
    credits: float  # what the account is charged (credits, or BDT for AamarSMS)
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """One accepted message as the sandbox recorded it (also its JSON form, field for field)."""

    index: int  # position in the record since the last reset, from 0
    request_id: int  # messages accepted by the same HTTP request share it
    account: str
    provider: str
    msisdn: str
    text: str
    message_id: str
    sender: str | None
    segments: int
    credits: float
    wall_time: float  # seconds since the epoch, when accepted
    monotonic_s: float  # when accepted: the sandbox host's CLOCK_MONOTONIC, comparable across
    # local processes; after the added latency, as the sender sees its answer begin
    arrival_s: float  # when the request's first byte arrived (same clock): what a ceiling counts

    def to_json(self) -> dict[str, Any]:
        """The JSON object ``GET /_sandbox/messages`` lists."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordedMessage:
        """Read one object of ``GET /_sandbox/messages`` back."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


MessageIds = Callable[[int, str], str]  # (sequence number, msisdn) -> the gateway's message id


def sequence_id(seq: int, msisdn: str) -> str:
    """The default message id: the global sequence number."""
    return str(seq)


class Recorder:
    """Accepted messages in acceptance order, by account and by message id."""

    def __init__(self) -> None:
        self.messages: list[RecordedMessage] = []
        self.by_account: dict[str, list[RecordedMessage]] = {}
        self.by_id: dict[str, RecordedMessage] = {}
        self._next_request_id = 1
        self._next_seq = FIRST_MESSAGE_ID

    def add(
        self,
        account: str,
        provider: str,
        drafts: Sequence[Draft],
        ids: MessageIds = sequence_id,
        *,
        arrival_s: float | None = None,
    ) -> list[RecordedMessage]:
        """Record ``drafts`` as accepted now by one request that arrived at ``arrival_s``
        (default: now); returns them with their ids."""
        request_id = self._next_request_id
        self._next_request_id += 1
        wall, mono = time.time(), time.monotonic()
        arrived = mono if arrival_s is None else arrival_s
        index, seq = len(self.messages), self._next_seq
        added = [
            RecordedMessage(
                index + i,
                request_id,
                account,
                provider,
                d.msisdn,
                d.text,
                ids(seq + i, d.msisdn),
                d.sender,
                d.segments,
                d.credits,
                wall,
                mono,
                arrived,
            )  # fmt: skip
            for i, d in enumerate(drafts)
        ]
        self._next_seq += len(drafts)
        self.messages.extend(added)
        self.by_account.setdefault(account, []).extend(added)
        for message in added:
            self.by_id[message.message_id] = message
        return added

    def since(self, index: int = 0, account: str | None = None) -> list[RecordedMessage]:
        """Messages from position ``index`` on, optionally only those of ``account``."""
        if account is None:
            return self.messages[index:]
        return [m for m in self.by_account.get(account, ()) if m.index >= index]

    def clear(self) -> None:
        """Forget everything; ids keep increasing so none is ever reused within a run."""
        self.messages.clear()
        self.by_account.clear()
        self.by_id.clear()
