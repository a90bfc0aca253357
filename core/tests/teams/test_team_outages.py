"""Workers of one run on one journal when something fails on one of them, or for a moment.

docs/teams.md: only a refusal every worker would get (kiekit's own refusal of the input or the
model, KIE's 402 and 422) is reported by the other workers of a run from its row; a worker's
own trouble (its Redis unreachable, a create its network or key failed) lets the job go, for
a healthy worker to take. And a database restart delays a job, it does not end it: a journal
that cannot write a create's intent (nothing sent) is waited for as one that cannot be read.
Each case runs on every store kiekit has, PostgreSQL a real one; the workers are interleaved by
hand, one after the other, so nothing depends on timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from kiekit import AsyncClient, PollPolicy
from kiekit.batch import Job, JobResult, job_key, run_job
from kiekit.errors import AuthenticationError, ServerError, UnprocessableError
from kiekit.journal import EntryState, Journal, JournalError
from kiekit.journal._stores import JournalStore

GROK = "grok-imagine/text-to-image"
FAST = PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=20.0)
JOB = Job(1, "fox", GROK, {"prompt": "a fox"})


def _creates(mock: Any) -> int:
    return sum(1 for record in mock.requests() if record.path == "/api/v1/jobs/createTask")


def _worker(
    mock: Any, journal: Journal, out: Path, since: float, *, rate_limits: str | None = None
) -> JobResult:
    """One worker of the run begun at ``since`` running ``JOB`` to its end."""

    async def run() -> JobResult:
        async with AsyncClient(
            "test-key", base_url=mock.base_url, poll=FAST, rate_limits=rate_limits, journal=journal
        ) as client:
            return await run_job(client, journal, JOB, out, refused_since=since)

    return asyncio.run(run())


def test_a_job_one_worker_could_not_send_for_want_of_its_redis_is_made_by_a_healthy_one(
    store: JournalStore, mock_server_factory: Callable[..., Any], tmp_path: Path, kit: Any
) -> None:
    """An outside tester's fourth worker, its --limits at a port with no Redis, turned 14 of
    20 jobs `rejected`; the 3 healthy workers then reported them "refused (nothing paid)"
    without trying, naming a Redis they did not use."""
    mock = mock_server_factory(polls_to_complete=1)
    broken, healthy = Journal(store), Journal(store)
    began = healthy.now()
    nowhere = f"redis://127.0.0.1:{kit.free_port()}/0"

    failed = _worker(mock, broken, tmp_path / "a", began, rate_limits=nowhere)
    assert (failed.state, (failed.error or {}).get("type")) == ("error", "RateLimitStoreError")
    row = store.get(job_key(JOB))
    assert row is not None
    assert (row.state, row.lease_until) == (EntryState.CLAIMED, None)  # free for another
    assert (row.error or {}).get("type") == "RateLimitStoreError"  # kie tasks says why

    made = _worker(mock, healthy, tmp_path / "b", began)
    assert made.state == "succeeded", made.error
    assert _creates(mock) == 1


def test_a_celery_worker_without_its_redis_leaves_the_job_to_a_healthy_worker(
    store: JournalStore,
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    kit: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same on Celery workers (kiekit.distributed.worker), where every worker's run began
    with the batch: one worker with a broken KIEKIT_LIMITS_URL poisoned the whole batch."""
    from kiekit.distributed.worker import WorkerRuntime

    mock = mock_server_factory(polls_to_complete=1)
    monkeypatch.setenv("KIE_API_KEY", "test-key")
    monkeypatch.setenv("KIE_BASE_URL", mock.base_url)
    monkeypatch.setattr("kiekit.journal.default_journal", lambda: Journal(store))  # the team's
    since = Journal(store).now()  # the batch's start, as its messages carry it

    def run_on(runtime: WorkerRuntime) -> JobResult:
        try:
            return runtime.run(JOB, tmp_path / "out", None, 0.01, refused_since=since)
        finally:
            runtime.close()

    monkeypatch.setenv("KIEKIT_LIMITS_URL", f"redis://127.0.0.1:{kit.free_port()}/0")
    failed = run_on(WorkerRuntime())
    assert (failed.error or {}).get("type") == "RateLimitStoreError"
    monkeypatch.delenv("KIEKIT_LIMITS_URL")
    made = run_on(WorkerRuntime())
    assert made.state == "succeeded", made.error
    assert _creates(mock) == 1


@pytest.mark.parametrize(
    ("error", "spared"),
    [
        pytest.param(ServerError(500, "Server error"), False, id="its-own-500"),
        pytest.param(AuthenticationError(401, "Unauthorized"), False, id="its-own-key-401"),
        pytest.param(UnprocessableError(422, "prompt is not allowed"), True, id="kie-422"),
    ],
)
def test_only_a_create_refused_for_every_worker_is_spared_by_the_others_of_the_run(
    store: JournalStore, error: Exception, spared: bool
) -> None:
    """A create KIE answered without making a task: 422 (its input) would be every worker's
    answer, so the others of the run report it; a 500 after the retries, or any other trouble
    of the sender's own, is tried again by them."""
    sender, other = Journal(store), Journal(store)
    began = other.now()
    intent = sender.intend(GROK, {"prompt": "a fox"}, key="job")
    assert intent is not None
    sender.create_failed(intent, error)
    row = store.get("job")
    assert row is not None
    assert (row.state, row.lease_until) == (EntryState.REJECTED, None)
    assert (row.error or {}).get("type") == type(error).__name__  # kie tasks says why
    claimed = other.claim(GROK, "job", refused_since=began)
    assert (claimed is None) == spared


class IntentWritesFail:
    """A store whose first ``outages`` intent writes (a row turned ``sending``) fail as a
    database restarting does; everything else goes to ``store``."""

    def __init__(self, store: JournalStore, outages: int) -> None:
        self._store = store
        self.outages = outages

    def update(self, key: str, changes: Mapping[str, Any], **conditions: Any) -> Any:
        if changes.get("state") is EntryState.SENDING and self.outages > 0:
            self.outages -= 1
            raise JournalError("task journal: connection failed (restarting)", unreachable=True)
        return self._store.update(key, changes, **conditions)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def no_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    from kiekit import batch

    monkeypatch.setattr(batch, "JOURNAL_RETRY_DELAYS", (0.0, 0.0, 0.0))


def test_a_journal_down_when_a_create_is_written_down_delays_the_job_not_ends_it(
    store: JournalStore,
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    no_waits: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An outside tester's PostgreSQL restart (8 s) ended 10 of 30 claimed jobs as `error` at
    their intent write, rows left `claimed`; docs/teams.md promises a delay."""
    mock = mock_server_factory(polls_to_complete=1)
    journal = Journal(IntentWritesFail(store, outages=2))
    with caplog.at_level("WARNING", logger="kiekit.batch"):
        result = _worker(mock, journal, tmp_path / "out", journal.now())
    assert result.state == "succeeded", result.error
    assert _creates(mock) == 1
    assert caplog.text.count("the task journal cannot be used") == 2
    row = store.get(job_key(JOB))
    assert row is not None
    assert (row.state, row.lease_until) == (EntryState.SUCCEEDED, None)


def test_a_journal_down_for_good_at_the_intent_ends_the_job_sending_nothing(
    store: JournalStore, mock_server_factory: Callable[..., Any], tmp_path: Path, no_waits: None
) -> None:
    mock = mock_server_factory(polls_to_complete=1)
    journal = Journal(IntentWritesFail(store, outages=10_000))
    result = _worker(mock, journal, tmp_path / "out", journal.now())
    assert (result.state, (result.error or {}).get("type")) == ("error", "JournalError")
    assert _creates(mock) == 0
    row = store.get(job_key(JOB))
    assert row is not None
    assert (row.state, row.lease_until) == (EntryState.CLAIMED, None)  # let go, for another


def test_a_journal_database_that_cannot_be_reached_is_exit_1_a_misnamed_one_exit_2(
    postgres_url: str,
    kit: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`kie --help`: 1 is KIE, the network or a task failed, 2 bad usage. A database that does
    not answer (down, restarting) is the first, to try again, as an unreachable Redis is; it
    was 2, and scripts that read 2 as "fix your command" did not retry a restart."""
    import json

    from kiekit.cli import main

    nowhere = f"postgresql://kiekit@127.0.0.1:{kit.free_port()}/postgres"
    misnamed = postgres_url + "?no_such_option=1"
    assert main(["tasks", "--journal", nowhere]) == 1
    assert f"task journal {nowhere}: connection failed" in capsys.readouterr().err
    assert main(["tasks", "--journal", misnamed]) == 2
    assert "no_such_option" in capsys.readouterr().err
    assert main(["tasks", "--journal", "postgresql://kiekit@127.0.0.1:port/postgres"]) == 2
    assert "port 'port' is not a port number" in capsys.readouterr().err

    monkeypatch.setenv("KIE_API_KEY", "test-key")
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"model": GROK, "input": {"prompt": "a fox"}}) + "\n")
    batch = ["batch", str(jobs), "--out", str(tmp_path / "out"), "--base-url", "http://127.0.0.1:9"]
    assert main([*batch, "--journal", nowhere]) == 1
    assert main([*batch, "--journal", misnamed]) == 2
    (tmp_path / "a-file").write_text("not a folder")
    assert main([*batch, "--journal", f"sqlite:///{tmp_path}/a-file/journal.sqlite3"]) == 2


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["tasks"], id="tasks"),
        pytest.param(["tasks", "--json"], id="tasks-json"),
        pytest.param(["batch", "JOBS", "--out", "OUT"], id="batch"),
        pytest.param(["batch", "JOBS", "--out", "OUT", "--json"], id="batch-json"),
        pytest.param(["run", GROK, "--prompt", "a fox", "--out", "OUT"], id="run"),
        pytest.param(["resume"], id="resume"),
        pytest.param(["settle", "batch:fox", "--not-created"], id="settle"),
        pytest.param(["prune", "--older-than", "30d"], id="prune"),
    ],
)
def test_a_journal_url_naming_no_database_of_its_server_is_exit_2_naming_it(
    command: list[str],
    postgres_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/teams.md: "a misconfigured one (..., no such database) is a usage error, 2" in
    every command; it was 1, an unreachable database's code (an outside tester's finding 3),
    for libpq gives no code to a missing database at connect."""
    import json

    from kiekit.cli import main

    monkeypatch.setenv("KIE_API_KEY", "test-key")
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"id": "fox", "model": GROK, "input": {"prompt": "a fox"}}) + "\n")
    argv = [{"JOBS": str(jobs), "OUT": str(tmp_path / "out")}.get(arg, arg) for arg in command]
    nosuch = postgres_url.rsplit("/", 1)[0] + "/no_such_journal"
    argv += ["--journal", nosuch, "--base-url", "http://127.0.0.1:9"] if command[0] in (
        "batch", "run", "resume") else ["--journal", nosuch]  # fmt: skip
    assert main(argv) == 2
    said = capsys.readouterr()
    assert "no database 'no_such_journal' on that server" in said.err
    assert "createdb no_such_journal" in said.err
    if "--json" in command and command[0] == "batch":
        assert json.loads(said.out)["error"]["type"] == "JournalError"
    assert not (tmp_path / "out").exists()  # refused before anything was made or sent


def test_a_journal_server_that_is_down_stays_retryable_not_a_missing_database(
    kit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server is asked whether the database exists only when it answers: a server that
    is down (a restart) is still exit 1, to try again."""
    from kiekit.cli import main

    nowhere = f"postgresql://kiekit@127.0.0.1:{kit.free_port()}/no_such_journal"
    assert main(["tasks", "--journal", nowhere]) == 1
    err = capsys.readouterr().err
    assert "connection failed" in err
    assert "no database" not in err


class WritesAfterTheCreateFail:
    """A store whose first ``outages`` writes after the create (its task, its results, its
    files) fail as a database restarting does; everything else goes to ``store``."""

    def __init__(self, store: JournalStore, outages: int) -> None:
        self._store = store
        self.outages = outages

    def _down(self, changes: Mapping[str, Any]) -> None:
        after = changes.get("state") is EntryState.CREATED or {"assets", "files"} & set(changes)
        if after and self.outages > 0:
            self.outages -= 1
            raise JournalError("task journal: connection failed (restarting)", unreachable=True)

    def update(self, key: str, changes: Mapping[str, Any], **conditions: Any) -> Any:
        self._down(changes)
        return self._store.update(key, changes, **conditions)

    def change(self, key: str, changes: Mapping[str, Any]) -> bool:
        self._down(changes)
        return self._store.update(key, changes) is not None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_job_done_while_the_journal_missed_its_writes_is_written_down_once_it_answers(
    store: JournalStore, mock_server_factory: Callable[..., Any], tmp_path: Path, no_waits: None
) -> None:
    """An outside tester's restart left the rows of 20 tasks made and downloaded meanwhile
    `created` for ever: `kie tasks` called them unfinished, and a teammate's `kie resume`
    would have fetched every file again. Written down whole once the database answers."""
    mock = mock_server_factory(polls_to_complete=1)
    journal = Journal(WritesAfterTheCreateFail(store, outages=4))
    result = _worker(mock, journal, tmp_path / "out", journal.now())
    assert result.state == "succeeded", result.error
    assert _creates(mock) == 1
    row = store.get(job_key(JOB))
    assert row is not None
    assert (row.state, row.task_id, row.lease_until) == (
        EntryState.SUCCEEDED, result.task_id, None,
    )  # fmt: skip
    assert row.files == result.files
    assert row.files_on_disk()
    assert not journal.unrecorded(str(result.task_id))
