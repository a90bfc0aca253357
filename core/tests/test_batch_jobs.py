"""Batches: reading job lines, running them against the mock, and running them again after an
interruption without creating anything twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from kiekit import AsyncClient, ConfigurationError, PollPolicy
from kiekit.batch import Job, JobResult, job_key, read_jobs, run_batch
from kiekit.journal import Entry, EntryState, Journal, MemoryStore
from kiekit_mock import Lifecycle, Rule

GROK = "grok-imagine/text-to-image"
FAST = PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=20.0)


def test_good_lines_become_jobs_and_bad_ones_are_reported_by_number() -> None:
    lines = [
        '{"id": "a", "model": "m", "input": {"prompt": "x"}}',
        "",
        "# a comment",
        "not json",
        "[1]",
        '{"input": {}}',
        '{"model": "m", "input": "x"}',
        '{"model": "m", "prompt": "x"}',
        '{"id": true, "model": "m"}',
        '{"id": "a", "model": "m", "input": {"prompt": "again"}}',
        '{"model": "m", "input": {"prompt": "y", "n": 1}}',
        '{"model": "m", "input": {"n": 1, "prompt": "y"}}',
        '{"id": 7, "model": "m"}',
    ]
    jobs, bad = read_jobs(lines)
    assert [(job.line, job.id) for job in jobs if not job.id.startswith("sha256:")] == [
        (1, "a"),
        (13, "7"),
    ]
    hashed = [job for job in jobs if job.id.startswith("sha256:")]
    assert [job.line for job in hashed] == [11]
    assert {line.line: line.message.split(": ")[0] for line in bad} == {
        4: "not JSON",
        5: "a job is a JSON object {model, input, id?}",
        6: "model",
        7: "input",
        8: "prompt",
        9: "id",
        10: "id 'a' is the job of line 1 again",
        12: f"id '{hashed[0].id}' is the job of line 11 again",  # same content, same job
    }
    # the refused lines' ids are the other lines': results.jsonl has one line per id
    assert [line.id for line in bad if line.line in (10, 12)] == [None, None]


def _jobs(count: int, *, model: str = GROK, prefix: str = "job") -> list[Job]:
    return [
        Job(i + 1, f"{prefix}-{i}", model, {"prompt": f"{prefix} prompt {i}"}) for i in range(count)
    ]


def _creates(mock: Any) -> Counter[str]:
    """How many creates the mock received per prompt (every job's prompt is its own)."""
    return Counter(
        record.body["input"]["prompt"]
        for record in mock.requests()
        if record.path == "/api/v1/jobs/createTask" and record.body
    )


def _run(
    mock: Any, journal: Journal, jobs: list[Job], out: Path, **options: Any
) -> list[JobResult]:
    async def scenario() -> list[JobResult]:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None, journal=journal
        ) as client:
            return await run_batch(client, journal, jobs, out, **options)

    return asyncio.run(scenario())


def test_a_batch_creates_each_job_once_and_downloads_its_files(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    mock = mock_server_factory(polls_to_complete=1, strict_models=True)  # refuses no/such-model
    journal = Journal(MemoryStore())
    jobs = _jobs(6)
    jobs.append(Job(7, "broken", GROK, {"prompt": "x [mock:fail]"}))
    jobs.append(Job(8, "bad-input", GROK, {"prompt": ""}))
    jobs.append(Job(9, "no-model", "no/such-model", {"prompt": "x"}))
    results = _run(mock, journal, jobs, tmp_path / "out", concurrency=3)
    by_id = {result.id: result for result in results}
    assert [r.line for r in results] == [job.line for job in jobs]  # the jobs' order
    for job in jobs[:6]:
        result = by_id[job.id]
        assert result.state == "succeeded"
        assert result.files
        assert all(Path(f).is_file() and Path(f).stat().st_size > 0 for f in result.files)
    assert by_id["broken"].state == "failed"
    assert by_id["broken"].error is not None
    assert by_id["broken"].task_id is not None
    assert by_id["bad-input"].state == "invalid"
    assert by_id["bad-input"].error == {
        "type": "ValidationError",
        "message": "prompt: must not be empty",
        "field": "prompt",  # as kie run --json's error names it
    }
    assert (by_id["no-model"].state, by_id["no-model"].error) == (  # KIE's own refusal
        "refused",
        {"type": "UnprocessableError", "code": 422, "message": "model not supported"},
    )
    assert set(_creates(mock).values()) == {1}
    assert len(_creates(mock)) == 8  # the bad input was never sent
    # the job KIE refused: its row says why (kie tasks shows it), free for a later run to
    # claim; the bad input was refused by the local checks before any job ran: no row at all
    refused = {
        row.error["type"]: (row.state, row.error["message"], row.lease_until)
        for row in journal.entries()
        if row.task_id is None and row.error is not None
    }
    assert refused == {
        "UnprocessableError": (EntryState.REJECTED, "model not supported", None),  # by KIE
    }
    assert journal.get(job_key(jobs[7])) is None
    assert all(row.state is not EntryState.CLAIMED for row in journal.entries())


def test_jobs_that_cannot_book_a_rate_limit_slot_are_let_go_not_left_claimed(
    mock_server_factory: Callable[..., Any], tmp_path: Path, kit: Any
) -> None:
    """A shared-limits Redis that cannot be reached: nothing is sent, and each row says why
    (`kie tasks`), free for another worker or the next run, not a claim nobody works on; not
    `rejected`, which the other workers of the run would report without trying (this
    worker's own trouble: docs/teams.md)."""
    mock = mock_server_factory()
    journal = Journal(MemoryStore())
    unreachable = f"redis://127.0.0.1:{kit.free_port()}/0"

    async def scenario() -> list[JobResult]:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=unreachable, journal=journal
        ) as client:
            return await run_batch(client, journal, _jobs(2), tmp_path / "out")

    results = asyncio.run(scenario())
    assert [r.error["type"] for r in results if r.error] == ["RateLimitStoreError"] * 2
    assert _creates(mock) == Counter()
    rows = journal.entries()
    assert [(row.state, row.lease_until) for row in rows] == [(EntryState.CLAIMED, None)] * 2
    assert all(row.error and row.error["type"] == "RateLimitStoreError" for row in rows)


def test_running_a_finished_batch_again_asks_kie_nothing(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    mock = mock_server_factory(polls_to_complete=0)
    journal = Journal(MemoryStore())
    jobs = [*_jobs(3), Job(4, "broken", GROK, {"prompt": "x [mock:fail]"})]
    first = _run(mock, journal, jobs, tmp_path)
    seen = len(mock.requests())
    second = _run(mock, journal, jobs, tmp_path)
    assert [(r.state, r.task_id, r.files) for r in second] == [
        (r.state, r.task_id, tuple(str(Path(f).resolve()) for f in r.files)) for r in first
    ]
    assert len(mock.requests()) == seen


def test_an_interrupted_batch_resumes_without_creating_anything_twice(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    # Deterministic cut (no wall-clock race): jobs 0-2 finish; every later job's task stays
    # pending on the mock until the test completes it, so when the batch is cancelled its four
    # slots hold tasks created and not waited on, whatever the machine's load.
    mock = mock_server_factory(polls_to_complete=3)
    held = mock.add_rule(
        Rule(lifecycle=Lifecycle(manual=True), prompt_regex=r"prompt ([3-9]|1\d)$")
    )
    journal = Journal(MemoryStore())
    jobs = _jobs(12)
    finished: list[JobResult] = []

    def created_and_held() -> int:
        return sum(1 for e in journal.entries() if e.state is EntryState.CREATED)

    async def interrupted() -> None:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None, journal=journal
        ) as client:
            batch = asyncio.ensure_future(
                run_batch(client, journal, jobs, tmp_path, concurrency=4, on_result=finished.append)
            )
            # Condition-driven, not timed: the poll below only decides how often to look; the
            # batch can never finish by itself (its held tasks never end), so no race remains.
            while not (len(finished) == 3 and created_and_held() == 4):
                assert not batch.done(), batch
                await asyncio.sleep(0.005)
            batch.cancel()  # Ctrl-C mid-way: four tasks created, not waited on
            with pytest.raises(asyncio.CancelledError):
                await batch

    asyncio.run(interrupted())
    created_before = _creates(mock)
    assert sorted(created_before) == [f"job prompt {i}" for i in range(7)]
    cut = [e for e in journal.entries() if e.unfinished]
    assert len(cut) == 4  # really cut mid-way: tasks created and not waited on
    assert not [e for e in journal.entries() if e.state.outcome_unknown]
    mock.remove_rule(held.rule_id)
    for task in mock.tasks():
        if task.state != "success":
            mock.complete(task.task_id)
    results = _run(mock, journal, jobs, tmp_path, concurrency=4)
    assert [r.state for r in results] == ["succeeded"] * 12
    for result in results:
        assert result.files
        assert all(Path(f).is_file() for f in result.files)
    assert set(_creates(mock).values()) == {1}  # nothing twice
    assert len(_creates(mock)) == 12
    assert set(created_before) <= set(_creates(mock))


def test_a_job_whose_earlier_create_got_no_answer_is_reported_not_created(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    mock = mock_server_factory()
    journal = Journal(MemoryStore())
    job, rejected = _jobs(2)
    for one, state in ((job, EntryState.UNKNOWN), (rejected, EntryState.REJECTED)):
        journal.store.insert(
            Entry(
                key=job_key(one),
                model=GROK,
                request={"model": GROK, "input": dict(one.input)},  # the body as sent
                state=state,
                created_at=1.0,
                updated_at=1.0,
                base_url=mock.base_url,
            )
        )
    results = _run(mock, journal, [job, rejected], tmp_path)
    assert [r.state for r in results] == ["unknown", "succeeded"]
    assert results[0].error is not None
    assert results[0].error["type"] == "OutcomeUnknownError"
    assert list(_creates(mock)) == ["job prompt 1"]  # the rejected one may be tried again


def test_concurrency_must_be_positive(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    from kiekit import ValidationError

    with pytest.raises(ValidationError, match="concurrency"):
        _run(mock_server_factory(), Journal(MemoryStore()), _jobs(1), tmp_path, concurrency=0)


class _Restarting(MemoryStore):
    """A journal database that cannot be read for its first ``outages`` looks (a restart)."""

    def __init__(self, outages: int) -> None:
        super().__init__()
        self.outages = outages

    def get(self, key: str) -> Entry | None:
        from kiekit.journal import JournalError

        if self.outages > 0:
            self.outages -= 1
            raise JournalError("connection failed: the database is restarting")
        return super().get(key)


def test_a_journal_that_cannot_be_read_for_a_moment_delays_the_jobs_not_the_batch(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kiekit import batch

    monkeypatch.setattr(batch, "JOURNAL_RETRY_DELAYS", (0.0, 0.0, 0.0))
    mock = mock_server_factory(polls_to_complete=1)
    journal = Journal(_Restarting(outages=3))
    with caplog.at_level("WARNING", logger="kiekit.batch"):
        results = _run(mock, journal, _jobs(2), tmp_path / "out")
    assert [r.state for r in results] == ["succeeded", "succeeded"]
    assert set(_creates(mock).values()) == {1}
    assert "the task journal cannot be used" in caplog.text


def test_a_journal_down_for_good_fails_each_job_in_words_and_creates_nothing(
    mock_server_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiekit import batch

    monkeypatch.setattr(batch, "JOURNAL_RETRY_DELAYS", (0.0,))
    mock = mock_server_factory(polls_to_complete=1)
    journal = Journal(_Restarting(outages=10_000))
    results = _run(mock, journal, _jobs(2), tmp_path / "out")
    assert [(r.state, r.error and r.error["type"]) for r in results] == [
        ("error", "JournalError")
    ] * 2
    assert _creates(mock) == Counter()


def test_a_job_another_worker_of_this_run_had_refused_is_reported_not_sent_again(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """Workers sharing a journal: a job one of them had refused (402, no credits: nothing made)
    since another's run began is reported by that other from its row; each worker resending it
    only burnt the shared create budget (an outside tester's 4-worker run: 150 refused creates
    for 50 jobs). A later run tries it again."""
    from kiekit.batch import run_job

    mock = mock_server_factory(polls_to_complete=1, starting_credits=0)
    store = MemoryStore()
    first, second = Journal(store), Journal(store)  # two workers
    jobs = _jobs(2)
    second_began = second.now()
    refused = _run(mock, first, jobs, tmp_path / "out", concurrency=1)
    assert [(r.state, r.error and r.error.get("code")) for r in refused] == [
        ("refused", 402),
        ("not_sent", None),  # after a 402 no other job is sent
    ]
    assert sum(_creates(mock).values()) == 1

    async def second_worker() -> list[JobResult]:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None, journal=second
        ) as client:
            return [
                await run_job(client, second, job, tmp_path / "out", refused_since=second_began)
                for job in jobs
            ]

    reported = asyncio.run(second_worker())
    assert sum(_creates(mock).values()) == 1  # nothing sent again
    assert [(r.state, r.error and r.error.get("code")) for r in reported] == [
        ("refused", 402),
        ("not_sent", None),
    ]
    _run(mock, second, jobs, tmp_path / "out", concurrency=1)  # a later run: tried again
    assert sum(_creates(mock).values()) == 2


def test_after_a_402_no_job_is_sent_and_the_tasks_made_are_still_finished(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """An auditor's 40 jobs on 10 credits: after the first 402 the other 37 were each sent and
    refused, using the create budget. Now the jobs not sent yet are ``not_sent`` (nothing
    paid, and said apart from ``refused`` by KIE), the tasks made finish, and a run after a
    top-up sends only the jobs not done."""
    from kiekit_mock import AccountSettings

    mock = mock_server_factory(polls_to_complete=1, starting_credits=8)  # two Grok images
    journal = Journal(MemoryStore())
    jobs = _jobs(6)
    results = _run(mock, journal, jobs, tmp_path / "out", concurrency=1)
    assert [r.state for r in results] == ["succeeded"] * 2 + ["refused"] + ["not_sent"] * 3
    assert sum(_creates(mock).values()) == 3  # none after the 402
    assert (results[2].error or {}).get("code") == 402
    assert all(r.task_id is None and r.error for r in results[2:])
    assert all(Path(f).is_file() for r in results[:2] for f in r.files)
    not_sent = [row for row in journal.entries() if (row.error or {}).get("type") == "NotSent"]
    assert [(row.state, row.task_id) for row in not_sent] == [(EntryState.REJECTED, None)] * 3

    mock.put_account("test-key", AccountSettings(credits=100))
    again = _run(mock, journal, jobs, tmp_path / "out", concurrency=1)
    assert [r.state for r in again] == ["succeeded"] * 6
    assert sum(_creates(mock).values()) == 7  # the four jobs not done, once each


def test_a_job_that_fails_unexpectedly_is_that_jobs_error_and_the_run_goes_on(
    mock_server_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in one job's path (a plugin's input check raising KeyError, found by an outside
    tester) ended the whole batch with a traceback, its other creates left "unknown"."""
    mock = mock_server_factory(polls_to_complete=1)
    journal = Journal(MemoryStore())
    submit = AsyncClient.submit

    async def buggy(self: AsyncClient, model: str, params: Any = None, **fields: Any) -> Any:
        if params and params.get("prompt") == "job prompt 1":
            raise KeyError(None)  # as Suno's version=None did
        return await submit(self, model, params, **fields)

    monkeypatch.setattr(AsyncClient, "submit", buggy)
    results = _run(mock, journal, _jobs(3), tmp_path / "out")
    assert [r.state for r in results] == ["succeeded", "error", "succeeded"]
    assert results[1].error == {"type": "KeyError", "message": "None"}
    assert results[1].task_id is None  # nothing was made for it
    assert sum(_creates(mock).values()) == 2
    assert all(row.lease_until is None for row in journal.entries())  # let go, not held


def test_an_on_result_that_raises_stops_every_job_before_the_error_reaches_the_caller(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """A bug in on_result (a notebook's display code) raised out of run_batch while the other
    jobs went on creating paid tasks on the still-running loop, their results lost."""
    mock = mock_server_factory(polls_to_complete=1)
    journal = Journal(MemoryStore())
    jobs = _jobs(8)

    def on_result(result: JobResult) -> None:
        raise ValueError(f"bug in my display code ({result.id})")

    async def scenario() -> tuple[int, list[asyncio.Task[Any]]]:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None, journal=journal
        ) as client:
            with pytest.raises(ValueError, match="bug in my display code"):
                await run_batch(client, journal, jobs, tmp_path, concurrency=2, on_result=on_result)
            left = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            return sum(_creates(mock).values()), left

    created, left = asyncio.run(scenario())
    assert left == []  # nothing of the batch runs on once the caller has the error
    assert created < len(jobs)
    assert all(row.lease_until is None for row in journal.entries())  # claims let go
    again = _run(mock, journal, jobs, tmp_path)  # the cell run again: each job created once
    assert [r.state for r in again] == ["succeeded"] * len(jobs)
    assert set(_creates(mock).values()) == {1}


def test_a_job_that_fails_unexpectedly_after_its_create_names_its_task(
    mock_server_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task is paid for: results.jsonl says so (kie resume fetches it), not task_id null."""
    mock = mock_server_factory(polls_to_complete=1)
    journal = Journal(MemoryStore())

    async def buggy_wait(self: AsyncClient, task: Any, **options: Any) -> Any:
        raise RuntimeError("a bug after the create")

    monkeypatch.setattr(AsyncClient, "wait", buggy_wait)
    (result,) = _run(mock, journal, _jobs(1), tmp_path / "out")
    (row,) = journal.entries()
    assert (result.state, result.task_id) == ("error", row.task_id)
    assert row.task_id is not None


def test_the_documented_call_with_the_default_journal_runs_every_job(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """`run_batch(client, default_journal(), …)` with a client on the default journal: two
    handles on one SQLite file are one journal (every job failed with "idempotency key … was
    used on None")."""
    from kiekit.journal import default_journal

    mock = mock_server_factory(polls_to_complete=1)
    jobs = _jobs(3)

    async def scenario() -> list[JobResult]:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None
        ) as client:
            return await run_batch(client, default_journal(), jobs, tmp_path / "out")

    results = asyncio.run(scenario())
    assert [(r.state, r.error) for r in results] == [("succeeded", None)] * 3
    assert set(_creates(mock).values()) == {1}
    again = asyncio.run(scenario())  # a second run finds them done: nothing sent again
    assert [r.state for r in again] == ["succeeded"] * 3
    assert sum(_creates(mock).values()) == 3
    rows = default_journal().entries()
    assert sorted(row.key for row in rows) == sorted(job_key(job) for job in jobs)
    assert {row.state for row in rows} == {EntryState.SUCCEEDED}


@pytest.mark.parametrize("client_journal", [None, "another"])
def test_a_client_recording_into_another_journal_is_refused_before_any_job(
    mock_server_factory: Callable[..., Any], tmp_path: Path, client_journal: str | None
) -> None:
    mock = mock_server_factory(polls_to_complete=1)
    own = None if client_journal is None else Journal(MemoryStore())

    async def scenario() -> list[JobResult]:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None, journal=own
        ) as client:
            return await run_batch(client, Journal(MemoryStore()), _jobs(2), tmp_path / "out")

    with pytest.raises(ConfigurationError, match=r"AsyncClient\(journal=j\)") as raised:
        asyncio.run(scenario())
    assert "records into " + ("none" if own is None else repr(own)) in str(raised.value)
    assert _creates(mock) == Counter()


def test_a_result_says_made_only_for_a_task_this_run_created(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """Teamops finding 4: "made a task (paid for)" counted every job with a task id, so two
    workers on the same jobs each said they paid for all of them. ``made`` is this run's own
    creates: a job another worker created (and let go) and a job settled before are not."""
    from kiekit.batch import run_job

    mock = mock_server_factory(polls_to_complete=1)
    store = MemoryStore()
    first, other = Journal(store), Journal(store)  # two workers on one journal
    jobs = _jobs(3)
    made_there = jobs[0]

    async def created_elsewhere() -> None:  # another worker's create, then it let the job go
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None, journal=other
        ) as client:
            key = job_key(made_there)
            await client.submit(made_there.model, made_there.input, idempotency_key=key)
        other.release(key)

    asyncio.run(created_elsewhere())
    results = _run(mock, first, jobs, tmp_path / "out")
    assert [(r.state, r.made) for r in results] == [
        ("succeeded", False),  # waited for and downloaded here, made (and paid) by the other
        ("succeeded", True),
        ("succeeded", True),
    ]
    assert set(_creates(mock).values()) == {1}

    async def again() -> JobResult:  # a worker given a job done before: settled, made nothing
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None, journal=other
        ) as client:
            return await run_job(client, other, jobs[1], tmp_path / "elsewhere")

    settled = asyncio.run(again())
    assert (settled.state, settled.task_id, settled.made) == (
        "succeeded",
        results[1].task_id,
        False,
    )
    assert JobResult.from_json(settled.to_json()) == settled
    older = {k: v for k, v in results[1].to_json().items() if k != "made"}  # an older worker
    assert JobResult.from_json(older).made is None


def test_a_task_a_dead_worker_made_for_this_run_counts_once_and_one_made_before_never(
    mock_server_factory: Callable[..., Any], tmp_path: Path, crash: Callable[[Any, str], None]
) -> None:
    """Interrupt finding 3: in a ``kie batch --celery`` run, a worker SIGKILLed after its
    create left a ``created`` row; the worker that took the job over found the task made, so
    both answers (none from the dead worker) said ``made`` false, and the run reported 0 tasks
    paid for instead of 4. The collector judges by the job's row instead: a task the job did
    not have when the run sent it was made by this run (made_in_run), one it had was not."""
    from kiekit.batch import made_before, run_job
    from kiekit.distributed.collect import made_in_run

    mock = mock_server_factory(polls_to_complete=1)
    store = MemoryStore()
    collector, dead, taker = Journal(store), Journal(store), Journal(store)
    out = tmp_path / "out"
    this_run, earlier = _jobs(2)

    async def create(journal: Journal, job: Job) -> None:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None, journal=journal
        ) as client:
            await client.submit(job.model, job.input, idempotency_key=job_key(job))

    asyncio.run(create(dead, earlier))  # an earlier run's task, not downloaded yet
    dead.release(job_key(earlier))
    before = {job.line for job in (this_run, earlier) if made_before(collector, job, out)}
    assert before == {earlier.line}  # what the collector saw as it sent the jobs
    asyncio.run(create(dead, this_run))  # the worker of this run that then died (SIGKILL)
    crash(dead, job_key(this_run))

    async def taken_over(job: Job) -> JobResult:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=None, journal=taker
        ) as client:
            return await run_job(client, taker, job, out)

    found, found_earlier = asyncio.run(taken_over(this_run)), asyncio.run(taken_over(earlier))
    assert (found.state, found.made) == ("succeeded", False)  # the worker's own answer
    assert (found_earlier.state, found_earlier.made) == ("succeeded", False)
    assert set(_creates(mock).values()) == {1}  # each made once

    assert made_in_run(found, before=this_run.line in before).made is True  # paid by this run
    assert made_in_run(found_earlier, before=earlier.line in before).made is False
    lost = [attrs.evolve(found, made=None), attrs.evolve(found_earlier, made=None)]  # answers
    assert [made_in_run(r, before=r.line in before).made for r in lost] == [True, False]
    refused = JobResult(this_run.line, this_run.id, "refused", "named-task", GROK, made=False)
    assert made_in_run(refused, before=False).made is False  # a refusal made nothing
