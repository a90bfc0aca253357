"""The journal's writer thread as an event loop sees it: a write is always waited for to its end,
a cancellation that comes meanwhile is handed back (never swallowed, never losing the row), and
a journal's memory of task ids stays bounded however many tasks a process makes."""

from __future__ import annotations

import asyncio
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from kiekit.journal import Journal, SqliteStore, _journal, _writer
from kiekit.journal._writer import WRITER
from kiekit.models import Asset, MediaKind, Results, Task


def test_a_cancellation_during_a_write_waits_for_it_and_is_handed_back() -> None:
    started, go = threading.Event(), threading.Event()

    def write() -> str:
        started.set()
        go.wait(60)
        return "row"

    async def run() -> tuple[asyncio.Future[Any], BaseException | None]:
        flow = asyncio.create_task(WRITER.written(write, object()))
        assert await asyncio.to_thread(started.wait, 60)
        flow.cancel()
        await asyncio.sleep(0)  # the flow hears of it (its wake-up was queued first)
        assert not flow.done()  # ... and goes on waiting for the write
        go.set()
        return await flow

    future, cancelled = asyncio.run(run())
    assert future.result() == "row"
    assert isinstance(cancelled, asyncio.CancelledError)


def _cancelled_as_written(
    schedule: Callable[[asyncio.AbstractEventLoop, asyncio.Task[Any]], object],
) -> tuple[asyncio.Future[Any], BaseException | None]:
    """What ``written`` gives back when its write, on the writer thread, first runs
    ``schedule(loop, flow)`` (which queues the flow's cancellation) and then answers "row"."""

    async def run() -> tuple[asyncio.Future[Any], BaseException | None]:
        loop = asyncio.get_running_loop()
        flow: asyncio.Task[Any]

        def write() -> str:
            schedule(loop, flow)
            return "row"

        flow = asyncio.create_task(WRITER.written(write, object()))
        return await flow

    return asyncio.run(run())


def test_a_cancellation_just_before_the_outcome_arrives_still_gets_it() -> None:
    """The cancellation reaches the loop first, the write's outcome right after it: the flow
    takes the outcome the writer left, not a future that will never be settled."""
    future, cancelled = _cancelled_as_written(
        lambda loop, flow: loop.call_soon_threadsafe(flow.cancel)  # before the writer's answer
    )
    assert future.result() == "row"
    assert isinstance(cancelled, asyncio.CancelledError)


def test_a_cancellation_just_after_the_outcome_is_not_swallowed() -> None:
    """The write is settled, then the flow is cancelled before it resumes: the outcome is
    kept, and the cancellation is handed back too."""
    # runs on the loop before the writer's answer, and queues the cancel after it
    future, cancelled = _cancelled_as_written(
        lambda loop, flow: loop.call_soon_threadsafe(lambda: loop.call_soon(flow.cancel))
    )
    assert future.result() == "row"
    assert isinstance(cancelled, asyncio.CancelledError)


def test_a_writes_own_error_is_its_outcome_not_a_cancellation() -> None:
    def write() -> None:
        raise ValueError("the disk is full")

    async def run() -> tuple[asyncio.Future[Any], BaseException | None]:
        return await WRITER.written(write, object())

    future, cancelled = asyncio.run(run())
    assert cancelled is None
    with pytest.raises(ValueError, match="the disk is full"):
        future.result()


class _AcquiredThenInterrupted:
    """The lock a thread waits on for its write, whose wait gets the lock and is then
    interrupted: a signal's handler (Ctrl-C, kie's SIGTERM) runs just after acquire() returned,
    as CPython runs it after a call. A further wait would never end: here it is noted (in
    ``made``) and returns at once, so the test fails instead of hanging."""

    made: ClassVar[list[_AcquiredThenInterrupted]] = []

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.waits = 0
        self.made.append(self)

    def acquire(self) -> bool:
        self.waits += 1
        if self.waits > 2:  # the lock is this thread's already: a real wait would never end
            return True
        self._lock.acquire()
        if self.waits == 2:  # the first is run()'s own, before the write is queued
            raise KeyboardInterrupt
        return True

    def release(self) -> None:
        self._lock.release()


def test_a_thread_interrupted_as_its_write_ends_gets_the_interruption_not_a_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A `kie run` stopped by SIGTERM mid-download hung for good (1 in 5 under load): its
    journal write had ended as the signal came, and it waited for it a second time."""
    written: list[str] = []
    _AcquiredThenInterrupted.made.clear()
    seen = types.SimpleNamespace(
        Lock=_AcquiredThenInterrupted,
        current_thread=threading.current_thread,
        Thread=threading.Thread,
    )
    monkeypatch.setattr(_writer, "threading", seen)
    with pytest.raises(KeyboardInterrupt):
        WRITER.run(lambda: written.append("row"), object())
    assert written == ["row"]  # done once, and the interruption handed back after it
    [lock] = _AcquiredThenInterrupted.made
    assert lock.waits == 2, "waited again for a write already done: a hang"


def test_a_journal_remembers_a_bounded_number_of_tasks_and_still_finds_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_journal, "REMEMBERED_TASKS", 3)
    journal = Journal(SqliteStore(tmp_path / "journal.sqlite3"))
    tasks = []
    for number in range(5):
        entry = journal.intend("flux-kontext-pro", {"prompt": f"fox {number}"})
        assert entry is not None
        task = Task(id=f"task-{number}", model="flux-kontext-pro")
        journal.created(entry, task)
        tasks.append(task)
    assert len(journal._keys) == 3  # a long-running worker does not keep every task it made

    image = Asset(url="https://cdn.example/0.png", kind=MediaKind.IMAGE)
    journal.finished(tasks[0], Results(task_id="task-0", assets=(image,)))  # forgotten: looked up
    row = journal.by_task("task-0")
    assert row is not None
    assert row.assets == (image,)
