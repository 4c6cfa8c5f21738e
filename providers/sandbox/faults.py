"""Fault injection: what the sandbox does wrong, when, and to whom.

Settings (JSON, all fields optional; the top level is the global scope, ``accounts`` holds
per-account scopes keyed by sandbox account name)::

    {
      "seed": 0,                      # makes the rate draws reproducible
      "latency_ms": 0,                # added before every gateway request is handled
      "hold_s": 30,                   # how long timeout_after_accept holds the answer
      "rate_ceiling_per_s": null,     # per account: more sends than this in 1 s get 429
      "rates": {"http_503": 0.05},    # probability per send request, per kind (sum <= 1)
      "next": {"http_500": 2},        # the next N send requests get this kind, for certain
      "fail_numbers": ["9841000001"], # numbers the gateway refuses one by one
      "accounts": {"smsplus_az": {"next": {"gateway_error": 1}}}
    }

Kinds, in the order they are checked. Before accepting (nothing is recorded or charged):
``http_429``, ``http_500``, ``http_503``, ``gateway_error`` (the gateway's own transient
code: SMSPlus.az 122; the other gateways document none and answer HTTP 503 instead) and
``garbage_before_accept`` (200 with an HTML page). After accepting (the messages are
recorded and charged, the client cannot tell): ``http_504``, ``timeout_after_accept`` (the
real answer is held ``hold_s`` seconds, so a client with a shorter read timeout gives up),
``drop_connection_after_accept`` (status line and headers, then the connection closes
without a body) and ``garbage_after_accept``. An after-accept fault strikes only a request
the gateway accepted; a refused request leaves its ``next`` counter untouched.

Faults apply to send requests only (valid or not: a before-accept fault strikes before
validation); latency applies to every gateway request. A request whose credentials match no
demo account meets only the global scope. The ceiling counts the account's send requests
let through in the last second, at their arrival (before the latency); those it refuses do
not count. An account scope's
``latency_ms``, ``hold_s``, ``rate_ceiling_per_s`` and per-kind ``rates`` override the
global ones; its ``next`` counters are consumed before the global ones; ``fail_numbers``
add up. ``next`` counters win over rates, and one request suffers at most one fault.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, model_validator

DEFAULT_HOLD_S = 30.0
WINDOW_S = 1.0  # the rate ceiling's sliding window


class FaultKind(StrEnum):
    """One way a send request can go wrong; the order is the order of checking."""

    HTTP_429 = "http_429"
    HTTP_500 = "http_500"
    HTTP_503 = "http_503"
    GATEWAY_ERROR = "gateway_error"
    GARBAGE_BEFORE_ACCEPT = "garbage_before_accept"
    HTTP_504 = "http_504"
    TIMEOUT_AFTER_ACCEPT = "timeout_after_accept"
    DROP_CONNECTION_AFTER_ACCEPT = "drop_connection_after_accept"
    GARBAGE_AFTER_ACCEPT = "garbage_after_accept"

    @property
    def after_accept(self) -> bool:
        """True when the messages are recorded and charged before the fault shows."""
        return self in AFTER_ACCEPT


BEFORE_ACCEPT = (
    FaultKind.HTTP_429,
    FaultKind.HTTP_500,
    FaultKind.HTTP_503,
    FaultKind.GATEWAY_ERROR,
    FaultKind.GARBAGE_BEFORE_ACCEPT,
)
AFTER_ACCEPT = tuple(kind for kind in FaultKind if kind not in BEFORE_ACCEPT)

Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class FaultSpec(BaseModel):
    """The faults of one scope (global or one account); unset fields inherit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: float | None = Field(default=None, ge=0)
    hold_s: float | None = Field(default=None, gt=0)
    rate_ceiling_per_s: float | None = Field(default=None, gt=0)
    rates: dict[FaultKind, Rate] = Field(default_factory=dict)
    next: dict[FaultKind, NonNegativeInt] = Field(default_factory=dict)
    fail_numbers: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _rates_are_a_distribution(self) -> Self:
        if sum(self.rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates of one scope must sum to at most 1")
        return self


class FaultSettings(FaultSpec):
    """Global faults, a seed, and per-account overrides: what ``/_sandbox/faults`` takes."""

    seed: int = 0
    accounts: dict[str, FaultSpec] = Field(default_factory=dict)

    @classmethod
    def coerce(cls, value: FaultSettings | Mapping[str, Any] | None) -> FaultSettings:
        """Settings from a model, a JSON-like mapping (validated) or None (no faults)."""
        if value is None:
            return cls()
        if isinstance(value, FaultSettings):
            return value
        return cls.model_validate(value)


class Faults:
    """The live fault state: settings, remaining ``next`` counters, rate windows, the RNG."""

    def __init__(self, settings: FaultSettings) -> None:
        self.settings = settings
        # Nothing configured: gateways skip every check (the benchmark path).
        self.active = settings.model_dump(exclude={"seed"}) != FaultSettings().model_dump(
            exclude={"seed"}
        )
        self._rng = random.Random(settings.seed)
        self._counters: dict[str, dict[FaultKind, int]] = {"": dict(settings.next)}
        for name, spec in settings.accounts.items():
            self._counters[name] = dict(spec.next)
        self._windows: dict[str, deque[float]] = {}
        self._fail_numbers: dict[str | None, frozenset[str]] = {}

    def _scope(self, account: str | None) -> FaultSpec | None:
        return self.settings.accounts.get(account) if account is not None else None

    def _value(self, account: str | None, name: str) -> Any:
        spec = self._scope(account)
        value = getattr(spec, name) if spec is not None else None
        return getattr(self.settings, name) if value is None else value

    def latency_s(self, account: str | None) -> float:
        """Latency to add before handling a request of ``account``."""
        latency_ms: float | None = self._value(account, "latency_ms")
        return (latency_ms or 0.0) / 1000.0

    def hold_s(self, account: str | None) -> float:
        """How long ``timeout_after_accept`` holds an answer to ``account``."""
        hold_s: float | None = self._value(account, "hold_s")
        return DEFAULT_HOLD_S if hold_s is None else hold_s

    def fail_numbers(self, account: str | None) -> frozenset[str]:
        """Numbers the gateway refuses for ``account`` (global and the account's own)."""
        cached = self._fail_numbers.get(account)
        if cached is None:
            spec = self._scope(account)
            own = spec.fail_numbers if spec is not None else ()
            cached = frozenset((*self.settings.fail_numbers, *own))
            self._fail_numbers[account] = cached
        return cached

    def before_accept(
        self, account: str | None, now_s: float
    ) -> tuple[FaultKind | None, FaultKind | None]:
        """The fault to answer with now, and a drawn after-accept fault to apply later.

        Every send request draws once from the RNG (when rates are set), whatever happens,
        so the same sequence of requests meets the same faults for the same seed.
        """
        if self._over_ceiling(account, now_s):
            return FaultKind.HTTP_429, None
        counted = self._take(account, BEFORE_ACCEPT)
        rolled = self._roll(account)
        if counted is not None:
            return counted, None
        if rolled is not None and not rolled.after_accept:
            return rolled, None
        return None, rolled

    def after_accept(self, account: str | None, rolled: FaultKind | None) -> FaultKind | None:
        """The fault to apply to an accepted send: a ``next`` counter first, else the draw."""
        return self._take(account, AFTER_ACCEPT) or rolled

    def _over_ceiling(self, account: str | None, now_s: float) -> bool:
        ceiling: float | None = self._value(account, "rate_ceiling_per_s")
        if ceiling is None or account is None:
            return False
        window = self._windows.setdefault(account, deque())
        while window and window[0] <= now_s - WINDOW_S:
            window.popleft()
        if len(window) >= ceiling:
            return True
        window.append(now_s)
        return False

    def _take(self, account: str | None, kinds: tuple[FaultKind, ...]) -> FaultKind | None:
        scopes = (account, "") if account is not None else ("",)
        for scope in scopes:
            counters = self._counters.get(scope)
            if not counters:
                continue
            for kind in kinds:
                if counters.get(kind, 0) > 0:
                    counters[kind] -= 1
                    return kind
        return None

    def _roll(self, account: str | None) -> FaultKind | None:
        spec = self._scope(account)
        rates = {**self.settings.rates, **spec.rates} if spec is not None else self.settings.rates
        if not rates:
            return None
        draw, cumulative = self._rng.random(), 0.0
        for kind in FaultKind:
            cumulative += rates.get(kind, 0.0)
            if draw < cumulative:
                return kind
        return None

    def snapshot(self) -> dict[str, Any]:
        """The settings as JSON, ``next`` showing the counters still remaining."""
        data = self.settings.model_dump(mode="json", exclude_defaults=True)
        data["seed"] = self.settings.seed
        data["next"] = _remaining(self._counters[""])
        for name, spec_data in data.get("accounts", {}).items():
            spec_data["next"] = _remaining(self._counters.get(name, {}))
        return data


def _remaining(counters: Mapping[FaultKind, int]) -> dict[str, int]:
    return {kind.value: n for kind, n in counters.items() if n > 0}
