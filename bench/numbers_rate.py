"""Benchmark: pasted numbers normalized per second, fast path beside phonenumbers alone.

``run()`` builds, for each gateway format, ``INPUTS_PER_FORMAT`` valid mobile numbers written
the ways lists carry them (the shares in ``_FORMS``: mostly as written locally, then with the
country code, with ``+``, with spaces or dashes, with ``00``), then, ``RUNS`` times and side by
side in this one process:

- normalizes all of them with ``normalizer(fmt)`` (the fast path);
- normalizes the first ``REFERENCE_INPUTS`` with ``reference_normalizer(fmt)``
  (``phonenumbers.parse`` + validation for every number: what a plain implementation costs);
- normalizes the same list with 2% made invalid (too short, landline, letters), as real
  lists are, with the fast normalizer.

Rates are medians over the runs of numbers per wall-clock second; the pooled rates count all
four formats together; the ``per_cpu_s`` rates count CPU seconds of this process instead, which
other work on the machine distorts less. Run it as ``python -m bench.numbers_rate`` (about 10 s).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable, Sequence

import phonenumbers

from campaigns.numbers import InvalidNumber, Normalized, normalizer, reference_normalizer
from providers._vocabulary import NumberFormat

INPUTS_PER_FORMAT = 30_000
REFERENCE_INPUTS = 2_500
RUNS = 5
INVALID_SHARE = 0.02
SEED = 20_260_101

# (share, form): how the numbers of one list are written. "local" is how people of the country
# write a mobile number (Nepal without a trunk 0, Bangladesh and Azerbaijan with one).
_FORMS = (
    (0.50, "local"),
    (0.20, "cc"),  # 9779841234567: the gateway formats themselves
    (0.15, "plus"),  # +9779841234567
    (0.10, "local spaced"),  # 984-123-4567, 017 1234 5678
    (0.04, "plus spaced"),  # +977 984 123 4567
    (0.01, "idd"),  # 009779841234567
)
_LOCAL_TRUNK = {"NP": "", "BD": "0", "AZ": "0", "CI": ""}
# SMSPresto lists: Côte d'Ivoire first, then its neighbours (written with their country code).
_REGIONS = {
    NumberFormat.NP_NATIONAL: ("NP",),
    NumberFormat.BD_INTL: ("BD",),
    NumberFormat.AZ_INTL: ("AZ",),
    NumberFormat.INTL: ("CI",) * 7 + ("SN", "GH", "NG", "ML", "BF"),
}


def _valid_mobiles(region: str, count: int, rng: random.Random) -> list[str]:
    """``count`` distinct national numbers phonenumbers calls valid mobiles of ``region``."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    template = phonenumbers.national_significant_number(example)
    found: set[str] = set()
    while len(found) < count:
        nsn = template[:2] + "".join(str(rng.randrange(10)) for _ in template[2:])
        number = phonenumbers.parse("+" + str(example.country_code) + nsn)
        if phonenumbers.number_type(number) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            found.add(nsn)
    return sorted(found)


def _spaced(digits: str, rng: random.Random) -> str:
    separator = rng.choice([" ", "-"])
    cut = rng.randint(2, 4)
    return digits[:cut] + separator + digits[cut : cut + 3] + separator + digits[cut + 3 :]


def _written(region: str, nsn: str, form: str, home: str, rng: random.Random) -> str:
    cc = str(phonenumbers.country_code_for_region(region))
    if region != home and form.startswith("local"):
        form = "cc"  # a neighbour's number only makes sense with its country code
    local = _LOCAL_TRUNK.get(region, "") + nsn
    return {
        "local": local,
        "cc": cc + nsn,
        "plus": "+" + cc + nsn,
        "local spaced": _spaced(local, rng),
        "plus spaced": "+" + cc + " " + _spaced(nsn, rng),
        "idd": "00" + cc + nsn,
    }[form]


def make_inputs(fmt: NumberFormat, count: int, seed: int = SEED) -> list[str]:
    """``count`` valid mobile numbers for ``fmt``, written in the mix of ``_FORMS``."""
    rng = random.Random(f"{seed}-{fmt.value}")
    regions = _REGIONS[fmt]
    pools = {region: _valid_mobiles(region, 2_000, rng) for region in set(regions)}
    shares, forms = zip(*_FORMS, strict=True)
    inputs = []
    for _ in range(count):
        region = rng.choice(regions)
        form = rng.choices(forms, weights=shares)[0]
        inputs.append(_written(region, rng.choice(pools[region]), form, regions[0], rng))
    return inputs


def with_invalid(inputs: Sequence[str], share: float, seed: int = SEED) -> list[str]:
    """``inputs`` with ``share`` of them replaced by invalid ones, as real lists have."""
    rng = random.Random(seed)
    broken = list(inputs)
    for index in rng.sample(range(len(broken)), int(len(broken) * share)):
        roll = rng.random()
        if roll < 0.5:
            broken[index] = str(rng.randrange(10_000, 99_999))  # too short
        elif roll < 0.75:
            broken[index] = "01" + str(rng.randrange(4_000_000, 4_999_999))  # a landline
        else:
            broken[index] = broken[index][:-3] + "abc"  # letters
    return broken


def _elapsed_s(
    normalize: Callable[[str], Normalized], inputs: Sequence[str]
) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of this process) to normalize ``inputs``."""
    started, started_cpu = time.perf_counter(), time.process_time()
    for raw in inputs:
        try:
            normalize(raw)
        except InvalidNumber:
            pass
    return time.perf_counter() - started, time.process_time() - started_cpu


def run() -> dict[str, float]:
    """Median normalizations per second: fast path, phonenumbers alone, and per format."""
    formats = list(_REGIONS)
    inputs = {fmt: make_inputs(fmt, INPUTS_PER_FORMAT) for fmt in formats}
    broken = {fmt: with_invalid(inputs[fmt], INVALID_SHARE) for fmt in formats}
    fast = {fmt: normalizer(fmt) for fmt in formats}
    reference = {fmt: reference_normalizer(fmt) for fmt in formats}
    seconds: dict[str, list[float]] = {}
    for _ in range(RUNS):
        for fmt in formats:
            for kind, elapsed in (
                ("fast", _elapsed_s(fast[fmt], inputs[fmt])),
                ("ref", _elapsed_s(reference[fmt], inputs[fmt][:REFERENCE_INPUTS])),
                ("invalid", _elapsed_s(fast[fmt], broken[fmt])),
            ):
                seconds.setdefault(f"{kind} {fmt.value}", []).append(elapsed[0])
                seconds.setdefault(f"{kind} cpu {fmt.value}", []).append(elapsed[1])
    return _summary(seconds, formats)


def _summary(seconds: dict[str, list[float]], formats: list[NumberFormat]) -> dict[str, float]:
    def pooled(kind: str, per_format: int) -> float:
        per_run = zip(*(seconds[f"{kind} {f.value}"] for f in formats), strict=True)
        totals: list[float] = [sum(runs) for runs in per_run]  # all formats' seconds, per run
        return statistics.median([per_format * len(formats) / total for total in totals])

    fast_per_s = pooled("fast", INPUTS_PER_FORMAT)
    reference_per_s = pooled("ref", REFERENCE_INPUTS)
    result = {
        "normalize_per_s_fast": fast_per_s,
        "normalize_per_s_phonenumbers": reference_per_s,
        "normalize_fast_vs_phonenumbers_ratio": fast_per_s / reference_per_s,
        "normalize_per_s_fast_with_2pct_invalid": pooled("invalid", INPUTS_PER_FORMAT),
        # Per CPU second of this process: what one core does when other work shares the machine.
        "normalize_per_cpu_s_fast": pooled("fast cpu", INPUTS_PER_FORMAT),
        "normalize_per_cpu_s_phonenumbers": pooled("ref cpu", REFERENCE_INPUTS),
    }
    for fmt in formats:
        runs = seconds[f"fast {fmt.value}"]
        result[f"normalize_per_s_fast_{fmt.value}"] = statistics.median(
            [INPUTS_PER_FORMAT / elapsed_s for elapsed_s in runs]
        )
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
