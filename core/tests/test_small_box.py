"""A small box: a disk that fills up (the journal's, the results'), a memory cap that refuses
threads. An outside tester's findings ("diskfull"), each made to happen on demand here: a
journal store that refuses writes while told to, a ``Thread.start`` that fails while told to.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import stat
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kiekit import Client, FileWriteError, ResourceLimitError
from kiekit.cli import main
from kiekit.journal import (
    Entry,
    EntryState,
    Journal,
    JournalError,
    MemoryStore,
    SqliteStore,
    default_journal,
)
from kiekit.models import Task

GROK = "grok-imagine/text-to-image"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64 + b"\x00\x00\x00\x00IEND\xaeB`\x82"  # ends whole


@pytest.fixture
def fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIE_API_KEY", "fake-key-for-the-mock")


class _Disk:
    """The journal's disk, filled on demand: while ``full``, every write of a SQLite journal
    is refused as a full disk refuses it (reads go on, as they do on a full tmpfs).
    ``fill_after_create``: it fills the moment a create is answered (its task made, paid)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = False
        self.fill_after_create = False
        for name in ("insert", "update", "change", "renew"):
            write = getattr(SqliteStore, name)
            monkeypatch.setattr(SqliteStore, name, self._refused_while_full(write))
        created = Journal.created

        def filling(journal: Journal, entry: Entry, task: Task, **options: Any) -> Any:
            if self.fill_after_create:
                self.full = True
            return created(journal, entry, task, **options)

        monkeypatch.setattr(Journal, "created", filling)

    def _refused_while_full(self, write: Callable[..., Any]) -> Callable[..., Any]:
        def refused(store: SqliteStore, *args: Any, **options: Any) -> Any:
            if self.full:
                raise JournalError(f"task journal {store.path}: database or disk is full")
            return write(store, *args, **options)

        return refused


def _rows() -> list[Entry]:
    return default_journal().entries()


def _gone(key: str) -> None:
    """Row ``key`` as the process that wrote it leaves it when it ends (these tests run the
    commands in one process: its rows' sender would look alive)."""
    default_journal().store.update(key, {"owner": "gone:1:-:00000000", "lease_until": None})


def _jobs_file(folder: Path, count: int) -> Path:
    path = folder / "jobs.jsonl"
    lines = [json.dumps({"id": f"job{n}", "model": GROK, "input": {"prompt": f"p{n}"}})
             for n in range(1, count + 1)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, Any], str]:
    capsys.readouterr()
    code = main([*argv, "--json"])
    said = capsys.readouterr()
    (line,) = said.out.strip().splitlines()  # exactly one JSON object on standard output
    return code, json.loads(line), said.err


# -- 1. a journal that fills after the create ---------------------------------------------------


def test_a_journal_write_refused_after_the_create_is_made_with_the_rows_next_write() -> None:
    """The create's answer (its task id) missed: the next write of the row carries it, and
    write_missed() tries what is still owed; settle_command names the row and the task."""
    refusing = {"on": False}

    class Full(MemoryStore):
        def update(self, key: str, changes: Any, **conditions: Any) -> Any:
            if refusing["on"]:
                raise JournalError("task journal: database or disk is full")
            return super().update(key, changes, **conditions)

    journal = Journal(Full())
    intent = journal.intend(GROK, {"prompt": "x"})
    assert intent is not None
    refusing["on"] = True
    with pytest.raises(JournalError):
        journal.created(intent, Task("t-1", GROK), read_back=False)
    assert journal.settle_command("t-1") == f"kie settle {intent.key} --task-id t-1"
    assert journal.write_missed() == [(intent.key, "t-1")]  # still full
    refusing["on"] = False
    assert journal.write_missed() == []
    row = journal.get(intent.key)
    assert row is not None
    assert (row.state, row.task_id) == (EntryState.CREATED, "t-1")
    assert journal.settle_command("t-1") is None


def test_kie_run_names_the_settle_command_when_the_journal_still_cannot_record_its_task(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    mock = mock_server_factory(polls_to_complete=1)
    disk = _Disk(monkeypatch)
    disk.fill_after_create = True
    out = tmp_path / "out"
    # 3: done and delivered, but not recorded; not 0 (all is well), not 1 (a script's cue to
    # run it again, which would pay for a new task)
    code, answer, err = _json(capsys, ["run", GROK, "--prompt", "x", "--out", str(out),
                                       "--base-url", mock.base_url])  # fmt: skip
    assert code == 3
    [row] = _rows()
    assert row.state is EntryState.SENDING
    assert row.task_id is None
    [task_id] = [line.split()[2] for line in err.splitlines() if line.startswith("created task")]
    command = f"kie settle {row.key} --task-id {task_id}"
    assert command in err  # in the warning, and in what is said once the retry failed too
    assert "the task journal still could not record task" in err
    assert err.splitlines()[-1] == (
        "kie run: the task journal could not record 1 task(s) made and paid for, their results "
        "delivered (see above for the command that records each once the journal can be "
        "written): do not run it again to fix that (it would create and pay for a new task)"
    )
    assert answer["ok"] is True  # the result is delivered
    assert answer["task_id"] == task_id
    assert answer["files"]
    assert all(Path(path).is_file() for path in answer["files"])
    assert answer["unrecorded"] == [{"key": row.key, "task_id": task_id, "settle": command}]
    assert "error" not in answer

    disk.full = False  # room again, the run's process gone: the command it named records it
    _gone(row.key)
    assert main(["settle", row.key, "--task-id", task_id]) == 0


def test_kie_run_writes_what_the_journal_refused_before_it_ends_once_there_is_room(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    mock = mock_server_factory(polls_to_complete=1)
    disk = _Disk(monkeypatch)
    disk.fill_after_create = True
    missed = Journal.write_missed

    def room_again(journal: Journal) -> Any:
        disk.fill_after_create = disk.full = False  # the other file on the disk was removed
        return missed(journal)

    monkeypatch.setattr(Journal, "write_missed", room_again)
    out = tmp_path / "out"
    code, answer, err = _json(capsys, ["run", GROK, "--prompt", "x", "--out", str(out),
                                       "--base-url", mock.base_url])  # fmt: skip
    assert code == 0
    assert "still could not record" not in err
    assert "unrecorded" not in answer
    [row] = _rows()
    assert row.state is EntryState.SUCCEEDED
    assert row.task_id
    assert row.files
    assert all(Path(path).is_file() for path in row.files)


def test_kie_batch_run_again_keeps_the_task_id_its_results_file_knew(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """The journal filled after the creates: the rows hold only the intents. The batch says
    how to record each task; run again (the journal writable, the first run's process gone),
    each job's outcome is unknown from its row, but results.jsonl keeps the task id it had."""
    from kiekit import batch

    monkeypatch.setattr(batch, "JOURNAL_RETRY_DELAYS", (0.0,))
    mock = mock_server_factory(polls_to_complete=1)
    disk = _Disk(monkeypatch)
    disk.fill_after_create = True
    jobs, out = _jobs_file(tmp_path, 2), tmp_path / "out"
    argv = ["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url]
    code, answer, err = _json(capsys, argv)
    assert code == 3  # every job's files saved, none of it recorded: not to be run again
    assert answer["ok"] is True
    assert answer["states"] == {"succeeded": 2}
    assert "error" not in answer
    assert sorted(row["key"] for row in answer["unrecorded"]) == sorted(r.key for r in _rows())
    assert err.splitlines()[-1].startswith(
        "kie batch: the task journal could not record 2 task(s) made and paid for"
    )
    first = _results(out / "results.jsonl")
    assert all(r["state"] == "succeeded" and r["task_id"] for r in first)
    rows = {row.key: row for row in _rows()}
    assert all(row.state is EntryState.SENDING for row in rows.values())
    for key in rows:
        task_id = next(r["task_id"] for r in first if key.startswith(f"batch:{r['id']}@"))
        assert f"kie settle {key} --task-id {task_id}" in err
    assert "the task journal still could not record task" in err

    disk.fill_after_create = disk.full = False
    for key in rows:  # the first run's process has ended: nobody holds or sends its rows
        _gone(key)
    assert main(argv) == 1
    again = _results(out / "results.jsonl")
    assert [(r["state"], r["task_id"]) for r in again] == [("unknown", r["task_id"]) for r in first]
    for result in again:
        assert f"--task-id {result['task_id']}" in result["error"]["message"]
        assert result["error"]["key"] in rows  # kie settle KEY

    capsys.readouterr()
    for key in rows:  # that run's process has ended too
        _gone(key)
    assert main(["resume", "--base-url", mock.base_url]) == 1
    assert "results.jsonl" in capsys.readouterr().err  # where the task id is said


# -- 2. a memory cap: no thread to be had -------------------------------------------------------


@pytest.fixture
def no_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], None]]:
    """``refuse(True)``: every thread started from then on fails as under ``ulimit -v``."""
    refusing = {"on": False}
    start = threading.Thread.start

    def refused(thread: threading.Thread) -> None:
        if refusing["on"]:
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", refused)

    def refuse(on: bool) -> None:
        refusing["on"] = on

    yield refuse
    refusing["on"] = False


def test_the_journal_writer_writes_in_place_when_no_thread_can_be_started(
    no_threads: Callable[[bool], None],
) -> None:
    """A write lost with a thread never started would lose what it records; one waiting on
    it would wait for ever. The next write starts the thread once there is room."""
    from kiekit.journal._writer import JournalWriter

    writer = JournalWriter()
    no_threads(True)
    assert writer.run(lambda: "written", None) == "written"

    async def from_a_loop() -> Any:
        return await writer.submit(lambda: "on the loop", None)

    assert asyncio.run(from_a_loop()) == "on the loop"
    no_threads(False)
    assert writer.run(lambda: "threaded", None) == "threaded"
    assert writer.queued == 0


def test_kie_batch_under_a_thread_cap_fails_each_job_typed_and_prints_its_json(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_threads: Callable[[bool], None],
    fake_key: None,
) -> None:
    """aiohttp imported on a thread (AiohttpTransport._opened), then asyncio.run's closing
    of its executor on another: both refused. Each job fails before its create, typed, and
    the batch still prints its one object."""
    from kiekit.journal._writer import WRITER

    mock = mock_server_factory(polls_to_complete=1)
    WRITER.run(lambda: None, None)  # the journal's writer runs already (a write made before)
    monkeypatch.delitem(sys.modules, "aiohttp")  # as in a fresh process: imported on a thread
    jobs, out = _jobs_file(tmp_path, 3), tmp_path / "out"
    no_threads(True)
    code, summary, err = _json(capsys, ["batch", str(jobs), "--out", str(out),
                                        "--base-url", mock.base_url])  # fmt: skip
    no_threads(False)
    assert code == 1
    assert summary["states"] == {"error": 3}
    assert summary["tasks_made"] == 0
    results = _results(out / "results.jsonl")
    assert {r["error"]["type"] for r in results} == {"ResourceLimitError"}
    assert "--concurrency" in results[0]["error"]["message"]
    assert "Traceback" not in err
    assert "to close the event loop" in err  # said in one line, the summary printed still
    assert [r for r in mock.requests() if r.path == "/api/v1/jobs/createTask"] == []


def test_a_thread_refusal_nobody_typed_becomes_a_resource_limit_error() -> None:
    refused = ResourceLimitError.refused(RuntimeError("can't start new thread"), "for job a")
    assert isinstance(refused, ResourceLimitError)
    assert "lower --concurrency" in refused.message
    assert "raise the limit" in refused.message
    assert ResourceLimitError.refused(RuntimeError("something else"), "x") is None


# -- 3, 5: a result file that cannot be written --------------------------------------------------


def _no_room_for_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk: a download's temporary file cannot be made."""
    from kiekit._transports import download

    def full(path: Any, *args: Any, **options: Any) -> Any:
        if str(path).endswith(".part"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return open(path, *args, **options)

    monkeypatch.setattr(download, "open", full, raising=False)


def test_a_file_write_error_names_the_final_file_not_its_temporary_one(
    mock_server_factory: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock = mock_server_factory(polls_to_complete=1)
    _no_room_for_parts(monkeypatch)
    with Client("k", base_url=mock.base_url, journal=None) as client:
        results = client.wait(client.submit(GROK, prompt="x"))
        with pytest.raises(FileWriteError) as caught:
            client.download(results, tmp_path / "out")
    path = Path(caught.value.path or "")
    assert path.parent == tmp_path / "out"
    assert not path.name.endswith(".part")
    assert ".part" in caught.value.message
    assert "No space left" in caught.value.message


def test_results_and_resume_errors_keep_the_path_and_resume_does_not_advise_abandoning(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    mock = mock_server_factory(polls_to_complete=1)
    _no_room_for_parts(monkeypatch)
    jobs, out = _jobs_file(tmp_path, 1), tmp_path / "out"
    assert main(["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url]) == 1
    [result] = _results(out / "results.jsonl")
    assert result["error"]["type"] == "FileWriteError"
    assert Path(result["error"]["path"]).parent == out.resolve()

    code, answer, err = _json(capsys, ["resume", "--base-url", mock.base_url])
    assert code == 1
    [task] = answer["tasks"]
    assert task["error"]["type"] == "FileWriteError"
    assert task["error"]["path"]
    assert "--abandon" not in err
    assert "kie resume --out" in err
    assert "free space" in err


# -- 4, 6: kie upload - ---------------------------------------------------------------------------


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))


def _upload_argv(mock: Any) -> list[str]:
    return ["upload", "-", "--base-url", mock.base_url, "--upload-base-url", mock.upload_base_url]


def test_kie_upload_dash_makes_the_data_folder_private(
    mock_server_factory: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    mock = mock_server_factory()
    home = Path(os.environ["KIEKIT_DATA_DIR"])
    assert not home.exists()
    _stdin(monkeypatch, PNG)
    code, _, _ = _json(capsys, _upload_argv(mock))
    assert code == 0
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_kie_upload_dash_says_a_data_folder_that_is_a_file_or_a_full_disk_typed(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    from kiekit.cli import _preflight

    mock = mock_server_factory()
    a_file = tmp_path / "data"
    a_file.write_text("not a folder")
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(a_file))
    _stdin(monkeypatch, PNG)
    code, answer, _ = _json(capsys, _upload_argv(mock))
    assert (code, answer["error"]["type"], answer["error"]["path"]) == (
        2,
        "ConfigurationError",
        str(a_file),
    )

    monkeypatch.setenv("KIEKIT_DATA_DIR", str(tmp_path / "home"))

    def full(source: Any, target: Any, length: int = 0) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target.name)

    monkeypatch.setattr(_preflight.shutil, "copyfileobj", full)
    _stdin(monkeypatch, PNG)
    code, answer, _ = _json(capsys, _upload_argv(mock))
    assert (code, answer["error"]["type"]) == (1, "FileWriteError")
    assert answer["error"]["path"].startswith(str(tmp_path / "home"))
    assert mock.uploads() == []


# -- 7. kie resume on a journal it cannot write ---------------------------------------------------


def _owed_succeeded_task(
    mock_server_factory: Callable[..., Any], tmp_path: Path
) -> tuple[Any, str]:
    """A batch's task whose wait gave up, since succeeded on the mock: owed to ``kie resume``
    (its files for ``tmp_path / "out"``). The mock and the task id."""
    mock = mock_server_factory(polls_to_complete=10_000)  # pending until the test steps it
    jobs, out = _jobs_file(tmp_path, 1), tmp_path / "out"
    argv = ["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url]
    assert main([*argv, "--timeout", "0.2"]) == 1  # the wait gives up; the task lives on
    [result] = _results(out / "results.jsonl")
    while mock.advance(result["task_id"]) not in ("success", "fail"):
        pass
    return mock, result["task_id"]


def test_kie_resume_on_a_journal_it_cannot_write_says_so_and_exits_1(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    mock, _ = _owed_succeeded_task(mock_server_factory, tmp_path)
    disk = _Disk(monkeypatch)
    disk.full = True  # a read-only remount, as far as writes go
    code, answer, err = _json(capsys, ["resume", "--base-url", mock.base_url])
    # kie resume takes hold of a row (its owner and lease, a journal write) before it waits:
    # a journal that takes no write is refused then, as every command refuses one (exit 2),
    # before anything is fetched; a write refused later makes the row "unrecorded" (exit 1)
    assert code == 2
    assert answer["error"]["type"] == "JournalError"
    assert "disk is full" in answer["error"]["message"]
    assert "resumed every task" not in err
    [row] = _rows()
    assert row.state is EntryState.CREATED  # still owed: the next resume fetches it again


def test_kie_resume_whose_journal_fills_after_it_took_a_row_reports_it_unrecorded(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """The journal takes the resume's hold of the row, then fills: the task is waited for and
    its files written, but no write records it (nor the tries again at the end). Its record
    says so ("unrecorded", still owed), not "done"; the error is the journal's (exit 1): the
    next resume, once there is room, fetches it again rather than trusting a row that lags."""
    mock, task_id = _owed_succeeded_task(mock_server_factory, tmp_path)
    disk = _Disk(monkeypatch)
    take = Journal.take

    def taken_then_full(journal: Journal, key: str) -> Entry | None:
        row = take(journal, key)
        disk.full = True  # the disk fills the moment the row is held
        return row

    monkeypatch.setattr(Journal, "take", taken_then_full)
    code, answer, err = _json(capsys, ["resume", "--base-url", mock.base_url])

    assert code == 1
    assert answer["ok"] is False
    assert answer["error"]["type"] == "JournalError"
    assert answer["error"]["message"].startswith(
        "the task journal could not record 1 task(s) resumed (their rows stay owed; see above)"
    )
    assert answer["outcomes"] == {"unrecorded": 1}
    [task] = answer["tasks"]
    assert (task["task_id"], task["outcome"], task["owed"]) == (task_id, "unrecorded", True)
    assert task["files"]
    assert all(Path(path).is_file() for path in task["files"])  # fetched, only not recorded
    assert "the task journal still could not record what came of task" in err
    assert "still owed: 1 task(s) resumed that the task journal could not record" in err
    assert "resumed every task" not in err
    [row] = _rows()
    assert row.state is EntryState.CREATED  # as the journal last took it: owed
    assert not row.files

    disk.full = False  # room again: the next resume records it (and fetches it again)
    monkeypatch.setattr(Journal, "take", take)
    _gone(row.key)
    code, answer, _ = _json(capsys, ["resume", "--base-url", mock.base_url])
    assert (code, answer["outcomes"]) == (0, {"done": 1})
