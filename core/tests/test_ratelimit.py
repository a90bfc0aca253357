"""The client-side rate limiter: KIE's documented limits (kie-api.md §8) are never exceeded.

A "KIE" here enforces the limits exactly as documented — 20 creates in any 10 s, 10 status
polls in any second, 3 polls of one 4o/Suno task in any second — and answers 429 past them. The
limiter's verdicts are checked on fake time (a batch of 1,000 creates), with many threads and
many asyncio tasks on real time (small limits, so it stays fast), and as a property.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kiekit import Rate, RateLimiter, RateLimits, Registry, RetryPolicy, Task
from kiekit._engine import Engine
from kiekit.errors import RateLimitStoreError
from kiekit.polling import PollPolicy
from kiekit.shared_limits import SharedRateLimiter
from kiekit.transport import HttpRequest, HttpResponse, MockTransport, drive

GROK = "grok-imagine/text-to-image"
GPT4O = "gpt4o-image"


def envelope(data: Any, code: int = 200) -> HttpResponse:
    return HttpResponse(200, json.dumps({"code": code, "msg": "m", "data": data}).encode())


def too_many(times: list[float], now: float, rate: Rate) -> bool:
    """Whether one more request at ``now`` would be the (count+1)-th within ``per`` seconds."""
    return len(times) - bisect_right(times, now - rate.per) >= rate.count


@dataclass
class StrictKie:
    """Answers creates and polls, and 429 for any request past a documented limit."""

    clock: Callable[[], float]
    creates: Rate = field(default_factory=lambda: Rate(20, 10.0))
    polls: Rate = field(default_factory=lambda: Rate(10, 1.0))
    per_task: Rate = field(default_factory=lambda: Rate(3, 1.0))
    created: list[float] = field(default_factory=list)
    polled: list[float] = field(default_factory=list)
    polled_task: dict[str, list[float]] = field(default_factory=dict)
    refused: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.transport = MockTransport(self.handle)

    def handle(self, request: HttpRequest) -> HttpResponse:
        with self.lock:
            now = self.clock()
            url = urlsplit(request.url)
            if request.method == "POST":
                times, rates = [self.created], [self.creates]
                data: Any = {"taskId": f"t{len(self.created)}"}
            else:
                task_id = parse_qs(url.query)["taskId"][0]
                task_times = self.polled_task.setdefault(task_id, [])
                times, rates = [self.polled, task_times], [self.polls, self.per_task]
                data = {"taskId": task_id, "successFlag": 0, "status": "GENERATING"}
                if "jobs" in url.path:
                    data = {"taskId": task_id, "state": "generating", "param": ""}
            if any(too_many(t, now, r) for t, r in zip(times, rates, strict=True)):
                self.refused += 1
                return envelope(None, code=429)
            for kept in times:
                kept.append(now)
            return envelope(data)


@dataclass
class FakeTime:
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def engine(
    limits: RateLimits | None = None, limiter: RateLimiter | SharedRateLimiter | None = None
) -> Engine:
    return Engine(
        api_key="sk-ratelimit-test",
        base_url="https://api.kie.ai",
        registry=Registry(),
        poll=PollPolicy(),
        user_agent="kiekit-tests",
        limiter=limiter or RateLimiter(limits or RateLimits()),
    )


# -- the limiter's arithmetic --------------------------------------------------------------------


def test_twenty_creates_go_at_once_and_the_twenty_first_waits_a_window() -> None:
    limiter = RateLimiter(RateLimits(margin=0.25))

    waits = [limiter.reserve_create(100.0) for _ in range(21)]

    assert waits[:20] == [0.0] * 20
    assert waits[20] == pytest.approx(10.25)


def test_polls_of_one_task_keep_the_per_task_limit_and_others_only_the_key_limit() -> None:
    limiter = RateLimiter(RateLimits(margin=0.0))
    three = Rate(3, 1.0)

    first = [limiter.reserve_status(0.0, "a", three) for _ in range(4)]
    other = limiter.reserve_status(0.0, "b", three)

    assert first == [0.0, 0.0, 0.0, 1.0]
    assert other == 1.0  # first come, first served: it queues behind a's fourth poll


def test_switched_off_limits_never_wait() -> None:
    limiter = RateLimiter(RateLimits(creates=None, status=None))

    assert {limiter.reserve_create(0.0) for _ in range(100)} == {0.0}
    assert {limiter.reserve_status(0.0, "a") for _ in range(100)} == {0.0}


@pytest.mark.parametrize(
    "make",
    [
        lambda: Rate(0, 1.0),
        lambda: Rate(3, 0),
        lambda: Rate(3, float("inf")),
        lambda: Rate(True, 1),
    ],
)
def test_a_nonsense_rate_is_refused(make: Callable[[], Rate]) -> None:
    with pytest.raises(ValueError, match=r"Rate\."):
        make()


@given(
    arrivals=st.lists(st.floats(min_value=0, max_value=30, allow_nan=False), max_size=120),
    count=st.integers(1, 25),
    per=st.floats(min_value=0.01, max_value=10),
)
def test_any_arrivals_get_slots_that_keep_the_window(
    arrivals: list[float], count: int, per: float
) -> None:
    rate = Rate(count, per)
    limiter = RateLimiter(RateLimits(creates=rate, margin=0.0))
    slots: list[float] = []

    for now in sorted(arrivals):
        wait = limiter.reserve_create(now)
        assert wait >= 0
        slots.append(now + wait)

    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(slots))  # first come, first served
    for index, slot in enumerate(slots):
        assert not too_many(slots[:index], slot + 1e-9 * per, rate)


def test_the_per_task_windows_of_finished_tasks_are_forgotten() -> None:
    limiter = RateLimiter(RateLimits(margin=0.0))
    three = Rate(3, 1.0)

    for index in range(2000):
        limiter.reserve_status(index * 0.2, f"task-{index}", three)

    assert len(limiter._per_task) <= 600


# -- on fake time through the engine -------------------------------------------------------------


def test_a_batch_of_1000_creates_never_draws_a_429() -> None:
    fake = FakeTime()
    kie = StrictKie(fake.clock)
    eng = engine()
    params = eng.create_request(GROK, eng.prepare(GROK, None, {"prompt": "a fox"}))

    for _ in range(1000):
        drive(eng.submit(GROK, params), kie.transport, sleep=fake.sleep, clock=fake.clock)

    assert kie.refused == 0
    assert len(kie.created) == 1000
    # and not much slower than the limit allows: 50 windows of 10 s (plus the margins)
    assert 490 <= fake.now <= 50 * 10.1


def test_polls_keep_the_key_limit_and_the_4o_per_task_limit() -> None:
    registry = Registry()
    provider = registry.provider(GPT4O)
    assert provider.status_rate_per_task == Rate(3, 1.0)  # declared by the plugin (§3.1)
    fake = FakeTime()
    kie = StrictKie(fake.clock)
    eng = engine()

    for index in range(60):
        task = Task("one-4o-task", GPT4O) if index % 2 else Task(f"grok-{index}", GROK)
        drive(eng.status(task), kie.transport, sleep=fake.sleep, clock=fake.clock)

    assert kie.refused == 0
    assert len(kie.polled) == 60


def test_without_the_limiter_the_same_batch_is_refused() -> None:
    """The strict KIE above is not a pushover: unlimited, a burst draws 429s."""
    fake = FakeTime()
    kie = StrictKie(fake.clock)
    eng = Engine(
        api_key="sk-ratelimit-test",
        base_url="https://api.kie.ai",
        registry=Registry(),
        poll=PollPolicy(),
        user_agent="kiekit-tests",
    )
    params = eng.create_request(GROK, eng.prepare(GROK, None, {"prompt": "a fox"}))

    from kiekit import RateLimitedError

    def burst() -> None:
        for _ in range(21):
            drive(eng.submit(GROK, params), kie.transport, sleep=fake.sleep, clock=fake.clock)

    with pytest.raises(RateLimitedError):
        burst()


# -- real time, many threads and many tasks ------------------------------------------------------

# Small limits keep these fast; the margin absorbs a busy machine's scheduling jitter.
SMALL = RateLimits(creates=Rate(4, 0.1), status=Rate(4, 0.1), margin=0.1)
ROOMY = Rate(10_000, 0.1)  # a KIE that never refuses: the bookings are what is checked


class Booked(RateLimiter):
    """A limiter that keeps every send time it hands out. Threads and tasks are checked on these,
    not on arrival times, which a loaded machine's scheduler shifts at will."""

    def __init__(self, limits: RateLimits) -> None:
        super().__init__(limits)
        self.creates: list[float] = []
        self.polls: list[float] = []

    def book_create(self, now: float, *, latest: float | None = None) -> float | None:
        slot = super().book_create(now, latest=latest)
        if slot is not None:
            self.creates.append(slot)
        return slot

    def book_status(self, now: float, task_id: str, per_task: Rate | None = None, *,
                    latest: float | None = None) -> float | None:  # fmt: skip
        slot = super().book_status(now, task_id, per_task, latest=latest)
        if slot is not None:
            self.polls.append(slot)
        return slot


def kept(times: list[float], rate: Rate) -> bool:
    """No window of ``rate.per`` seconds holds more than ``rate.count`` of ``times``."""
    ordered = sorted(times)
    return all(
        later - earlier >= rate.per
        for earlier, later in zip(ordered, ordered[rate.count :], strict=False)
    )


def test_threads_of_one_client_share_its_limits(kit: SimpleNamespace) -> None:
    from kiekit import Client

    kie = StrictKie(time.monotonic, creates=ROOMY)
    limiter = Booked(SMALL)
    errors: list[BaseException] = []

    with Client("sk-ratelimit-test", transport=kie.transport, rate_limits=limiter) as client:

        def work() -> None:
            try:
                for _ in range(4):
                    client.submit(GROK, prompt="a fox")
            except BaseException as exc:  # handed to the test thread
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)

    assert errors == []
    assert len(kie.created) == 16
    assert len(limiter.creates) == 16  # one booking per create: every thread used the one limiter
    assert kept(limiter.creates, Rate(4, 0.1))


def test_tasks_of_one_async_client_share_its_limits(kit: SimpleNamespace) -> None:
    from kiekit import AsyncClient

    kie = StrictKie(time.monotonic, creates=ROOMY, polls=ROOMY, per_task=ROOMY)
    limiter = Booked(SMALL)

    async def scenario() -> None:
        async with AsyncClient(
            "sk-ratelimit-test", transport=kie.transport, rate_limits=limiter
        ) as client:
            tasks = await asyncio.gather(*(client.submit(GROK, prompt="a fox") for _ in range(12)))
            await asyncio.gather(*(client.status(task) for task in tasks))

    asyncio.run(scenario())

    assert (len(kie.created), len(kie.polled)) == (12, 12)
    assert (len(limiter.creates), len(limiter.polls)) == (12, 12)
    assert kept(limiter.creates, Rate(4, 0.1))
    assert kept(limiter.polls, Rate(4, 0.1))


def test_two_clients_given_one_limiter_share_it() -> None:
    from kiekit import Client

    shared = RateLimiter(RateLimits(creates=Rate(3, 60.0), margin=0.0))
    kie = StrictKie(time.monotonic, creates=Rate(3, 60.0))
    one = Client("sk-a", transport=kie.transport, rate_limits=shared)
    two = Client("sk-a", transport=kie.transport, rate_limits=shared)
    for client in (one, two, one):
        client.submit(GROK, prompt="a fox")

    assert len(kie.created) == 3
    # the account's fourth create, from either client, waits for the window
    assert shared.reserve_create(time.monotonic()) > 59


def test_clients_keep_the_documented_limits_unless_switched_off(api: Any) -> None:
    from kiekit import RateLimitedError

    kie = StrictKie(time.monotonic)

    async def burst() -> None:
        off = {"rate_limits": None, "retry": RetryPolicy.never()}
        async with api.client(transport=kie.transport, **off) as client:
            for _ in range(21):
                await client.submit(GROK, prompt="a fox")

    with pytest.raises(RateLimitedError):  # switched off: KIE's limit is hit
        api.run(burst)

    default = api.client(transport=kie.transport).client._engine.limiter
    assert default.limits == RateLimits(creates=Rate(20, 10.0), status=Rate(10, 1.0))


def test_a_wait_never_overruns_its_deadline_waiting_for_a_slot() -> None:
    from kiekit import WaitTimeoutError

    fake = FakeTime(now=50.0)
    kie = StrictKie(fake.clock)
    eng = engine(RateLimits(status=Rate(2, 60.0), margin=0.0))
    assert isinstance(eng.limiter, RateLimiter)
    for _ in range(2):  # other polls of this key used up the minute
        eng.limiter.reserve_status(fake.now, "other-task")
    flow = eng.wait(Task("t1", GROK), policy=PollPolicy(initial=1, timeout=5))

    with pytest.raises(WaitTimeoutError) as info:
        drive(flow, kie.transport, sleep=fake.sleep, clock=fake.clock)

    assert info.value.task_id == "t1"
    assert fake.now == pytest.approx(55.0)  # gave up at the deadline, not at the slot
    assert kie.polled == []


def test_posts_sent_through_call_count_as_creates_and_gets_do_not() -> None:
    """Client.call may start paid work (Veo's 4K upgrade): it shares the creates' budget."""
    from kiekit import Request

    fake = FakeTime()
    eng = engine(RateLimits(margin=0.0))
    transport = MockTransport(lambda request: envelope("ok"))
    post = Request("POST", "/api/v1/veo/get-4k-video", body={"taskId": "t"})
    get = Request("GET", "/api/v1/veo/get-1080p-video", query={"taskId": "t"})

    for _ in range(20):
        drive(eng.call(post), transport, sleep=fake.sleep, clock=fake.clock)
    for _ in range(30):
        drive(eng.call(get), transport, sleep=fake.sleep, clock=fake.clock)
    assert fake.now == 0.0
    drive(eng.call(post), transport, sleep=fake.sleep, clock=fake.clock)

    assert fake.now == pytest.approx(10.0)


# -- admission: KIE counts arrivals, not send times (issue 18) -----------------------------------


def test_a_create_is_admitted_only_while_the_window_of_arrivals_has_room() -> None:
    limiter = RateLimiter(RateLimits(creates=Rate(2, 10.0), margin=0.0))
    assert limiter.admit_create(0.0) == 0.0
    assert limiter.admit_create(0.0) == 0.0
    assert limiter.admit_create(0.0) > 0  # both may arrive any moment: ask again soon
    limiter.create_answered(0.3)  # it reached KIE at 0.3 at the latest
    limiter.create_answered(0.5)
    assert limiter.admit_create(10.0) == pytest.approx(0.3)  # not 10.0: it may have come at 0.3
    assert limiter.admit_create(10.3) == 0.0
    assert limiter.admit_create(10.3) == pytest.approx(0.2)
    assert limiter.admit_create(10.5) == 0.0


@given(st.randoms(use_true_random=False))
def test_creates_sent_in_bursts_with_any_latency_never_draw_a_429(rng: Any) -> None:
    """A discrete-event run on fake time: 200 creates booked at once (as a gathered batch
    books them), each sent at its slot once admitted, reaching the server after a random
    delay and answered after another. The server counts arrivals in a sliding window, as KIE
    does; however late or bunched the arrivals, none is the 21st in 10 s, and the batch still
    takes little more than the windows it must."""
    import heapq

    rate = Rate(20, 10.0)
    limiter = RateLimiter(RateLimits(creates=rate, margin=0.0))
    events: list[tuple[float, int, str, int]] = []  # (time, order, what, create)
    order = itertools.count()
    for create in range(200):
        heapq.heappush(events, (limiter.reserve_create(0.0), next(order), "wake", create))
    arrivals: list[float] = []
    refused = 0
    while events:
        now, _, what, create = heapq.heappop(events)
        if what == "wake":
            wait = limiter.admit_create(now)
            if wait > 0:
                heapq.heappush(events, (now + wait, next(order), "wake", create))
                continue
            there = now + rng.uniform(0.0, 0.8)
            heapq.heappush(events, (there, next(order), "arrive", create))
        elif what == "arrive":
            if too_many(sorted(arrivals), now, rate):
                refused += 1
            arrivals.append(now)
            heapq.heappush(events, (now + rng.uniform(0.0, 0.3), next(order), "answer", create))
        else:
            limiter.create_answered(now)

    assert refused == 0
    assert len(arrivals) == 200
    # 9 windows at least after the first burst; the delays may add about one each
    assert 90.0 <= max(arrivals) <= 9 * (10.0 + 0.8 + 0.3) + 0.8


class SharedOnFakeTime(SharedRateLimiter):
    """The shared limiter's ops (book, admit, answered) kept by an in-process limiter on fake
    time, as Redis keeps them on its own clock: the engine's shared path, without Redis."""

    def __init__(self, fake: FakeTime, limits: RateLimits) -> None:
        super().__init__("redis://127.0.0.1:1/0", limits)  # never connected: reserve is this one
        self.fake, self.kept = fake, RateLimiter(limits)
        self.slots: dict[str, float] = {}  # each booking's member -> its slot

    def reserve(self, op: Any) -> float | None:
        now, kept, poll = self.fake.now, self.kept, op.task_id is not None
        latest = None if op.within is None else now + op.within
        if op.action == "book":
            if poll:
                slot = kept.book_status(now, op.task_id, op.per_task, latest=latest)
            else:
                slot = kept.book_create(now, latest=latest)
            if slot is not None:
                self.slots[op.member] = slot
            return None if slot is None else slot - now
        if op.action == "release":
            slot = self.slots.pop(op.member)
            if poll:
                kept.give_back_status(slot, op.task_id, op.per_task)
            else:
                kept.give_back_create(slot)
            return 0.0
        if op.action == "admit":
            return kept.admit_status(now) if poll else kept.admit_create(now)
        (kept.status_answered if poll else kept.create_answered)(now)
        return 0.0


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "shared"])
def test_a_poll_sent_late_after_its_slot_does_not_make_a_later_one_draw_a_429(
    shared: bool,
) -> None:
    """An outside tester's four webhook workers on one Redis drew a poll 429 with no outage: a
    poll sent 0.3 s after its slot (a busy event loop; Redis's answer read late, while the slot
    is on Redis's clock) came within a second of the poll booked a window after it, which went
    on time. The 0.1 s margin cannot cover lateness of any size; admission by what may have
    arrived does, as it does for creates."""
    fake = FakeTime()
    kie = StrictKie(fake.clock)
    limits = RateLimits(margin=0.1)  # 10 polls a second per key (§8)
    eng = engine(limiter=SharedOnFakeTime(fake, limits) if shared else RateLimiter(limits))
    late = [0.3]  # the first poll reaches KIE this long after its slot, the others at once

    def answer(request: HttpRequest) -> HttpResponse:
        fake.now += late.pop() if late else 0.0
        return kie.handle(request)

    for index in range(11):  # ten polls fill the second; the eleventh is booked a window on
        drive(eng.status(Task(f"grok-{index}", GROK)), MockTransport(answer),
              sleep=fake.sleep, clock=fake.clock)  # fmt: skip

    assert kie.refused == 0
    assert len(kie.polled) == 11
    assert kie.polled[10] - kie.polled[0] >= 1.0  # a second after the late one's arrival


# -- the shared limits' Redis out for a while (a restart, a fail-over) ---------------------------


class RedisOut(SharedRateLimiter):
    """A shared limiter whose Redis fails its first ``out`` asks; ``outage``: it had answered
    before (a restart), or never (a wrong URL). Every other ask is granted at once."""

    def __init__(self, out: int, *, outage: bool = True) -> None:
        super().__init__("redis://127.0.0.1:1/0")  # never connected: reserve is this one
        self.out, self.outage = out, outage
        self.asked: list[str] = []

    def reserve(self, op: Any) -> float | None:
        self.asked.append(op.action)
        if len(self.asked) <= self.out:
            message = f"the shared rate limits at {self.url} cannot be used: Connection refused"
            raise RateLimitStoreError(message, url=self.url, outage=self.outage)
        return 0.0


def _create_through(limiter: SharedRateLimiter, fake: FakeTime) -> StrictKie:
    kie = StrictKie(fake.clock)
    eng = engine(limiter=limiter)
    params = eng.create_request(GROK, eng.prepare(GROK, None, {"prompt": "a fox"}))
    drive(eng.submit(GROK, params), kie.transport, sleep=fake.sleep, clock=fake.clock)
    return kie


def test_a_create_waits_out_a_redis_restart_instead_of_failing_its_job() -> None:
    """docs/teams.md: a Redis that restarts or fails over delays creates; it does not end
    them (an outside tester's 3 s restart ended 40 of 60 jobs of a batch)."""
    fake, limiter = FakeTime(), RedisOut(out=3)
    kie = _create_through(limiter, fake)
    assert fake.sleeps == [1.0, 2.0, 4.0]  # asked again after each pause
    assert len(kie.created) == 1  # then booked, admitted and sent once
    assert limiter.asked == ["book"] * 4 + ["admit", "answered"]


def test_a_create_gives_up_after_about_a_minute_of_outage_having_sent_nothing() -> None:
    fake = FakeTime()
    with pytest.raises(RateLimitStoreError) as caught:
        _create_through(RedisOut(out=100), fake)
    assert caught.value.outage
    assert fake.sleeps == [1.0, 2.0, 4.0, 8.0, 15.0, 30.0]


def test_a_redis_that_never_answered_is_said_at_once() -> None:
    """A wrong URL is not an outage: nobody waits a minute to hear of a typo."""
    fake = FakeTime()
    with pytest.raises(RateLimitStoreError) as caught:
        _create_through(RedisOut(out=100, outage=False), fake)
    assert not caught.value.outage
    assert fake.sleeps == []


# -- slots of requests never sent are given back (an outside tester's web service) ---------------


def test_slots_given_back_leave_the_window_to_later_creates_at_once() -> None:
    """200 users of one client gave up while their creates waited for slots; 12 s later a
    lone create waited 87 s behind their ghosts. Given back, they hold up nobody."""
    limiter = RateLimiter(RateLimits(margin=0.1))  # KIE's 20 creates per 10 s (§8)
    sent = [limiter.book_create(0.0) for _ in range(20)]
    ghosts = [limiter.book_create(0.0, latest=1000.0) for _ in range(180)]
    assert sent == [0.0] * 20
    for slot in ghosts:
        assert slot is not None
        limiter.give_back_create(slot)

    assert limiter.reserve_create(12.0) == 0.0


def test_a_slot_given_back_leaves_the_older_ones_in_force() -> None:
    limiter = RateLimiter(RateLimits(creates=Rate(2, 10.0), margin=0.0))
    limiter.book_create(0.0)
    limiter.book_create(0.0)
    ghost = limiter.book_create(1.0)
    assert ghost == 10.0
    limiter.give_back_create(ghost)

    assert limiter.reserve_create(5.0) == 5.0  # the two sent at 0 still fill the window


def test_a_poll_slot_given_back_frees_the_key_and_the_task_window() -> None:
    limiter = RateLimiter(RateLimits(status=Rate(1, 1.0), margin=0.0))
    three = Rate(1, 1.0)
    assert limiter.book_status(0.0, "a", three) == 0.0
    ghost = limiter.book_status(0.0, "a", three)
    assert ghost == 1.0
    limiter.give_back_status(ghost, "a", three)

    assert limiter.book_status(1.0, "a", three) == 1.0
    assert limiter.book_status(1.0, "b") == 2.0  # the key's window: the one just booked holds


class Watched(RateLimiter):
    """Keeps each create booking's (now, slot) and says when ``expected`` have been made."""

    def __init__(self, limits: RateLimits, expected: int) -> None:
        super().__init__(limits)
        self.bookings: list[tuple[float, float | None]] = []
        self.expected = expected
        self.reached = asyncio.Event()

    def book_create(self, now: float, *, latest: float | None = None) -> float | None:
        slot = super().book_create(now, latest=latest)
        self.bookings.append((now, slot))
        if len(self.bookings) >= self.expected:
            self.reached.set()
        return slot


def test_creates_cancelled_while_they_wait_for_their_slot_give_it_back() -> None:
    """asyncio's own cancellation (asyncio.timeout, a client that hung up): the next create
    is booked in the first free window, not behind the cancelled ones."""
    from kiekit import AsyncClient

    kie = StrictKie(time.monotonic, creates=ROOMY)
    limiter = Watched(RateLimits(creates=Rate(2, 20.0), status=None, margin=0.0), expected=6)

    async def scenario() -> tuple[float, float | None]:
        async with AsyncClient(
            "sk-ratelimit-test", transport=kie.transport, rate_limits=limiter
        ) as client:
            for _ in range(2):
                await client.submit(GROK, prompt="sent")
            ghosts = [asyncio.create_task(client.submit(GROK, prompt="gave up")) for _ in range(4)]
            await limiter.reached.wait()  # all four booked (windows 1 and 2), and sleeping
            for ghost in ghosts:
                ghost.cancel()
            await asyncio.gather(*ghosts, return_exceptions=True)
            limiter.expected, limiter.reached = 7, asyncio.Event()
            late = asyncio.create_task(client.submit(GROK, prompt="later"))
            await limiter.reached.wait()
            late.cancel()  # its slot is what this test checks; its 20 s wait is not
            await asyncio.gather(late, return_exceptions=True)
            return limiter.bookings[0][1] or 0.0, limiter.bookings[-1][1]

    first, late = asyncio.run(scenario())

    assert len(kie.created) == 2
    assert late == first + 20.0  # the first window after the two sent, not the third


def test_a_create_whose_slot_comes_after_the_retry_deadline_waits_for_it() -> None:
    """A burst of creates is paced, not refused: the retry policy's deadline (60 s) bounds
    attempts and their retries, not the wait for a create's slot, which the caller's own
    timeout bounds (and a create cancelled gives its slot back)."""
    from kiekit import AsyncClient

    kie = StrictKie(time.monotonic, creates=ROOMY)
    limiter = Watched(RateLimits(creates=Rate(1, 100.0), status=None, margin=0.0), expected=2)

    async def scenario() -> tuple[float, float | None, bool]:
        async with AsyncClient(
            "sk-ratelimit-test", transport=kie.transport, rate_limits=limiter
        ) as client:
            await client.submit(GROK, prompt="sent")
            late = asyncio.create_task(client.submit(GROK, prompt="paced"))
            await limiter.reached.wait()  # booked, 100 s on
            await asyncio.sleep(0)  # let a refusal, if any, end the task
            waiting = not late.done()
            late.cancel()
            await asyncio.gather(late, return_exceptions=True)
            return limiter.bookings[0][1] or 0.0, limiter.bookings[-1][1], waiting

    first, late, waiting = asyncio.run(scenario())
    assert late == first + 100.0
    assert waiting
    assert len(kie.created) == 1
