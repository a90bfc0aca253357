"""Two ``kie resume`` on one journal, or one beside another live worker (teamops finding 1).

Each resume holds the rows it works on, with the journal's owner and lease, as a batch worker
holds its jobs (docs/teams.md): a second resume leaves the rows a live one holds ("N held by
OWNER"), polls and downloads none of them, and ``kie tasks`` names the live resume as their
owner; the rows of a worker that has ended are taken over. Before, both resumes polled and
downloaded every task.

Real parts: the first resume is a real process (its owner is a live process of this machine),
the journal SQLite or a real PostgreSQL, KIE the mock in this process on a real socket. The
order is forced, not timed: the tasks stay running on the mock until the test completes them,
and each step waits for what the journal or a process shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kiekit import Client
from kiekit.cli import main
from kiekit.journal import Entry, EntryState, Journal, open_journal
from kiekit.journal._journal import _site
from kiekit_mock import Lifecycle, Rule

GROK = "grok-imagine/text-to-image"
KEY = "fake-key-for-the-mock"
DEADLINE = 120.0  # generous for a loaded machine; never reached when all is well
STATUS = "/api/v1/jobs/recordInfo"
IMAGES = 6  # a Grok Imagine task makes six images on the mock

pytestmark = pytest.mark.xdist_group("teams")  # a real resume process: one such test at a time


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh journal both resumes share: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.sqlite3'}"
    postgres_url: str = request.getfixturevalue("postgres_url")
    name = "r" + os.urandom(6).hex()
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + "/" + name


def _until(what: str, condition: Callable[[], bool], process: subprocess.Popen[Any]) -> None:
    """Wait until ``condition()``, failing early if ``process`` has ended meanwhile."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert process.poll() is None, f"the first resume ended while waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE:g} s"
        time.sleep(0.02)


def _created(mock: Any, journal: Journal, count: int) -> list[str]:
    """``count`` tasks created through ``journal`` (as a batch killed after its creates left
    them): ``created`` rows nobody holds; the tasks stay running until completed by hand."""
    with Client(KEY, base_url=mock.base_url, journal=journal, rate_limits=None) as kie:
        made = [kie.submit(GROK, {"prompt": f"held {i}"}).id for i in range(count)]
    journal.let_go_all()  # as the killed batch's rows: held by nobody (a live one's are held)
    return made


def _polls(mock: Any, task_ids: list[str]) -> int:
    return sum(
        1 for record in mock.requests() if record.path == STATUS and record.task_id in task_ids
    )


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize(
    "at_once",
    [
        pytest.param(False, id="after-the-first-took-them"),
        # both read the rows free; the first takes them before the second does (forced)
        pytest.param(True, id="both-reading-them-free"),
    ],
)
def test_a_second_resume_leaves_the_tasks_a_live_resume_holds_and_says_whose(
    at_once: bool,
    journal_url: str,
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kiekit.cli import resume

    mock = mock_server_factory(polls_to_complete=1)
    mock.add_rule(Rule(lifecycle=Lifecycle(manual=True), prompt_regex=r"^held "))
    journal = open_journal(journal_url)
    task_ids = _created(mock, journal, 2)
    kie = str(Path(sys.executable).with_name("kie"))
    started: list[subprocess.Popen[str]] = []

    def held_by(process: subprocess.Popen[str]) -> list[Entry]:
        rows = [journal.by_task(task_id) for task_id in task_ids]
        return [
            row
            for row in rows
            if row is not None
            and row.lease_until is not None
            and (row.owner or "").split(":")[1:2] == [str(process.pid)]
        ]

    def start_first() -> None:
        """The first resume, a process of its own, until it holds both tasks and polls."""
        process = subprocess.Popen(  # noqa: S603 - our interpreter, our CLI
            [kie, "resume", "--journal", journal_url, "--base-url", mock.base_url,
             "--out", str(tmp_path / "first"), "--poll-interval", "0.05"],
            env={**os.environ, "KIE_API_KEY": KEY},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        started.append(process)
        _until("both tasks held by the first resume", lambda: len(held_by(process)) == 2, process)
        _until("the first resume polling", lambda: _polls(mock, task_ids) >= 2, process)

    if at_once:  # the second has read the rows, none held, when the first takes them
        look = resume._held_elsewhere

        def then_the_first(journal: Journal, rows: list[Entry]) -> dict[str, str]:
            busy = look(journal, rows)
            assert busy == {}
            start_first()
            return busy

        monkeypatch.setattr(resume, "_held_elsewhere", then_the_first)
    else:
        start_first()

    waited: list[str | None] = []  # the tasks the second resume waited for (polled)
    finish = resume._finish

    async def spied(client: Any, journal: Journal, row: Entry, *rest: Any) -> Any:
        waited.append(row.task_id)
        return await finish(client, journal, row, *rest)

    monkeypatch.setattr(resume, "_finish", spied)
    monkeypatch.setenv("KIE_API_KEY", KEY)
    try:
        # the second resume polls and downloads nothing the first holds, and says whose
        second = ["resume", "--journal", journal_url, "--base-url", mock.base_url,
                  "--out", str(tmp_path / "second"), "--json"]  # fmt: skip
        # ... yet exits 1: no file is on disk until the first has fetched them, so a script's
        # `kie resume && publish out/` must not go on (cliuser finding 5: it exited 0)
        assert main(second) == 1
        [first] = started
        owner = held_by(first)[0].owner
        said = capsys.readouterr()
        answer = json.loads(said.out)
        assert answer["outcomes"] == {"held": 2}
        assert answer["ok"] is False
        assert answer["error"]["type"] == "TasksOwed"
        assert "2 task(s) held by another live worker" in answer["error"]["message"]
        assert [task["owed"] for task in answer["tasks"]] == [True, True]
        assert f"2 task(s) held by {owner}" in " ".join(said.err.split())
        assert waited == []
        assert _files(tmp_path / "second") == []

        # kie tasks names the live resume as the rows' owner, not "unfinished: kie resume"
        assert main(["tasks", "--journal", journal_url]) == 0
        listed = capsys.readouterr().out
        assert listed.count(f"being worked on by {owner}") == 2
        assert "unfinished: kie resume" not in listed

        for task_id in task_ids:
            mock.complete(task_id)
        _, err = first.communicate(timeout=DEADLINE)
    finally:
        for process in started:  # the test failed: leave no process behind
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
    assert first.returncode == 0, err
    assert err.count("resumed task") == 2
    assert len(_files(tmp_path / "first")) == 2 * IMAGES  # each task's files, once
    for task_id in task_ids:  # done, and let go
        row = journal.by_task(task_id)
        assert row is not None
        assert (row.state, row.lease_until) == (EntryState.SUCCEEDED, None)


def test_a_resume_takes_over_the_tasks_of_a_worker_that_has_ended_and_leaves_a_live_ones(
    journal_url: str,
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker killed here (its pid is gone) holds nothing: its task is resumed at once. A
    worker of another machine whose lease runs keeps its task; once its lease has run out, the
    task is resumed too."""
    mock = mock_server_factory(polls_to_complete=1)
    journal = open_journal(journal_url)
    gone_id, far_id = _created(mock, journal, 2)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                           capture_output=True, text=True)  # fmt: skip
    gone = f"here:{int(ended.stdout)}:{_site()}:dead0000"
    far = "far-away-host:4242:-:0000"
    for task_id, owner in ((gone_id, gone), (far_id, far)):
        row = journal.by_task(task_id)
        assert row is not None
        assert journal.store.update(row.key, {}, holder=owner, lease=3_600) is not None

    monkeypatch.setenv("KIE_API_KEY", KEY)
    argv = ["resume", "--journal", journal_url, "--base-url", mock.base_url,
            "--out", str(tmp_path / "out"), "--poll-interval", "0.05", "--json"]  # fmt: skip
    assert main(argv) == 1  # the far worker's task is not on disk yet: still owed
    said = capsys.readouterr()
    outcomes = {task["task_id"]: task["outcome"] for task in json.loads(said.out)["tasks"]}
    assert outcomes == {gone_id: "done", far_id: "held"}
    assert f"1 task(s) held by {far}" in " ".join(said.err.split())
    assert _polls(mock, [far_id]) == 0

    far_row = journal.by_task(far_id)
    assert far_row is not None
    journal.store.renew(far, 0.0)  # its lease runs out: the far worker is gone
    assert main(argv) == 0
    said = capsys.readouterr()
    assert [task["outcome"] for task in json.loads(said.out)["tasks"]] == ["done"]
    assert len(_files(tmp_path / "out")) == 2 * IMAGES
