"""Tasks that end on time with nobody polling, and send their callbacks then (settler.py,
kie-api.md §6.1: KIE calls back when a task ends, not when it is asked).

Time is the mock's: a clock all but frozen (FROZEN) moves only when a test advances it, or one
sped up runs a task's seconds in milliseconds. Waits are bounded polls of the callback records
or a receiver's event, never a sleep followed by an assertion. A task that must *not* have
ended is checked after a later-due marker task's callback was recorded: the settler ends tasks
in the order they fall due, so by then it has looked at every earlier one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from kiekit_mock import Lifecycle, MockConfig, MockServer
from kiekit_mock.callbacks import CallbackRecord
from kiekit_mock.state import Store, TaskSpec

if TYPE_CHECKING:
    from conftest import Kie, MakeMock

T2I = "grok-imagine/text-to-image"
FROZEN = 1e-6  # the mock clock moves only when advanced
NOWHERE = "https://your-domain.com/cb"  # recorded when owed, never sent (not loopback)
BOUND = 30.0  # seconds: generous, a wait ends as soon as its condition holds


def owed(mock: MockServer, task_id: str) -> list[CallbackRecord]:
    """The task's callback records, once there are any (a bounded wait)."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        records = [r for r in mock.callbacks(wait=False) if r.task_id == task_id]
        if records:
            return records
        time.sleep(0.01)
    raise AssertionError(f"no callback for {task_id} within {BOUND} s")


def create(kie: Kie, callback: str = NOWHERE) -> str:
    body = {"model": T2I, "callBackUrl": callback, "input": {"prompt": "p"}}
    return str(kie.ok(kie.post("/api/v1/jobs/createTask", body))["taskId"])


def advance_over_http(kie: Kie, seconds: float) -> None:
    data = json.dumps({"seconds": seconds}).encode()
    answer = kie.fetch(kie.base_url + "/_mock/clock/advance", method="POST", data=data)
    assert answer.status == 200, answer.body


@contextmanager
def receiver() -> Iterator[tuple[str, threading.Event, list[Any]]]:
    """A loopback receiver in its own thread: its URL, an event set at each callback, bodies."""
    arrived = threading.Event()
    bodies: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            arrived.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cb", arrived, bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_seconds_task_nobody_polls_calls_back_when_it_ends(make_mock: MakeMock) -> None:
    # 5 mock seconds are 5 ms of wall time
    mock, kie = make_mock(seconds_to_complete=5, time_scale=1000)
    with receiver() as (url, arrived, bodies):
        task_id = create(kie, url)
        assert arrived.wait(BOUND)
    assert bodies[0]["data"]["taskId"] == task_id
    assert bodies[0]["data"]["state"] == "success"
    task = mock.task(task_id)
    assert (task.state, task.polls) == ("success", 0)


def test_advancing_the_clock_ends_overdue_tasks_and_calls_back(make_mock: MakeMock) -> None:
    mock, kie = make_mock(time_scale=FROZEN)
    first, second = create(kie), create(kie)
    for task_id in (first, second):
        mock.set_lifecycle(task_id, Lifecycle(seconds=30))
    mock.clock.advance(60)  # from this (test) thread: the settler wakes on the server's loop
    assert owed(mock, first)[0].payload["data"]["state"] == "success"
    assert owed(mock, second)[0].payload["data"]["state"] == "success"  # at the same jump

    later = create(kie)
    mock.set_lifecycle(later, Lifecycle(seconds=30))
    advance_over_http(kie, 120)  # POST /_mock/clock/advance, the inspector's Advance clock
    assert len(owed(mock, later)) == 1
    assert mock.task(later).state == "success"
    assert mock.task(later).polls == 0


def test_speeding_the_clock_up_over_http_ends_a_waiting_task_at_the_new_speed(
    make_mock: MakeMock,
) -> None:
    """The settler slept until the task was due at the old scale (for ever, frozen); set at
    1000 mock seconds a second, its 600 s take 0.6 s (time_scale was Python-only)."""
    mock, kie = make_mock(time_scale=FROZEN, seconds_to_complete=600)
    with receiver() as (url, arrived, bodies):
        task_id = create(kie, url)
        data = json.dumps({"scale": 1000}).encode()
        answer = kie.fetch(kie.base_url + "/_mock/clock", method="PUT", data=data)
        assert (answer.status, answer.json()["scale"]) == (200, 1000)
        assert arrived.wait(BOUND)
    assert bodies[0]["data"]["taskId"] == task_id
    assert mock.clock.scale == 1000
    assert mock.task(task_id).polls == 0  # it ended on time, unpolled


def test_a_polls_lifecycle_still_needs_its_polls(make_mock: MakeMock) -> None:
    mock, kie = make_mock(time_scale=FROZEN)
    two_polls, one_poll, marker = create(kie), create(kie), create(kie)
    mock.set_lifecycle(two_polls, Lifecycle(polls=2, seconds=5))
    mock.set_lifecycle(one_poll, Lifecycle(polls=1, seconds=5))
    assert kie.record(one_poll)["state"] == "waiting"  # its poll is in; 5 s are still to come
    mock.set_lifecycle(marker, Lifecycle(seconds=6))
    mock.clock.advance(10)
    owed(mock, marker)
    assert mock.task(one_poll).state == "success"  # ended by the clock after its one poll
    assert owed(mock, one_poll)
    assert mock.task(two_polls).state != "success"  # a poll short: still pending
    assert [r for r in mock.callbacks(wait=False) if r.task_id == two_polls] == []
    # two polls answered pending, as polls=2 means; the next one finds it over
    assert [kie.record(two_polls)["state"] for _ in range(3)][-1] == "success"


def test_the_instant_lifecycle_waits_for_its_first_poll(make_mock: MakeMock) -> None:
    # a test that creates a task and then sets its outcome must not race a background end
    mock, kie = make_mock(time_scale=FROZEN)
    instant = create(kie)
    marker = create(kie)
    mock.set_lifecycle(marker, Lifecycle(seconds=1))
    mock.clock.advance(5)
    owed(mock, marker)
    assert mock.task(instant).state == "waiting"
    mock.set_outcome(instant, "fail")  # still possible
    assert kie.record(instant)["state"] == "fail"


def test_a_lifecycle_changed_to_later_is_not_ended_early(make_mock: MakeMock) -> None:
    mock, kie = make_mock(time_scale=FROZEN)
    task_id = create(kie)
    mock.set_lifecycle(task_id, Lifecycle(seconds=10))
    mock.set_lifecycle(task_id, Lifecycle(seconds=100))
    mock.clock.advance(20)
    marker = create(kie)  # due at 20 + 5, after the first lifecycle's end
    mock.set_lifecycle(marker, Lifecycle(seconds=5))
    mock.clock.advance(10)
    owed(mock, marker)
    assert mock.task(task_id).state == "waiting"
    mock.clock.advance(100)
    assert owed(mock, task_id)[0].payload["data"]["state"] == "success"


def test_a_manual_task_is_never_ended_by_the_clock(make_mock: MakeMock) -> None:
    mock, kie = make_mock(time_scale=FROZEN)
    task_id, marker = create(kie), create(kie)
    mock.set_lifecycle(task_id, Lifecycle(seconds=1))
    mock.set_lifecycle(task_id, Lifecycle(manual=True))
    mock.set_lifecycle(marker, Lifecycle(seconds=2))
    mock.clock.advance(5)
    owed(mock, marker)
    assert mock.task(task_id).state == "waiting"


def test_reset_forgets_the_tasks_due_later(make_mock: MakeMock) -> None:
    mock, kie = make_mock(time_scale=FROZEN, seconds_to_complete=5)
    create(kie)
    mock.reset()
    marker = create(kie)
    mock.clock.advance(10)
    owed(mock, marker)
    assert {r.task_id for r in mock.callbacks(wait=False)} == {marker}


def _song(kie: Kie) -> str:
    body = {"prompt": "a calm piano piece", "customMode": False, "instrumental": False}
    answer = kie.post("/api/v1/generate", body | {"model": "V5", "callBackUrl": NOWHERE})
    return str(kie.ok(answer)["taskId"])


def _stages_once(mock: MockServer, task_id: str, count: int) -> list[str]:
    """The task's callbackTypes, once there are `count` of them (a bounded wait)."""
    deadline = time.monotonic() + BOUND
    while len(owed(mock, task_id)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return [r.payload["data"]["callbackType"] for r in owed(mock, task_id)]


def test_a_song_nobody_polls_sends_its_staged_callbacks_in_order(make_mock: MakeMock) -> None:
    mock, kie = make_mock(time_scale=FROZEN, seconds_to_complete=30)
    task_id = _song(kie)
    mock.clock.advance(60)
    assert _stages_once(mock, task_id, 3) == ["text", "first", "complete"]


def test_a_song_nobody_polls_sends_each_staged_callback_at_its_stage(
    make_mock: MakeMock,
) -> None:
    """A webhook-only client sees the gaps between `text`, `first` and `complete` (§3.6), as
    one that polls does: each is sent when the clock reaches its stage, not all at the end."""
    mock, kie = make_mock(time_scale=FROZEN, seconds_to_complete=30)
    task_id, marker = _song(kie), _song(kie)
    mock.set_lifecycle(marker, Lifecycle(seconds=15))  # its text is due at 5 s, first at 10 s
    mock.clock.advance(11)  # the song's text is due at 10 s, the marker's first at 10 s
    assert _stages_once(mock, marker, 2) == ["text", "first"]  # the settler has looked
    assert _stages_once(mock, task_id, 1) == ["text"]
    assert mock.task(task_id).state != "success"
    mock.clock.advance(10)  # 21 s: past the song's second stage (20 s), before its end
    assert _stages_once(mock, task_id, 2) == ["text", "first"]
    mock.clock.advance(10)  # 31 s: the end
    assert _stages_once(mock, task_id, 3) == ["text", "first", "complete"]
    assert mock.task(task_id).polls == 0


# --- the store's schedule, without a server ---


def _spec() -> TaskSpec:
    return TaskSpec("market", T2I, {}, None, "{}", "p", 1.0, "png", 1, None, "http://127.0.0.1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_store_wakes_the_settler_only_for_a_sooner_due_time() -> None:
    clock = FakeClock()
    store = Store(MockConfig(), clock)
    wakes: list[None] = []
    store.on_sooner = lambda: wakes.append(None)
    for _ in range(50):  # the instant default: no schedule, no wake, whatever the traffic
        store.poll("acct", store.create("acct", _spec()).task_id, "market")
    assert (wakes, store.next_due()) == ([], None)
    first = store.create("acct", _spec()).task_id
    store.set_lifecycle(first, Lifecycle(seconds=10))
    second = store.create("acct", _spec()).task_id
    store.set_lifecycle(second, Lifecycle(seconds=10))  # due later than the first: no wake
    assert (len(wakes), store.next_due()) == (1, 1010.0)
    clock.now = 1010.0
    assert [t.task.task_id for t in store.settle_due(clock.now)] == [first, second]
    assert store.next_due() is None


def test_the_store_pushes_back_a_task_whose_lifecycle_got_longer_and_reset_forgets() -> None:
    clock = FakeClock()
    store = Store(MockConfig(), clock)
    task_id = store.create("acct", _spec()).task_id
    store.set_lifecycle(task_id, Lifecycle(seconds=10))
    store.set_lifecycle(task_id, Lifecycle(seconds=100))
    clock.now += 50
    assert store.settle_due(clock.now) == []
    assert store.next_due() == 1100.0
    store.reset()
    assert store.next_due() is None


def test_a_renamed_task_still_ends_on_time_under_its_new_id() -> None:
    """A replayed recording's task goes on under its recorded id (har.py renames it)."""
    clock = FakeClock()
    store = Store(MockConfig(seconds_to_complete=10), clock)
    task_id = store.create("acct", _spec()).task_id
    store.rename(task_id, "recorded-id")
    clock.now += 10
    assert [t.task.task_id for t in store.settle_due(clock.now)] == ["recorded-id"]


def test_a_clock_moved_from_python_has_ended_the_tasks_it_made_due_when_it_returns(
    make_mock: MakeMock,
) -> None:
    """No sleep, no wait: the documented pattern reads the task ended and its callback owed the
    moment advance() returns (an outside tester's CI saw `waiting` 45 times in 50)."""
    mock, kie = make_mock(time_scale=FROZEN)
    for _ in range(20):  # the race was lost most of the time; twenty tries show it
        task_id = create(kie)
        mock.set_lifecycle(task_id, Lifecycle(seconds=600))
        mock.clock.advance(601)
        assert mock.task(task_id).state == "success"
        assert [r.task_id for r in mock.callbacks(wait=False) if r.task_id == task_id] == [task_id]


# --- when a task ended: its due time, not the moment a jump or a late poll noticed it ---


def test_a_task_a_clock_jump_ends_ended_when_it_was_due(make_mock: MakeMock) -> None:
    """longrun's finding 1: a 1-second task followed by a 15-day jump ended 15 days ago, so
    its completeTime and costTime say 1 s and its files are past KIE's 14 days (§8)."""
    mock, kie = make_mock(time_scale=FROZEN, seconds_to_complete=1)
    task_id = create(kie)
    mock.clock.advance(15 * 86400)
    data = kie.record(task_id)
    assert data["state"] == "success"
    assert (data["completeTime"] - data["createTime"], data["costTime"]) == (1000, 1)
    assert owed(mock, task_id)[0].payload["data"]["completeTime"] == data["completeTime"]
    file_url = json.loads(data["resultJson"])["resultUrls"][0]
    assert kie.fetch(file_url).status == 403


def test_a_task_polled_after_it_was_due_ended_when_it_was_due() -> None:
    """The settler had not run yet (a late wake-up): the poll that finds it ended stamps the
    time it ended, as the settler would have."""
    clock = FakeClock()
    store = Store(MockConfig(seconds_to_complete=10), clock)
    task_id = store.create("acct", _spec()).task_id
    clock.now += 500
    polled = store.poll("acct", task_id, "market")
    assert polled is not None
    assert polled.finished_now
    assert (polled.task.completed_ms, polled.task.cost_seconds) == (1_010_000, 10)


def test_a_timed_task_cannot_end_before_its_polls_or_its_new_lifecycle() -> None:
    """Its seconds count only once its polls are met (or its lifecycle set): a poll that showed
    it pending is never followed by an end stamped before that poll."""
    clock = FakeClock()
    store = Store(MockConfig(), clock)
    polled = store.create("acct", _spec()).task_id
    store.set_lifecycle(polled, Lifecycle(polls=1, seconds=10))
    changed = store.create("acct", _spec()).task_id
    clock.now += 100
    store.poll("acct", polled, "market")  # its one poll, 90 s after it was due by the clock
    store.set_lifecycle(changed, Lifecycle(seconds=10))  # due for 90 s, ends now
    clock.now += 1000
    ended = {t.task.task_id: t.task.completed_ms for t in store.settle_due(clock.now)}
    assert ended == {polled: 1_100_000, changed: 1_100_000}
