"""What a team's operator reads after trouble (outside tester "celeryteam"): the tasks each
Celery batch says it paid for add up to what was paid (finding 1), a create whose sender died
reads "outcome unknown … kie settle" whoever found it (finding 2), a stop before any job was
sent says so (finding 3), and an unknown outcome keeps what caused it (finding 4).

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


def _run(kit: SimpleNamespace, kie: Any, journal: Journal, job: Job, out: Path) -> JobResult:
    async def scenario() -> JobResult:
        async with AsyncClient(
            kit.CANARY, transport=kie.transport, journal=journal, poll=FAST, **NO_LIMITS
        ) as client:
            return await run_job(client, journal, job, out)

    return asyncio.run(scenario())


def _row_left_by_a_gone_worker(
    kit: SimpleNamespace, store: JournalStore, clock: FakeClock, job: Job, out: Path, state: str
) -> None:
    """``job``'s row as a worker of another host left it when it died (its lease ran out):
    its create sent (``sending``, KIE's answer lost with it) or answered (``created``)."""
    first = Journal(store, clock=clock)
    kie = kit.FakeKie(statuses=[kit.market("waiting")])

    async def create() -> None:
        async with AsyncClient(
            kit.CANARY, transport=kie.transport, journal=first, **NO_LIMITS
        ) as client:
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
