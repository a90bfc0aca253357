"""What a team's operator reads after trouble (outside tester "celeryteam"): the tasks each
Celery batch says it paid for add up to what was paid (finding 1), a create whose sender died
reads "outcome unknown … kie settle" whoever found it (finding 2), a stop before any job was
sent says so (finding 3), and an unknown outcome keeps what caused it (finding 4). A task is
counted by the run whose worker's create made it, as its row says, when failures overlap.

On the memory and SQLite stores, their clock moved by hand: no sleeps, no servers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import AsyncClient, PollPolicy
from kiekit.batch import Job, JobResult, job_key, run_job
from kiekit.distributed.collect import made_in_run
from kiekit.errors import TransportError
from kiekit.journal import EntryState, Journal, MemoryStore, SqliteStore
from kiekit.journal._stores import JournalStore
from kiekit.retry import RetryPolicy
from kiekit.transport import HttpResponse

FAST = PollPolicy(initial=0.001, growth=0.001, maximum=0.002, timeout=5.0)
NO_LIMITS: dict[str, Any] = {"rate_limits": None, "retry": RetryPolicy.never()}
GONE = "worker-2:4242:-:0a1b2c"  # a worker of another host, known only by its lease


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Any:
    if request.param == "memory":
        yield MemoryStore(clock=clock)
    else:
        sqlite = SqliteStore(tmp_path / "journal.sqlite3", clock=clock)
        yield sqlite
        sqlite.close()


def _run(
    kit: SimpleNamespace, kie: Any, journal: Journal, job: Job, out: Path, run: str | None = None
) -> JobResult:
    async def scenario() -> JobResult:
        async with AsyncClient(
            kit.CANARY, transport=kie.transport, journal=journal, poll=FAST, **NO_LIMITS
        ) as client:
            return await run_job(client, journal, job, out, run=run)

    return asyncio.run(scenario())


def _row_left_by_a_gone_worker(
    kit: SimpleNamespace,
    store: JournalStore,
    clock: FakeClock,
    job: Job,
    out: Path,
    state: str,
    run: str | None = None,
) -> None:
    """``job``'s row as a worker of another host left it when it died (its lease ran out):
    its create sent (``sending``, KIE's answer lost with it) or answered (``created``), by a
    worker of Celery run ``run`` (as run_job makes it)."""
    first = Journal(store, clock=clock)
    kie = kit.FakeKie(statuses=[kit.market("waiting")])

    async def create() -> None:
        async with AsyncClient(
            kit.CANARY, transport=kie.transport, journal=first, **NO_LIMITS
        ) as client:
            with first.made_for_run(job_key(job), run):
                await client.submit(job.model, job.input, idempotency_key=job_key(job))

    asyncio.run(create())
    changes: dict[str, Any] = {"owner": GONE, "lease_until": clock.now + 60}
    if state == "sending":
        changes |= {"state": EntryState.SENDING, "task_id": None}
    assert store.update(job_key(job), changes) is not None
    clock.now += 61  # its lease has run out


def test_a_worker_waiting_for_another_runs_create_does_not_count_it_made() -> None:
    """Two `kie batch --celery` runs of the same jobs at once: the worker of the second found
    the first's task in the journal (made False); its sender counted it as made all the same,
    so both runs said they paid for every task."""
    found = JobResult(1, "j1", "succeeded", "task-1", "m", made=False)
    assert made_in_run(found, before=False).made is False
    made = JobResult(1, "j1", "succeeded", "task-1", "m", made=True)
    assert made_in_run(made, before=False).made is True
    older = JobResult(1, "j1", "succeeded", "task-1", "m", made=None)  # an older worker's
    assert made_in_run(older, before=False).made is True


def test_a_task_taken_over_from_a_worker_killed_after_its_create_counts_once(
    kit: SimpleNamespace, store: JournalStore, clock: FakeClock, tmp_path: Path
) -> None:
    """kill -9 after the create: the worker that made the task never answers, the one that
    takes its row over says so, and its sender counts the task (not before the run sent it)."""
    from kiekit.distributed.messages import answer_of, result_from_answer

    job, out = Job(1, "j1", kit.GROK_T2I, {"prompt": "a fox"}), tmp_path / "out"
    _row_left_by_a_gone_worker(kit, store, clock, job, out, "created")
    url = f"{kit.CDN}/a1.png"
    kie = kit.FakeKie(statuses=[kit.market("success", urls=[url])], files={url: kit.PNG})

    result = _run(kit, kie, Journal(store, clock=clock), job, out)

    assert (result.state, result.made, result.taken_from_gone) == ("succeeded", False, True)
    assert not [r for r in kie.requests if r.url.endswith("/jobs/createTask")]  # not again
    answer = answer_of(result)  # through the broker, as a worker answers
    assert "taken_from_gone" not in result.to_json()  # results.jsonl as it was
    collected = result_from_answer(job, answer)
    assert made_in_run(collected, before=False).made is True
    assert made_in_run(collected, before=True).made is False  # an earlier run's task


def _counted(result: JobResult, journal: Journal, job: Job, out: Path, run: str) -> bool:
    """Whether run ``run``'s summary counts ``result`` (its answer through the broker) as a
    task it paid for, as kie batch --celery's collector does."""
    from kiekit.batch import made_by
    from kiekit.distributed.collect import made_by_run
    from kiekit.distributed.messages import answer_of, result_from_answer

    collected = result_from_answer(job, answer_of(result))
    maker = made_by(journal, job, out, collected.task_id) if collected.task_id else None
    return made_by_run(collected, before=False, maker=maker, run=run).made is True


def test_a_worker_writes_its_runs_id_with_the_task_its_create_made(
    kit: SimpleNamespace, store: JournalStore, clock: FakeClock, tmp_path: Path
) -> None:
    job, out = Job(1, "j1", kit.GROK_T2I, {"prompt": "a fox"}), tmp_path / "out"
    url = f"{kit.CDN}/a1.png"
    kie = kit.FakeKie(statuses=[kit.market("success", urls=[url])], files={url: kit.PNG})
    journal = Journal(store, clock=clock)

    result = _run(kit, kie, journal, job, out, run="run-1")

    assert (result.state, result.made) == ("succeeded", True)
    row = journal.get(job_key(job))
    assert row is not None
    assert (row.task_id, row.run) == (result.task_id, "run-1")
    assert _counted(result, journal, job, out, "run-1")
    assert not _counted(result, journal, job, out, "run-2")


def test_a_task_made_by_a_stalled_worker_of_one_run_and_taken_over_by_another_counts_once(
    kit: SimpleNamespace, store: JournalStore, clock: FakeClock, tmp_path: Path
) -> None:
    """Two `kie batch --celery` runs of the same jobs at once. Run 1's worker makes the task
    and stalls past its lease (SIGSTOP, a GC pause); run 2's worker takes the row over from it
    and finishes the job (taken_from_gone); run 1's worker then runs again and answers the job
    taken over, its own create's task (made). Both runs counted the task: the row did not say
    which run made it. Only run 1 counts it now."""
    job, out = Job(1, "j1", kit.GROK_T2I, {"prompt": "a fox"}), tmp_path / "out"
    _row_left_by_a_gone_worker(kit, store, clock, job, out, "created", run="run-1")
    journal = Journal(store, clock=clock)
    url = f"{kit.CDN}/a1.png"
    kie = kit.FakeKie(statuses=[kit.market("success", urls=[url])], files={url: kit.PNG})

    taker = _run(kit, kie, journal, job, out, run="run-2")

    assert (taker.state, taker.made, taker.taken_from_gone) == ("succeeded", False, True)
    row = journal.get(job_key(job))
    assert row is not None
    assert row.run == "run-1"  # the maker's run, whoever finished the job
    stalled = JobResult(1, "j1", "taken_over", taker.task_id, job.model, made=True)
    assert not _counted(taker, journal, job, out, "run-2")
    assert _counted(stalled, journal, job, out, "run-1")
    assert not [r for r in kie.requests if r.url.endswith("/jobs/createTask")]  # not again


def test_a_task_whose_taker_died_too_counts_in_the_run_that_made_it_not_the_one_that_ended_it(
    kit: SimpleNamespace, store: JournalStore, clock: FakeClock, tmp_path: Path
) -> None:
    """Run 1's worker makes the task and dies; run 2's worker takes the row over and dies
    too; run 2's message, redelivered, takes it over again and finishes the job; run 1's,
    redelivered, finds the job done. Run 2 counted the task (taken from a gone holder, in a
    row that held no task when run 2 sent it) and run 1, which paid for it, did not. The row
    says which run made it: run 1 counts it, run 2 does not."""
    job, out = Job(1, "j1", kit.GROK_T2I, {"prompt": "a fox"}), tmp_path / "out"
    key = job_key(job)
    _row_left_by_a_gone_worker(kit, store, clock, job, out, "created", run="run-1")
    first_taker = Journal(store, clock=clock)  # run 2's worker
    assert first_taker.claim(job.model, key, out_dir=str(out)) is not None
    assert store.update(key, {"owner": GONE + "2", "lease_until": clock.now + 60}) is not None
    clock.now += 61  # ... which died: its lease ran out too
    url = f"{kit.CDN}/a1.png"
    kie = kit.FakeKie(statuses=[kit.market("success", urls=[url])], files={url: kit.PNG})

    ended = _run(kit, kie, Journal(store, clock=clock), job, out, run="run-2")
    found = _run(kit, kie, Journal(store, clock=clock), job, out, run="run-1")

    assert (ended.state, ended.made, ended.taken_from_gone) == ("succeeded", False, True)
    assert (found.state, found.task_id) == ("succeeded", ended.task_id)
    journal = Journal(store, clock=clock)
    assert not _counted(ended, journal, job, out, "run-2")
    assert _counted(found, journal, job, out, "run-1")
    assert not [r for r in kie.requests if r.url.endswith("/jobs/createTask")]  # not again


def test_a_task_an_older_worker_made_counts_as_its_worker_says() -> None:
    """A row that names no run (an older kiekit's worker made the task): counted as before."""
    from kiekit.distributed.collect import made_by_run

    made = JobResult(1, "j1", "succeeded", "task-1", "m", made=True)
    assert made_by_run(made, before=False, maker=None, run="run-2").made is True
    found = JobResult(1, "j1", "succeeded", "task-1", "m", made=False)
    assert made_by_run(found, before=False, maker=None, run="run-2").made is False
    # a row that names a run: that run's, whatever a worker says
    assert made_by_run(found, before=False, maker="run-2", run="run-2").made is True
    assert made_by_run(made, before=False, maker="run-1", run="run-2").made is False


def test_a_create_whose_sender_died_reads_outcome_unknown_not_held_by_its_finder(
    kit: SimpleNamespace, store: JournalStore, clock: FakeClock, tmp_path: Path
) -> None:
    """The worker that found the row let it go as its own: `sending`, owned by a live worker,
    so `kie tasks` said "being sent by" it and `kie resume` waited for it for ever."""
    from kiekit.cli.resume import _held_elsewhere
    from kiekit.cli.tasks import outcome_note

    job, out = Job(1, "j1", kit.GROK_T2I, {"prompt": "a fox"}), tmp_path / "out"
    _row_left_by_a_gone_worker(kit, store, clock, job, out, "sending")
    finder = Journal(store, clock=clock)
    kie = kit.FakeKie(statuses=[kit.market("waiting")])

    result = _run(kit, kie, finder, job, out)

    assert result.state == "unknown"
    assert not [r for r in kie.requests if r.url.endswith("/jobs/createTask")]  # never resent
    row = finder.get(job_key(job))
    assert row is not None
    assert (row.state, row.owner, row.lease_until) == (EntryState.UNKNOWN, GONE, None)
    assert row.error is not None
    assert row.error["type"] == "OutcomeUnknownError"
    assert row.error["cause"]["type"] == "SenderGone"
    # a teammate looks while the finder still runs
    teammate = Journal(store, clock=clock)
    note = outcome_note(teammate, row)
    assert "outcome unknown" in note
    assert f"kie settle {row.key}" in note
    assert _held_elsewhere(teammate, [row]) == {}


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        pytest.param(
            HttpResponse(503, b"upstream unavailable", "Service Unavailable"),
            {"type": "ServerError", "http_status": 503, "code": 503, "answered": False},
            id="gateway-503",
        ),
        pytest.param(
            TransportError("connection reset by peer"),
            {"type": "TransportError", "http_status": None, "code": None, "answered": False},
            id="connection-lost",
        ),
    ],
)
def test_an_unknown_outcome_keeps_its_cause_for_whoever_settles_it(
    kit: SimpleNamespace,
    store: JournalStore,
    clock: FakeClock,
    tmp_path: Path,
    answer: Any,
    cause: dict[str, Any],
) -> None:
    """A proxy's 503 and a lost connection both end "outcome unknown" (docs/reliability.md);
    the row and the job's result now say which, for `kie tasks --json` and results.jsonl."""
    from kiekit.cli.tasks import _line

    job, journal = Job(1, "j1", kit.GROK_T2I, {"prompt": "a fox"}), Journal(store, clock=clock)
    kie = kit.FakeKie(create=answer)

    result = _run(kit, kie, journal, job, tmp_path / "out")

    assert result.state == "unknown"
    assert result.error is not None
    assert result.error["cause"] == cause
    row = journal.get(job_key(job))
    assert row is not None
    assert row.state is EntryState.UNKNOWN
    assert row.to_json()["error"]["cause"] == cause
    line = _line(journal, row)
    assert f"[cause: {cause['type']}" in line
    assert ("HTTP 503" in line.split("[cause:")[1]) is (cause["http_status"] == 503)


def test_a_stop_before_a_job_reached_the_broker_says_it_was_never_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SIGTERM while the sender still started up: no job had been handed to the broker, yet
    it said "could not be held back in the journal: a worker may still create them"."""
    from kiekit.cli.batch import _say_held_back

    unsent = [JobResult(line, f"j{line}", "stopped", None, "m") for line in (1, 2, 3)]
    _say_held_back(unsent, {1: None, 2: None, 3: None}, handed={3})
    err = " ".join(capsys.readouterr().err.split())
    assert "2 job(s) were never sent to the workers: none will create them" in err
    assert "1 job(s) no worker had taken could not be held back in the journal" in err
    assert ": j3" in err
    assert "j1" not in err.split("could not be held back")[1]
