"""The packer: batch sizes, grouping by text, URL budgets measured on the real request."""

from __future__ import annotations

from campaigns.batching import Item, Packer, UrlBudget
from providers import Batch as RequestBatch
from providers.registry import get_adapter
from tests.campaigns.helpers import bangladesh


def _items(count: int, text: str = "t", start: int = 0) -> list[Item]:
    return [(start + i, f"88017{start + i:08d}", text, None, 1) for i in range(count)]


def _sizes(packer: Packer) -> list[int]:
    packer.finish()
    return [len(b.items) for b in packer.take_closed()]


def test_full_batches_close_at_max_recipients() -> None:
    packer = Packer(100, per_text=True)
    for item in _items(250):
        packer.add(item)
    assert [len(b.items) for b in packer.take_closed()] == [100, 100]  # closed as they filled
    assert _sizes(packer) == [50]


def test_add_many_matches_add() -> None:
    one, many = Packer(7, per_text=True), Packer(7, per_text=True)
    for item in _items(30):
        one.add(item)
    many.add_many(_items(10))
    many.add_many(_items(20, start=10))
    one.finish()
    many.finish()
    assert [(b.seq, b.text, b.items) for b in one.take_closed()] == [
        (b.seq, b.text, b.items) for b in many.take_closed()
    ]


def test_grouping_by_text_keeps_one_text_per_batch() -> None:
    packer = Packer(3, per_text=True)
    for i, item in enumerate(_items(10)):
        packer.add((item[0], item[1], f"text {i % 2}", None, 1))
    packer.finish()
    closed = packer.take_closed()
    assert sorted(len(b.items) for b in closed) == [2, 2, 3, 3]
    for batch in closed:
        assert batch.text is not None
        assert {item[2] for item in batch.items} == {batch.text}
    assert [b.seq for b in closed] == [1, 2, 3, 4]


def test_mixed_texts_share_a_batch_without_a_batch_text() -> None:
    packer = Packer(10, per_text=False)
    packer.add((1, "1", "a", None, 1))
    packer.add((2, "2", "b", None, 1))
    packer.add((3, "3", "a", None, 1))
    packer.finish()
    (batch,) = packer.take_closed()
    assert batch.text is None and len(batch.items) == 3


def test_many_distinct_texts_are_evicted_oldest_first() -> None:
    packer = Packer(100, per_text=True, max_open_items=10)
    for i in range(30):
        packer.add((i, str(i), f"text {i}", None, 1))
    closed = packer.take_closed()
    assert closed, "open batches were bounded"
    assert [b.items[0][0] for b in closed] == sorted(b.items[0][0] for b in closed)
    packer.finish()
    assert sum(len(b.items) for b in closed + packer.take_closed()) == 30


def test_url_budget_matches_the_adapters_request() -> None:
    account = bangladesh()
    adapter = get_adapter("aamarsms")
    text = "আমার সোনার বাংলা"
    budget = UrlBudget(adapter, account, "Brand", 2000)
    numbers = tuple(f"88017{i:08d}" for i in range(5))
    request = adapter.build_request(
        account, RequestBatch(msisdns=numbers, text=text, sender="Brand")
    )
    predicted = budget.base_chars(text) + sum(len(n) for n in numbers)
    predicted += budget.separator_chars * (len(numbers) - 1)
    assert predicted == len(str(request.url))
    assert budget.base_chars(text) > 9 * len(text.replace(" ", ""))  # nine per Bangla letter


def test_packer_keeps_every_batch_url_under_the_limit() -> None:
    account = bangladesh()
    adapter = get_adapter("aamarsms")
    text = "প্রিয় গ্রাহক, আপনার বিল প্রস্তুত। " * 3
    budget = UrlBudget(adapter, account, "Brand", 1200)
    packer = Packer(100, per_text=True, budget=budget)
    packer.add_many(_items(200, text))
    packer.finish()
    closed = packer.take_closed()
    assert len(closed) > 2  # the URL, not the count, limits these batches
    assert sum(len(b.items) for b in closed) == 200
    for position, batch in enumerate(closed, start=1):
        numbers = tuple(item[1] for item in batch.items)
        request = adapter.build_request(
            account, RequestBatch(msisdns=numbers, text=text, sender="Brand")
        )
        assert len(str(request.url)) <= 1200
        if position < len(closed):  # every batch but the last is as full as the URL allows
            assert len(str(request.url)) > 1200 - 13 - budget.separator_chars
