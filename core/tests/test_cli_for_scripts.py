"""The command line as a script drives it: ``--json`` on ``kie resume``, ``kie settle`` and
``kie prune`` (one object, the same error shape, the same exit codes), an error's exit code kept
when its JSON cannot be written, ``kie resume KEY_OR_TASK_ID ...``, and ``kie upload -``
streaming standard input instead of holding it in memory."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from kiekit import Client, OutcomeUnknownError
from kiekit.cli import main
from kiekit.journal import default_journal
from kiekit_mock import FaultRule

FAKE_KEY = "sk-fake-scripts-key-0123456789"
MODEL = "flux-kontext-pro"
CREATE = "/api/v1/flux/*"  # flux-kontext-pro's create (and its status: GET)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def mock(mock_server_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KIE_API_KEY", FAKE_KEY)  # a fake key, for the mock: never a real one
    return mock_server_factory()


def kie_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    (line,) = out.strip().splitlines()  # exactly one JSON object, nothing else on stdout
    return code, json.loads(line)


def _submitted(mock: Any, out: Path, count: int) -> list[str]:
    """``count`` tasks created and left unfinished in the journal, as a crash leaves them."""
    with Client(FAKE_KEY, base_url=mock.base_url) as kie:
        return [kie.submit(MODEL, {"prompt": f"task {n}"}, out_dir=out).id for n in range(count)]


def _lost_create(mock: Any) -> str:
    """A create whose answer was lost: its row's key (outcome unknown)."""
    mock.faults.add(FaultRule("reset", method="POST", path=CREATE, when="after", times=1))
    with Client(FAKE_KEY, base_url=mock.base_url) as kie, pytest.raises(OutcomeUnknownError):
        kie.submit(MODEL, {"prompt": "lost"})
    [row] = [row for row in default_journal().entries() if row.state.outcome_unknown]
    return row.key


def run_closed(redirect: str, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``kie ARGV`` with standard output redirected by the shell (``>&-``, ``>/dev/full``)."""
    return subprocess.run(  # noqa: S603 - our interpreter, through sh for the redirection
        ["/bin/sh", "-c", f'exec "$@" {redirect}', "sh", sys.executable, "-m", "kiekit", *argv],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip


def run_reader_gone(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``kie ARGV`` writing to a pipe whose reader left before kie started."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(  # noqa: S603 - our interpreter
            [sys.executable, "-m", "kiekit", *argv],
            stdout=writer, stderr=subprocess.PIPE, text=True, timeout=600, env=env, check=False,
        )  # fmt: skip
    finally:
        os.close(writer)


def _polls(mock: Any) -> list[str | None]:
    """The task ids the mock was asked the status of."""
    return [r.task_id for r in mock.requests() if r.method == "GET"]


# -- 1. --json on resume, settle and prune -----------------------------------------------------


def test_resume_answers_json_with_each_task_its_files_and_what_is_still_owed(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kie resume --json` was a usage error: resume printed bare paths, and a script could not
    tell which task a file was of, nor what stayed owed, without parsing standard error."""
    done = _submitted(mock, tmp_path / "out", 2)
    lost = _lost_create(mock)
    code, resumed = kie_json(capsys, "resume", "--base-url", mock.base_url)
    assert code == 1  # as without --json: a create of unknown outcome is still owed
    assert (resumed["ok"], resumed["command"]) == (False, "resume")
    assert resumed["error"]["type"] == "TasksOwed"
    assert "1 create(s) of unknown outcome" in resumed["error"]["message"]
    assert resumed["outcomes"] == {"done": 2, "outcome_unknown": 1}
    by_task = {task["task_id"]: task for task in resumed["tasks"]}
    for task_id in done:
        task = by_task[task_id]
        assert (task["state"], task["outcome"], task["owed"]) == ("succeeded", "done", False)
        assert (task["model"], bool(task["key"]), len(task["files"])) == (MODEL, True, 2)
        assert all(Path(f).is_file() for f in task["files"])
    unknown = by_task[None]
    assert (unknown["key"], unknown["outcome"], unknown["owed"]) == (lost, "outcome_unknown", True)

    code, settled = kie_json(capsys, "settle", lost, "--not-created")
    assert (code, settled["ok"], settled["command"]) == (0, True, "settle")
    assert (settled["key"], settled["task_id"], settled["settled"]) == (lost, None, "not_created")
    assert (settled["model"], settled["state"]) == (MODEL, "rejected")

    code, again = kie_json(capsys, "resume", "--base-url", mock.base_url)
    assert (code, again["ok"], again["tasks"], again["outcomes"]) == (0, True, [], {})
    assert "error" not in again


def test_resume_settle_and_prune_say_their_errors_in_the_one_json_shape(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's error-type table, and its exit codes, hold for the three commands too."""
    _submitted(mock, tmp_path / "out", 1)
    monkeypatch.delenv("KIE_API_KEY")
    code, keyless = kie_json(capsys, "resume", "--base-url", mock.base_url)
    assert (code, keyless["ok"], keyless["command"]) == (2, False, "resume")
    assert keyless["error"]["type"] == "ConfigurationError"
    assert "KIE_API_KEY is not set" in keyless["error"]["message"]

    code, unknown = kie_json(capsys, "settle", "no-such-row", "--not-created")
    assert (code, unknown["command"], unknown["error"]["type"]) == (2, "settle", "ValidationError")
    assert "no-such-row" in unknown["error"]["message"]

    code, bad_age = kie_json(capsys, "prune", "--older-than", "soon")
    assert (code, bad_age["command"], bad_age["error"]["type"]) == (2, "prune", "ValidationError")
    assert "--older-than" in bad_age["error"]["message"]


def test_prune_answers_json_with_the_rows_it_deleted_or_would_delete(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _submitted(mock, tmp_path / "out", 1)
    for dry in (["--dry-run"], []):
        code, pruned = kie_json(capsys, "prune", "--older-than", "1d", *dry)
        assert (code, pruned["ok"], pruned["command"]) == (0, True, "prune")
        assert (pruned["rows"], pruned["dry_run"], pruned["older_than"]) == (0, bool(dry), 86400)
    assert len(default_journal().entries()) == 1  # a row of today: kept


def test_abandon_and_hand_off_answer_json_with_the_row_as_settled(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [task_id] = _submitted(mock, tmp_path / "out", 1)
    code, abandoned = kie_json(capsys, "settle", task_id, "--abandon", "--reason", "gone")
    assert (code, abandoned["task_id"], abandoned["state"]) == (0, task_id, "failed")
    assert abandoned["settled"] == "abandoned"
    assert "gone" in abandoned["reason"]


# -- 2. an error's JSON to a standard output that refuses it keeps the error's exit code ---------


@pytest.mark.parametrize(
    "argv", [["credits"], ["resume", "no-such-row"], ["prune", "--older-than", "soon"]]
)
def test_an_errors_json_to_a_closed_stdout_exits_with_the_errors_own_code(
    argv: list[str],
) -> None:
    """`kie credits --json >&-` without a key exited 1, as if KIE had failed, not 2 (refused
    before anything was sent): the failed write of the error's object took the exit code."""
    env = {k: v for k, v in os.environ.items() if k != "KIE_API_KEY"}
    done = run_closed(">&-", *argv, "--json", env=env)
    assert "Traceback" not in done.stderr
    assert done.stderr.endswith("kie: cannot write to stdout: it is closed\n")
    assert done.returncode == 2, done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full to fill stdout")
def test_an_errors_json_to_a_full_stdout_or_a_reader_gone_keeps_the_errors_own_code() -> None:
    env = {k: v for k, v in os.environ.items() if k != "KIE_API_KEY"}
    full = run_closed(">/dev/full", "resume", "no-such-row", "--json", env=env)
    assert full.stderr.endswith("kie: cannot write to stdout: No space left on device\n")
    assert full.returncode == 2
    gone = run_reader_gone("resume", "no-such-row", "--json", env=env)
    assert "Traceback" not in gone.stderr
    assert "cannot write" not in gone.stderr
    assert gone.returncode == 2  # 141 is for work done: an error keeps its own


# -- 3. kie resume KEY_OR_TASK_ID ... --------------------------------------------------------------


def test_resume_finishes_only_the_rows_named_by_task_id_or_key(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _submitted(mock, tmp_path / "out", 2)
    _lost_create(mock)  # owed too, but not named: not said to be owed by this run
    code, resumed = kie_json(capsys, "resume", first, "--base-url", mock.base_url)
    assert code == 0
    assert [(t["task_id"], t["outcome"]) for t in resumed["tasks"]] == [(first, "done")]
    assert second not in _polls(mock)  # not waited for
    [row] = [row for row in default_journal().entries() if row.task_id == second]
    assert row.unfinished

    code, by_key = kie_json(capsys, "resume", row.key, first, "--base-url", mock.base_url)
    assert code == 0
    outcomes = {t["task_id"]: t["outcome"] for t in by_key["tasks"]}
    assert outcomes == {second: "done", first: "not_owed"}  # named, but owed nothing now


def test_resume_refuses_a_name_the_journal_has_no_row_for_before_waiting_for_any(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [task_id] = _submitted(mock, tmp_path / "out", 1)
    asked = len(mock.requests())
    code, refused = kie_json(capsys, "resume", task_id, "tsk-typo", "--base-url", mock.base_url)
    assert (code, refused["error"]["type"]) == (2, "ValidationError")
    assert "'tsk-typo'" in refused["error"]["message"]
    assert len(mock.requests()) == asked  # nothing waited for, the named task neither
    assert all(row.unfinished for row in default_journal().entries())
    capsys.readouterr()
    assert main(["resume", "--base-url", mock.base_url]) == 0  # without names: every row


# -- 4. kie upload - streams standard input --------------------------------------------------------


class _Trickle:
    """Standard input's bytes: a read of them all at once (``read()``) fails the test."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.largest = 0

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None, "standard input read whole into memory"
        assert size >= 0, "standard input read whole into memory"
        self.largest = max(self.largest, size)
        return self._data.read(min(size, 64 * 1024))  # a pipe gives what it holds


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> _Trickle:
    trickle = _Trickle(data)
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=trickle))
    return trickle


def _spools() -> list[Path]:
    """What an upload of standard input left in kiekit's data folder."""
    folder = Path(os.environ["KIEKIT_DATA_DIR"])
    return list(folder.glob("stdin-upload-*")) if folder.is_dir() else []


def test_upload_dash_streams_standard_input_in_slices_and_leaves_no_copy_behind(
    mock: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`… | kie upload -` read standard input whole into memory (a 200 MB video: 200 MB more
    in the process, then again as base64 below 10 MiB)."""
    data = PNG + os.urandom(3 * 2**20)
    trickle = _stdin(monkeypatch, data)
    code, uploaded = kie_json(capsys, "upload", "-", "--base-url", mock.base_url,
                              "--upload-base-url", mock.upload_base_url)  # fmt: skip
    assert code == 0
    assert (uploaded["size"], uploaded["mime_type"]) == (len(data), "image/png")
    assert uploaded["file_name"].startswith("upload-")
    assert uploaded["file_name"].endswith(".png")
    assert 0 < trickle.largest <= 2**20  # a slice at a time
    [stored] = mock.uploads()
    assert stored.body == data
    assert [r.path for r in mock.requests()] == ["/api/file-stream-upload"]
    assert _spools() == []


def test_upload_dash_removes_its_copy_when_the_upload_fails_or_is_interrupted(
    mock: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    where = ["--base-url", mock.base_url, "--upload-base-url", mock.upload_base_url]
    mock.faults.add(FaultRule("kie", code=401, path="/api/file-stream-upload"))
    _stdin(monkeypatch, PNG)
    capsys.readouterr()
    code = main(["upload", "-", *where, "--json"])
    said = capsys.readouterr()
    failed = json.loads(said.out)
    assert (code, failed["error"]["type"]) == (1, "AuthenticationError")
    assert failed["error"]["path"] == "-"  # not the copy, gone by now
    assert said.err.startswith("kie: error: standard input: KIE error 401")
    assert _spools() == []
    mock.faults.clear()

    seen: list[bool] = []

    def interrupted(self: Client, source: Path, **options: Any) -> None:
        seen.append(Path(source).is_file())
        raise KeyboardInterrupt

    monkeypatch.setattr(Client, "upload", interrupted)
    _stdin(monkeypatch, PNG)
    code, stopped = kie_json(capsys, "upload", "-", *where)
    assert (code, stopped["error"]["type"], seen) == (130, "Interrupted", [True])
    assert _spools() == []
