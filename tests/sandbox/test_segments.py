"""Segment counting as the sandbox charges it."""

from __future__ import annotations

import pytest

from providers.sandbox.segments import gsm7_septets, segment_count


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters take two septets each
        ("€" * 81, 2),
        ("ş" * 70, 1),  # Azerbaijani: UCS-2
        ("ş" * 71, 2),
        ("ş" * 134, 2),
        ("ş" * 135, 3),
        ("😀" * 35, 1),  # an emoji is two UTF-16 units
        ("😀" * 36, 2),
    ],
)
def test_segment_count(text: str, segments: int) -> None:
    assert segment_count(text) == segments


def test_septets() -> None:
    assert gsm7_septets("Hello {world}") == 15
    assert gsm7_septets("नमस्ते") is None
