"""Fixtures of the campaign tests: the hand-off to the worker, recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from campaigns import set_dispatcher


@pytest.fixture
def dispatched() -> Iterator[list[int]]:
    """The campaign ids handed to the worker during the test (the dispatcher is a list)."""
    calls: list[int] = []
    set_dispatcher(calls.append)
    try:
        yield calls
    finally:
        set_dispatcher(None)
