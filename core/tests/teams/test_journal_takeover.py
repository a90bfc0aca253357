"""A worker that stalled past its lease, whose row another worker took over meanwhile, notices
before it acts (outside tester "pgops", finding 1): no poll result written over the taker's row,
no download of its files, a warning naming the task; the Python clients raise
TaskTakenOverError, and ``kie batch`` reports the job ``taken_over``.

Run on every store (memory and SQLite on the journal's fake clock; PostgreSQL on its server's
clock, its lease made to run out by ``renew(owner, 0)``), for both clients. No sleeps: the
takeover happens inside a scripted status answer, the journal's clock moved by hand.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import PollPolicy, TaskTakenOverError
from kiekit.batch import TAKEN_OVER, Job, run_job
from kiekit.journal import EntryState, Journal
from kiekit.journal._postgres import PostgresStore
from kiekit.journal._stores import JournalStore
from kiekit.retry import RetryPolicy
from kiekit.transport import HttpRequest, HttpResponse
from teams.clocks import FakeClock

FAST = PollPolicy(initial=0.001, growth=0.001, maximum=0.002, timeout=5.0)
NO_LIMITS: dict[str, Any] = {"rate_limits": None, "retry": RetryPolicy.never()}

pytestmark = pytest.mark.fake_clock  # the stores run on the test's clock (conftest)


def take_over(store: JournalStore, clock: FakeClock, stalled: Journal, taker: Journal) -> None:
    """``stalled``'s lease runs out (it stopped renewing: a GC pause, SIGSTOP) and ``taker``
    takes its one row, as ``kie resume`` or a batch worker does; ``stalled``'s own clock has
    moved on by a lease, so its next step is due to renew."""
    if isinstance(store, PostgresStore):
        store.renew(stalled.owner, 0.0)
    clock.now += stalled.lease + 1
    (row,) = [row for row in taker.entries() if row.owner == stalled.owner]
    assert taker.take(row.key) is not None


def test_a_wait_whose_row_was_taken_over_stops_before_its_next_poll(
    api: Any,
    kit: SimpleNamespace,
    store: JournalStore,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stalled, taker = Journal(store, clock=clock), Journal(store, clock=clock)
    url = f"{kit.CDN}/a1.png"

    def poll(request: HttpRequest) -> HttpResponse:
        take_over(store, clock, stalled, taker)
        return kit.market("waiting")

    kie = kit.FakeKie(statuses=[poll, kit.market("success", urls=[url])], files={url: kit.PNG})

    async def scenario() -> Any:
        async with api.client(
            transport=kie.transport, journal=stalled, poll=FAST, **NO_LIMITS
        ) as client:
            task = await client.submit(kit.GROK_T2I, prompt="x", idempotency_key="job-1")
            with pytest.raises(TaskTakenOverError) as raised:
                await client.wait(task)
            return task, raised.value

    with caplog.at_level(logging.WARNING, "kiekit.journal"):
        task, error = api.run(scenario)
    assert kie.polls == 1  # the renewal before the next step found the row gone: no poll more
    assert (error.task_id, error.key, error.owner) == (task.id, "job-1", taker.owner)
    row = taker.get("job-1")
    assert row is not None
    assert (row.owner, row.state, row.error) == (taker.owner, EntryState.CREATED, None)
    assert any(task.id in r.getMessage() and "took over" in r.getMessage() for r in caplog.records)


def test_a_poll_result_is_not_written_over_the_takers_row_nor_its_files_fetched(
    api: Any, kit: SimpleNamespace, store: JournalStore, clock: FakeClock, tmp_path: Path
) -> None:
    """The stall fell inside the last poll (no step more before the wait's end): the wait's
    write of the result is made only while the row is still this worker's."""
    stalled, taker = Journal(store, clock=clock), Journal(store, clock=clock)
    url = f"{kit.CDN}/a1.png"

    def poll(request: HttpRequest) -> HttpResponse:
        take_over(store, clock, stalled, taker)
        return kit.market("success", urls=[url])

    kie = kit.FakeKie(statuses=[poll], files={url: kit.PNG})

    async def scenario() -> None:
        async with api.client(
            transport=kie.transport, journal=stalled, poll=FAST, **NO_LIMITS
        ) as client:
            task = await client.submit(kit.GROK_T2I, prompt="x", idempotency_key="job-1")
            with pytest.raises(TaskTakenOverError):
                await client.wait(task)

    api.run(scenario)
    row = taker.get("job-1")
    assert row is not None
    assert (row.owner, row.state, row.assets) == (taker.owner, EntryState.CREATED, ())
    assert not [r for r in kie.requests if r.url == url]


def test_a_download_of_a_row_taken_over_fetches_nothing(
    api: Any, kit: SimpleNamespace, store: JournalStore, clock: FakeClock, tmp_path: Path
) -> None:
    """Taken over between the wait and the download (the stall fell there): nothing fetched,
    the taker's row as it was."""
    stalled, taker = Journal(store, clock=clock), Journal(store, clock=clock)
    url = f"{kit.CDN}/a1.png"
    kie = kit.FakeKie(statuses=[kit.market("success", urls=[url])], files={url: kit.PNG})

    async def scenario() -> None:
        async with api.client(
            transport=kie.transport, journal=stalled, poll=FAST, **NO_LIMITS
        ) as client:
            task = await client.submit(kit.GROK_T2I, prompt="x", idempotency_key="job-1")
            results = await client.wait(task)
            take_over(store, clock, stalled, taker)
            with pytest.raises(TaskTakenOverError):
                await client.download(results, tmp_path / "out")

    api.run(scenario)
    assert not [r for r in kie.requests if r.url == url]
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    row = taker.get("job-1")
    assert row is not None
    assert (row.owner, row.files, row.lease_until is not None) == (taker.owner, (), True)


def test_a_batch_job_taken_over_is_reported_so_not_succeeded_nor_failed(
    kit: SimpleNamespace, store: JournalStore, clock: FakeClock, tmp_path: Path
) -> None:
    from kiekit import AsyncClient

    stalled, taker = Journal(store, clock=clock), Journal(store, clock=clock)
    url = f"{kit.CDN}/a1.png"

    def poll(request: HttpRequest) -> HttpResponse:
        take_over(store, clock, stalled, taker)
        return kit.market("waiting")

    kie = kit.FakeKie(statuses=[poll, kit.market("success", urls=[url])], files={url: kit.PNG})
    job = Job(1, "j1", kit.GROK_T2I, {"prompt": "x"})

    async def scenario() -> Any:
        async with AsyncClient(
            kit.CANARY, transport=kie.transport, journal=stalled, poll=FAST, **NO_LIMITS
        ) as client:
            return await run_job(client, stalled, job, tmp_path)

    result = asyncio.run(scenario())
    assert (result.state, result.files, result.ok) == (TAKEN_OVER, (), False)
    assert result.task_id is not None
    assert result.error["type"] == "TaskTakenOverError"
    assert not [r for r in kie.requests if r.url == url]
    (row,) = taker.entries()
    assert (row.owner, row.lease_until is not None) == (taker.owner, True)  # not let go
