"""Only a create handed to the network may be journaled as "outcome unknown".

A create stopped before it left — while waiting for its rate-limit slot, or in the wait before a
retry that KIE's answer proved safe — made nothing: it must not be reported as a task to look
for on the dashboard, and ``kie batch`` must be free to send it again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import (
    AsyncClient,
    ConfigurationError,
    OutcomeUnknownError,
    PollPolicy,
    RetryPolicy,
    TransportError,
)
from kiekit.journal import EntryState, Journal, MemoryStore, SqliteStore
from kiekit.ratelimit import Rate, RateLimiter, RateLimits
from kiekit.transport import HttpResponse, MockTransport

GROK = "grok-imagine/text-to-image"
CREATE = "/api/v1/jobs/createTask"
BUSY = HttpResponse(200, json.dumps({"code": 429, "msg": "rate limited"}).encode(), "OK")


class Interrupted(RateLimiter):
    """A limiter whose ``interrupt_at``-th create booking is interrupted, as a Ctrl-C (or a
    kill) during the wait for the slot would be."""

    def __init__(self, interrupt_at: int) -> None:
        # a short create window: a create refused with 429 waits one out before it goes again
        super().__init__(RateLimits(creates=Rate(20, 0.05)))
        self.interrupt_at = interrupt_at
        self.bookings = 0

    def book_create(self, now: float, *, latest: float | None = None) -> float | None:
        self.bookings += 1
        if self.bookings == self.interrupt_at:
            raise KeyboardInterrupt
        return super().book_create(now, latest=latest)


def test_a_create_interrupted_while_waiting_for_its_slot_leaves_no_row(
    api: Any, kit: SimpleNamespace
) -> None:
    journal = Journal(MemoryStore())
    kie = kit.FakeKie([kit.market("waiting")])

    async def scenario() -> None:
        async with api.client(
            transport=kie.transport, journal=journal, rate_limits=Interrupted(1)
        ) as client:
            await client.submit(kit.GROK_T2I, prompt="a lighthouse")

    with pytest.raises(KeyboardInterrupt):
        api.run(scenario)
    assert kie.requests == []
    assert journal.entries() == []  # the slot comes before the intent row


def test_a_create_interrupted_before_a_safe_retry_is_rejected_not_unknown(
    api: Any, kit: SimpleNamespace
) -> None:
    journal = Journal(MemoryStore())
    kie = kit.FakeKie([kit.market("waiting")], create=BUSY)  # 429 in the body: nothing made

    async def scenario() -> None:
        async with api.client(
            transport=kie.transport, journal=journal, rate_limits=Interrupted(2)
        ) as client:
            await client.submit(kit.GROK_T2I, prompt="a lighthouse")

    with pytest.raises(KeyboardInterrupt):
        api.run(scenario)
    assert len(kie.requests) == 1
    (row,) = journal.entries()
    assert row.state is EntryState.REJECTED  # free to send again; no dashboard hunt
    assert row.task_id is None


def test_an_interruption_after_a_create_that_may_have_arrived_stays_unknown(
    api: Any, kit: SimpleNamespace
) -> None:
    journal = Journal(MemoryStore())
    cut = TransportError("connection reset mid-answer", maybe_sent=True)
    kie = kit.FakeKie([kit.market("waiting")], create=cut)
    retry = RetryPolicy(attempts=3, base=0.001, cap=0.002, retry_creates=True)

    async def scenario() -> None:
        async with api.client(
            transport=kie.transport, journal=journal, rate_limits=Interrupted(2), retry=retry
        ) as client:
            await client.submit(kit.GROK_T2I, prompt="a lighthouse")

    with pytest.raises(KeyboardInterrupt):
        api.run(scenario)
    (row,) = journal.entries()
    assert row.state is EntryState.UNKNOWN  # the first attempt may have made a task


def test_a_create_whose_answer_was_lost_is_unknown(api: Any, kit: SimpleNamespace) -> None:
    journal = Journal(MemoryStore())
    kie = kit.FakeKie([kit.market("waiting")], create=TransportError("reset", maybe_sent=True))

    async def scenario() -> None:
        async with api.client(transport=kie.transport, journal=journal) as client:
            await client.submit(kit.GROK_T2I, prompt="a lighthouse")

    with pytest.raises(OutcomeUnknownError):
        api.run(scenario)
    (row,) = journal.entries()
    assert row.state is EntryState.UNKNOWN


@pytest.mark.parametrize(
    ("first", "row_after"),
    [
        (BUSY, EntryState.REJECTED),  # refused with 429: KIE made nothing
        (TransportError("reset mid-answer", maybe_sent=True), EntryState.UNKNOWN),
    ],
    ids=["first-refused", "first-maybe-sent"],
)
def test_a_resend_stopped_before_it_was_written_keeps_what_the_first_attempt_may_have_done(
    api: Any, kit: SimpleNamespace, first: Any, row_after: EntryState
) -> None:
    """A transport marks a stop that came before a byte of the second attempt was written: the
    row is then what the first attempt left, ``unknown`` if that one may have made a task."""
    from kiekit._engine import mark_unsent

    journal = Journal(MemoryStore())
    answers = iter([first])

    def create(request: Any) -> Any:
        answer = next(answers, None)
        if answer is None:  # the resend, stopped while its connection was being opened
            stop = KeyboardInterrupt()
            mark_unsent(stop)
            raise stop
        if isinstance(answer, BaseException):
            raise answer
        return answer

    kie = kit.FakeKie([kit.market("waiting")], create=create)
    retry = RetryPolicy(attempts=2, base=0.001, cap=0.002, retry_creates=True)
    limits = RateLimiter(RateLimits(creates=Rate(20, 0.05)))  # a short wait after the 429

    async def scenario() -> None:
        async with api.client(
            transport=kie.transport, journal=journal, rate_limits=limits, retry=retry
        ) as client:
            await client.submit(kit.GROK_T2I, prompt="a lighthouse")

    with pytest.raises(KeyboardInterrupt):
        api.run(scenario)
    assert len(kie.requests) == 2
    (row,) = journal.entries()
    assert row.state is row_after


class FullWindow(RateLimiter):
    """A limiter whose first create admission finds the window full (earlier creates still
    unanswered): it says wait, then admits; ``seen`` is what the journal said meanwhile."""

    def __init__(self, journal: Journal) -> None:
        super().__init__(RateLimits(creates=Rate(20, 0.05), status=None))
        self.journal = journal
        self.asked = 0
        self.seen: list[tuple[EntryState, str | None]] = []

    def admit_create(self, now: float) -> float:
        self.asked += 1
        if self.asked == 1:
            return 0.001
        self.seen = [(row.state, (row.error or {}).get("type")) for row in self.journal.entries()]
        return super().admit_create(now)


def test_a_create_waiting_for_the_window_after_its_intent_row_is_parked_meanwhile(
    api: Any, kit: SimpleNamespace
) -> None:
    """A kill -9 during that wait left a `sending` row (outcome unknown: settled by hand)
    for a create never sent; the row says rejected meanwhile, as while a 429 is waited out,
    and `sending` again before the create goes."""
    journal = Journal(MemoryStore())
    kie = kit.FakeKie([kit.market("waiting")])
    limits = FullWindow(journal)

    async def scenario() -> None:
        async with api.client(transport=kie.transport, journal=journal, rate_limits=limits) as c:
            await c.submit(kit.GROK_T2I, prompt="a lighthouse")

    api.run(scenario)
    assert limits.seen == [(EntryState.REJECTED, "AwaitingWindow")]  # during the wait
    (row,) = journal.entries()
    assert row.state is EntryState.CREATED
    assert row.error is None
    assert len(kie.requests) == 1


def test_a_create_cancelled_in_its_slot_wait_is_not_journaled(kit: SimpleNamespace) -> None:
    """asyncio's own cancellation (a timeout, a TaskGroup failing), not a simulated one: the
    second create of a one-per-window limit waits for its slot and is cancelled there."""
    from kiekit.ratelimit import Rate, RateLimits

    journal = Journal(MemoryStore())
    kie = kit.FakeKie([kit.market("waiting")])
    waiting = asyncio.Event()

    class Watched(RateLimiter):
        def book_create(self, now: float, *, latest: float | None = None) -> float | None:
            slot = super().book_create(now, latest=latest)
            if slot is not None and slot > now:
                waiting.set()  # the flow goes straight on to sleep until `slot`
            return slot

    # a window within the create's deadline (the retry policy's 60 s): a later slot is refused
    limiter = Watched(RateLimits(creates=Rate(1, 50.0), status=None))

    async def scenario() -> None:
        async with AsyncClient(
            kit.CANARY, transport=MockTransport(kie), journal=journal, rate_limits=limiter
        ) as client:
            await client.submit(kit.GROK_T2I, prompt="first")
            second = asyncio.create_task(client.submit(kit.GROK_T2I, prompt="second"))
            await waiting.wait()
            second.cancel()
            with pytest.raises(asyncio.CancelledError):
                await second

    asyncio.run(scenario())
    rows = journal.entries()
    assert [row.state for row in rows] == [EntryState.CREATED]
    request = rows[0].request
    assert request is not None
    assert request["input"]["prompt"] == "first"


def test_a_create_the_transport_could_not_encode_was_never_sent(
    api: Any, kit: SimpleNamespace
) -> None:
    """http.client encodes each header as Latin-1 while it puts the request together, before
    any byte leaves: a UnicodeEncodeError there made nothing on KIE (a create free to resend),
    and its text, which holds the header, is not passed on."""
    journal = Journal(MemoryStore())

    def encode_headers(request: Any) -> Any:
        for value in request.headers.values():
            (value + "\u200b").encode("latin-1")  # as putheader fails on a pasted character
        raise AssertionError("unreachable")

    kie = kit.FakeKie([kit.market("waiting")], create=encode_headers)

    async def scenario() -> None:
        async with api.client(transport=kie.transport, journal=journal) as client:
            await client.submit(kit.GROK_T2I, prompt="a lighthouse")

    with pytest.raises(ConfigurationError, match="nothing was sent") as info:
        api.run(scenario)
    assert kit.CANARY not in str(info.value)
    assert info.value.__cause__ is None
    (row,) = journal.entries()
    assert row.state is EntryState.REJECTED  # no dashboard hunt, no kie settle
    assert row.task_id is None


def _holding(mock: Any, rule: Any, count: int) -> threading.Event:
    """An event set once ``count`` requests are held by the fault ``rule`` (added here): the
    mock picks a request's fault as it arrives, before the fault's wait."""
    from kiekit_mock import FaultRule

    assert isinstance(rule, FaultRule)
    held = threading.Event()
    rule_id = mock.faults.add(rule)
    pick = mock.faults.pick
    seen = itertools.count(1)

    def counted(*args: Any) -> Any:
        picked = pick(*args)
        if picked is not None and picked[0] == rule_id and next(seen) == count:
            held.set()
        return picked

    mock.faults.pick = counted
    return held


def test_a_create_queued_for_a_busy_connection_pool_was_never_sent(
    mock_server_factory: Any, tmp_path: Path
) -> None:
    """AsyncClient's connections all held by a slow file host: a create whose deadline comes
    while it waits for one of them never left the process. It is a failure like a refused
    connection (retried until its deadline, journaled ``rejected``), not "outcome unknown",
    which would leave a row for a person to settle after a look at the dashboard."""
    from kiekit.transport import AiohttpTransport
    from kiekit_mock import FaultRule

    mock = mock_server_factory(polls_to_complete=0)
    journal = Journal(MemoryStore())
    quick = RetryPolicy(deadline=0.3, base=0.01, cap=0.02)
    failure: list[BaseException] = []

    async def scenario() -> None:
        async with AsyncClient(
            "k",
            base_url=mock.base_url,
            transport=AiohttpTransport(limit=2),
            journal=journal,
            rate_limits=None,
            retry=quick,
            poll=PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=10.0),
        ) as kie:
            task = await kie.submit(GROK, prompt="a lighthouse")
            results = await kie.wait(task)
            held = _holding(mock, FaultRule("slow", method="GET", path="/files/*", delay=60), 2)
            busy = [asyncio.create_task(kie.download(results, tmp_path / str(i))) for i in range(2)]
            assert await asyncio.to_thread(held.wait, 60)  # both connections are taken
            try:
                await kie.submit(GROK, prompt="a fox", idempotency_key="queued")
            except Exception as exc:  # looked at below, once the client is closed
                failure.append(exc)
            finally:
                for download in busy:
                    download.cancel()
                await asyncio.gather(*busy, return_exceptions=True)

    asyncio.run(scenario())
    (exc,) = failure
    assert isinstance(exc, TransportError)
    assert not isinstance(exc, OutcomeUnknownError)
    assert not exc.maybe_sent
    assert "no connection in time" in str(exc)
    creates = [r for r in mock.requests() if r.method == "POST"]
    assert len(creates) == 1  # the first create only: the queued one never reached KIE
    row = journal.get("queued")
    assert row is not None
    assert row.state is EntryState.REJECTED  # free to send again; no dashboard hunt


def test_a_create_written_but_not_answered_in_time_is_still_unknown(
    mock_server_factory: Any,
) -> None:
    """The other side of the line: once the create went out on a connection, a deadline that
    comes before its answer leaves the outcome unknown (KIE may have made the task)."""
    from kiekit_mock import FaultRule

    mock = mock_server_factory()
    mock.faults.add(FaultRule("slow", method="POST", path=CREATE, when="after", delay=60))
    journal = Journal(MemoryStore())

    async def scenario() -> None:
        async with AsyncClient(
            "k",
            base_url=mock.base_url,
            journal=journal,
            rate_limits=None,
            retry=RetryPolicy(deadline=0.3),
        ) as kie:
            await kie.submit(GROK, prompt="a fox", idempotency_key="sent")

    with pytest.raises(OutcomeUnknownError):
        asyncio.run(scenario())
    row = journal.get("sent")
    assert row is not None
    assert row.state is EntryState.UNKNOWN


# How a caller stops a create it awaits: the task cancelled (a web handler whose client went
# away), its own asyncio.timeout, a TaskGroup sibling failing
STOPS = ("cancel", "timeout", "taskgroup")


class _SiblingFailed(Exception):
    pass


async def _stopped(how: str, create: Coroutine[Any, Any, Any], ready: asyncio.Event) -> None:
    """Run ``create`` and stop it ``how`` once ``ready`` is set (the create then sits at a
    known point: queued for a connection, or sent and awaiting its answer)."""
    if how == "cancel":
        task = asyncio.create_task(create)
        await ready.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    elif how == "timeout":
        scopes: list[asyncio.Timeout] = []

        async def bounded() -> None:
            async with asyncio.timeout(None) as scope:
                scopes.append(scope)
                await create

        task = asyncio.create_task(bounded())
        await ready.wait()
        scopes[0].reschedule(asyncio.get_running_loop().time())  # its deadline is now
        with pytest.raises(TimeoutError):
            await task
    else:

        async def failing() -> None:
            await ready.wait()
            raise _SiblingFailed

        async def together() -> None:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(create)
                tasks.create_task(failing())

        with pytest.raises(ExceptionGroup) as group:
            await together()
        assert [type(exc) for exc in group.value.exceptions] == [_SiblingFailed]


def _queue_watched(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """An event set once a request of an AiohttpTransport made from now on waits in its
    connection pool's queue (aiohttp's own signal, sent as it parks the request there)."""
    import aiohttp
    from kiekit._transports import aiohttp_transport

    queued = asyncio.Event()

    async def on_queued(*_: Any) -> None:
        queued.set()

    def watched() -> list[Any]:
        config = aiohttp.TraceConfig()
        config.on_connection_queued_start.append(on_queued)
        return [config]

    monkeypatch.setattr(aiohttp_transport, "_trace_configs", watched)
    return queued


@pytest.mark.parametrize("how", STOPS)
def test_a_create_stopped_while_queued_for_a_connection_was_never_sent(
    how: str, mock_server_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AsyncClient's connections all held by a slow file host: a create stopped by its caller
    while it waits for one never left the process. Its row says so (``rejected``, free to send
    again), not "outcome unknown", which asks a person to search the dashboard and settle it."""
    from kiekit.transport import AiohttpTransport
    from kiekit_mock import FaultRule

    mock = mock_server_factory(polls_to_complete=0)
    journal = Journal(MemoryStore())
    queued = _queue_watched(monkeypatch)

    async def scenario() -> None:
        async with AsyncClient(
            "k",
            base_url=mock.base_url,
            transport=AiohttpTransport(limit=2),
            journal=journal,
            rate_limits=None,
            poll=PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=10.0),
        ) as kie:
            results = await kie.wait(await kie.submit(GROK, prompt="a lighthouse"))
            held = _holding(mock, FaultRule("slow", method="GET", path="/files/*", delay=60), 2)
            busy = [asyncio.create_task(kie.download(results, tmp_path / str(i))) for i in range(2)]
            assert await asyncio.to_thread(held.wait, 60)  # both connections are taken
            queued.clear()  # from here on, only the create can wait for a connection
            try:
                create = kie.submit(GROK, prompt="a fox", idempotency_key="queued")
                await _stopped(how, create, queued)
            finally:
                for download in busy:
                    download.cancel()
                await asyncio.gather(*busy, return_exceptions=True)

    asyncio.run(scenario())
    creates = [r for r in mock.requests() if r.method == "POST"]
    assert len(creates) == 1  # the first create only: the stopped one never reached KIE
    row = journal.get("queued")
    assert row is not None
    assert row.state is EntryState.REJECTED  # free to send again; no dashboard hunt
    assert row.error is not None
    assert row.error["type"] == "Cancelled"


@pytest.mark.parametrize("how", STOPS)
def test_a_create_stopped_once_written_is_still_unknown(how: str, mock_server_factory: Any) -> None:
    """The other side of the line: a create stopped after it went out on a connection may
    have made a task (here the mock made one, and charged it): its row stays ``unknown``."""
    from kiekit_mock import FaultRule

    mock = mock_server_factory()
    rule = FaultRule("slow", method="POST", path=CREATE, when="after", delay=60)
    arrived = _holding(mock, rule, 1)
    journal = Journal(MemoryStore())

    async def scenario() -> None:
        async with AsyncClient(
            "k", base_url=mock.base_url, journal=journal, rate_limits=None
        ) as kie:
            sent = asyncio.Event()

            async def on_arrival() -> None:
                assert await asyncio.to_thread(arrived.wait, 60)  # the mock holds the create
                sent.set()

            watching = asyncio.create_task(on_arrival())
            await _stopped(how, kie.submit(GROK, prompt="a fox", idempotency_key="sent"), sent)
            await watching

    asyncio.run(scenario())
    row = journal.get("sent")
    assert row is not None
    assert row.state is EntryState.UNKNOWN  # KIE may have made it: a person settles it


def test_a_sync_create_interrupted_while_connecting_was_never_sent(
    mock_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Client's pool never queues a request (urllib3 opens another connection instead), but
    a Ctrl-C can come while its connection is being opened (DNS, connect): nothing of the
    create was written, so ``kie run`` can say "no task made" and the row is ``rejected``."""
    import urllib3.util.connection
    from kiekit import Client

    def interrupted(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    journal = Journal(MemoryStore())
    with Client("k", base_url=mock_server.base_url, journal=journal, rate_limits=None) as kie:
        monkeypatch.setattr(urllib3.util.connection, "create_connection", interrupted)
        with pytest.raises(KeyboardInterrupt):
            kie.submit(GROK, prompt="a fox", idempotency_key="connecting")
    assert [r for r in mock_server.requests() if r.method == "POST"] == []
    row = journal.get("connecting")
    assert row is not None
    assert row.state is EntryState.REJECTED


class StoppedAsWritten(SqliteStore):
    """A journal (committing in groups, so its writes go through the writer thread) whose
    client is stopped while it waits for one write: the intent row's insert (``when="intent"``)
    or the row put back to ``sending`` after a wait (``when="resend"``). The stop comes as
    Ctrl-C or a cancellation does, to the waiting thread or task once the row is committed:
    ``stop`` is armed by the test for the client it drives."""

    def __init__(self, path: Path, when: str) -> None:
        super().__init__(path)
        self.when = when
        self.stop: Any = None  # called on the writer thread, once the row is written
        self.stops = 0

    def _stopping(self) -> None:
        if self.stop is not None and self.stops == 0:
            self.stops += 1
            self.stop()

    def insert(self, entry: Any, *, lease: float | None = None) -> bool:
        inserted = super().insert(entry, lease=lease)
        if self.when == "intent":
            self._stopping()
        return inserted

    def update(self, key: str, changes: Any, **options: Any) -> Any:
        updated = super().update(key, changes, **options)
        if self.when == "resend" and changes.get("state") is EntryState.SENDING:
            self._stopping()
        return updated


class _InterruptedWait:
    """The lock a thread waits on for its journal write: once ``armed``, the wait gets the
    lock (the write is committed) and is then interrupted, as when SIGINT's handler runs just
    after ``acquire()`` returned (``test_journal_writer`` has the hang this once caused)."""

    armed = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waits = 0

    def acquire(self) -> bool:
        self._lock.acquire()
        self._waits += 1
        if self._waits == 2 and _InterruptedWait.armed:  # the first is run()'s own, unblocked
            _InterruptedWait.armed = False
            raise KeyboardInterrupt
        return True

    def release(self) -> None:
        self._lock.release()


def _stopped_at(
    api: Any, store: StoppedAsWritten, monkeypatch: pytest.MonkeyPatch
) -> Callable[[], Any]:
    """Arms ``store`` to stop ``api``'s client: Ctrl-C for Client (its thread waits on the
    writer), a cancellation of the task for AsyncClient; the returned call arms it from
    within the scenario (the task to cancel is the one running it)."""
    from kiekit.journal import _writer

    if not api.is_async:
        monkeypatch.setattr(
            _writer,
            "threading",
            SimpleNamespace(
                Lock=_InterruptedWait,
                current_thread=threading.current_thread,
                Thread=threading.Thread,
            ),
        )

        def arm() -> None:
            store.stop = lambda: setattr(_InterruptedWait, "armed", True)

        return arm

    def arm_async() -> None:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        # queued before the writer's answer: the task is cancelled as it waits for the row
        store.stop = lambda: loop.call_soon_threadsafe(task.cancel)

    return arm_async


@pytest.mark.parametrize("when", ["intent", "resend"])
def test_a_create_stopped_as_its_row_is_written_is_rejected_and_sent_again_by_a_rerun(
    api: Any, kit: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """`kie run` stopped by Ctrl-C the moment its intent row was written left it `sending`
    (its create never sent), told "outcome unknown" and blocked its idempotency key: the
    interruption reached the flow before the row did. It comes after the row now (ops.Record),
    so the create is `rejected` (docs/reliability.md) — also when it comes as the row is put
    back to `sending` after a wait for the window, just before the request would go."""
    store = StoppedAsWritten(tmp_path / "journal.sqlite3", when)
    journal = Journal(store)
    kie = kit.FakeKie([kit.market("waiting")])
    limits = FullWindow(journal) if when == "resend" else None
    arm = _stopped_at(api, store, monkeypatch)
    stop = KeyboardInterrupt if not api.is_async else asyncio.CancelledError

    async def scenario() -> str:
        async with api.client(transport=kie.transport, journal=journal, rate_limits=limits) as c:
            arm()
            with pytest.raises(stop):
                await c.submit(kit.GROK_T2I, prompt="a lighthouse", idempotency_key="k-1")
            assert store.stops == 1
            assert kie.requests == []  # stopped before the create left
            (row,) = journal.entries()
            assert row.state is EntryState.REJECTED, row.state  # free to send again
            assert row.lease_until is None
            task = await c.submit(kit.GROK_T2I, prompt="a lighthouse", idempotency_key="k-1")
            return str(task.id)

    task_id = api.run(scenario)
    assert task_id == kit.TASK_ID
    assert len(kie.requests) == 1  # the rerun sent it, once
    (row,) = journal.entries()
    assert row.state is EntryState.CREATED
    assert row.task_id == kit.TASK_ID


def _slow_to_open(opening: asyncio.Event, *, first_open_done: bool) -> Any:
    """An AiohttpTransport whose session open blocks until the caller stops it, as aiohttp's
    first import on a thread did on a busy machine (over a second): ``opening`` is set when
    it blocks. ``first_open_done``: ``ready()`` (the open before the intent row) returns at
    once, so it is the create's own send that waits for the open."""
    from kiekit.transport import AiohttpTransport

    class SlowToOpen(AiohttpTransport):
        async def ready(self) -> None:
            if not first_open_done:
                await super().ready()

        async def _opened(self) -> Any:
            opening.set()
            await asyncio.Event().wait()  # never set: only the caller's stop ends the wait

    return SlowToOpen()


@pytest.mark.parametrize("how", STOPS)
def test_a_create_stopped_while_its_send_opens_the_session_was_never_sent(
    how: str, mock_server: Any
) -> None:
    """The create's send opens the session (aiohttp imported on a thread) before a byte is
    written: stopped there, it made nothing. Its row is ``rejected`` and the same key sends it
    again; "outcome unknown" made a second ``generate`` raise OutcomeUnknownError until a
    person settled it (outside tester "chaos", finding 2: the mock had no task)."""
    journal = Journal(MemoryStore())

    async def scenario() -> None:
        opening = asyncio.Event()
        async with AsyncClient(
            "k",
            base_url=mock_server.base_url,
            transport=_slow_to_open(opening, first_open_done=True),
            journal=journal,
            rate_limits=None,
        ) as kie:
            create = kie.submit(GROK, prompt="a fox", idempotency_key="opening")
            await _stopped(how, create, opening)

    asyncio.run(scenario())
    assert [r for r in mock_server.requests() if r.method == "POST"] == []
    row = journal.get("opening")
    assert row is not None
    assert row.state is EntryState.REJECTED  # free to send again; no dashboard hunt
    assert row.error is not None
    assert row.error["type"] == "Cancelled"

    async def again() -> str:
        async with AsyncClient("k", base_url=mock_server.base_url, journal=journal) as kie:
            task = await kie.submit(GROK, prompt="a fox", idempotency_key="opening")
            return task.id

    made = asyncio.run(again())
    assert [t.task_id for t in mock_server.tasks()] == [made]  # sent once, by the second


@pytest.mark.parametrize("how", STOPS)
def test_generate_stopped_while_the_transport_opens_leaves_no_row(
    how: str, mock_server: Any, tmp_path: Path
) -> None:
    """AsyncClient.generate opens the transport before the intent row, as submit does: a
    generate stopped in the first open (aiohttp's import) has written nothing to settle."""
    journal = Journal(MemoryStore())

    async def scenario() -> None:
        opening = asyncio.Event()
        async with AsyncClient(
            "k",
            base_url=mock_server.base_url,
            transport=_slow_to_open(opening, first_open_done=False),
            journal=journal,
            rate_limits=None,
        ) as kie:
            create = kie.generate(GROK, prompt="a fox", out_dir=tmp_path, idempotency_key="g")
            await _stopped(how, create, opening)

    asyncio.run(scenario())
    assert mock_server.requests() == []
    assert journal.entries() == []


class SignalledAsWritten(MemoryStore):
    """A store of one's own (no ``batch``: a blocking client writes it in place, on its own
    thread) on which SIGINT lands the moment a row is written: after the intent row's insert
    (``when="intent"``), or after the write that names the task the create made
    (``when="created"``) — Ctrl-C pressed as the store returns, before the journal has
    heard its outcome."""

    def __init__(self, when: str) -> None:
        super().__init__()
        self.when = when
        self.signals = 0

    def _signalled(self) -> None:
        if self.signals == 0:
            self.signals += 1
            signal.raise_signal(signal.SIGINT)  # its handler runs here, on this thread

    def insert(self, entry: Any, *, lease: float | None = None) -> bool:
        inserted = super().insert(entry, lease=lease)
        if self.when == "intent":
            self._signalled()
        return inserted

    def update(self, key: str, changes: Any, **options: Any) -> Any:
        updated = super().update(key, changes, **options)
        if self.when == "created" and changes.get("state") is EntryState.CREATED:
            self._signalled()
        return updated


@pytest.fixture
def ctrl_c() -> Any:
    """SIGINT raises KeyboardInterrupt in this test, as at a terminal (a suite started in the
    background may have it ignored); put back after."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers are set on the main thread only")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c")
def test_a_ctrl_c_as_a_store_of_ones_own_writes_the_intent_row_leaves_it_rejected(
    kit: SimpleNamespace,
) -> None:
    """A store without ``batch`` is written in place by the blocking Client: a Ctrl-C the
    moment it had written the intent row reached the create's flow as the write's own error,
    before the flow had its row, which stayed ``sending`` — "outcome unknown" to ``kie
    resume`` for a create never sent. The interruption now waits for the write's end, as
    with the journal's writer thread: the row is ``rejected``, free to send again."""
    from kiekit import Client

    store = SignalledAsWritten("intent")
    journal = Journal(store)
    kie = kit.FakeKie([kit.market("waiting")])
    with Client(kit.CANARY, transport=kie.transport, journal=journal) as client:
        with pytest.raises(KeyboardInterrupt):
            client.submit(kit.GROK_T2I, prompt="a lighthouse", idempotency_key="k-1")
        assert store.signals == 1
        assert kie.requests == []  # stopped before the create left
        (row,) = journal.entries()
        assert row.state is EntryState.REJECTED, row.state
        assert row.lease_until is None
        task = client.submit(kit.GROK_T2I, prompt="a lighthouse", idempotency_key="k-1")
    assert task.id == kit.TASK_ID
    assert len(kie.requests) == 1


@pytest.mark.usefixtures("ctrl_c")
def test_a_ctrl_c_as_a_store_of_ones_own_records_a_made_task_keeps_its_task_id(
    kit: SimpleNamespace,
) -> None:
    """The same Ctrl-C as the row takes the id of the task just made (paid for): the write
    is done before the interruption goes on, so the row is ``created`` with the id, for
    ``kie resume`` to wait for, never ``sending`` (outcome unknown) nor ``rejected``."""
    from kiekit import Client

    store = SignalledAsWritten("created")
    journal = Journal(store)
    kie = kit.FakeKie([kit.market("waiting")])
    with Client(kit.CANARY, transport=kie.transport, journal=journal) as client:
        with pytest.raises(KeyboardInterrupt):
            client.submit(kit.GROK_T2I, prompt="a lighthouse", idempotency_key="k-1")
        assert store.signals == 1
        assert len(kie.requests) == 1  # the create left, and made a task
        (row,) = journal.entries()
        assert (row.state, row.task_id) == (EntryState.CREATED, kit.TASK_ID)
        task = client.submit(kit.GROK_T2I, prompt="a lighthouse", idempotency_key="k-1")
    assert task.id == kit.TASK_ID
    assert len(kie.requests) == 1  # the key's task, not made again
