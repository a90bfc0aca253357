"""Waiting for a task: results, failures at once, a deadline, retries, and the poll schedule.

The schedule tests drive the shared engine flow with a fake clock and a fake sleep, through both
drivers (``drive`` and ``drive_async``), so they take milliseconds. The client tests run the same
stories through ``Client`` and ``AsyncClient`` with a tiny real poll policy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kiekit import (
    AuthenticationError,
    InsufficientCreditsError,
    PollPolicy,
    ProtocolError,
    Registry,
    Results,
    State,
    Task,
    TaskFailedError,
    TaskNotFoundError,
    TaskStatus,
    TransportError,
    ValidationError,
    WaitTimeoutError,
)
from kiekit._engine import MALFORMED_STATUS_TRIES, Engine, Flow
from kiekit.registry import default_registry
from kiekit.transport import HttpResponse, MockTransport, drive, drive_async

GROK = "grok-imagine/text-to-image"
TASK = Task(id="5f488be792eafad4b066e21e5bc472c7", model=GROK)
URLS = ["https://tempfile.aiquickdraw.com/r/a1.jpg", "https://tempfile.aiquickdraw.com/r/a2.png"]
FAST = PollPolicy(initial=0.001, growth=0.001, maximum=0.002, timeout=5.0)


@dataclass
class FakeTime:
    """A monotonic clock that only moves when the flow sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture(params=["drive", "drive_async"])
def run_flow(request: pytest.FixtureRequest) -> Callable[[Flow[Any], MockTransport, FakeTime], Any]:
    """Run an engine flow with one of the two drivers, on fake time."""

    def run(flow: Flow[Any], transport: MockTransport, fake: FakeTime) -> Any:
        if request.param == "drive":
            return drive(flow, transport, sleep=fake.sleep, clock=fake.clock)
        return asyncio.run(drive_async(flow, transport, sleep=fake.async_sleep, clock=fake.clock))

    return run


@pytest.fixture
def registry() -> Registry:
    return Registry()


def engine(registry: Registry, poll: PollPolicy | None = None) -> Engine:
    return Engine(
        api_key="sk-fake-engine-key",
        base_url="https://api.kie.ai",
        registry=registry,
        poll=poll or PollPolicy(),
        user_agent="kiekit-tests",
    )


# -- the engine on fake time -----------------------------------------------------------------------


def test_wait_returns_results_on_success(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    fake = FakeTime()
    kie = kit.FakeKie(
        [kit.market("waiting"), kit.market("generating"), kit.market("success", urls=URLS)]
    )

    results = run_flow(engine(registry).wait(TASK), kie.transport, fake)

    assert isinstance(results, Results)
    assert results.task_id == TASK.id
    assert [a.url for a in results.assets] == URLS
    assert [a.media_type for a in results.assets] == ["image/jpeg", "image/png"]
    assert kie.polls == 3
    assert len(fake.sleeps) == 2


def test_a_task_finished_at_the_first_poll_needs_no_sleep(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    fake = FakeTime()
    kie = kit.FakeKie([kit.market("success", urls=URLS)])

    run_flow(engine(registry).wait(TASK), kie.transport, fake)

    assert fake.sleeps == []


def test_a_failed_task_raises_at_once_without_more_polls(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    fake = FakeTime()
    kie = kit.FakeKie(
        [
            kit.market("generating"),
            kit.market("fail", fail_code="422", fail_msg="Invalid prompt: flagged"),
            kit.market("success", urls=URLS),  # never asked for
        ]
    )

    with pytest.raises(TaskFailedError) as info:
        run_flow(engine(registry).wait(TASK), kie.transport, fake)

    assert info.value.task_id == TASK.id
    assert info.value.fail_code == "422"
    assert info.value.fail_message == "Invalid prompt: flagged"
    assert kie.polls == 2
    assert len(fake.sleeps) == 1


def test_the_deadline_raises_wait_timeout_with_the_task_id(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    fake = FakeTime()
    policy = PollPolicy(initial=2, growth=0.1, maximum=30, timeout=120)
    kie = kit.FakeKie([kit.market("generating")])

    with pytest.raises(WaitTimeoutError) as info:
        run_flow(engine(registry, policy).wait(TASK), kie.transport, fake)

    assert info.value.task_id == TASK.id
    assert info.value.last_state == State.RUNNING.value
    assert info.value.waited == pytest.approx(120)
    assert sum(fake.sleeps) == pytest.approx(120)  # slept up to the deadline, never past it
    assert fake.now - 1000.0 == pytest.approx(120)


def test_the_sleeps_follow_the_poll_policy(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    fake = FakeTime()
    policy = PollPolicy(initial=2, growth=0.1, maximum=30, timeout=900)
    kie = kit.FakeKie([kit.market("generating")])

    with pytest.raises(WaitTimeoutError):
        run_flow(engine(registry, policy).wait(TASK), kie.transport, fake)

    assert fake.sleeps[0] == 2  # the first interval is `initial`
    elapsed = 0.0
    for seconds in fake.sleeps:
        assert seconds == pytest.approx(min(policy.interval(elapsed), policy.timeout - elapsed))
        elapsed += seconds
    assert max(fake.sleeps) == 30  # capped at `maximum`
    assert fake.sleeps[:-1] == sorted(fake.sleeps[:-1])  # growing with the time waited
    assert sum(fake.sleeps) == pytest.approx(900)
    assert kie.polls == len(fake.sleeps) + 1


def test_a_task_just_created_is_first_polled_when_it_could_be_done(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    """submit stamps the task; the first poll comes `first_poll` after that, then the schedule
    runs from the creation: 4 s, then every 2 s (tools/bench/polling_cost.py has the costs)."""
    fake = FakeTime()
    created = Task(id=TASK.id, model=TASK.model, created_at=fake.now)
    kie = kit.FakeKie([kit.market("waiting"), kit.market("success", urls=URLS)])

    run_flow(engine(registry).wait(created), kie.transport, fake)

    assert fake.sleeps == [4.0, 2.0]
    assert kie.polls == 2


def test_a_wait_begun_long_after_the_creation_polls_at_once(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    """A resumed or callback-woken wait must not hold back: the task may be done already."""
    fake = FakeTime()
    created = Task(id=TASK.id, model=TASK.model, created_at=fake.now - 100)
    kie = kit.FakeKie([kit.market("generating"), kit.market("success", urls=URLS)])

    run_flow(engine(registry).wait(created), kie.transport, fake)

    assert fake.sleeps == [10.0]  # no first pause; then 0.1 x the 100 s since creation


def test_submit_stamps_the_task_with_the_clock(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    fake = FakeTime(now=1234.0)
    kie = kit.FakeKie([])

    kie_engine = engine(registry)
    params = kie_engine.prepare(GROK, None, {"prompt": "a lighthouse"})

    request = kie_engine.create_request(GROK, params)

    task = run_flow(kie_engine.submit(GROK, request), kie.transport, fake)

    assert task.created_at == 1234.0
    assert task == Task(task.id, GROK)  # the stamp is not part of the task's identity


def test_time_spent_in_polls_counts_toward_the_deadline(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    fake = FakeTime()
    policy = PollPolicy(initial=1, growth=0.01, maximum=1, timeout=10)

    def slow_poll(_request: Any) -> HttpResponse:
        fake.now += 4  # each poll takes 4 s on the wire
        return kit.market("generating")

    kie = kit.FakeKie([slow_poll])

    with pytest.raises(WaitTimeoutError):
        run_flow(engine(registry, policy).wait(TASK), kie.transport, fake)

    assert fake.now - 1000.0 <= 10 + 4  # at most one poll started before the deadline ran on
    assert kie.polls == 3


@pytest.mark.parametrize("timeout", [0.5, 2.25, 120])
def test_a_wait_that_times_out_quotes_the_timeout_given_not_the_time_waited_rounded(
    timeout: float, kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    """`kie run --timeout 0.5` said "gave up waiting after 1 s": the time waited, a poll past
    the deadline, rounded to whole seconds."""
    fake = FakeTime()
    policy = PollPolicy(initial=0.1, growth=0.01, maximum=0.1, timeout=timeout)

    def slow_poll(_request: Any) -> HttpResponse:
        fake.now += 0.3  # an answer that ends the wait a little past its deadline
        return kit.market("generating")

    with pytest.raises(WaitTimeoutError) as info:
        run_flow(engine(registry, policy).wait(TASK), kit.FakeKie([slow_poll]).transport, fake)

    assert str(info.value).startswith(f"gave up waiting after {timeout:g} s, last state")
    assert info.value.timeout == timeout
    assert info.value.waited > timeout  # the time waited is kept as it was


@pytest.mark.parametrize(
    "trouble",
    [
        lambda kit: TransportError("connection reset"),
        lambda kit: kit.reply(code=429, msg="Rate limit exceeded"),
        lambda kit: kit.reply(code=455, msg="Service under maintenance"),
        lambda kit: kit.reply(code=500, msg="internal error, try again later"),
        lambda kit: HttpResponse(503, b"<html>Service Unavailable</html>", "Service Unavailable"),
        lambda kit: HttpResponse(502, b"", "Bad Gateway"),
    ],
    ids=["transport", "429", "455", "500", "http-503", "http-502"],
)
def test_retryable_errors_while_polling_are_retried_until_success(
    kit: SimpleNamespace, registry: Registry, run_flow: Any, trouble: Any
) -> None:
    fake = FakeTime()
    kie = kit.FakeKie(
        [kit.market("waiting"), trouble(kit), trouble(kit), kit.market("success", urls=URLS)]
    )

    results = run_flow(engine(registry).wait(TASK), kie.transport, fake)

    assert [a.url for a in results.assets] == URLS
    assert kie.polls == 4


def test_retryable_errors_until_the_deadline_end_in_wait_timeout(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    fake = FakeTime()
    policy = PollPolicy(initial=5, timeout=60)
    kie = kit.FakeKie([TransportError("connection refused")])

    with pytest.raises(WaitTimeoutError) as info:
        run_flow(engine(registry, policy).wait(TASK), kie.transport, fake)

    assert info.value.task_id == TASK.id
    assert info.value.last_state is None
    assert sum(fake.sleeps) == pytest.approx(60)


def test_a_wait_whose_polls_all_failed_names_the_last_failure_and_warns_once(
    kit: SimpleNamespace,
    registry: Registry,
    run_flow: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The network or the host went away after the create: the timeout says so instead of
    reading like "KIE is slow", and the outage is logged once as a warning (seen without -v),
    not at every poll."""
    fake = FakeTime()
    policy = PollPolicy(initial=5, timeout=60)
    refused = TransportError("GET /api/v1/jobs/recordInfo failed: connection refused")
    kie = kit.FakeKie([kit.market("waiting"), refused])

    with caplog.at_level("WARNING", logger="kiekit"), pytest.raises(WaitTimeoutError) as info:
        run_flow(engine(registry, policy).wait(TASK), kie.transport, fake)

    assert info.value.last_error is refused
    assert str(info.value).endswith(
        "last state queued; last poll: GET /api/v1/jobs/recordInfo failed: connection refused"
        f" (task {TASK.id})"
    )
    assert kie.polls > 3
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1
    assert "status polls keep failing" in warned[0]
    assert "connection refused" in warned[0]


def test_a_poll_answered_after_failures_clears_the_last_failure(
    kit: SimpleNamespace, registry: Registry, run_flow: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeTime()
    policy = PollPolicy(initial=5, timeout=60)
    kie = kit.FakeKie([TransportError("reset"), TransportError("reset"), kit.market("generating")])

    with caplog.at_level("WARNING", logger="kiekit"), pytest.raises(WaitTimeoutError) as info:
        run_flow(engine(registry, policy).wait(TASK), kie.transport, fake)

    assert info.value.last_error is None
    assert "last poll" not in str(info.value)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said
    assert said[0].startswith(f"status polls keep failing (task {TASK.id} first;")
    assert said[0].endswith("still trying until each wait's deadline: reset")
    assert said[1] == "status polls answer again, after 5.0 s of failures that held up 1 wait"


@pytest.mark.parametrize(
    ("code", "error"), [(401, AuthenticationError), (402, InsufficientCreditsError)]
)
def test_non_retryable_errors_stop_the_wait(
    kit: SimpleNamespace, registry: Registry, run_flow: Any, code: int, error: type[Exception]
) -> None:
    fake = FakeTime()
    kie = kit.FakeKie(
        [kit.market("waiting"), kit.reply(code=code, msg="no"), kit.market("success")]
    )

    with pytest.raises(error) as info:
        run_flow(engine(registry).wait(TASK), kie.transport, fake)

    assert info.value.task_id == TASK.id  # type: ignore[attr-defined]
    assert kie.polls == 2


@pytest.mark.parametrize("state", ["paused", "queueing", "wait", "SUCCESS", ""])
def test_an_unknown_state_stops_the_wait_instead_of_polling_forever(
    kit: SimpleNamespace, registry: Registry, run_flow: Any, state: str
) -> None:
    """A real client once polled a moderated task forever (STYLE.md): never again. (A single
    unreadable answer may be a proxy's garbling, so the wait looks twice more first.)"""
    fake = FakeTime()
    kie = kit.FakeKie([kit.market(state)])

    with pytest.raises(ProtocolError) as info:
        run_flow(engine(registry).wait(TASK), kie.transport, fake)

    assert info.value.task_id == TASK.id
    assert state in str(info.value) or state == ""
    assert kie.polls == MALFORMED_STATUS_TRIES == 3


@pytest.mark.parametrize(
    "garbled",
    [
        b'{"code": 200, "msg": "success", "data": {"taskId": "5f48',  # cut short
        b"<html><body>502 Bad Gateway</body></html>",  # a proxy's page under status 200
        b'{"code": 200, "msg": "success", "data": {"state": 7}}',  # mangled
    ],
)
def test_one_unreadable_status_answer_is_polled_again_not_the_end_of_the_wait(
    kit: SimpleNamespace, registry: Registry, run_flow: Any, garbled: bytes
) -> None:
    fake = FakeTime()
    kie = kit.FakeKie(
        [kit.market("waiting"), HttpResponse(200, garbled, "OK"), kit.market("success", urls=URLS)]
    )

    results = run_flow(engine(registry).wait(TASK), kie.transport, fake)

    assert results.task_id == TASK.id
    assert kie.polls == 3


def test_a_status_with_no_record_is_task_not_found(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    """Suno's record-info answers an unknown id with data null (§2.2): KIE's "no such task",
    as a 404 or a 422 says it in other families, once it stays so."""
    fake = FakeTime()
    kie = kit.FakeKie([kit.reply(None)] * MALFORMED_STATUS_TRIES)

    with pytest.raises(TaskNotFoundError) as info:
        run_flow(engine(registry).wait(TASK), kie.transport, fake)

    assert (info.value.task_id, info.value.code) == (TASK.id, 200)
    assert str(info.value).startswith("KIE has no record of this task")
    assert kie.polls == MALFORMED_STATUS_TRIES


def test_a_passing_status_with_no_record_does_not_end_the_wait(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    """A record not there yet, then there (a HAR of real traffic showed it, §2.2)."""
    fake = FakeTime()
    kie = kit.FakeKie([kit.reply(None), kit.market("success", urls=URLS)])

    results = run_flow(engine(registry).wait(TASK), kie.transport, fake)

    assert (results.task_id, kie.polls) == (TASK.id, 2)


def test_on_status_sees_every_status_in_order(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    fake = FakeTime()
    seen: list[TaskStatus] = []
    kie = kit.FakeKie(
        [
            kit.market("waiting"),
            kit.market("queuing"),
            TransportError("blip"),
            kit.market("generating"),
            kit.market("success", urls=URLS),
        ]
    )

    run_flow(engine(registry).wait(TASK, on_status=seen.append), kie.transport, fake)

    assert [s.state for s in seen] == [
        State.QUEUED,
        State.QUEUED,
        State.RUNNING,
        State.SUCCEEDED,
    ]
    assert all(s.task_id == TASK.id for s in seen)
    assert seen[-1].progress == 1.0


def test_on_status_sees_the_failure_too(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    fake = FakeTime()
    seen: list[TaskStatus] = []
    kie = kit.FakeKie([kit.market("fail", fail_code="500", fail_msg="boom")])

    with pytest.raises(TaskFailedError):
        run_flow(engine(registry).wait(TASK, on_status=seen.append), kie.transport, fake)

    assert [(s.state, s.fail_code, s.fail_message) for s in seen] == [(State.FAILED, "500", "boom")]


def test_a_legacy_family_waits_the_same_way(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    fake = FakeTime()
    task = Task(id="fluxtask1", model="flux-kontext-pro")
    kie = kit.FakeKie(
        [
            kit.flux(0, task_id=task.id),
            kit.flux(3, task_id=task.id, error_code=501, error_message="generation failed"),
        ]
    )

    with pytest.raises(TaskFailedError) as info:
        run_flow(engine(registry).wait(task), kie.transport, fake)

    assert (info.value.task_id, info.value.fail_code) == ("fluxtask1", "501")
    assert info.value.fail_message == "generation failed"


# -- through both clients --------------------------------------------------------------------------


def test_client_wait_returns_results(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie([kit.market("waiting"), kit.market("success", urls=URLS)])

    async def scenario() -> Results:
        async with api.client(transport=kie.transport, poll=FAST) as client:
            task = await client.submit(GROK, prompt="a fox")
            return await client.wait(task)

    results = api.run(scenario)

    assert results.task_id == kit.TASK_ID
    assert [a.url for a in results.assets] == URLS


def test_client_wait_raises_task_failed_at_once(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie(
        [kit.market("fail", fail_code="400", fail_msg="flagged"), kit.market("success", urls=URLS)]
    )

    async def scenario() -> None:
        async with api.client(transport=kie.transport, poll=FAST) as client:
            await client.wait(Task(kit.TASK_ID, GROK))

    with pytest.raises(TaskFailedError) as info:
        api.run(scenario)

    assert info.value.task_id == kit.TASK_ID
    assert (info.value.fail_code, info.value.fail_message) == ("400", "flagged")
    assert kie.polls == 1


def test_client_finish_ends_a_wait_from_a_status_in_hand_without_a_request(
    api: Any, kit: SimpleNamespace
) -> None:
    """A status polled once (or confirmed by a webhook receiver) ends the task's wait: its
    results or its failure, with no second status call; a status not final is refused."""
    kie = kit.FakeKie([kit.market("success", urls=URLS)])
    task = Task(kit.TASK_ID, GROK)

    async def scenario() -> tuple[Results, ValidationError, ValidationError]:
        async with api.client(transport=kie.transport, poll=FAST) as client:
            status = await client.status(task)
            results = await client.finish(task, status)
            running = TaskStatus.of(task.id, State.RUNNING)
            with pytest.raises(ValidationError) as unfinished:
                await client.finish(task, running)
            other = TaskStatus.of("another-task", State.SUCCEEDED)
            with pytest.raises(ValidationError) as elsewhere:
                await client.finish(task, other)
            failed = TaskStatus.of(task.id, State.FAILED, fail_code="501", fail_message="no")
            with pytest.raises(TaskFailedError):
                await client.finish(task, failed)
            return results, unfinished.value, elsewhere.value

    results, unfinished, elsewhere = api.run(scenario)

    assert [a.url for a in results.assets] == URLS
    assert kie.polls == 1  # the status call alone
    assert (unfinished.field, elsewhere.field) == ("status", "status")
    assert "wait() polls until it ends" in str(unfinished)


def test_client_wait_gives_up_at_its_deadline(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie([kit.market("generating")])
    policy = PollPolicy(initial=0.005, growth=0.01, maximum=0.01, timeout=0.1)

    async def scenario() -> None:
        async with api.client(transport=kie.transport, poll=policy) as client:
            await client.wait(Task(kit.TASK_ID, GROK))

    started = time.monotonic()
    with pytest.raises(WaitTimeoutError) as info:
        api.run(scenario)

    assert info.value.task_id == kit.TASK_ID
    assert info.value.last_state == "running"
    # Bounds that no load can break: not before the deadline, and not hung (the poll schedule
    # itself is checked on a fake clock above, test_the_deadline_raises_wait_timeout_…).
    assert 0.1 <= time.monotonic() - started < 60
    assert kie.polls >= 1


def test_client_wait_timeout_argument_overrides_the_policy(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie([kit.market("generating")])
    policy = PollPolicy(initial=0.005, growth=0.01, maximum=0.01, timeout=3600)

    async def scenario() -> None:
        async with api.client(transport=kie.transport, poll=policy) as client:
            await client.wait(Task(kit.TASK_ID, GROK), timeout=0.05)

    started = time.monotonic()
    with pytest.raises(WaitTimeoutError):
        api.run(scenario)

    assert time.monotonic() - started < 60  # the argument's 0.05 s, not the policy's hour


def test_client_wait_with_a_timeout_under_the_first_poll_delay_asks_once_before_giving_up(
    api: Any, kit: SimpleNamespace
) -> None:
    """Client and AsyncClient alike (and so ``kie run --timeout``): a task just submitted, a
    timeout shorter than its first poll's delay, and a task done by then: its results."""
    kie = kit.FakeKie([kit.market("success", urls=URLS)])
    policy = PollPolicy(initial=2, first=4, timeout=0.05)

    async def scenario() -> Results:
        async with api.client(transport=kie.transport, poll=policy) as client:
            task = await client.submit(GROK, prompt="a fox")
            return await client.wait(task)

    results = api.run(scenario)

    assert [a.url for a in results.assets] == URLS
    assert kie.polls == 1


def test_client_wait_retries_retryable_errors(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie(
        [
            TransportError("reset"),
            kit.reply(code=429, msg="slow down"),
            kit.reply(code=500, msg="oops"),
            kit.market("success", urls=URLS),
        ]
    )

    async def scenario() -> Results:
        async with api.client(transport=kie.transport, poll=FAST) as client:
            return await client.wait(Task(kit.TASK_ID, GROK))

    assert len(api.run(scenario).assets) == 2
    assert kie.polls == 4


def test_client_wait_stops_on_401(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie([kit.reply(code=401, msg="You do not have access permissions")])

    async def scenario() -> None:
        async with api.client(transport=kie.transport, poll=FAST) as client:
            await client.wait(Task(kit.TASK_ID, GROK))

    with pytest.raises(AuthenticationError) as info:
        api.run(scenario)

    assert info.value.task_id == kit.TASK_ID
    assert kie.polls == 1


def test_client_wait_reports_every_status(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie(
        [kit.market("waiting"), kit.market("generating"), kit.market("success", urls=URLS)]
    )
    seen: list[State] = []

    async def scenario() -> None:
        async with api.client(transport=kie.transport, poll=FAST) as client:
            await client.wait(Task(kit.TASK_ID, GROK), on_status=lambda s: seen.append(s.state))

    api.run(scenario)

    assert seen == [State.QUEUED, State.RUNNING, State.SUCCEEDED]


def test_an_async_on_status_is_refused_not_silently_dropped(api: Any, kit: SimpleNamespace) -> None:
    """The wait awaits no hook: a coroutine's body would never run (a progress display that
    never moves), so an ``async def`` is refused before the first poll, and a hook that
    returns an awaitable when it is called."""
    kie = kit.FakeKie([kit.market("generating"), kit.market("success", urls=URLS)])

    async def shown(status: TaskStatus) -> None:
        raise AssertionError("never run")

    async def scenario(hook: Any) -> None:
        async with api.client(transport=kie.transport, poll=FAST) as client:
            await client.wait(Task(kit.TASK_ID, GROK), on_status=hook)

    with pytest.raises(TypeError, match="on_status must be a plain function"):
        api.run(lambda: scenario(shown))
    assert kie.polls == 0
    with pytest.raises(TypeError, match="on_status must be a plain function"):
        api.run(lambda: scenario(lambda status: shown(status)))
    assert kie.polls == 1  # and no "coroutine was never awaited" warning (an error here)


def test_client_status_reads_one_status(api: Any, kit: SimpleNamespace) -> None:
    kie = kit.FakeKie([kit.market("generating", progress=45)])

    async def scenario() -> TaskStatus:
        async with api.client(transport=kie.transport) as client:
            return await client.status(Task(kit.TASK_ID, GROK))

    status = api.run(scenario)

    assert status.task_id == kit.TASK_ID
    assert status.state is State.RUNNING
    assert status.progress == pytest.approx(0.45)
    request = kie.requests[0]
    assert request.method == "GET"
    assert request.url == f"https://api.kie.ai/api/v1/jobs/recordInfo?taskId={kit.TASK_ID}"


# -- any story of polls ----------------------------------------------------------------------------

PENDING = ["waiting", "queuing", "generating"]
TROUBLE = ["transport", "429", "455", "500", "http-503"]


def answer(kit: SimpleNamespace, step: str) -> Any:
    if step in PENDING:
        return kit.market(step)
    if step == "success":
        return kit.market("success", urls=URLS)
    if step == "fail":
        return kit.market("fail", fail_code="500", fail_msg="boom")
    if step == "transport":
        return TransportError("reset")
    if step == "http-503":
        return HttpResponse(503, b"", "Service Unavailable")
    return kit.reply(code=int(step), msg="no")


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.sampled_from(PENDING + TROUBLE), max_size=12),
    end=st.sampled_from(["success", "fail", "401", None]),
)
def test_any_story_of_polls(kit: SimpleNamespace, steps: list[str], end: str | None) -> None:
    """Pending answers and curable errors in any order, then an end (or none: the deadline)."""
    policy = PollPolicy(initial=1, growth=0.1, maximum=5, timeout=600)
    story = steps + ([end] if end else [])
    kie = kit.FakeKie([answer(kit, step) for step in story or ["waiting"]])
    fake = FakeTime()
    seen: list[TaskStatus] = []
    flow = engine(default_registry(), policy).wait(TASK, on_status=seen.append)

    outcome: Any
    try:
        outcome = drive(flow, kie.transport, sleep=fake.sleep, clock=fake.clock)
    except (TaskFailedError, AuthenticationError, WaitTimeoutError) as error:
        outcome = error

    expected = {
        "success": Results,
        "fail": TaskFailedError,
        "401": AuthenticationError,
        None: WaitTimeoutError,
    }[end]
    assert isinstance(outcome, expected)
    if end is not None:
        assert kie.polls == len(story)  # stops at the end, never polls past it
        statuses = [s for s in story if s in PENDING or s in ("success", "fail")]
        assert len(seen) == len(statuses)
    else:
        assert sum(fake.sleeps) == pytest.approx(policy.timeout)
    if fake.sleeps:
        assert fake.sleeps[0] == policy.initial
    assert all(s <= policy.maximum for s in fake.sleeps)
    assert fake.now - 1000.0 <= policy.timeout + 1e-9


def test_a_timeout_shorter_than_the_first_poll_delay_still_checks_once_at_its_deadline(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    """``wait(timeout=3)`` on a task just created (first poll 4 s after it): the wait sleeps to
    its deadline and asks once there, though a real sleep ends a little after the deadline
    and the rate limiter then had "no slot before the deadline" (the music QA's finding 4)."""
    from kiekit.ratelimit import RateLimiter

    fake = FakeTime()
    created = Task(id=TASK.id, model=TASK.model, created_at=fake.now)
    kie = kit.FakeKie([kit.market("success", urls=URLS)])
    kie_engine = engine(registry, PollPolicy(timeout=3))
    kie_engine.limiter = RateLimiter()

    def oversleep(seconds: float) -> None:  # as a loaded machine's sleep ends: a bit late
        FakeTime.sleep(fake, seconds + 0.002)

    fake.sleep = oversleep  # type: ignore[method-assign]

    results = run_flow(kie_engine.wait(created), kie.transport, fake)

    assert [a.url for a in results.assets] == URLS
    assert kie.polls == 1
    assert fake.sleeps == [pytest.approx(3.002)]


def test_a_short_timeout_checks_once_at_its_deadline_and_then_gives_up(
    kit: SimpleNamespace, registry: Registry, run_flow: Any
) -> None:
    from kiekit.ratelimit import RateLimiter

    fake = FakeTime()
    created = Task(id=TASK.id, model=TASK.model, created_at=fake.now)
    kie = kit.FakeKie([kit.market("generating")])
    kie_engine = engine(registry, PollPolicy(timeout=1))
    kie_engine.limiter = RateLimiter()

    def oversleep(seconds: float) -> None:
        FakeTime.sleep(fake, seconds + 0.002)

    fake.sleep = oversleep  # type: ignore[method-assign]

    with pytest.raises(WaitTimeoutError) as info:
        run_flow(kie_engine.wait(created), kie.transport, fake)

    assert kie.polls == 1  # asked once, at the deadline
    assert info.value.last_state == State.RUNNING.value
