"""`kie` stopped by a real signal (Ctrl-C, SIGTERM from `timeout` or a cancelled CI job) while a
real subprocess talks to the mock: what it says it left behind — a create of unknown outcome, a
task that goes on, a success whose files are owed — in words, in `--json` and in the journal.

Each test waits on an event the mock or the command causes (a callback, a line of output),
never on time: the signal lands where the test says."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit.journal import Entry, EntryState, SqliteStore
from kiekit_mock import FaultRule

FLUX = "flux-kontext-pro"
CREATE = "/api/v1/flux/kontext/generate"
HELD = 600.0  # seconds the mock holds an answer back: longer than any test runs
_GRACE_SAID = "letting 1 create(s) already sent finish"
STOPS = [
    pytest.param(signal.SIGINT, 130, "interrupted (SIGINT)", id="ctrl-c"),
    pytest.param(signal.SIGTERM, 143, "terminated (SIGTERM)", id="sigterm"),
]


@pytest.fixture
def callbacks() -> Iterator[tuple[str, threading.Event]]:
    """A callBackUrl on 127.0.0.1, and an event set when the mock POSTs to it."""
    called = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            called.set()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/done", called
    finally:
        server.shutdown()
        server.server_close()


def _kie(
    mock: Any,
    *argv: str,
    base_url: str | None = None,
    env: dict[str, str] | None = None,
    ignored: signal.Signals | None = None,
) -> subprocess.Popen[str]:
    """``kie ARGV`` on the mock (or on ``base_url``, a proxy to it); ``ignored``: a signal it
    inherits ignored, as a background job of a non-interactive shell inherits SIGINT."""
    env = {**os.environ, "KIE_API_KEY": "fake-key-for-the-mock", **(env or {})}  # DATA_DIR: tmp
    base_url = base_url or mock.base_url
    connection = ["--base-url", base_url, "--upload-base-url", mock.upload_base_url]
    command = [str(Path(sys.executable).with_name("kie")), *argv, *connection]
    ignore = None if ignored is None else lambda: signal.signal(ignored, signal.SIG_IGN)
    return subprocess.Popen(  # noqa: S603 - our interpreter, our CLI
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=ignore,
    )


def _until_said(process: subprocess.Popen[str], said: Callable[[list[str]], bool]) -> list[str]:
    """Standard error's lines, read until ``said`` holds of them."""
    assert process.stderr is not None
    lines: list[str] = []
    while not said(lines):
        line = process.stderr.readline()
        assert line, f"kie ended first: {lines}"
        lines.append(line)
    return lines


def _journal() -> list[Entry]:
    return SqliteStore(Path(os.environ["KIEKIT_DATA_DIR"]) / "journal.sqlite3").entries()


@pytest.mark.parametrize(("stop", "code", "words"), STOPS)
def test_a_second_stop_during_the_grace_leaves_a_create_in_flight_unknown_and_says_how_to_settle(
    mock_server_factory: Callable[..., Any],
    callbacks: tuple[str, threading.Event],
    tmp_path: Path,
    stop: signal.Signals,
    code: int,
    words: str,
) -> None:
    # KIE makes (and charges) the task, its answer never comes: the mock ends the task at once
    # and calls back, which says the task exists while the create's answer is still held. The
    # first stop waits for that answer; a second one ends the wait, as stops did before it.
    mock = mock_server_factory(seconds_to_complete=0.01)
    mock.faults.add(FaultRule("slow", path=CREATE, when="after", delay=HELD))
    url, called = callbacks
    run = _kie(mock, "run", FLUX, "--prompt", "x", "--json", "--callback-url", url,
               "--out", str(tmp_path / "out"))  # fmt: skip
    assert called.wait(60), "the mock never made the task"
    run.send_signal(stop)
    _until_said(run, lambda lines: bool(lines) and _GRACE_SAID in lines[-1])
    run.send_signal(stop)  # a second stop ends the grace at once
    out, err = run.communicate(timeout=60)

    assert run.returncode == code
    [row] = _journal()
    assert row.state is EntryState.UNKNOWN
    assert row.error == {"type": "Interrupted", "message": words}  # words, not a class name
    settle = f"kie settle {row.key} --task-id ID (or --not-created)"
    said = " ".join(err.split())
    assert f"a create of {FLUX} was in flight: its outcome is unknown" in said
    assert "kie tasks --state unknown" in said
    assert settle in said
    error = json.loads(out)["error"]
    assert (error["type"], error["task_id"], error["key"]) == ("Interrupted", None, row.key)
    assert "its outcome is unknown" in error["message"]
    assert settle in error["message"]
    assert len(mock.tasks()) == 1  # the task it warns of is real


def test_a_run_stopped_while_downloading_says_the_task_succeeded_and_kie_resume_fetches(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    mock = mock_server_factory(polls_to_complete=0)
    mock.faults.add(FaultRule("slow", path="/files/*", delay=60))  # old kie: ends after it
    run = _kie(mock, "run", FLUX, "--prompt", "x", "--json", "--out", str(tmp_path / "out"))
    _until_said(run, lambda lines: bool(lines) and lines[-1].startswith("downloading"))
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=60)

    assert run.returncode == 143
    [row] = _journal()
    assert row.state is EntryState.SUCCEEDED
    assert row.unfinished  # its files are owed: kie resume fetches them
    told = f"task {row.task_id} succeeded; stopped downloading its files: kie resume fetches them"
    assert told in err
    assert "goes on at KIE" not in err
    error = json.loads(out)["error"]
    assert error["task_id"] == row.task_id
    assert told in error["message"]
    assert "goes on" not in error["message"]


def test_a_batch_stopped_by_sigterm_says_what_goes_on_and_writes_its_results_after_the_grace(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    mock = mock_server_factory(seconds_to_complete=3600)  # the tasks go on
    mock.faults.add(FaultRule("slow", path=CREATE, when="after", delay=HELD, times=1))
    jobs = tmp_path / "jobs.jsonl"
    lines = [{"id": f"j{i}", "model": FLUX, "input": {"prompt": f"job {i}"}} for i in range(3)]
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "out"
    grace = {"KIEKIT_STOP_GRACE": "0.25"}  # the held create's answer never comes in time
    batch = _kie(mock, "-v", "batch", str(jobs), "--out", str(out), "--json", env=grace)
    # two creates answered: the third, the one the mock holds, reached it before them
    _until_said(batch, lambda lines: sum("created task" in line for line in lines) == 2)
    batch.send_signal(signal.SIGTERM)
    answer, err = batch.communicate(timeout=60)

    assert batch.returncode == 143
    rows = {row.key.split("@")[0]: row for row in _journal()}
    [unknown] = [row for row in rows.values() if row.state is EntryState.UNKNOWN]
    expired = "terminated (SIGTERM); no answer within the 0.25 s stop grace"
    assert unknown.error == {"type": "Cancelled", "message": expired}
    made = [row for row in rows.values() if row.state is EntryState.CREATED]
    assert len(made) == 2
    # every job has its line, and one that did not finish says so
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in results] == ["j0", "j1", "j2"]
    states = {r["task_id"]: r["state"] for r in results}
    assert states == {None: "unknown", **{row.task_id: "stopped" for row in made}}
    for result in results:
        assert result["error"]["message"].startswith("terminated (SIGTERM): the job did not finish")
    said = " ".join(err.split())
    for row in made:
        assert f"(task {row.task_id})" in said
    assert "2 job(s) have a task that goes on at KIE" in said
    assert f"kie settle {unknown.key} --task-id ID (or --not-created)" in said
    assert "run the same kie batch command again" in said
    assert "kie resume" in said
    told = json.loads(answer)  # the shape of every other batch answer, and the error
    assert told["error"]["type"] == "Interrupted"
    assert told["results"] == str(out / "results.jsonl")
    assert told["states"] == {"stopped": 2, "unknown": 1}
    assert (told["jobs"], told["tasks_made"]) == (3, 2)
    assert set(told["error"]) == {"type", "message", "task_id"}


@pytest.fixture
def held_create(mock_server_factory: Callable[..., Any]) -> Iterator[SimpleNamespace]:
    """A loopback proxy to a mock (``url``) that holds the answer of the create it passes on,
    the task made, until the test sets ``release``; ``reached`` is set when it holds it."""
    mock = mock_server_factory(seconds_to_complete=0.01)
    reached, release = threading.Event(), threading.Event()
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    class Proxy(http.server.BaseHTTPRequestHandler):
        def forward(self) -> None:
            size = int(self.headers.get("Content-Length", 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() in _PASSED}
            sent = urllib.request.Request(
                mock.base_url + self.path,
                data=self.rfile.read(size) if size else None,
                headers=headers,
                method=self.command,
            )
            with direct.open(sent, timeout=60) as answer:
                status, body = answer.status, answer.read()
            if self.command == "POST" and self.path == CREATE:
                reached.set()
                assert release.wait(60), "the test never let the create's answer go"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = forward

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield SimpleNamespace(mock=mock, url=url, reached=reached, release=release)
    finally:
        release.set()
        server.shutdown()
        server.server_close()


_PASSED = ("authorization", "content-type", "accept", "user-agent")


def _jobs(folder: Path, count: int) -> Path:
    jobs = folder / "jobs.jsonl"
    lines = [{"id": f"j{i}", "model": FLUX, "input": {"prompt": f"job {i}"}} for i in range(count)]
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return jobs


@pytest.mark.parametrize("command", ["run", "batch"])
def test_a_stop_lets_a_create_already_sent_finish_so_kie_resume_finishes_its_task(
    held_create: SimpleNamespace, tmp_path: Path, command: str
) -> None:
    # SIGTERM while KIE's answer to a create is on its way: the task is made and charged; the
    # answer, let in within the grace, puts its id in the journal instead of "unknown"
    out = str(tmp_path / "out")
    argv = (
        ["run", FLUX, "--prompt", "x", "--out", out]
        if command == "run"
        else ["batch", str(_jobs(tmp_path, 1)), "--out", out]
    )
    kie = _kie(held_create.mock, *argv, base_url=held_create.url)
    assert held_create.reached.wait(60), "the create never reached the mock"
    kie.send_signal(signal.SIGTERM)
    _until_said(kie, lambda lines: bool(lines) and _GRACE_SAID in lines[-1])
    held_create.release.set()
    _, err = kie.communicate(timeout=60)

    assert kie.returncode == 143
    [row] = _journal()
    assert row.state is EntryState.CREATED
    assert row.task_id is not None
    assert f"{row.task_id}" in err  # named as the task that goes on, for kie resume
    assert "goes on at KIE" in err
    assert command == "batch" or "kie resume finishes it" in err  # README, Exit codes
    assert "outcome is unknown" not in err
    assert "0 create(s) of unknown outcome" in err or command == "run"
    resume = _kie(held_create.mock, "resume", base_url=held_create.url)
    _, said = resume.communicate(timeout=60)
    assert resume.returncode == 0, said
    [row] = _journal()
    assert row.state is EntryState.SUCCEEDED
    assert not row.unfinished
    assert len(held_create.mock.tasks()) == 1  # one create: paid for once, finished


def test_a_stopped_resume_names_each_task_it_leaves_unfinished(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    mock = mock_server_factory(seconds_to_complete=3600)  # the task goes on
    run = _kie(mock, "run", FLUX, "--prompt", "x", "--out", str(tmp_path / "out"))
    _until_said(run, lambda lines: bool(lines) and lines[-1].startswith("created task"))
    run.send_signal(signal.SIGTERM)
    run.communicate(timeout=60)
    [row] = _journal()
    resume = _kie(mock, "resume")
    _until_said(resume, lambda lines: bool(lines) and lines[-1].startswith("resuming 1 task"))
    resume.send_signal(signal.SIGTERM)
    _, err = resume.communicate(timeout=60)

    assert resume.returncode == 143
    said = " ".join(err.split())
    assert "1 task(s) not finished here stay owed in the journal" in said
    assert f"{row.task_id} ({FLUX}); run kie resume again to finish them" in said
    [still] = _journal()
    assert still.unfinished


def test_a_stopped_resume_json_names_the_tasks_it_leaves_beside_what_it_did(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """`kie resume --json` stopped: one object, `Interrupted` with the task ids left, and the
    same top-level `tasks` / `outcomes` as its other answers (a batch's stop does so too)."""
    mock = mock_server_factory(seconds_to_complete=3600)  # the task goes on
    run = _kie(mock, "run", FLUX, "--prompt", "x", "--out", str(tmp_path / "out"))
    _until_said(run, lambda lines: bool(lines) and lines[-1].startswith("created task"))
    run.send_signal(signal.SIGTERM)
    run.communicate(timeout=60)
    [row] = _journal()
    resume = _kie(mock, "resume", "--json")
    _until_said(resume, lambda lines: bool(lines) and lines[-1].startswith("resuming 1 task"))
    resume.send_signal(signal.SIGTERM)
    out, _ = resume.communicate(timeout=60)

    assert resume.returncode == 143
    stopped = json.loads(out)
    assert (stopped["ok"], stopped["command"], stopped["error"]["type"]) == (
        False, "resume", "Interrupted",
    )  # fmt: skip
    assert stopped["error"]["task_ids"] == [row.task_id]
    # every row it looked at has its record, the one left "stopped" and owed (a script's
    # `.tasks[] | select(.owed)` finds it), and base_url is there as on success
    [task] = stopped["tasks"]
    assert (task["key"], task["task_id"], task["outcome"], task["owed"]) == (
        row.key, row.task_id, "stopped", True,
    )  # fmt: skip
    assert (task["state"], task["files"], task["error"]) == ("created", [], None)
    assert stopped["outcomes"] == {"stopped": 1}
    assert stopped["base_url"] == mock.base_url


@pytest.mark.parametrize("ignored", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_stop_signal_inherited_as_ignored_stays_ignored(
    held_create: SimpleNamespace, tmp_path: Path, ignored: signal.Signals
) -> None:
    # A background job of a non-interactive shell inherits SIGINT ignored (Ctrl-C on the
    # script leaves it running): kie, as Python itself, keeps it so, whenever it comes. The
    # signal lands while the create's answer is held, where a stop would cut the batch short.
    jobs = str(_jobs(tmp_path, 1))
    batch = _kie(
        held_create.mock, "batch", jobs, "--out", str(tmp_path / "out"),
        base_url=held_create.url, ignored=ignored,
    )  # fmt: skip
    assert held_create.reached.wait(60), "the create never reached the mock"
    batch.send_signal(ignored)
    held_create.release.set()
    _, err = batch.communicate(timeout=60)

    assert batch.returncode == 0, err  # the batch ran to its end
    [row] = _journal()
    assert row.state is EntryState.SUCCEEDED


# `kie` as its script runs it, with a stop sent to itself at a chosen point: once the command's
# own code has returned (files written, journal done), or in the interpreter's shutdown after
_STOPPED_AS_IT_ENDS = """
import atexit, os, signal, sys
import kiekit.cli as cli
stop, where = getattr(signal, sys.argv.pop(1)), sys.argv.pop(1)
if where == "at-exit":
    atexit.register(os.kill, os.getpid(), stop)
else:
    command = cli._main
    def then_stopped(argv):
        code = command(argv)
        os.kill(os.getpid(), stop)
        return code
    cli._main = then_stopped
sys.exit(cli.main())
"""


@pytest.mark.parametrize(
    ("stop", "where"),
    [
        pytest.param(signal.SIGINT, "after-the-command", id="ctrl-c-as-main-returns"),  # was -2
        pytest.param(signal.SIGTERM, "at-exit", id="sigterm-in-the-shutdown"),  # was -15
    ],
)
def test_a_stop_after_the_work_was_done_leaves_the_exit_status_at_0(
    mock_server: Any, tmp_path: Path, stop: signal.Signals, where: str
) -> None:
    """A Ctrl-C or SIGTERM that comes as kie ends, its files written and its row succeeded,
    exits 0, as the run did its work: killed by the signal (-2, -15) a script took it for an
    interrupted run and ran `kie resume` for nothing (outside tester "chaos", finding 5)."""
    out = tmp_path / "out"
    argv = ["run", FLUX, "--prompt", "a fox", "--out", str(out), "--base-url", mock_server.base_url]
    env = {**os.environ, "KIE_API_KEY": "fake-key-for-the-mock"}
    done = subprocess.run(  # noqa: S603 - our interpreter, our CLI
        [sys.executable, "-c", _STOPPED_AS_IT_ENDS, stop.name, where, *argv],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    files = done.stdout.split()
    assert files
    assert all(Path(file).is_file() for file in files)
    [row] = _journal()
    assert row.state is EntryState.SUCCEEDED
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr
    if where == "after-the-command":
        assert f"kie: {stop.name} came after the command had ended: exit status 0" in done.stderr
