"""Route tables: which account sends a number, by the longest matching E.164 prefix.

A route is configured beside the accounts (``[routes.NAME]`` in the config file)::

    [routes.default]
    default_region = "NP"                 # for numbers written without a country code
    "977"   = ["nepal", "nepal_backup"]   # first account first, then fallbacks in order
    "97798" = ["ncell_cheap", "nepal"]    # a longer prefix (an operator's range) wins
    "880"   = [{account = "dhaka", weight = 3}, {account = "dhaka_b", weight = 1}]

A list of names sends everything to its first account and keeps the rest as fallbacks. A
list with weights splits the prefix's numbers between the accounts with a positive weight
(in proportion, by a hash of the number, so the same number always lands on the same
account: planning and a later failover agree without storing the choice); each number then
falls back to the others in the order listed. An entry without a weight in a weighted list
is a fallback only.

``RouteTable.accounts_for(e164)`` is the one place that answers "in which order may this
number be sent", for planning (its first account) and for failover (the next one after the
accounts that failed).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import SettingsConfigDict

from campaigns.errors import InputError
from providers._accounts import SmsqSettingsBase

MAX_PREFIX_DIGITS = 15  # E.164: a prefix longer than a whole number matches nothing


class RouteTarget(BaseModel):
    """One account of a prefix, with its share of the prefix's numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str = Field(min_length=1)
    weight: int | None = Field(default=None, ge=0)


class Route(BaseModel):
    """A route as configured: a default region and the accounts of each prefix."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    default_region: str | None = Field(default=None, min_length=2, max_length=2)
    prefixes: dict[str, tuple[RouteTarget, ...]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _prefix_keys(cls, data: Any) -> Any:
        """Digit keys of the TOML table are prefixes; names become one-account targets."""
        if not isinstance(data, Mapping):
            return data
        own = {"name", "default_region", "prefixes"}
        fields = {k: v for k, v in data.items() if k in own}
        prefixes = dict(fields.pop("prefixes", None) or {})
        for key, value in data.items():
            if key not in own:
                prefixes[str(key)] = value
        fields["prefixes"] = {
            prefix: [{"account": t} if isinstance(t, str) else t for t in _as_list(targets)]
            for prefix, targets in prefixes.items()
        }
        return fields

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.prefixes:
            raise ValueError("a route needs at least one prefix")
        for prefix, targets in self.prefixes.items():
            if not prefix.isdigit() or not prefix.isascii() or len(prefix) > MAX_PREFIX_DIGITS:
                raise ValueError(f"prefix {prefix!r} must be 1 to 15 digits (E.164, no '+')")
            if not targets:
                raise ValueError(f"prefix {prefix!r} names no account")
            names = [t.account for t in targets]
            if len(set(names)) != len(names):
                raise ValueError(f"prefix {prefix!r} names an account twice: {names}")
            if any(t.weight is not None for t in targets) and not any(t.weight for t in targets):
                raise ValueError(f"prefix {prefix!r}: every weight is 0")
        return self

    def accounts(self) -> list[str]:
        """Every account the route names, in order of first mention."""
        return list(dict.fromkeys(t.account for ts in self.prefixes.values() for t in ts))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


class RoutesSettings(SmsqSettingsBase):
    """The ``[routes.*]`` tables of the config file."""

    model_config = SettingsConfigDict(env_prefix="SMSQ_", env_nested_delimiter="__", extra="ignore")

    routes: dict[str, Route] = Field(default_factory=dict)


def load_routes() -> dict[str, Route]:
    """Every configured route by name, each carrying its own name."""
    try:
        settings = RoutesSettings()
    except ValidationError as exc:
        raise InputError(f"routes configuration: {_first_error(exc)}") from None
    return {name: r.model_copy(update={"name": name}) for name, r in settings.routes.items()}


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg']}"


@dataclass(frozen=True, slots=True)
class PrefixEntry:
    """A prefix's accounts compiled for lookups: the order of accounts for each hash slot."""

    prefix: str
    accounts: tuple[str, ...]  # as listed
    orders: tuple[tuple[str, ...], ...]  # by hash slot: primary first, then the others

    def order_for(self, e164: str) -> tuple[str, ...]:
        """The accounts ``e164`` may be sent through, first choice first."""
        if len(self.orders) == 1:
            return self.orders[0]
        return self.orders[zlib.crc32(e164.encode("ascii")) % len(self.orders)]


def _entry(prefix: str, targets: Sequence[RouteTarget]) -> PrefixEntry:
    names = tuple(t.account for t in targets)
    weighted = any(t.weight is not None for t in targets)
    weights = [t.weight or 0 for t in targets] if weighted else [1] + [0] * (len(targets) - 1)
    slots: list[tuple[str, ...]] = []
    for index, weight in enumerate(weights):
        order = (names[index], *(n for i, n in enumerate(names) if i != index))
        slots += [order] * weight
    return PrefixEntry(prefix, names, tuple(slots))


class RouteTable:
    """A route compiled for planning and failover: longest-prefix lookups of E.164 digits."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.name = route.name
        self.default_region = route.default_region
        self._entries = {p: _entry(p, ts) for p, ts in route.prefixes.items()}
        self._lengths = sorted({len(p) for p in self._entries}, reverse=True)

    def entry_for(self, e164: str) -> PrefixEntry | None:
        """The entry of the longest prefix that starts ``e164``, or None (no route)."""
        entries = self._entries
        for length in self._lengths:
            hit = entries.get(e164[:length])
            if hit is not None:
                return hit
        return None

    def accounts_for(self, e164: str) -> tuple[str, ...]:
        """The accounts ``e164`` may go through, first choice first; () when none covers it."""
        entry = self.entry_for(e164)
        return () if entry is None else entry.order_for(e164)

    def to_json(self) -> str:
        """The route as stored with a campaign (a snapshot: later config edits don't move it)."""
        return self.route.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, stored: str) -> RouteTable:
        """The route a campaign was planned with."""
        return cls(Route.model_validate(json.loads(stored)))
