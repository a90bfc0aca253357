"""Distributed batch on Celery, with real parts: a real Redis (broker and results), the mock
KIE server in its own process, two real ``celery worker`` processes and ``kie batch --celery``.

What is checked is what a team depends on: every job's result in results.jsonl, every job
created once on the mock (its own request journal says so), every file on disk once, a batch
run again sending nothing, and a worker killed with SIGKILL while it holds a job losing
nothing: its job is finished by the other worker, not created again. Every wait is on
something observable (a log line, a journal row, a process's end), with a generous deadline.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kiekit.journal import EntryState, open_journal

pytestmark = pytest.mark.xdist_group("celery")  # worker processes: one test at a time

GROK = "grok-imagine/text-to-image"
APP = "kiekit.distributed.celery_app"
HERE = Path(__file__).parent
DEADLINE = 120.0
# One job at a time on a thread, in the worker's own process: its event loop runs meanwhile,
# so a message acknowledged early (on receipt) would be acknowledged before a kill (with the
# solo pool, the loop and so the early ack wait for the job: the kill test could not fail).
THREAD = (
    "--pool",
    "threads",
    "--concurrency",
    "1",
)  # seconds; generous for a loaded 2-core machine, never reached when all is well


def _until(what: str, condition: Callable[[], bool], *, alive: list[subprocess.Popen[Any]]) -> None:
    """Wait until ``condition()``; fail early if a process it depends on has ended."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        for process in alive:
            assert process.poll() is None, f"{process.args!r} ended while waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE:g} s"
        time.sleep(0.05)


@pytest.fixture
def mock_url() -> Iterator[str]:
    """``python -m kiekit_mock`` on a free port, tasks done at the first poll. Yields its URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "kiekit_mock", "--port", "0", "--upload-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = ""
        while "KIE API mock listening" not in line:  # the upload host prints its line too
            line = server.stdout.readline()
            assert line, "the mock exited before it listened"
        yield next(word for word in line.split() if word.startswith("http://127.0.0.1:"))
    finally:
        if server.stdout is not None:
            server.stdout.close()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


class Workers:
    """Real ``celery -A kiekit.distributed.celery_app worker`` processes, each logging to a
    file; the environment a team would give them (a broker, a queue, a key, a KIE URL)."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, *names: str, pool: tuple[str, ...] = THREAD, app: str = APP) -> None:
        """Start workers; by default one job at a time, in the process a SIGKILL ends."""
        env = self.env
        if app != APP:  # a Celery app of this folder's (older_celery_app)
            env = {**env, "PYTHONPATH": os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])}
        for name in names:
            log = open(self.log_path(name), "wb")  # noqa: SIM115 - the process writes to it
            command = [
                sys.executable,
                "-m",
                "celery",
                "-A",
                app,
                "worker",
                *pool,
                "--hostname",
                f"{name}@kiekit-test",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
            self.processes[name] = subprocess.Popen(  # noqa: S603 - our interpreter, Celery
                command, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            log.close()
        for name in names:
            _until(
                f"worker {name} ready",
                lambda name=name: " ready." in self.log(name),  # type: ignore[misc]
                alive=[self.processes[name]],
            )

    def log_path(self, name: str) -> Path:
        return self.folder / f"worker-{name}.log"

    def log(self, name: str) -> str:
        return self.log_path(name).read_text(encoding="utf-8", errors="replace")

    def jobs_finished(self, name: str) -> Counter[str]:
        """Job ids whose task this worker finished, from Celery's "succeeded in" log lines
        (they show the task's return value: the job's result)."""
        found = re.findall(
            r"kiekit\.run_job\[[^\]]+\] succeeded in .*?'id': '([^']+)'", self.log(name)
        )
        return Counter(found)

    def received(self, name: str) -> int:
        return len(re.findall(r"kiekit\.run_job\[[^\]]+\] received", self.log(name)))

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # warm shutdown
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@pytest.fixture
def team_env(redis_url: str, mock_url: str, postgres_url: str) -> dict[str, str]:
    """The environment of the workers and of ``kie batch``: a queue of this test's own, and
    a shared journal of its own (a database on the test worker's PostgreSQL)."""
    database = "celery" + uuid.uuid4().hex[:8]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    return {
        **os.environ,
        "KIEKIT_BROKER_URL": redis_url,
        "KIEKIT_CELERY_QUEUE": f"kiekit-test-{uuid.uuid4().hex[:12]}",
        "KIEKIT_JOURNAL_URL": postgres_url.rsplit("/", 1)[0] + "/" + database,
        "KIE_API_KEY": "fake-key-for-the-mock",
        "KIE_BASE_URL": mock_url,
    }


@pytest.fixture
def workers(team_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    team = Workers(team_env, tmp_path)
    try:
        yield team
    finally:
        team.stop()


def _jobs_file(folder: Path, count: int) -> Path:
    jobs = folder / "jobs.jsonl"
    lines = [{"id": f"j{i}", "model": GROK, "input": {"prompt": f"job {i}"}} for i in range(count)]
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return jobs


def _batch(jobs: Path, out: Path) -> list[str]:
    kie = str(Path(sys.executable).with_name("kie"))
    return [kie, "batch", str(jobs), "--out", str(out), "--celery", "--poll-interval", "0.05"]


def _control(url: str, method: str = "GET", body: Any = None) -> Any:
    """A call to the mock's control API; its answer's ``data``."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        found = json.loads(answer.read())
    return found.get("data", found)


def _creates(mock_url: str) -> Counter[str]:
    """Creates the mock received, per prompt (each job has its own prompt)."""
    data = _control(f"{mock_url}/_mock/journal?path=/api/v1/jobs/createTask")
    return Counter(record["body"]["input"]["prompt"] for record in data["requests"])


def _check_report(out: Path, count: int, mock_url: str) -> list[dict[str, Any]]:
    """results.jsonl lists every job, succeeded, in order; each job created once; every file
    on disk once (the out folder holds exactly the files the report names)."""
    report = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in report] == [f"j{i}" for i in range(count)]
    assert {r["state"] for r in report} == {"succeeded"}, report
    creates = _creates(mock_url)
    assert creates == Counter({f"job {i}": 1 for i in range(count)}), "a job created twice"
    check = _control(f"{mock_url}/_mock/journal/check?check=no_duplicate_creates")
    assert check["passed"], check
    named = [Path(f) for r in report for f in r["files"]]
    assert all(r["files"] for r in report)
    assert len(set(named)) == len(named)
    on_disk = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "results.jsonl")
    assert on_disk == sorted(named)
    assert all(p.stat().st_size > 0 for p in on_disk)
    return report


def test_two_workers_run_a_batch_once_and_a_second_run_sends_nothing(
    workers: Workers, team_env: dict[str, str], mock_url: str, tmp_path: Path
) -> None:
    count = 8
    jobs, out = _jobs_file(tmp_path, count), tmp_path / "out"
    workers.start("a")
    workers.start("b", pool=("--pool", "prefork", "--concurrency", "2"))  # Celery's default pool

    first = subprocess.run(  # noqa: S603 - our interpreter, our CLI
        _batch(jobs, out), env=team_env, capture_output=True, text=True, timeout=DEADLINE
    )
    assert first.returncode == 0, first.stderr
    assert f"{count} job(s): {count} succeeded" in first.stderr
    _check_report(out, count, mock_url)
    finished = workers.jobs_finished("a") + workers.jobs_finished("b")
    assert finished == Counter({f"j{i}": 1 for i in range(count)})
    received = workers.received("a") + workers.received("b")

    again = subprocess.run(  # noqa: S603 - our interpreter, our CLI
        _batch(jobs, out), env=team_env, capture_output=True, text=True, timeout=DEADLINE
    )
    assert again.returncode == 0, again.stderr
    _check_report(out, count, mock_url)  # still each job created once
    # settled in the journal: answered from there, not sent to a worker again
    assert workers.received("a") + workers.received("b") == received


def test_a_celery_batch_sends_a_job_given_twice_once_and_reports_each_id_once(
    workers: Workers, team_env: dict[str, str], mock_url: str, tmp_path: Path
) -> None:
    """As without Celery: the second line with an id is refused before anything is handed
    to a worker, and results.jsonl has one line per id."""
    job = {"id": "j0", "model": GROK, "input": {"prompt": "job 0"}}
    again = {**job, "input": {"prompt": "job 0, once more"}}
    jobs, out = tmp_path / "jobs.jsonl", tmp_path / "out"
    jobs.write_text(f"{json.dumps(job)}\n{json.dumps(again)}\n", encoding="utf-8")
    workers.start("a")

    run = subprocess.run(  # noqa: S603 - our interpreter, our CLI
        _batch(jobs, out), env=team_env, capture_output=True, text=True, timeout=DEADLINE
    )
    assert run.returncode == 1, run.stderr
    assert "jobs.jsonl:2: id 'j0' is the job of line 1 again" in run.stderr
    report = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [(r["line"], r["id"], r["state"]) for r in report] == [
        (1, "j0", "succeeded"),
        (2, None, "invalid"),
    ]
    assert _creates(mock_url) == Counter({"job 0": 1})
    assert workers.received("a") == 1


def test_a_worker_killed_holding_a_job_loses_nothing_and_its_job_finishes_elsewhere(
    workers: Workers, mock_url: str, tmp_path: Path, redis_url: str
) -> None:
    """The whole team setup: Celery on Redis, the journal on PostgreSQL, the limits on Redis."""
    count = 6
    jobs, out = _jobs_file(tmp_path, count), tmp_path / "out"
    workers.env["KIEKIT_LIMITS_URL"] = redis_url
    journal = open_journal(workers.env["KIEKIT_JOURNAL_URL"])
    # The first tasks stay running until the test completes them: each worker is caught
    # holding one job, created and being waited on, when one of them is killed.
    hold = _control(
        f"{mock_url}/_mock/rules", "POST", {"prompt_contains": "job", "lifecycle": "manual"}
    )
    # A lost worker's job comes back after 4 s. Only here: a job still running when it elapses
    # goes to a second worker too, and a worker's first job can take that long on a loaded
    # machine. Here both workers are busy holding their job until one of them is killed.
    workers.env["KIEKIT_CELERY_VISIBILITY_TIMEOUT"] = "4"
    workers.start("a", "b")
    report = tmp_path / "batch.log"
    with open(report, "wb") as log:
        batch = subprocess.Popen(  # noqa: S603 - our interpreter, our CLI
            _batch(jobs, out), env=workers.env, stdout=log, stderr=subprocess.STDOUT
        )
    try:

        def held() -> list[str]:
            entries = journal.entries()
            return [e.task_id for e in entries if e.state is EntryState.CREATED and e.task_id]

        _until("both workers holding a created job", lambda: len(held()) == 2, alive=[batch])
        held_tasks = held()
        _control(f"{mock_url}/_mock/rules/{hold['rule']['id']}", "DELETE")  # the rest: at once
        workers.processes["a"].send_signal(signal.SIGKILL)
        workers.processes["a"].wait(10)
        for task_id in held_tasks:
            _control(f"{mock_url}/_mock/tasks/{task_id}/complete", "POST")
        batch.wait(DEADLINE)
    finally:
        if batch.poll() is None:  # the test failed: leave no batch behind
            batch.kill()
            batch.wait(10)
    said = " ".join(report.read_text(errors="replace").split())
    assert batch.returncode == 0, said
    results = _check_report(out, count, mock_url)
    # the killed worker finished nothing; the other finished every job, the killed one's too
    assert workers.jobs_finished("a") == Counter()
    assert set(workers.jobs_finished("b")) == {f"j{i}" for i in range(count)}
    assert len(_control(f"{mock_url}/_mock/tasks")["tasks"]) == count
    # Interrupt finding 3: the killed worker's task, which the other found made, was paid for
    # by this run all the same: counted once, not "found made before" (made_in_run)
    assert all(result["made"] for result in results), results
    assert f"{count} made a task (paid for);" in said, said
    assert "found made before" not in said


def test_two_runs_of_the_same_jobs_sent_at_once_count_each_task_made_once(
    workers: Workers, mock_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Outside tester "celeryteam", finding 1: two `kie batch --celery` runs of the same jobs,
    both sent before any worker took a job, each said it made (paid for) every task, though
    the mock made each once. The worker that creates a task says so; the other run's worker
    finds it in the journal, and its run counts it found, not made."""
    import redis

    count = 3
    jobs, out = _jobs_file(tmp_path, count), tmp_path / "out"
    queue = redis.Redis.from_url(redis_url)
    name = workers.env["KIEKIT_CELERY_QUEUE"]
    runs = []
    try:
        for run in ("a", "b"):  # both queued before any worker runs: no row holds a task yet
            with open(tmp_path / f"run-{run}.log", "wb") as log:
                runs.append(
                    subprocess.Popen(  # noqa: S603 - our interpreter, our CLI
                        [*_batch(jobs, out), "--results", str(tmp_path / f"{run}.jsonl")],
                        env=workers.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        sent = count * len(runs)
        _until(f"{sent} messages queued", lambda: queue.llen(name) == sent, alive=runs)
        workers.start("a")
        for batch in runs:
            batch.wait(DEADLINE)
    finally:
        queue.close()
        for batch in runs:
            if batch.poll() is None:  # the test failed: leave no batch behind
                batch.kill()
                batch.wait(10)
    assert [batch.returncode for batch in runs] == [0, 0]
    made = 0
    for run in ("a", "b"):
        report = [json.loads(line) for line in (tmp_path / f"{run}.jsonl").read_text().splitlines()]
        assert {r["state"] for r in report} == {"succeeded"}, report
        made += sum(1 for r in report if r["made"])
    assert sum(_creates(mock_url).values()) == count
    assert made == count  # what the two runs say they paid for is what was paid


@pytest.mark.parametrize(
    ("stop", "code", "words"),
    [
        pytest.param(signal.SIGINT, 130, "interrupted (SIGINT)", id="ctrl-c"),
        pytest.param(signal.SIGTERM, 143, "terminated (SIGTERM)", id="sigterm"),
    ],
)
def test_a_celery_batch_stopped_by_a_signal_creates_nothing_more_and_says_how_to_go_on(
    workers: Workers,
    mock_url: str,
    tmp_path: Path,
    stop: signal.Signals,
    code: int,
    words: str,
) -> None:
    """As a local batch: results.jsonl names every job, the job a worker holds goes on there,
    and the jobs still queued are held back — the worker that gets them later creates
    nothing (they went on being created, and paid for, after the stop). Run again, the batch
    finishes every job, each created once."""
    count = 3
    jobs, out = _jobs_file(tmp_path, count), tmp_path / "out"
    journal = open_journal(workers.env["KIEKIT_JOURNAL_URL"])  # the workers' and the sender's
    hold = _control(
        f"{mock_url}/_mock/rules", "POST", {"prompt_contains": "job", "lifecycle": "manual"}
    )
    workers.start("a")  # one job at a time: the first held, the others queued behind it
    batch = subprocess.Popen(  # noqa: S603 - our interpreter, our CLI
        [*_batch(jobs, out), "--json"],
        env=workers.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def made() -> list[str]:
        return [e.key for e in journal.entries() if e.state is EntryState.CREATED]

    try:
        _until("a created job", lambda: len(made()) == 1, alive=[batch])
        batch.send_signal(stop)
        answer, err = batch.communicate(timeout=DEADLINE)
    finally:
        if batch.poll() is None:  # the test failed: leave no batch (nor its pipes) behind
            batch.kill()
            batch.communicate(timeout=10)

    assert batch.returncode == code, err
    rows = {row.key: row for row in journal.entries()}
    [held] = [row for row in rows.values() if row.state is EntryState.CREATED]
    held_back = [row for row in rows.values() if row.state is EntryState.REJECTED]
    assert len(held_back) == count - 1
    for row in held_back:
        assert row.error is not None
        assert row.error["type"] == "Interrupted"
        assert row.error["message"].startswith(f"{words}: the batch stopped before a worker")
    report = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in report] == [f"j{i}" for i in range(count)]
    assert {r["state"] for r in report} == {"stopped"}
    [going] = [r for r in report if r["task_id"] is not None]
    assert going["task_id"] == held.task_id
    assert "a Celery worker goes on with it" in going["error"]["message"]
    for result in report:
        assert result["error"]["message"].startswith(f"{words}: the job did not finish")
    said = " ".join(err.split())
    assert "1 going on on Celery workers" in said
    assert f"({'task ' + str(held.task_id)})" in said
    assert f"{count - 1} job(s) no worker had taken are held back: none will create them" in said
    assert "run the same kie batch command again" in said
    told = json.loads(answer)
    assert (told["error"]["type"], told["states"]) == ("Interrupted", {"stopped": count})

    # the worker finishes the job it holds, then answers the held-back ones from the journal
    _control(f"{mock_url}/_mock/rules/{hold['rule']['id']}", "DELETE")
    _control(f"{mock_url}/_mock/tasks/{held.task_id}/complete", "POST")
    _until("the worker done with every message", lambda: sum(workers.jobs_finished("a").values())
           == count, alive=[workers.processes["a"]])  # fmt: skip
    assert sum(_creates(mock_url).values()) == 1  # nothing created after the stop

    again = subprocess.run(  # noqa: S603 - our interpreter, our CLI
        _batch(jobs, out), env=workers.env, capture_output=True, text=True, timeout=DEADLINE
    )
    assert again.returncode == 0, again.stderr
    _check_report(out, count, mock_url)


def test_a_batch_sent_during_a_rolling_upgrade_runs_on_workers_not_upgraded_yet(
    workers: Workers, team_env: dict[str, str], mock_url: str, tmp_path: Path
) -> None:
    """Machines upgraded before the workers: every job runs on a worker whose task takes the
    four arguments kiekit's took before (older_celery_app), each created once. A fifth
    argument failed every job there with a TypeError (an outside tester's rolling upgrade)."""
    count = 3
    jobs, out = _jobs_file(tmp_path, count), tmp_path / "out"
    workers.start("older", app="older_celery_app")
    batch = subprocess.run(  # noqa: S603 - our interpreter, our CLI
        _batch(jobs, out), env=team_env, capture_output=True, text=True, timeout=DEADLINE
    )
    assert batch.returncode == 0, batch.stderr + workers.log("older")
    _check_report(out, count, mock_url)
    assert workers.jobs_finished("older") == Counter({f"j{i}": 1 for i in range(count)})


def test_a_message_of_an_older_kie_batch_runs_on_a_worker_of_this_kiekit(
    workers: Workers, team_env: dict[str, str], mock_url: str, tmp_path: Path
) -> None:
    """Workers upgraded first: a message as an older ``kie batch`` sends it (four arguments,
    no header) is run as before."""
    from kiekit.batch import Job, JobResult
    from kiekit.distributed import CelerySettings
    from kiekit.distributed.celery_app import make_app
    from kiekit.distributed.messages import TASK_NAME, job_message

    workers.start("a")
    app = make_app(CelerySettings.from_env(environ=team_env))
    job = Job(1, "j0", GROK, {"prompt": "job 0"})
    out = tmp_path / "out"
    sent = app.send_task(TASK_NAME, args=[job_message(job), str(out), None, 0.05])
    try:
        answer = JobResult.from_json(sent.get(timeout=DEADLINE))
    finally:
        sent.forget()
    assert (answer.id, answer.state) == ("j0", "succeeded"), answer
    assert answer.files
    assert {Path(f).parent for f in answer.files} == {out}
    assert _creates(mock_url) == Counter({"job 0": 1})


def test_jobs_whose_messages_the_broker_lost_are_sent_again_and_each_made_once(
    workers: Workers, mock_url: str, tmp_path: Path, redis_url: str
) -> None:
    """Teamops finding 2: Redis restarted without persistence loses the queued messages, and
    ``kie batch --celery`` waited silently for ever. Here the queue is emptied as such a
    restart empties it, before any worker took a job (forced: no worker runs yet). The sender
    says what it waits for, then sends the lost jobs again once nothing moved for the
    visibility timeout; the workers run each once (the journal settles a job once)."""
    import redis

    count = 4
    jobs, out = _jobs_file(tmp_path, count), tmp_path / "out"
    workers.env["KIEKIT_CELERY_VISIBILITY_TIMEOUT"] = "3"  # the bound, short for the test
    queue = workers.env["KIEKIT_CELERY_QUEUE"]
    broker = redis.Redis.from_url(redis_url)
    report = tmp_path / "batch.log"
    with open(report, "wb") as log:
        batch = subprocess.Popen(  # noqa: S603 - our interpreter, our CLI
            _batch(jobs, out), env=workers.env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _until("every job queued", lambda: broker.llen(queue) == count, alive=[batch])
        assert broker.delete(queue) == 1  # what a restart without persistence leaves
        workers.start("a")
        batch.wait(DEADLINE)
    finally:
        if batch.poll() is None:  # the test failed: leave no batch behind
            batch.kill()
            batch.wait(10)
    said = " ".join(report.read_text(errors="replace").split())
    assert batch.returncode == 0, said
    _check_report(out, count, mock_url)  # each job created once, every file once
    assert "waiting for the Celery workers: 4 job(s) not answered" in said
    assert "4 job(s) no Celery worker took or answered in 3 s" in said
    assert "sent again" in said
    # Each job ran; one whose sent-again message came while a loaded machine's worker was
    # still starting on it may run twice, settled by its journal row (created once, above):
    # how many runs is the scheduler's, not the product's, to decide.
    assert set(workers.jobs_finished("a")) == {f"j{i}" for i in range(count)}


def test_a_message_sent_again_beside_one_not_lost_runs_its_job_once(
    workers: Workers, team_env: dict[str, str], mock_url: str, tmp_path: Path
) -> None:
    """Sending a job again is safe only if a worker settles it through the journal: the same
    job's message twice, taken by two worker threads at once, makes one task; both answer
    it succeeded (the second from the journal row)."""
    from kiekit.batch import Job, JobResult
    from kiekit.distributed import CelerySettings
    from kiekit.distributed.celery_app import make_app
    from kiekit.distributed.messages import TASK_NAME, task_options

    workers.start("a", pool=("--pool", "threads", "--concurrency", "2"))
    app = make_app(CelerySettings.from_env(environ=team_env))
    job = Job(1, "j0", GROK, {"prompt": "job 0"})
    out = tmp_path / "out"
    sent = [app.send_task(TASK_NAME, **task_options(job, str(out), None, 0.05, 0.0))
            for _ in range(2)]  # fmt: skip
    try:
        answers = [JobResult.from_json(one.get(timeout=DEADLINE)) for one in sent]
    finally:
        for one in sent:
            one.forget()
    assert [(a.id, a.state) for a in answers] == [("j0", "succeeded")] * 2, answers
    assert len({a.task_id for a in answers}) == 1
    assert sorted(bool(a.made) for a in answers) == [False, True]  # one paid for it
    assert _creates(mock_url) == Counter({"job 0": 1})
