"""A file-less result's ``value`` (Suno lyrics, song ids, MIDI notes) is paid for and lives
nowhere but in KIE's record: the journal keeps it once the task is seen finished, so a batch
run again, ``kie resume`` and ``kie adopt`` + ``kie resume`` keep it too (outside tester
"music", finding 1). A row of a kiekit before values were kept asks KIE once more, as
``kie run --idempotency-key`` does on a replay, while KIE still keeps the task (§8)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kiekit import Client
from kiekit.cli import main
from kiekit.journal import NOT_KEPT, default_journal
from kiekit.journal._entry import RESULT_LIFETIME

LYRICS = "suno/lyrics"
SONG = "suno/generate"


@pytest.fixture
def mock(mock_server_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KIE_API_KEY", "sk-fake-kept-values-key")  # a fake key, for the mock
    return mock_server_factory(polls_to_complete=1)


def _jobs(tmp_path: Path) -> Path:
    jobs = tmp_path / "jobs.jsonl"
    lines = [
        {"id": "l1", "model": LYRICS, "input": {"prompt": "x"}},
        {"id": "g1", "model": SONG, "input": {"prompt": "y"}},
    ]
    jobs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return jobs


def _batch(mock: Any, jobs: Path, out: Path) -> dict[str, dict[str, Any]]:
    argv = ["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url]
    assert main([*argv, "--poll-interval", "0.05"]) == 0  # the mock's tasks end at one poll
    lines = (out / "results.jsonl").read_text().splitlines()
    return {row["id"]: row for row in map(json.loads, lines)}


def _status_calls(mock: Any) -> int:
    return sum("record-info" in record.path for record in mock.requests())


def test_a_batch_run_again_keeps_the_values_of_its_done_jobs(mock: Any, tmp_path: Path) -> None:
    jobs, out = _jobs(tmp_path), tmp_path / "b"
    first = _batch(mock, jobs, out)
    assert first["l1"]["value"]  # the lyrics
    assert first["g1"]["value"]  # the songs' ids and metadata
    asked = _status_calls(mock)

    again = _batch(mock, jobs, out)  # as the docs say to do after an interruption

    assert again["l1"]["value"] == first["l1"]["value"]
    assert again["g1"]["value"] == first["g1"]["value"]
    assert again["g1"]["files"] == first["g1"]["files"]
    assert len(mock.tasks()) == 2  # nothing made twice
    assert _status_calls(mock) == asked  # read from the journal, not asked of KIE
    rows = {row.key: row for row in default_journal().entries()}
    assert sorted(row.value_kept for row in rows.values()) == [True, True]


def _forget_values(older_by: float = 0.0) -> None:
    """Make the journal's rows as a kiekit before values were kept left them."""
    path = Path(default_journal().store.path)  # type: ignore[attr-defined]
    with sqlite3.connect(path) as connection:
        connection.execute(
            "UPDATE entries SET value = NULL, created_at = created_at - ?", (older_by,)
        )


def test_a_row_of_an_older_kiekit_asks_kie_once_for_its_value_and_keeps_it(
    mock: Any, tmp_path: Path
) -> None:
    jobs, out = _jobs(tmp_path), tmp_path / "b"
    first = _batch(mock, jobs, out)
    _forget_values()
    assert all(row.value is NOT_KEPT for row in default_journal().entries())
    asked = _status_calls(mock)

    again = _batch(mock, jobs, out)

    assert again["l1"]["value"] == first["l1"]["value"]
    assert again["g1"]["value"] == first["g1"]["value"]
    assert _status_calls(mock) == asked + 2  # one status call each, no wait, no download
    assert len(mock.tasks()) == 2
    assert all(row.value_kept for row in default_journal().entries())  # kept from now on
    _batch(mock, jobs, out)
    assert _status_calls(mock) == asked + 2


def test_a_row_of_an_older_kiekit_past_kies_retention_is_not_asked_for_its_value(
    mock: Any, tmp_path: Path
) -> None:
    jobs, out = _jobs(tmp_path), tmp_path / "b"
    _batch(mock, jobs, out)
    _forget_values(older_by=RESULT_LIFETIME + 60)
    asked = _status_calls(mock)

    again = _batch(mock, jobs, out)

    assert (again["l1"]["state"], again["l1"]["value"]) == ("succeeded", None)
    assert _status_calls(mock) == asked


def _killed_after_create(mock: Any, *, journal: bool = True) -> str:
    """A `kie run` killed (-9) just after "created task": its row says created, nothing more."""
    with Client(base_url=mock.base_url, journal=journal) as kie:
        return kie.submit(LYRICS, prompt="x").id


def test_kie_resume_after_a_kill_shows_the_value_and_keeps_it_in_the_row(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = _killed_after_create(mock)
    capsys.readouterr()

    assert main(["resume", "--base-url", mock.base_url]) == 0

    out = capsys.readouterr().out
    shown = json.loads(out)  # no file: the value alone, as kie run shows it
    assert shown
    assert all("text" in item for item in shown)
    row = default_journal().by_task(task_id)
    assert row is not None
    assert row.value == shown
    assert main(["tasks", "--json"]) == 0
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed["value"] == shown


def test_kie_resume_json_gives_the_value_in_its_task_record(
    mock: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = _killed_after_create(mock)
    capsys.readouterr()

    assert main(["resume", "--base-url", mock.base_url, "--json"]) == 0

    [task] = json.loads(capsys.readouterr().out)["tasks"]  # one object: no value line beside it
    assert (task["task_id"], task["outcome"]) == (task_id, "done")
    assert task["value"]
    assert all("text" in item for item in task["value"])


def test_kie_adopt_then_kie_resume_shows_and_keeps_the_value(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = _killed_after_create(mock, journal=False)
    argv = ["adopt", task_id, "--model", LYRICS, "--base-url", mock.base_url]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()

    assert main(["resume", "--base-url", mock.base_url]) == 0

    shown = json.loads(capsys.readouterr().out)
    assert shown
    assert all("text" in item for item in shown)
    row = default_journal().by_task(task_id)
    assert row is not None
    assert row.value == shown


def test_a_value_is_kept_however_the_wait_ended(mock: Any) -> None:
    """Client.wait, as kie run's: the row keeps what it returned (a later resume has it)."""
    with Client(base_url=mock.base_url) as kie:
        task = kie.submit(LYRICS, prompt="x")
        results = kie.wait(task)
    row = default_journal().by_task(task.id)
    assert row is not None
    assert row.value == results.value
    assert time.time() - row.created_at < RESULT_LIFETIME


def test_a_value_kie_cannot_give_again_leaves_the_job_done_with_its_files(
    mock: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The one status call of an older row is a bonus: a task KIE no longer knows (here an
    id it never made) leaves the job succeeded, its files as they are, and says why."""
    jobs, out = _jobs(tmp_path), tmp_path / "b"
    first = _batch(mock, jobs, out)
    _forget_values()
    path = Path(default_journal().store.path)  # type: ignore[attr-defined]
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE entries SET task_id = 'feedface' || substr(task_id, 9)")

    again = _batch(mock, jobs, out)

    assert [again[i]["state"] for i in ("l1", "g1")] == ["succeeded", "succeeded"]
    assert again["g1"]["files"] == first["g1"]["files"]
    assert (again["l1"]["value"], again["g1"]["value"]) == (None, None)
    assert "could not be asked for again" in caplog.text
    assert len(mock.tasks()) == 2


def test_kie_resume_asks_kie_once_for_the_values_an_older_kiekit_did_not_keep(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A done row without its value (``kie tasks --json``: ``"value_kept": false``) was passed
    over by ``kie resume`` as owed nothing, while a batch run again asked KIE for it: resume
    now asks too (one status call each, nothing made or downloaded) and keeps it."""
    jobs, out = _jobs(tmp_path), tmp_path / "b"
    first = _batch(mock, jobs, out)
    files = sorted(path.name for path in out.iterdir())
    _forget_values()
    asked = _status_calls(mock)
    capsys.readouterr()

    assert main(["resume", "--base-url", mock.base_url, "--json"]) == 0

    answer = json.loads(capsys.readouterr().out)
    by_value = {json.dumps(task["value"], sort_keys=True): task for task in answer["tasks"]}
    assert answer["outcomes"] == {"done": 2}
    for job in ("l1", "g1"):
        task = by_value[json.dumps(first[job]["value"], sort_keys=True)]
        assert (task["outcome"], task["owed"], task["error"]) == ("done", False, None)
    assert _status_calls(mock) == asked + 2  # one status call each
    assert len(mock.tasks()) == 2  # nothing made
    assert sorted(path.name for path in out.iterdir()) == files  # nothing fetched again
    rows = {row.task_id: row for row in default_journal().entries()}
    assert {rows[first[job]["task_id"]].value_kept for job in ("l1", "g1")} == {True}
    assert rows[first["l1"]["task_id"]].value == first["l1"]["value"]

    assert main(["resume", "--base-url", mock.base_url]) == 0  # kept: not asked again
    assert _status_calls(mock) == asked + 2
    assert "nothing to resume" in capsys.readouterr().err


def test_kie_resume_shows_a_value_asked_again_as_a_resumed_tasks(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs, out = _jobs(tmp_path), tmp_path / "b"
    first = _batch(mock, jobs, out)
    _forget_values()
    key = next(row.key for row in default_journal().entries() if row.model == LYRICS)
    capsys.readouterr()

    assert main(["resume", key, "--base-url", mock.base_url]) == 0  # only the row named

    said = capsys.readouterr()
    assert json.loads(said.out) == first["l1"]["value"]  # the lyrics, as kie run shows them
    assert "asked of KIE again and kept" in said.err
    kept = {row.model: row.value_kept for row in default_journal().entries()}
    assert kept == {LYRICS: True, SONG: False}


def test_kie_resume_leaves_a_value_kie_cannot_give_again_owed_nothing_and_says_why(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As a batch run again: the row stays done, its files on disk; the warning says why."""
    jobs, out = _jobs(tmp_path), tmp_path / "b"
    _batch(mock, jobs, out)
    _forget_values()
    path = Path(default_journal().store.path)  # type: ignore[attr-defined]
    with sqlite3.connect(path) as connection:  # an id KIE never made: "Task not found"
        connection.execute("UPDATE entries SET task_id = 'feedface' || substr(task_id, 9)")
    capsys.readouterr()

    assert main(["resume", "--base-url", mock.base_url, "--json"]) == 0

    said = capsys.readouterr()
    tasks = json.loads(said.out)["tasks"]
    assert [(task["outcome"], task["owed"], task["value"]) for task in tasks] == [
        ("done", False, None)
    ] * 2
    assert {task["error"]["type"] for task in tasks} == {"TaskNotFoundError"}
    assert said.err.count("could not be asked for again") == 2
    assert all(row.state.value == "succeeded" for row in default_journal().entries())
    assert not any(row.value_kept for row in default_journal().entries())
    assert len(mock.tasks()) == 2


def test_kie_resume_does_not_ask_for_a_value_past_kies_retention(
    mock: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs, out = _jobs(tmp_path), tmp_path / "b"
    _batch(mock, jobs, out)
    _forget_values(older_by=RESULT_LIFETIME + 60)
    asked = _status_calls(mock)

    assert main(["resume", "--base-url", mock.base_url]) == 0

    assert _status_calls(mock) == asked
    assert "nothing to resume" in capsys.readouterr().err
