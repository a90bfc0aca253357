"""``kie batch``, ``kie tasks`` and ``kie resume`` against the mock on 127.0.0.1."""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kiekit.cli import main

GROK = "grok-imagine/text-to-image"


@pytest.fixture
def fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIE_API_KEY", "fake-key-for-the-mock")


def _jobs_file(folder: Path, lines: list[str]) -> Path:
    path = folder / "jobs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _creates(mock: Any) -> int:
    return len([r for r in mock.requests() if r.path == "/api/v1/jobs/createTask"])


def _results(out: Path) -> list[dict[str, Any]]:
    """The rows of a batch's results.jsonl in ``out``."""
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def _tasks(capsys: pytest.CaptureFixture[str], *options: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["tasks", "--json", *options]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_an_interrupted_batch_is_finished_by_kie_resume_and_nothing_is_created_twice(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    mock = mock_server_factory(polls_to_complete=10_000)  # pending until the test steps it
    jobs = _jobs_file(
        tmp_path,
        [
            json.dumps({"id": "cat", "model": GROK, "input": {"prompt": "a cat"}}),
            json.dumps({"model": GROK, "input": {"prompt": "a dog"}}),
            "{broken",
        ],
    )
    out = tmp_path / "out"
    batch = ["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url]
    assert main([*batch, "--timeout", "0.2"]) == 1  # the waits give up; the tasks live on
    err = capsys.readouterr().err
    assert "jobs.jsonl:3: not JSON" in err
    report = _results(out)
    assert [(r["line"], r["state"]) for r in report] == [(1, "error"), (2, "error"), (3, "invalid")]
    assert all(r["task_id"] and r["error"]["type"] == "WaitTimeoutError" for r in report[:2])

    unfinished = _tasks(capsys, "--state", "unfinished")
    assert sorted(row["task_id"] for row in unfinished) == sorted(r["task_id"] for r in report[:2])
    assert _tasks(capsys, "--state", "succeeded") == []
    assert len(_tasks(capsys, "--model", GROK, "--since", "1h")) == 2
    assert _tasks(capsys, "--model", "other") == []

    for row in unfinished:  # KIE finishes them while nobody is watching
        while mock.advance(row["task_id"]) not in ("success", "fail"):
            pass
    assert main(["resume", "--base-url", mock.base_url]) == 0
    shown = capsys.readouterr()
    files = [Path(line) for line in shown.out.splitlines()]
    assert files
    assert all(path.is_file() and path.parent == out.resolve() for path in files)
    assert "resumed task" in shown.err
    assert _tasks(capsys, "--state", "unfinished") == []

    created = _creates(mock)
    assert created == 2
    assert main(batch) == 1  # only the broken line is left
    report = _results(out)
    assert [r["state"] for r in report] == ["succeeded", "succeeded", "invalid"]
    assert _creates(mock) == created
    assert main(["resume", "--base-url", mock.base_url]) == 0
    assert "nothing to resume" in capsys.readouterr().err


def test_kie_tasks_says_so_when_the_journal_is_empty_and_lists_rows_as_text(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    assert main(["tasks"]) == 0
    assert capsys.readouterr().err.strip() == "no tasks in the journal"
    mock = mock_server_factory()
    line = json.dumps({"model": GROK, "input": {"prompt": "boom [mock:fail]"}})
    jobs = _jobs_file(tmp_path, [line])
    assert main(["batch", str(jobs), "--out", str(tmp_path), "--base-url", mock.base_url]) == 1
    capsys.readouterr()
    assert main(["tasks"]) == 0
    text = capsys.readouterr().out
    assert GROK in text
    assert "failed" in text
    assert "TaskFailedError" in text


def test_kie_resume_reports_creates_whose_outcome_is_unknown_and_never_sends_them(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    crash: Callable[[Any, str], None],
) -> None:
    from kiekit.journal import default_journal

    mock = mock_server_factory()
    journal = default_journal()
    intent = journal.intend(GROK, {"input": {"prompt": "x"}}, base_url=mock.base_url)
    assert intent is not None
    crash(journal, intent.key)  # right after the intent, before any answer
    # owed until settled: a CI step "finish what the crash left" must not pass over it
    assert main(["resume", "--base-url", mock.base_url]) == 1
    err = capsys.readouterr().err
    assert "outcome unknown" in err
    assert "not created again" in err
    assert "kie resume: still owed: 1 create(s) of unknown outcome" in err
    assert "nothing to resume" not in err
    assert _creates(mock) == 0


def test_a_row_a_newer_kiekit_wrote_is_listed_and_left_alone_by_every_command(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """An outside tester's journal with one row in a newer kiekit's state ("archived"): kie
    tasks and kie settle died of a ValueError traceback (hiding every other row), and kie
    resume passed over it without a word."""
    import sqlite3

    mock = mock_server_factory()
    lines = [
        json.dumps({"id": job, "model": GROK, "input": {"prompt": f"{job} [mock:fail]"}})
        for job in ("newer", "plain")
    ]
    jobs = _jobs_file(tmp_path, lines)
    batch = ["batch", str(jobs), "--out", str(tmp_path / "out"), "--base-url", mock.base_url]
    assert main(batch) == 1  # both tasks failed at KIE
    path = Path(os.environ["KIEKIT_DATA_DIR"]) / "journal.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE entries SET state = 'archived' WHERE key LIKE '%newer%'")
        connection.execute("UPDATE entries SET created_at = 'then' WHERE key LIKE '%plain%'")
    capsys.readouterr()

    assert [row["state"] for row in _tasks(capsys)] == ["archived", "failed"]
    assert main(["tasks"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2
    assert "archived (a state this kiekit does not know: upgrade kiekit" in listed[0]
    assert " failed     ?  " in listed[1]  # a time that is not a number: not known
    # it may be owed (kie resume counts it so): an unfinished row, its state shown
    assert [row["state"] for row in _tasks(capsys, "--state", "unfinished")] == ["archived"]
    assert main(["tasks", "--state", "unfinished", "--state", "failed"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2
    assert any("archived (a state this kiekit does not know" in line for line in listed)
    [newer] = [row for row in _tasks(capsys) if row["state"] == "archived"]
    assert main(["settle", newer["task_id"], "--abandon"]) == 2
    [said] = capsys.readouterr().err.splitlines()
    assert said.startswith(
        f"kie: error: KEY_OR_TASK_ID: row {newer['key']!r} is 'archived', a state "
    )
    assert main(["resume", "--base-url", mock.base_url]) == 1  # not passed over
    err = capsys.readouterr().err
    assert f"task {newer['task_id']} ({GROK}): row {newer['key']!r} is 'archived'" in err
    assert "still owed: 1 row(s) in a state this kiekit does not know" in err
    creates = _creates(mock)
    assert main(batch) == 1  # the job is reported, neither sent again nor waited for
    assert _creates(mock) == creates
    report = {row["id"]: row for row in _results(tmp_path / "out")}
    assert report["newer"]["state"] == "error"
    assert "a state this kiekit does not know" in report["newer"]["error"]["message"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--since", "yesterday"], "--since"),
        (["--limit", "-1"], "--limit"),
        (["--since", "9" * 400 + "d"], "--since"),  # a float's infinity, not an age
    ],
)
def test_kie_tasks_names_a_bad_filter(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tasks", *options]) == 2
    assert message in capsys.readouterr().err


def test_kie_tasks_takes_a_limit_past_any_journal_s_length(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A limit past SQLite's integers (an OverflowError traceback) lists every row."""
    for state in (["--state", "unfinished"], []):
        assert main(["tasks", "--limit", "9" * 400, *state]) == 0
        assert capsys.readouterr().err == "no task in the journal matches\n"


def test_kie_batch_names_a_missing_jobs_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    assert main(["batch", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)]) == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_kie_resume_downloads_into_the_out_kie_run_was_given(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kiekit.journal import default_journal

    mock = mock_server_factory(polls_to_complete=10_000)  # `kie run` gives up first
    chosen = tmp_path / "chosen"
    monkeypatch.chdir(tmp_path)  # the default out, kie-output/, would land here
    code = main(["run", GROK, "--prompt", "x", "--out", str(chosen), "--timeout", "0.2",
                 "--base-url", mock.base_url])  # fmt: skip
    assert code == 1  # the wait timed out; the task lives on
    (row,) = [row for row in default_journal().entries() if row.task_id]
    assert row.out_dir == str(chosen.resolve())
    mock.complete(row.task_id)

    assert main(["resume", "--base-url", mock.base_url]) == 0
    err = capsys.readouterr().err
    assert "resuming 1 task(s)" in err
    assert [p.parent for p in chosen.iterdir()]
    assert not (tmp_path / "kie-output").exists()


@pytest.mark.usefixtures("fake_key")
def test_a_run_that_times_out_says_the_timeout_as_given(
    mock_server_factory: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """`kie run --timeout 0.5` said "gave up waiting after 1 s". And it asks KIE once, at the
    deadline, though the first poll is due 4 s after the create (music QA 4): the last state
    is said."""
    mock = mock_server_factory(polls_to_complete=10_000)  # `kie run` gives up first
    code = main(["run", GROK, "--prompt", "x", "--timeout", "0.5", "--base-url", mock.base_url])
    assert code == 1
    err = capsys.readouterr().err
    assert "kie: error: gave up waiting after 0.5 s, last state queued; task " in err
    assert "goes on at KIE and stays in the journal: kie resume finishes it" in err


def test_a_run_whose_create_answer_is_lost_still_resumes_into_its_out(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--out` was journalled only once the create had answered: a run killed (or cut off)
    while its create was in flight left `kie resume`, after `kie settle`, to download into
    ./kie-output/ (found by an outside tester). It goes with the intent now."""
    from kiekit.journal import default_journal
    from kiekit_mock.faults import FaultRule

    mock = mock_server_factory()
    mock.faults.add(FaultRule(kind="reset", path="/api/v1/jobs/createTask", when="after"))
    chosen = tmp_path / "chosen"
    monkeypatch.chdir(tmp_path)  # the default out, kie-output/, would land here
    code = main(["run", GROK, "--prompt", "x", "--out", str(chosen), "--base-url", mock.base_url])
    assert code == 1  # the answer was lost: the outcome is unknown, and it is not sent again
    assert "may or may not have reached KIE" in capsys.readouterr().err
    (row,) = default_journal().entries()
    assert row.task_id is None
    assert row.out_dir == str(chosen.resolve())

    (made,) = mock.tasks()  # what KIE's dashboard would show
    assert main(["settle", row.key, "--task-id", made.task_id]) == 0
    assert main(["resume", "--base-url", mock.base_url]) == 0
    files = [path.name for path in chosen.iterdir() if not path.name.startswith(".")]
    assert files
    assert all(name.startswith(made.task_id) for name in files)
    assert not (tmp_path / "kie-output").exists()


def _first_try_stopped(how: str, mock: Any, folder: Path) -> str:
    """A task asked into ``folder`` from Python, whose files did not get there: the wait gave
    up (``generate``), or the download failed (the result links answered 502). Its task id."""
    from kiekit import Client, DownloadError, WaitTimeoutError
    from kiekit_mock.faults import FaultRule

    with Client(base_url=mock.base_url) as kie:
        if how == "wait":
            with pytest.raises(WaitTimeoutError) as stopped:
                kie.generate(GROK, prompt="x", out_dir=folder, timeout=0.2)
            return str(stopped.value.task_id)
        task = kie.submit(GROK, prompt="x")
        results = kie.wait(task)
        rule = mock.faults.add(FaultRule(kind="http", path="/files/*", status=502))
        with pytest.raises(DownloadError):
            kie.download(results, folder)
        mock.faults.remove(rule)
        return task.id


@pytest.mark.parametrize("how", ["wait", "download"])
def test_kie_resume_downloads_into_the_folder_the_first_try_asked_for(
    how: str,
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mock = mock_server_factory(polls_to_complete=1 if how == "download" else 10_000)
    chosen = tmp_path / "chosen"
    monkeypatch.chdir(tmp_path)  # the default out, kie-output/, would land here
    task_id = _first_try_stopped(how, mock, chosen)
    if how == "wait":
        mock.complete(task_id)

    assert main(["resume", "--base-url", mock.base_url]) == 0
    assert f"resumed task {task_id}" in capsys.readouterr().err
    assert sorted(p.name for p in chosen.iterdir())[0].startswith(task_id)
    assert not (tmp_path / "kie-output").exists()


def test_an_interrupted_download_keeps_its_folder_and_files_and_resume_fetches_only_the_rest(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C in a notebook's download(results, "mine") journalled neither the folder nor the
    files already written: kie resume fetched them all again, into kie-output/."""
    from kiekit import Client
    from kiekit._transports.urllib3_transport import Urllib3Transport
    from kiekit.journal import default_journal

    class CtrlCOnTheFourthFile(Urllib3Transport):
        fetched = 0

        def fetch(self, fetch: Any, **options: Any) -> Path:
            self.fetched += 1
            if self.fetched == 4:
                raise KeyboardInterrupt
            return super().fetch(fetch, **options)

    mock = mock_server_factory(polls_to_complete=1)
    mine = tmp_path / "mine"
    monkeypatch.chdir(tmp_path)  # the default out, kie-output/, would land here
    with Client(base_url=mock.base_url, transport=CtrlCOnTheFourthFile()) as kie:
        results = kie.wait(kie.submit(GROK, prompt="x"))
        with pytest.raises(KeyboardInterrupt):
            kie.download(results, mine)
    assert len(results.assets) > 4
    (row,) = default_journal().entries()
    written = sorted(str(path.resolve()) for path in mine.iterdir())
    assert (row.out_dir, sorted(row.files)) == (str(mine.resolve()), written)
    assert len(written) == 3
    assert row.error is None  # an interruption says nothing about the task
    assert row.unfinished

    def fetches() -> int:
        return len([r for r in mock.requests() if r.path.startswith("/files/")])

    before = fetches()
    assert main(["resume", "--base-url", mock.base_url]) == 0
    assert f"resumed task {row.task_id}" in capsys.readouterr().err
    assert fetches() - before == len(results.assets) - 3  # only the missing ones
    assert len(list(mine.iterdir())) == len(results.assets)
    assert not (tmp_path / "kie-output").exists()
    (row,) = default_journal().entries()
    assert len(row.files) == len(results.assets)
    assert not row.unfinished


def test_an_interrupted_wait_or_create_lets_go_of_its_lease_so_kie_resume_takes_it_at_once(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A keyed task whose wait (or create) a notebook interrupted stayed held by the live
    kernel for the lease's 60 s: `!kie resume` said "being worked on by other workers"."""
    from kiekit import Client
    from kiekit._transports.urllib3_transport import Urllib3Transport
    from kiekit.journal import default_journal

    class CtrlC(Urllib3Transport):
        at = "/api/v1/jobs/createTask"

        def send(self, request: Any) -> Any:
            if self.at in request.url:
                raise KeyboardInterrupt
            return super().send(request)

    mock = mock_server_factory(polls_to_complete=10_000)
    monkeypatch.chdir(tmp_path)
    transport = CtrlC()
    with Client(base_url=mock.base_url, transport=transport) as kie:
        with pytest.raises(KeyboardInterrupt):  # mid-create: its outcome is unknown
            kie.submit(GROK, prompt="one", idempotency_key="fox-0")
        transport.at = "/api/v1/jobs/recordInfo"
        task = kie.submit(GROK, prompt="two", idempotency_key="fox-1")
        with pytest.raises(KeyboardInterrupt):
            kie.wait(task)
    rows = {row.key: row for row in default_journal().entries()}
    assert [(rows[key].state.value, rows[key].lease_until) for key in ("fox-0", "fox-1")] == [
        ("unknown", None),
        ("created", None),
    ]
    mock.complete(task.id)
    main(["resume", "--base-url", mock.base_url])  # its exit code: the unknown create's
    err = capsys.readouterr().err
    assert "other workers" not in err
    assert f"resumed task {task.id}" in err
    assert "outcome unknown: a create of" in err  # said, not hidden behind "other workers"


def test_a_wait_interrupted_while_another_of_this_process_waits_on_the_task_keeps_the_lease(
    mock_server_factory: Callable[..., Any], fake_key: None
) -> None:
    """Leases are per process, not per wait: one cancelled wait must not let go of a task
    another wait of this process (a batch's job, another cell's task) still works on."""
    import asyncio

    from kiekit import AsyncClient, PollPolicy
    from kiekit.journal import default_journal

    mock = mock_server_factory(polls_to_complete=10_000)
    poll = PollPolicy(initial=0.01, growth=0.01, maximum=0.02, timeout=60.0)

    def lease() -> float | None:
        (row,) = default_journal().entries()
        return row.lease_until

    async def scenario() -> tuple[float | None, float | None]:
        async with AsyncClient(base_url=mock.base_url, poll=poll) as kie:
            task = await kie.submit(GROK, prompt="x", idempotency_key="fox")
            waits = [asyncio.ensure_future(kie.wait(task)) for _ in range(2)]
            await asyncio.sleep(0)  # both have begun: each is at its first poll
            waits[0].cancel()
            with pytest.raises(asyncio.CancelledError):
                await waits[0]
            one_left = lease()
            waits[1].cancel()
            with pytest.raises(asyncio.CancelledError):
                await waits[1]
            return one_left, lease()

    one_left, none_left = asyncio.run(scenario())
    assert one_left is not None  # the other wait still works on it
    assert none_left is None


def test_kie_resume_out_given_explicitly_wins_over_the_recorded_folder(
    mock_server_factory: Callable[..., Any],
    fake_key: None,
    tmp_path: Path,
) -> None:
    from kiekit.journal import default_journal

    mock = mock_server_factory(polls_to_complete=10_000)  # `kie run` gives up first
    code = main(["run", GROK, "--prompt", "x", "--out", str(tmp_path / "first"),
                 "--timeout", "0.2", "--base-url", mock.base_url])  # fmt: skip
    assert code == 1
    (row,) = [row for row in default_journal().entries() if row.task_id]
    mock.complete(row.task_id)

    elsewhere = tmp_path / "elsewhere"
    assert main(["resume", "--base-url", mock.base_url, "--out", str(elsewhere)]) == 0
    assert [p.name for p in elsewhere.iterdir()]
    assert not list((tmp_path / "first").iterdir())  # made by kie run, left empty


def _ended_owner(journal: Any) -> str:
    """An owner name as ``journal``'s own, of a process of this machine that has ended."""
    import subprocess
    import sys

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, check=True, text=True,
    ).stdout.strip()  # fmt: skip
    host, _, site, rand = journal.owner.split(":")
    return f"{host}:{ended}:{site}:{rand}"


def test_kie_resume_takes_at_once_the_rows_a_dead_local_worker_held_not_a_live_ones(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    tmp_path: Path,
) -> None:
    """docs/teams.md: a worker of this machine that has ended is noticed at once (its process
    is gone), so `kie resume` does not wait out its lease; another host's live lease is left
    to it (an outside tester's `kill -9` then `kie resume` said "nothing to resume")."""

    from kiekit import Client
    from kiekit.journal import default_journal

    mock = mock_server_factory()
    with Client(base_url=mock.base_url) as kie:
        dead_ones, live_ones = kie.submit(GROK, prompt="a"), kie.submit(GROK, prompt="b")
    journal = default_journal()
    held = {"lease_until": journal.store.now() + 600}  # ten minutes still to run
    rows = {row.task_id: row for row in journal.entries()}
    journal.store.update(rows[dead_ones.id].key, {**held, "owner": _ended_owner(journal)})
    journal.store.update(rows[live_ones.id].key, {**held, "owner": "elsewhere:7:othersite:1"})

    # exit 1: the live worker's task is left to it, yet not on disk (cliuser finding 5)
    assert main(["resume", "--base-url", mock.base_url, "--out", str(tmp_path / "o")]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "1 task(s) held by elsewhere:7:othersite:1, a live worker" in err
    assert "still owed: 1 task(s) held by another live worker" in err
    assert f"resumed task {dead_ones.id}" in err
    assert live_ones.id not in err
    after = {row.task_id: row for row in default_journal().entries()}
    assert after[dead_ones.id].state.value == "succeeded"
    assert after[live_ones.id].state.value == "created"


def test_kie_resume_reports_tasks_of_a_mock_that_is_gone_and_marks_them_failed(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    from kiekit._engine.engine import account_of
    from kiekit.cli._common import DEMO_KEY
    from kiekit.journal import EntryState, default_journal
    from kiekit.models import Task

    gone = mock_server_factory()
    gone_url = gone.base_url
    journal = default_journal()
    for task_id, key in (("t-on-a-gone-mock", DEMO_KEY), ("t-via-a-proxy", "a-real-key")):
        # the demo key is what an embedded `--mock` uses; a real key on loopback may be a
        # proxy in front of KIE, down for a moment: its paid task must be left alone
        request = {"input": {"prompt": task_id}}
        intent = journal.intend(GROK, request, base_url=gone.base_url, account=account_of(key))
        assert intent is not None
        journal.created(intent, Task(task_id, GROK))
    journal.let_go_all()  # as the `kie run --mock` that made them, ended: they are owed here
    gone.stop()  # as an embedded `kie run --mock` server stops with its command
    live = mock_server_factory()

    assert main(["resume", "--base-url", live.base_url]) == 1  # the proxy's task is owed
    err = capsys.readouterr().err
    assert "t-on-a-gone-mock" in err
    assert "no longer running" in err
    assert "1 unfinished task(s) live on another server:" in err
    assert "kie resume: still owed: 1 task(s) on another server" in err
    assert "nothing to resume" not in err  # (it said so after naming a task to resume)
    # named with its server and the command that resumes it
    assert f"  {gone_url}: t-via-a-proxy (kie resume --base-url {gone_url})" in err
    rows = {row.task_id: row for row in journal.entries()}
    assert rows["t-on-a-gone-mock"].state is EntryState.FAILED
    assert not rows["t-on-a-gone-mock"].unfinished  # never reported as unfinished again
    # closed through the journal, as `kie settle --abandon` closes a row: the same history
    assert rows["t-on-a-gone-mock"].error == {
        "type": "Abandoned",
        "message": f"abandoned by hand (was created): the mock server at {gone_url} that made "
        "it is no longer running (kie resume)",
    }
    assert main(["settle", "t-on-a-gone-mock", "--abandon"]) == 2  # closed once, not twice
    assert "is failed: nothing is owed for it" in capsys.readouterr().err
    assert rows["t-via-a-proxy"].state is EntryState.CREATED  # left alone, still owed
    assert rows["t-via-a-proxy"].unfinished


def test_kie_resume_closes_creates_stopped_on_their_way_to_a_mock_that_is_gone(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """An outside tester's Ctrl-C on `kie run --mock` mid-create: kie run said "nothing was
    paid for", but every `kie resume` after called the row "outcome unknown", sent the user to
    KIE's dashboard and exited 1. A create of the embedded mock (the demo key) whose server has
    stopped is closed like its tasks; a real key's create on the same address stays owed."""

    from kiekit._engine.engine import account_of
    from kiekit.cli._common import DEMO_KEY
    from kiekit.journal import EntryState, default_journal

    gone = mock_server_factory()
    gone_url = gone.base_url
    gone.stop()
    journal = default_journal()
    ended = _ended_owner(journal)
    keys = {}
    for name, key, state in (
        ("sending", DEMO_KEY, EntryState.SENDING),  # its kie run stopped mid-send, then ended
        ("unknown", DEMO_KEY, EntryState.UNKNOWN),  # its answer lost as it stopped
        ("proxy", "a-real-key", EntryState.UNKNOWN),  # a real key's: may be a paid task
    ):
        intent = journal.intend(GROK, {"input": {"prompt": name}}, base_url=gone_url,
                                account=account_of(key))  # fmt: skip
        assert intent is not None
        journal.store.update(intent.key, {"state": state, "owner": ended})
        keys[name] = intent.key
    live = mock_server_factory()

    assert main(["resume", "--base-url", live.base_url]) == 1  # the real key's is still owed
    err = capsys.readouterr().err
    for name in ("sending", "unknown"):
        row = journal.get(keys[name])
        assert row is not None
        assert row.state is EntryState.FAILED, name
        assert row.error is not None
        assert row.error["type"] == "Abandoned"
        assert f"row {keys[name]} (grok-imagine/text-to-image): a create stopped on its way" in err
    assert "nothing was paid for: marked failed" in err
    proxy = journal.get(keys["proxy"])
    assert proxy is not None
    assert proxy.state is EntryState.UNKNOWN  # left for the user to settle
    assert err.count("outcome unknown: a create of") == 1
    assert main(["resume", "--base-url", live.base_url, "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert [row["key"] for row in answer["tasks"]] == [keys["proxy"]]  # the closed ones: gone


def test_kie_tasks_filters_combine_and_limit_keeps_the_newest_rows_that_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import time

    from kiekit.journal import Entry, EntryState, default_journal
    from kiekit.models import Asset, MediaKind

    store = default_journal().store
    now = time.time()
    asset = (Asset("https://cdn.example/a.png", MediaKind.IMAGE),)
    states = [EntryState.CREATED, EntryState.FAILED, EntryState.SUCCEEDED, EntryState.REJECTED]
    for n in range(12):  # created, failed, succeeded (never downloaded), rejected, …
        state = states[n % 4]
        store.insert(
            Entry(
                key=f"k{n:02}",
                model=GROK,
                request=None,
                state=state,
                created_at=now - 100 + n,
                updated_at=now,
                task_id=f"t{n:02}",
                assets=asset if state is EntryState.SUCCEEDED else (),
            )
        )

    def ids(*options: str) -> list[str]:
        return [row["task_id"] for row in _tasks(capsys, *options)]

    assert ids("--state", "unfinished") == ["t00", "t02", "t04", "t06", "t08", "t10"]
    assert ids("--state", "unfinished", "--limit", "2") == ["t08", "t10"]
    both = ids("--state", "unfinished", "--state", "failed", "--limit", "3")
    assert both == ["t08", "t09", "t10"]
    created_or_rejected = ["t00", "t03", "t04", "t07", "t08", "t11"]
    assert ids("--state", "rejected", "--state", "created") == created_or_rejected
    assert ids("--limit", "3") == ["t09", "t10", "t11"]
    assert ids("--limit", "0") == []
    capsys.readouterr()
    assert main(["tasks", "--state", "failed", "--limit", "1"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("t09 ")


def test_kie_tasks_says_when_only_its_filters_matched_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kiekit.journal import default_journal

    default_journal().intend(GROK, {"input": {"prompt": "x"}})
    assert main(["tasks", "--model", "nobody/none"]) == 0
    assert capsys.readouterr().err.strip() == "no task in the journal matches"


def test_kie_tasks_and_resume_name_a_journal_path_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_key: None
) -> None:
    typo = tmp_path / "jornal.sqlite3"
    for command in (["tasks"], ["resume"]):
        assert main([*command, "--journal", str(typo)]) == 2
        assert f"--journal: no journal at {typo}" in capsys.readouterr().err
    assert not typo.exists()  # a reading command makes no journal
    assert "KIEKIT_JOURNAL_URL" not in os.environ  # --journal held for the command only


def test_kie_tasks_reads_a_default_journal_that_is_not_there_yet_without_making_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(tmp_path / "fresh"))
    assert main(["tasks"]) == 0
    assert capsys.readouterr().err.strip() == "no tasks in the journal"
    assert not (tmp_path / "fresh").exists()


@pytest.mark.parametrize("command", [["tasks"], ["resume"], ["prune", "--older-than", "1d"]])
def test_a_data_dir_that_is_a_file_is_a_journal_error_for_the_reading_commands(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """`kie tasks`, `kie resume` and `kie prune` said "nothing" and exited 0 with
    KIEKIT_DATA_DIR naming a file (a misconfigured volume), where `kie run` refuses (found by
    an outside tester): a "finish what the crash left" step must not pass on it."""
    data = tmp_path / "not-a-dir"
    data.write_bytes(b"")
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(data))
    assert main(command) == 2
    said = capsys.readouterr().err
    assert f"its folder cannot be made: {data} is a file" in said
    assert "KIEKIT_DATA_DIR" in said  # the way out
    assert data.read_bytes() == b""


@pytest.mark.parametrize("command", ["run", "batch"])
def test_a_journal_that_cannot_be_opened_refuses_the_run_before_its_out_folder_is_made(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mock_server_factory: Callable[..., Any],
    fake_key: None,
) -> None:
    """`kie run … --out new` exited with the journal's error but left `new` behind."""
    mock = mock_server_factory()
    data = tmp_path / "not-a-dir"
    data.write_bytes(b"")
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(data))
    jobs = _jobs_file(tmp_path, [json.dumps({"model": GROK, "input": {"prompt": "x"}})])
    out = tmp_path / "x" / "new"
    argv = ["run", GROK, "--prompt", "x"] if command == "run" else ["batch", str(jobs)]
    assert main([*argv, "--out", str(out), "--base-url", mock.base_url]) == 2
    assert f"its folder cannot be made: {data} is a file" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert _creates(mock) == 0


@pytest.mark.parametrize("command", ["run", "batch"])
def test_an_out_folder_that_cannot_be_made_refuses_the_run_before_anything_is_paid_for(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mock_server_factory: Callable[..., Any],
    fake_key: None,
) -> None:
    """The other order: the journal opens, the folder cannot be made (a file on its way)."""
    mock = mock_server_factory()
    (tmp_path / "file").write_bytes(b"")
    jobs = _jobs_file(tmp_path, [json.dumps({"model": GROK, "input": {"prompt": "x"}})])
    argv = ["run", GROK, "--prompt", "x"] if command == "run" else ["batch", str(jobs)]
    out = tmp_path / "file" / "new"
    assert main([*argv, "--out", str(out), "--base-url", mock.base_url]) == 2
    assert f"kie: error: --out: cannot write files in {out}" in capsys.readouterr().err
    assert _creates(mock) == 0


def test_kie_run_without_a_key_leaves_no_out_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KIE_API_KEY", raising=False)
    out = tmp_path / "new"
    assert (
        main(["run", GROK, "--prompt", "x", "--out", str(out), "--base-url", "http://127.0.0.1:9"])
        == 2
    )
    assert "KIE_API_KEY is not set" in capsys.readouterr().err
    assert not out.exists()


def test_kie_tasks_piped_into_head_stops_quietly(tmp_path: Path) -> None:
    """`kie tasks | head`: the reader closes the pipe early; no traceback, SIGPIPE's status."""
    import subprocess
    import sys

    from kiekit.journal import Entry, EntryState, SqliteStore

    store = SqliteStore(tmp_path / "journal.sqlite3")
    with store.batch():  # more rows than a pipe's buffer holds
        for n in range(3000):
            store.insert(Entry(key=f"k{n}", model=GROK, request=None,
                               state=EntryState.SENDING, created_at=n, updated_at=n))  # fmt: skip
    store.close()
    command = [sys.executable, "-m", "kiekit", "tasks", "--journal", str(store.path)]
    pipe = subprocess.PIPE
    with subprocess.Popen(command, stdout=pipe, stderr=pipe) as kie:  # noqa: S603 - ours
        assert kie.stdout is not None
        assert kie.stderr is not None
        assert GROK in kie.stdout.readline().decode()
        kie.stdout.close()  # as head does after its lines
        error = kie.stderr.read().decode()
        assert kie.wait() == 141
    assert error == ""


def test_kie_batch_refuses_a_mistyped_model_id_as_kie_run_does_unless_any_model(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    mock = mock_server_factory()
    typo = json.dumps({"id": "typo", "model": "flux-kontext-pr", "input": {"prompt": "x"}})
    jobs = _jobs_file(tmp_path, [typo])
    where = ["--out", str(tmp_path / "out"), "--base-url", mock.base_url]
    assert main(["batch", str(jobs), *where]) == 2  # every job refused before anything was sent
    err = capsys.readouterr().err
    assert "jobs.jsonl:1: model: 'flux-kontext-pr' is not a model id any plugin lists" in err
    assert "did you mean 'flux-kontext-pro'" in err
    (result,) = _results(tmp_path / "out")
    assert [result[k] for k in ("id", "model", "state")] == ["typo", "flux-kontext-pr", "invalid"]
    assert _creates(mock) == 0  # nothing paid for a typo
    assert main(["batch", str(jobs), *where, "--any-model"]) == 0  # the mock takes any id
    assert _creates(mock) == 1


def test_a_batch_id_given_twice_is_one_line_of_results_jsonl_and_one_task(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """Two lines with one id (files joined, a line copied): the second is refused with its
    number before anything is sent, and results.jsonl has one line per id, so a script keying
    the results by id finds the job's (the refused line's overwrote it, coming later), not
    two. Also when the first line with the id is bad itself."""
    mock = mock_server_factory()
    lines = [
        {"id": "a", "model": GROK, "input": {"prompt": "x"}},
        {"id": "a", "model": GROK, "input": {"prompt": "y"}},
        {"id": "b", "model": GROK, "input": "not an object"},
        {"id": "b", "model": GROK, "input": {"prompt": "z"}},
    ]
    jobs = _jobs_file(tmp_path, [json.dumps(line) for line in lines])
    out = tmp_path / "out"
    assert main(["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url]) == 1
    err = capsys.readouterr().err
    assert "jobs.jsonl:2: id 'a' is the job of line 1 again" in err
    assert "jobs.jsonl:4: id 'b' is the job of line 3 again" in err
    results = _results(out)
    assert [(r["line"], r["id"], r["state"]) for r in results] == [
        (1, "a", "succeeded"),
        (2, None, "invalid"),
        (3, "b", "invalid"),
        (4, None, "invalid"),
    ]
    assert _creates(mock) == 1


def test_kie_batch_mock_again_makes_the_jobs_the_gone_embedded_mock_held(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each `--mock` run has its own embedded mock: a job whose files were lost (or whose
    run was interrupted) is made again on the new one, not refused as living elsewhere."""
    job = json.dumps({"id": "a", "model": GROK, "input": {"prompt": "x"}})
    jobs = _jobs_file(tmp_path, [job])
    argv = ["batch", str(jobs), "--out", str(tmp_path / "out"), "--mock", "--mock-seconds", "0"]
    assert main(argv) == 0
    images = [path for path in (tmp_path / "out").iterdir() if path.name != "results.jsonl"]
    assert images
    for image in images:
        image.unlink()
    capsys.readouterr()
    assert main(argv) == 0
    assert "job a (line 1): made on a mock server at http://127.0.0.1:" in capsys.readouterr().err
    (result,) = _results(tmp_path / "out")
    files = result["files"]
    assert files
    assert all(Path(name).is_file() for name in files)


def test_kie_batch_says_when_files_stay_in_an_earlier_runs_folder(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mock = mock_server_factory()
    jobs = _jobs_file(tmp_path, [json.dumps({"id": "a", "model": GROK, "input": {"prompt": "x"}})])
    said = []
    monkeypatch.chdir(tmp_path)  # a relative --out, as in the README's example
    for out in ("first", "second"):
        capsys.readouterr()
        assert main(["batch", str(jobs), "--out", out, "--base-url", mock.base_url]) == 0
        said.append("were done by an earlier run" in capsys.readouterr().err)
    assert said == [False, True]  # the first run's files are where it was asked to put them
    assert _creates(mock) == 1


def test_kie_tasks_counts_the_files_still_on_disk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiekit.journal import EntryState, default_journal
    from kiekit.models import Asset, MediaKind

    journal = default_journal()
    intent = journal.intend(GROK, {"input": {"prompt": "x"}})
    assert intent is not None
    kept, deleted = tmp_path / "a.png", tmp_path / "b.png"
    kept.write_bytes(b"png")
    assets = tuple(Asset(f"https://x/{n}.png", MediaKind.IMAGE) for n in range(2))
    journal.store.update(intent.key, {
        "state": EntryState.SUCCEEDED, "task_id": "t1", "assets": assets,
        "files": (str(kept), str(deleted)),
    })  # fmt: skip
    capsys.readouterr()
    assert main(["tasks"]) == 0
    assert "1/2 files" in capsys.readouterr().out  # b.png was deleted: owed, not shown as there


def test_kie_batch_json_says_what_failed_as_every_command_does(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    mock = mock_server_factory()
    lines = [
        json.dumps({"id": "ok", "model": GROK, "input": {"prompt": "fine"}}),
        json.dumps({"id": "no", "model": GROK, "input": {"prompt": "x [mock:fail]"}}),
    ]
    jobs = _jobs_file(tmp_path, lines)
    argv = ["batch", str(jobs), "--out", str(tmp_path / "out"), "--base-url", mock.base_url]
    capsys.readouterr()
    assert main([*argv, "--json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert (answer["ok"], answer["command"], answer["error"]["type"]) == (
        False,
        "batch",
        "JobsNotDone",
    )
    assert answer["error"]["message"] == "1 of 2 job(s) did not succeed (1 failed, 1 succeeded)"


@pytest.mark.skipif(os.name == "nt", reason="POSIX names are bytes")
def test_kie_tasks_json_prints_a_path_whose_name_is_not_utf8_escaped(tmp_path: Path) -> None:
    """On a standard output that refuses what is not UTF-8 (PYTHONIOENCODING=utf-8:strict, a
    UTF-8 locale), such a path was a UnicodeEncodeError and a traceback."""
    import subprocess
    import sys

    from kiekit.journal import Entry, EntryState, default_journal

    path = os.fsdecode(bytes(tmp_path) + b"/out-\xff/a.png")
    done = Entry("k", GROK, None, EntryState.SUCCEEDED, 1.0, 1.0, task_id="t", files=(path,))
    default_journal().store.insert(done)
    shown = subprocess.run(
        [sys.executable, "-m", "kiekit", "tasks", "--json"],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"},
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["files"] == [path]


def test_kie_tasks_names_a_live_workers_rows_and_files_written_on_another_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An outside tester's team run: `kie tasks` sent the operator to `kie resume` for rows
    that live workers held (resume then left them alone), and counted a row finished on
    another host as "0/6 files" owed here."""
    from kiekit.journal import EntryState, default_journal
    from kiekit.models import Asset, MediaKind

    journal = default_journal()
    host, _, site, rand = journal.owner.split(":")
    assets = tuple(Asset(f"https://x/{n}.png", MediaKind.IMAGE) for n in range(2))
    rows = {}
    for name in ("held", "far", "mine"):
        intent = journal.intend(GROK, {"input": {"prompt": name}})
        assert intent is not None
        rows[name] = intent.key
    live = "worker-2:7:othersite:1"
    journal.store.update(rows["held"], {  # a live worker elsewhere waits on its task
        "state": EntryState.CREATED, "task_id": "t-held", "owner": live,
        "lease_until": journal.store.now() + 600,
    })  # fmt: skip
    far_files = ("/srv/renders/t-far_0.png", "/srv/renders/t-far_1.png")  # on worker-3's disk
    journal.store.update(rows["far"], {
        "state": EntryState.SUCCEEDED, "task_id": "t-far", "assets": assets, "files": far_files,
        "owner": "worker-3:9:thirdsite:2", "lease_until": None,
    })  # fmt: skip
    journal.store.update(rows["mine"], {  # this machine's, its files deleted since: owed here
        "state": EntryState.SUCCEEDED, "task_id": "t-mine", "assets": assets,
        "files": (str(tmp_path / "gone_0.png"), str(tmp_path / "gone_1.png")),
        "owner": f"{host}:1:{site}:{rand}", "lease_until": None,
    })  # fmt: skip

    capsys.readouterr()
    assert main(["tasks"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert f"created (being worked on by {live})" in lines["t-held"]
    assert "kie resume" not in lines["t-held"]
    assert "2/2 files on worker-3 (0 here)" in lines["t-far"]
    assert "kie resume" not in lines["t-far"]
    assert "(unfinished: kie resume)" in lines["t-mine"]
    assert "0/2 files" in lines["t-mine"]


def test_kie_batch_tells_jobs_other_workers_did_during_the_run_from_an_earlier_runs(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An outside tester's 4 workers, started together on a fresh journal, each printed
    "N job(s) were done by an earlier run": there was none, the other workers did them."""
    import time

    from kiekit import batch
    from kiekit.journal import Entry, EntryState, default_journal
    from kiekit.models import Asset, MediaKind

    mock = mock_server_factory()
    lines = [{"id": name, "model": GROK, "input": {"prompt": name}} for name in ("old", "now")]
    jobs_path = _jobs_file(tmp_path, [json.dumps(line) for line in lines])
    jobs, _ = batch.read_jobs(jobs_path.read_text().splitlines())
    journal = default_journal()

    def done_elsewhere(job: batch.Job, at: float) -> None:  # another worker's row, its folder
        files = (str(tmp_path / "theirs" / f"{job.id}.png"),)
        asset = Asset(f"https://x/{job.id}.png", MediaKind.IMAGE)
        journal.store.insert(Entry(batch.job_key(job), GROK, None, EntryState.SUCCEEDED, at, at,
                                   task_id=f"t-{job.id}", out_dir=str(tmp_path / "theirs"),
                                   owner="worker-2:7:othersite:1", assets=(asset,),
                                   files=files))  # fmt: skip

    done_elsewhere(jobs[0], time.time() - 3600)  # an hour before this run
    row_of = batch._row_of

    def looked_at(journal: Any, key: str, out_dir: Path, job: batch.Job) -> Any:
        if job.id == "now" and journal.get(key) is None:  # finished as this run looks at it
            done_elsewhere(job, journal.now())
        return row_of(journal, key, out_dir, job)

    monkeypatch.setattr(batch, "_row_of", looked_at)
    capsys.readouterr()
    assert main(["batch", str(jobs_path), "--out", str(tmp_path / "out"),
                 "--base-url", mock.base_url]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "1 job(s) were done by other workers while this run ran" in err
    assert "1 job(s) were done by an earlier run (or a worker started before this one)" in err
    assert _creates(mock) == 0


def test_kie_resume_leaves_the_tasks_of_another_api_key_alone_and_says_why(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A service with a key per tenant: `kie resume` under one key reported each task of the
    other keys as "KIE error 404: Task not found" and wrote that error into its row. KIE shows
    a task only to its own key; the journal keeps a hash of each row's key."""
    from kiekit.journal import default_journal

    mock = mock_server_factory(polls_to_complete=10_000)  # `kie run` gives up first
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KIE_API_KEY", "key-of-tenant-a")
    assert main(["run", GROK, "--prompt", "x", "--timeout", "0.2",
                 "--base-url", mock.base_url]) == 1  # fmt: skip
    (row,) = [row for row in default_journal().entries() if row.task_id]
    mock.complete(row.task_id)
    capsys.readouterr()
    monkeypatch.setenv("KIE_API_KEY", "key-of-tenant-b")

    assert main(["resume", "--base-url", mock.base_url]) == 1  # still owed, to tenant a
    err = capsys.readouterr().err
    assert "error 404" not in err  # not a bare "404": the mock's random task ids hold one at times
    assert "Task not found" not in err
    assert f"created with another API key than this one ({row.task_id})" in err
    assert "still owed: 1 task(s) of another API key" in err
    (after,) = [r for r in default_journal().entries() if r.task_id]
    assert (after.state, after.error) == (row.state, row.error)  # left alone
    statuses = [r for r in mock.requests() if r.path.endswith("recordInfo")]
    monkeypatch.setenv("KIE_API_KEY", "key-of-tenant-a")
    assert main(["resume", "--base-url", mock.base_url]) == 0
    assert len([r for r in mock.requests() if r.path.endswith("recordInfo")]) > len(statuses)


@pytest.mark.parametrize(
    ("encoding", "said", "code"),
    [
        ("cp1251", ":2: is not UTF-8 text (its byte 52 is 0xec", 1),
        ("shift_jis", ":2: is not UTF-8 text (its byte 52 is 0x93", 1),
        ("utf-16-le", ":1: is not UTF-8 text (its byte 2 is 0x00", 2),  # each line, NULs
    ],
)
def test_a_line_in_another_encoding_is_that_line_s_error_and_the_others_run(
    encoding: str, said: str, code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/journal-batch-webhooks.md: a bad line is reported with its number and never
    stops the others (one word pasted from a Windows-1251 file stopped the whole batch)."""
    lines = ['{"model": "flux-kontext-pro", "input": {"prompt": "x"}}',
             '{"model": "flux-kontext-pro", "input": {"prompt": "%s"}}']  # fmt: skip
    lines[1] %= "灯台" if encoding == "shift_jis" else "маяк"
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(lines) + "\n", encoding=encoding)

    done = main(["batch", str(jobs), "--mock", "--out", str(tmp_path / "out"), "--json"])

    out, err = capsys.readouterr()
    assert done == code  # 2: every line refused so, before anything was sent
    assert f"{jobs}{said}" in err
    assert "save the file as UTF-8" in err
    answer = json.loads(out)
    assert answer["ok"] is False
    states = [row["state"] for row in _results(tmp_path / "out")]
    assert states[:2] == (["succeeded", "invalid"] if code == 1 else ["invalid", "invalid"])
    assert set(states[2:]) <= {"invalid"}  # UTF-16's last newline leaves a NUL on a line


def test_a_jobs_file_in_utf16_is_refused_whole_before_anything_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"model": "flux-kontext-pro", "input": {"prompt": "x"}}\n', "utf-16")

    code = main(["batch", str(jobs), "--mock", "--out", str(tmp_path / "out"), "--json"])

    out, err = capsys.readouterr()
    assert code == 2
    assert f"kie: error: JOBS: {jobs}: is UTF-16 (its byte order mark), not UTF-8" in err
    assert "mock KIE server" not in err  # refused before a server was started
    answer = json.loads(out)
    assert (answer["error"]["type"], answer["error"]["field"]) == ("ValidationError", "JOBS")


def test_a_jobs_file_with_the_byte_order_mark_notepad_writes_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    line = '{"id": "a", "model": "flux-kontext-pro", "input": {"prompt": "маяк"}}'
    jobs.write_bytes(codecs.BOM_UTF8 + (line + "\r\n").encode())

    assert main(["batch", str(jobs), "--mock", "--out", str(tmp_path / "out")]) == 0
    (row,) = _results(tmp_path / "out")
    assert row["state"] == "succeeded"


def test_kie_resume_names_each_task_it_cannot_finish_and_its_model(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the plugin of two owed tasks uninstalled, `kie resume` printed the same "no
    installed provider offers model …" line twice, naming neither task (found by an outside
    tester): each error line names its task and model, as a resumed task's line does."""
    import kiekit.client
    from kiekit import discovery
    from kiekit.journal import default_journal
    from kiekit.registry import Registry

    mock = mock_server_factory(polls_to_complete=10_000)  # `kie run` gives up first
    monkeypatch.chdir(tmp_path)
    for prompt in ("a cat", "a dog"):
        assert main(["run", GROK, "--prompt", prompt, "--timeout", "0.2",
                     "--base-url", mock.base_url]) == 1  # fmt: skip
    owed = sorted(str(row.task_id) for row in default_journal().entries() if row.task_id)
    assert len(owed) == 2
    for task_id in owed:
        mock.complete(task_id)
    every = discovery.entry_points_of_group
    gone = {"kiekit-grok-imagine", "kiekit-market"}  # uninstalled (market's "*" would serve it)
    monkeypatch.setattr(
        discovery,
        "entry_points_of_group",
        lambda: [ep for ep in every() if ep.dist is None or ep.dist.name not in gone],
    )
    monkeypatch.setattr(kiekit.client, "default_registry", Registry)
    capsys.readouterr()

    assert main(["resume", "--base-url", mock.base_url]) == 1
    errors = sorted(line for line in capsys.readouterr().err.splitlines() if "error" in line)
    assert len(errors) == 2
    for line, task_id in zip(errors, owed, strict=True):
        assert line.startswith(f"kie: error: task {task_id} ({GROK}): no installed provider")
        assert line.count(task_id) == 1
    assert sorted(str(r.task_id) for r in default_journal().entries() if r.unfinished) == owed


def test_kie_run_saves_the_extra_files_kie_hands_out_and_the_journal_keeps_their_role(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    tmp_path: Path,
) -> None:
    """A Runway video's cover still (videoInfo.imageUrl, kie-api.md §3.4) was never saved: it
    is an extra now, downloaded after the video (which keeps its name), and journalled with its
    role, so `kie resume` has nothing left to fetch or to lose."""
    from kiekit import AssetRole
    from kiekit.journal import default_journal

    mock = mock_server_factory(polls_to_complete=1)
    out = tmp_path / "out"
    code = main(["run", "runway/generate", "--prompt", "a cat dances", "--input",
                 "aspect_ratio=16:9", "--out", str(out), "--base-url", mock.base_url])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    (row,) = default_journal().entries()
    assert [(a.kind.value, a.label, a.role) for a in row.assets] == [
        ("video", None, AssetRole.MAIN),
        ("image", "cover", AssetRole.EXTRA),
    ]
    names = [f"{row.task_id}-0.mp4", f"{row.task_id}-cover-1.png"]
    assert [Path(line).name for line in capsys.readouterr().out.split()] == names
    assert sorted(Path(f).name for f in row.files) == sorted(names)
    assert not row.unfinished

    fetched = len([r for r in mock.requests() if r.path.startswith("/files/")])
    assert main(["resume", "--base-url", mock.base_url]) == 0
    assert len([r for r in mock.requests() if r.path.startswith("/files/")]) == fetched
    assert sorted(p.name for p in out.iterdir()) == sorted(names)


def _fill(rows: int, **fields: Any) -> list[Any]:
    """``rows`` tasks written straight into the default journal (no server made them)."""
    import time

    from kiekit.journal import Entry, EntryState, default_journal

    store = default_journal().store
    made = []
    for n in range(rows):
        entry = Entry(key=f"{n:032x}", model=GROK, request={"model": GROK},
                      state=EntryState.CREATED, created_at=time.time() - rows + n,
                      updated_at=time.time(), task_id=f"task{n:08x}", **fields)  # fmt: skip
        store.insert(entry)
        made.append(entry)
    return made


def test_kie_resume_sorts_many_owed_rows_in_linear_work_and_says_how_many_first(
    capsys: pytest.CaptureFixture[str], fake_key: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service's journal owed 21,500 rows after a crash: `kie resume` compared rows in lists
    (n² Entry comparisons), sent nothing in 45 s and said nothing meanwhile. The rows here are
    another API key's, so they are sorted and left alone without a request."""
    from kiekit.journal import Entry

    rows = 300
    _fill(rows, base_url="http://127.0.0.1:9", account="another-accounts-hash")
    compared: list[object] = []
    equal = Entry.__eq__

    def counted(a: Entry, b: object) -> bool:
        compared.append(b)
        return equal(a, b)

    monkeypatch.setattr(Entry, "__eq__", counted)

    assert main(["resume", "--base-url", "http://127.0.0.1:9"]) == 1
    assert len(compared) < rows  # was some rows² (90,000)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{rows} task(s) open or owed in the journal: sorting them"
    assert f"kie resume: still owed: {rows} task(s) of another API key (see above)" in err


def test_kie_resume_reads_the_open_rows_once_and_acts_on_them_oldest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash leaves a journal whose open rows are many, and `kie resume` walked their index
    twice: for the creates held or in flight, then again (Journal.unfinished) for the tasks
    owed. One walk gives them all, merged with the downloads deleted since, oldest first."""
    import time
    from collections.abc import Iterator

    from kiekit.cli.resume import _open_rows
    from kiekit.journal import Entry, EntryState, Journal, Selection, SqliteStore
    from kiekit.journal._entry import HANDED_OFF
    from kiekit.models import Asset, MediaKind

    reads: list[Selection] = []
    select = SqliteStore.select

    def counted(store: SqliteStore, selection: Selection) -> Iterator[Entry]:
        reads.append(selection)
        return select(store, selection)

    monkeypatch.setattr(SqliteStore, "select", counted)
    now = time.time()
    result = Asset("https://cdn.example/a.png", MediaKind.IMAGE)
    gone, handed_off = str(tmp_path / "gone.png"), {"type": HANDED_OFF}

    def row(key: str, state: EntryState, age: float, **fields: Any) -> Entry:
        return Entry(key=key, model=GROK, request=None, state=state, created_at=now - age,
                     updated_at=now - age, task_id=key, **fields)  # fmt: skip

    store = SqliteStore(tmp_path / "journal.sqlite3")
    for entry in [
        row("a-failed", EntryState.FAILED, 90),
        row("b-claimed", EntryState.CLAIMED, 80),
        row("c-created", EntryState.CREATED, 70),
        row("d-deleted", EntryState.SUCCEEDED, 60, assets=(result,), files=(gone,)),
        row("e-newer-state", EntryState.read("archived"), 50),
        row("f-short", EntryState.SUCCEEDED, 40, assets=(result,)),  # download cut short
        row("g-handed-off", EntryState.SUCCEEDED, 30, assets=(result,), error=handed_off),
        row("h-unknown", EntryState.UNKNOWN, 20),
    ]:
        store.insert(entry)

    rows = _open_rows(Journal(store))
    keys = ["b-claimed", "c-created", "d-deleted", "e-newer-state", "f-short", "h-unknown"]
    assert [r.key for r in rows] == keys
    assert [s for s in reads if s.open] == [Selection(open=True)]


def test_kie_resume_without_a_key_says_so_before_asking_kie_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without KIE_API_KEY, `kie resume` is a usage error naming what the key is needed for,
    before any request: the owed rows stay owed. (What needs no key, closing a stopped
    --mock's rows, is still done: test_settle_cli, test_locale.)"""
    from kiekit.journal import default_journal

    monkeypatch.delenv("KIE_API_KEY", raising=False)
    _fill(3, base_url="http://127.0.0.1:9")

    assert main(["resume", "--base-url", "http://127.0.0.1:9"]) == 2
    error = capsys.readouterr().err
    assert "KIE_API_KEY is not set" in error
    assert "3 owed task(s) on http://127.0.0.1:9 (nothing was sent)" in error
    assert sum(row.unfinished for row in default_journal().entries()) == 3


def test_kie_tasks_names_this_machine_once_and_stats_each_file_once_per_row(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`kie tasks` took 0.5 ms a row: for each it read /proc and hashed a uuid5 to tell
    whether the row's owner is a process of this machine, and looked for every file twice."""
    import os
    import uuid

    from kiekit.journal import EntryState, default_journal
    from kiekit.models import Asset, MediaKind

    files = [tmp_path / f"{n}.png" for n in range(3)]
    for path in files:
        path.write_bytes(b"png")
    rows = 40
    for entry in _fill(rows, owner=default_journal().owner):
        default_journal().store.update(entry.key, {
            "state": EntryState.SUCCEEDED, "lease_until": 1.0,
            "assets": tuple(Asset(f"https://x/{p.name}", MediaKind.IMAGE) for p in files),
            "files": tuple(str(p) for p in files)})  # fmt: skip
    hashed: list[object] = []
    looked: list[object] = []
    uuid5, stat = uuid.uuid5, os.stat

    def hashing(*args: Any) -> uuid.UUID:
        hashed.append(args)
        return uuid5(*args)

    def stating(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        looked.append(path)
        return stat(path, *args, **kwargs)

    monkeypatch.setattr(uuid, "uuid5", hashing)
    monkeypatch.setattr(os, "stat", stating)

    assert main(["tasks"]) == 0
    assert capsys.readouterr().out.count("3/3 files") == rows
    assert len(hashed) <= 1  # was one a row
    assert sum(1 for path in looked if str(path).startswith(str(tmp_path))) == rows * len(files)


def test_a_forked_child_names_its_own_pid_namespace_not_its_parents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The site is read once per process, but a child forked after unshare(CLONE_NEWPID) lives
    in another pid namespace: its owners must not be judged by its parent's site."""
    import os
    import signal

    from kiekit.journal._journal import _site

    monkeypatch.setattr(os, "readlink", lambda path: "pid:[1]")
    _site.cache_clear()
    parents = _site()
    child = os.fork()
    if child == 0:
        signal.alarm(60)  # a bound against a hang
        monkeypatch.setattr(os, "readlink", lambda path: "pid:[2]")  # the child's own
        os._exit(0 if _site() != parents else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    _site.cache_clear()


def test_kie_resume_counts_every_task_it_could_not_finish_when_many_fail_at_once(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """Twelve owed tasks the server does not know (404), ten workers: the summary said "1
    task(s) not finished here" (found by an outside tester). `failures += not await …` read
    the count before the await, so the workers overwrote each other's failures."""
    mock = mock_server_factory()
    rows = 12
    _fill(rows, base_url=mock.base_url)

    assert main(["resume", "--base-url", mock.base_url, "--concurrency", "10"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if line.startswith("kie: error: task ")]) == rows
    assert f"kie resume: still owed: {rows} task(s) not finished here (see above)" in err


def test_a_batch_into_a_new_folder_fetches_again_the_files_an_earlier_run_wrote_and_lost(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    tmp_path: Path,
) -> None:
    """cliuser finding 6: batch into o1, ``rm -rf o1``, the same jobs into o2 said ``ok`` and
    o2/results.jsonl listed o1's files, gone. A job done on this machine is done while its
    files are there: gone, they are fetched again into the new folder (from the same task,
    not paid again). A job another machine's worker did is still taken at its row's word."""
    import shutil

    from kiekit import batch
    from kiekit.journal import Entry, EntryState, default_journal
    from kiekit.models import Asset, MediaKind

    mock = mock_server_factory()
    lines = [{"id": name, "model": GROK, "input": {"prompt": name}} for name in ("mine", "far")]
    jobs_path = _jobs_file(tmp_path, [json.dumps(line) for line in lines])
    first, second = tmp_path / "o1", tmp_path / "o2"
    run = ["batch", str(jobs_path), "--base-url", mock.base_url, "--json", "--out"]
    assert main([*run, str(first)]) == 0
    made = _results(first)[0]
    assert made["files"]
    assert all(Path(name).is_file() for name in made["files"])
    journal = default_journal()
    jobs, _ = batch.read_jobs(jobs_path.read_text().splitlines())
    far_key = batch.job_key(jobs[1])
    far_files = (str(tmp_path / "theirs" / "far.png"),)  # on the far host's disk, not here
    far_asset = Asset("https://x/far.png", MediaKind.IMAGE)
    journal.store.update(far_key, {"owner": "worker-2:7:othersite:1", "files": far_files,
                                   "out_dir": str(tmp_path / "theirs"),
                                   "assets": (far_asset,)})  # fmt: skip
    assert isinstance(journal.get(far_key), Entry)
    shutil.rmtree(first)  # `make clean`
    capsys.readouterr()

    assert main([*run, str(second)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["states"] == {"succeeded": 2}
    again, far = _results(second)
    assert again["task_id"] == made["task_id"]  # the same task, not paid for again
    assert len(again["files"]) == len(made["files"])
    assert all(Path(name).is_file() and Path(name).parent == second for name in again["files"])
    assert far["files"] == list(far_files)  # another machine's: its row's word
    assert _creates(mock) == 2
    row = journal.get(batch.job_key(jobs[0]))
    assert row is not None
    assert row.state is EntryState.SUCCEEDED
    assert row.out_dir == str(second)
    assert row.files_on_disk()


def test_a_batch_fetching_again_files_past_kie_retention_says_they_expired_never_succeeded(
    mock_server_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
    tmp_path: Path,
) -> None:
    """cliuser finding 6, its far end: the files an earlier run wrote are gone and the task is
    older than KIE keeps results (14 days, kie-api.md §8; its link refused renewal, §4): the
    job is reported with ResultsExpiredError (exit 1), never as a success listing files that
    are gone, and its row is closed as ``kie resume`` closes such a row (not owed again)."""
    import shutil
    import time

    from kiekit import batch
    from kiekit.journal import EntryState, default_journal

    mock = mock_server_factory()
    jobs_path = _jobs_file(tmp_path, [json.dumps({"id": "old", "model": GROK,
                                                  "input": {"prompt": "old"}})])  # fmt: skip
    run = ["batch", str(jobs_path), "--base-url", mock.base_url, "--json", "--out"]
    assert main([*run, str(tmp_path / "o1")]) == 0
    shutil.rmtree(tmp_path / "o1")
    [job], _ = batch.read_jobs(jobs_path.read_text().splitlines())
    journal = default_journal()
    fifteen_days = 15 * 86400.0
    made_at = time.time() - fifteen_days
    journal.store.update(batch.job_key(job), {"created_at": made_at})
    mock.clock.advance(fifteen_days)  # KIE's links and retention, as they are by then
    capsys.readouterr()

    assert main([*run, str(tmp_path / "o2")]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["ok"] is False
    [result] = _results(tmp_path / "o2")
    assert (result["state"], result["files"]) == ("error", [])
    assert result["error"]["type"] == "ResultsExpiredError"
    assert "results expired" in result["error"]["message"]
    row = journal.get(batch.job_key(job))
    assert row is not None
    assert row.state is EntryState.FAILED
    assert _creates(mock) == 1  # never paid again
