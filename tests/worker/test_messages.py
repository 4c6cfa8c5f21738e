"""Single messages: stored like a campaign's recipient, sent on the priority lane, and ahead
of campaign batches at the account's door."""

from __future__ import annotations

import fakeredis
import httpx
import pytest
import redis

from campaigns import get_campaign, get_message, send_message
from campaigns.errors import InputError, NothingToSend
from campaigns.handoff import set_dispatcher, set_sender
from campaigns.messages import MessageNotFound
from campaigns.routes import Route
from providers.registry import get_adapter
from worker import dispatch, keys, sending
from worker.door import (
    HORIZON_S,
    SINGLE_DEFER_MAX_S,
    SINGLE_DEFER_S,
    Deferred,
    Door,
    Turn,
    permits_for,
    requests_held,
)
from worker.ratelimit import (
    DOOR_TOLERANCE_S,
    SEND_ALLOWANCE_S,
    NotYet,
    Rate,
    RateLimiter,
    Slot,
    spacing_s,
)
from worker.sending import Outcome

from .conftest import Harness

NEPAL = "aakashsms_v3"


def v3_ok(request: httpx.Request) -> httpx.Response:
    number = request.content.decode().split("to=")[1].split("&")[0]
    valid = [{"mobile": number, "id": 4242, "network": "ntc", "credit": 1}]
    return httpx.Response(200, json={"error": False, "data": {"valid": valid}})


def test_a_message_is_stored_sent_on_the_priority_queue_and_read_back(h: Harness) -> None:
    message_id = send_message(
        "+977 984-1000001", "Your code is 4821", account=NEPAL, database_url=h.db_url,
        accounts=h.accounts,
    )  # fmt: skip
    pending = get_message(message_id, database_url=h.db_url)
    assert (pending.msisdn, pending.state, pending.account) == ("9841000001", "pending", NEPAL)
    [ref] = dispatch.release(h.ctx(v3_ok), message_id)
    assert ref.priority and ref.account == NEPAL
    assert sending.send_batch(ref.batch_id, h.ctx(v3_ok)).outcome is Outcome.DONE
    sent = get_message(message_id, database_url=h.db_url)
    assert (sent.state, sent.provider_message_id, sent.network) == ("sent", "4242", "ntc")
    assert sent.sent_at is not None and sent.finished_at is not None
    assert get_campaign(message_id, database_url=h.db_url).state == "completed"


def test_a_message_goes_straight_to_its_queue_without_a_dispatch_step(h: Harness) -> None:
    sent: list[tuple[int, int, str]] = []
    notified: list[int] = []
    set_sender(lambda *args: sent.append(args))
    set_dispatcher(notified.append)
    try:
        message_id = send_message(
            "9841000002", "Your code is 4821", account=NEPAL, database_url=h.db_url,
            accounts=h.accounts,
        )  # fmt: skip
    finally:
        set_sender(None)
        set_dispatcher(None)
    [(campaign_id, batch_id, account)] = sent
    assert (campaign_id, account, notified) == (message_id, NEPAL, [])
    assert get_campaign(message_id, database_url=h.db_url).state == "running"
    # Should that publish be lost, the tick finds a running campaign's batch with no message.
    [ref] = dispatch.release(h.ctx(v3_ok), message_id)
    assert (ref.batch_id, ref.priority) == (batch_id, True)


def test_the_priority_queue_is_named_for_the_account() -> None:
    assert keys.now_queue(NEPAL) == "smsq.now.aakashsms_v3" != keys.send_queue(NEPAL)


def test_a_message_through_a_route_goes_to_its_prefixes_account(h: Harness) -> None:
    route = Route.model_validate({"name": "r", "977": [NEPAL], "225": ["smspresto"]})
    message_id = send_message(
        "+2250701020304", "Bonjour", route=route, database_url=h.db_url, accounts=h.accounts
    )
    assert get_message(message_id, database_url=h.db_url).account == "smspresto"


@pytest.mark.parametrize(
    ("number", "error", "words"),
    [
        ("12345", NothingToSend, "invalid"),
        ("+971501234567", NothingToSend, "no route"),
    ],
)
def test_a_message_that_cannot_be_sent_is_an_error_naming_why(
    h: Harness, number: str, error: type[Exception], words: str
) -> None:
    route = Route.model_validate({"name": "r", "977": [NEPAL]})
    with pytest.raises(error, match=words):
        send_message(number, "Hi", route=route, database_url=h.db_url, accounts=h.accounts)
    with pytest.raises(InputError, match="exactly one of account and route"):
        send_message("9841000001", "Hi", database_url=h.db_url, accounts=h.accounts)


def test_a_campaign_id_is_not_a_message(h: Harness) -> None:
    campaign_id = h.submit(NEPAL, ["9841000001"], text="Hi")
    with pytest.raises(MessageNotFound, match=f"message {campaign_id} does not exist"):
        get_message(campaign_id, database_url=h.db_url)


class FakeTime:
    """One clock for the limiter (µs) and the door (s); sleeping moves it."""

    def __init__(self) -> None:
        self.now_s = 1_700_000_000.0

    def us(self) -> int:
        return round(self.now_s * 1e6)

    def sleep(self, seconds: float) -> None:
        self.now_s += seconds


def _door(rate_per_s: float = 100) -> tuple[Door, FakeTime]:
    clock = FakeTime()
    limiter = RateLimiter(fakeredis.FakeRedis(), clock_us=clock.us)
    door = Door(
        limiter, NEPAL, Rate(requests_per_s=rate_per_s), sleep=clock.sleep,
        monotonic=lambda: clock.now_s,
    )  # fmt: skip
    return door, clock


def _turn(door: Door, *, priority: bool) -> Turn | Deferred:
    return door.turn(1, priority=priority, touch=lambda: None, touch_every_s=1.0, hold_s=5.0)


def test_a_message_takes_the_next_moment_ahead_of_waiting_campaign_batches() -> None:
    door, clock = _door()
    held = []
    for _ in range(permits_for(door.rate) - 1):  # campaign batches reserving ahead
        turn = _turn(door, priority=False)
        assert isinstance(turn, Turn)
        held.append(turn)
    ahead_s = held[-1].moment_s - clock.now_s
    assert ahead_s <= HORIZON_S  # campaign batches never reserve beyond the horizon
    message = _turn(door, priority=True)
    assert isinstance(message, Turn)
    # The message waits behind at most the horizon's worth, whatever else is queued.
    assert message.moment_s - clock.now_s == pytest.approx(ahead_s + spacing_s(100), abs=1e-6)


def test_a_late_request_reserves_a_new_moment_at_the_door() -> None:
    door, clock = _door(rate_per_s=10)
    turn = _turn(door, priority=False)
    assert isinstance(turn, Turn)
    first = turn.moment_s
    clock.sleep(0.2)  # the claim took far longer than the tolerance
    turn.at_door(1)
    assert turn.moment_s > first + 0.1 and clock.now_s == pytest.approx(turn.moment_s)
    turn.__exit__(None, None, None)


def test_a_reply_held_up_on_its_way_back_does_not_make_a_late_request_punctual() -> None:
    door, clock = _door(rate_per_s=10)
    reserve = door.limiter.reserve

    def slow_reply(*args: object, **kwargs: object) -> object:
        found = reserve(*args, **kwargs)  # type: ignore[arg-type]
        if not replies:
            clock.sleep(0.08)  # a full collection between Redis's answer and this thread
        replies.append(clock.now_s)
        return found

    replies: list[float] = []
    door.limiter.reserve = slow_reply  # type: ignore[method-assign]
    asked_s = clock.now_s
    turn = _turn(door, priority=False)
    assert isinstance(turn, Turn)
    # Redis reserved the moment at its own now, 80 ms before this process read the answer.
    assert turn.deadline_s == pytest.approx(asked_s + DOOR_TOLERANCE_S - SEND_ALLOWANCE_S)
    turn.at_door(1)
    assert len(replies) == 2  # past the deadline at the door: a new moment was reserved
    assert clock.now_s <= turn.deadline_s
    turn.__exit__(None, None, None)


def test_an_upkeep_request_whose_moment_came_back_late_reserves_again() -> None:
    door, clock = _door(rate_per_s=10)
    reserve, asked = door.limiter.reserve, []

    def slow_reply(*args: object, **kwargs: object) -> object:
        asked.append(clock.now_s)
        found = reserve(*args, **kwargs)  # type: ignore[arg-type]
        if len(asked) == 1:
            clock.sleep(0.08)  # held up past the deadline on its way back
        return found

    door.limiter.reserve = slow_reply  # type: ignore[method-assign]
    door.at_priority_moment()  # an archive page, a status call
    assert len(asked) == 2
    assert clock.now_s - asked[1] <= DOOR_TOLERANCE_S - SEND_ALLOWANCE_S


def test_campaign_batches_beyond_the_permits_wait_in_process_then_give_up_their_turn() -> None:
    door, clock = _door(rate_per_s=2)
    for _ in range(permits_for(door.rate)):
        assert isinstance(_turn(door, priority=False), Turn)  # permits never returned
    started, touched = clock.now_s, []
    waited = door.turn(
        1, priority=False, touch=lambda: touched.append(1), touch_every_s=0.02, hold_s=0.1
    )
    assert isinstance(waited, Deferred)
    assert clock.now_s == started  # a semaphore's wait, not a sleep: no Redis in between
    assert len(touched) >= 5  # the batch was touched all along: held, not lost


def test_single_messages_beyond_the_accounts_whole_rate_go_back_at_once_holding_nothing() -> None:
    door, clock = _door(rate_per_s=2)
    reserve, asked = door.limiter.reserve, []

    def counted(*args: object, **kwargs: object) -> object:
        asked.append(1)
        return reserve(*args, **kwargs)  # type: ignore[arg-type]

    door.limiter.reserve = counted  # type: ignore[method-assign]
    out = [_turn(door, priority=True) for _ in range(requests_held(2))]  # a hung gateway's
    assert all(isinstance(t, Turn) for t in out) and len(asked) == len(out)
    started, touched = clock.now_s, []
    extra = door.turn(
        1, priority=True, touch=lambda: touched.append(1), touch_every_s=1.0, hold_s=5.0
    )
    # Deferred at once: no sleep, no moment reserved, its batch touched (held, not lost).
    assert extra == Deferred(SINGLE_DEFER_S, "every single-message permit of the account is held")
    assert (clock.now_s, len(asked), touched) == (started, len(out), [1])
    # While none of them finishes (a hung gateway), the wait grows: half the time since
    # one last did, up to a bound.
    waits = []
    for idle_s in (10.0, 3600.0):
        clock.sleep(idle_s - (clock.now_s - started))
        deferred = _turn(door, priority=True)
        assert isinstance(deferred, Deferred)
        waits.append(deferred.wait_s)
    assert waits == [5.0, SINGLE_DEFER_MAX_S]
    assert isinstance(_turn(door, priority=False), Turn)  # campaign batches have their own
    first = out[0]
    assert isinstance(first, Turn)
    with first:  # its answer came (or its timeout): the permit is back
        pass
    assert isinstance(_turn(door, priority=True), Turn)
    again = _turn(door, priority=True)  # one has just finished: a second's wait again
    assert isinstance(again, Deferred) and again.wait_s == SINGLE_DEFER_S
    door.at_priority_moment()  # the account's upkeep takes no single-message permit


def test_a_message_with_no_permit_free_goes_back_to_its_queue_with_a_countdown(
    h: Harness,
) -> None:
    message_id = send_message(
        "9841000003", "Your code is 4821", account=NEPAL, database_url=h.db_url,
        accounts=h.accounts,
    )  # fmt: skip
    ctx = h.ctx(v3_ok)
    [ref] = dispatch.release(ctx, message_id)
    rate = sending.rate_for(h.accounts[NEPAL], get_adapter(NEPAL))
    singles = ctx.door(NEPAL, rate).singles
    held = 0
    while singles.acquire(blocking=False):  # every one out, waiting on a hung gateway
        held += 1
    assert held == requests_held(rate.requests_per_s)
    decision = sending.send_batch(ref.batch_id, ctx)
    assert decision.outcome is Outcome.DEFERRED, decision
    [again] = decision.enqueue
    assert (again.batch_id, again.priority, again.delay_s) == (ref.batch_id, True, SINGLE_DEFER_S)
    assert get_message(message_id, database_url=h.db_url).state == "pending"
    singles.release()
    assert sending.send_batch(ref.batch_id, ctx).outcome is Outcome.DONE
    assert get_message(message_id, database_url=h.db_url).state == "sent"


@pytest.mark.parametrize("priority", [False, True], ids=["batch", "message"])
def test_a_failure_while_reserving_gives_the_permit_back(priority: bool) -> None:
    door, _clock = _door(rate_per_s=2)
    reserve = door.limiter.reserve

    def down(*_args: object, **_kwargs: object) -> object:
        raise redis.ConnectionError("Redis restarting")

    door.limiter.reserve = down  # type: ignore[method-assign]
    permits = requests_held(2) if priority else permits_for(door.rate)
    for _ in range(permits + 1):
        with pytest.raises(redis.ConnectionError):
            _turn(door, priority=priority)
    door.limiter.reserve = reserve  # type: ignore[method-assign]
    # Every permit is back: as many turns as before Redis failed, none of them deferred.
    turns = [_turn(door, priority=priority) for _ in range(permits)]
    assert all(isinstance(t, Turn) for t in turns), turns


class FullHorizon:
    """A limiter whose horizon stays full for ``naps`` asks, 10 ms each, then has a moment."""

    def __init__(self, naps: int) -> None:
        self.naps = naps

    def reserve(self, *_args: object, **_kwargs: object) -> Slot | NotYet:
        self.naps -= 1
        return NotYet(0.01, 10.0) if self.naps >= 0 else Slot(0.0, 10.0)


def test_a_batch_waiting_for_the_horizon_is_touched_once_per_interval_not_per_nap() -> None:
    clock = FakeTime()
    door = Door(
        FullHorizon(naps=250), NEPAL, Rate(requests_per_s=10),  # type: ignore[arg-type]
        sleep=clock.sleep, monotonic=lambda: clock.now_s,
    )  # fmt: skip
    touched: list[float] = []
    turn = door.turn(
        1, priority=False, touch=lambda: touched.append(clock.now_s), touch_every_s=1.0,
        hold_s=5.0,
    )  # fmt: skip
    assert isinstance(turn, Turn)
    # 2.5 s of 10 ms naps: a touch each second (each is a database write), not 250.
    assert len(touched) == 2
    assert touched[1] - touched[0] == pytest.approx(1.0)


@pytest.fixture
def h(harness: Harness) -> Harness:
    return harness
