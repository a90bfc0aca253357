"""A journal an older kiekit wrote, opened by this one (outside tester "oldjournal"): a batch
run beside a kiekit from before leases, old batch rows under another ``--out``, an older
journal on a read-only mount, old rows resumed under another API key, values never kept.

An older kiekit's rows are made here as it left them: rows this kiekit wrote, rewritten in
SQL the way a kiekit before a7f754c (4 Dec 2026) keys and fills them (``batch:<folder>:<id>``;
no owner, lease, account or value)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kiekit.batch import PRE_LEASE_WINDOW
from kiekit.cli import main
from kiekit.journal import NOT_KEPT, SqliteStore, default_journal

GROK = "grok-imagine/text-to-image"
FAST = ("--poll-interval", "0.05")  # the mock's tasks are done at the first poll


@pytest.fixture
def fake_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIE_API_KEY", "fake-key-for-the-mock")


def _jobs(folder: Path, *jobs: tuple[str, str]) -> Path:
    path = folder / "jobs.jsonl"
    lines = [json.dumps({"id": i, "model": GROK, "input": {"prompt": p}}) for i, p in jobs]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _creates(mock: Any) -> int:
    return len([r for r in mock.requests() if r.path == "/api/v1/jobs/createTask"])


def _results(out: Path) -> dict[str, dict[str, Any]]:
    lines = (out / "results.jsonl").read_text().splitlines()
    return {row["id"]: row for row in map(json.loads, lines)}


def _journal_path() -> Path:
    return Path(default_journal().store.path)  # type: ignore[attr-defined]


def _as_a_pre_lease_kiekit_left_them(older_by: float) -> None:
    """Every batch row keyed with its folder, as kiekit 03035cc (24 Nov) keyed it, with none of
    the columns it did not have, made ``older_by`` seconds earlier than they were."""
    with sqlite3.connect(_journal_path()) as connection:
        for key, out_dir in connection.execute("SELECT key, out_dir FROM entries").fetchall():
            old = f"batch:{out_dir}:"
            job = key.removeprefix(old) if key.startswith(old) else key[6:].split("@")[0]
            connection.execute(
                "UPDATE entries SET key = ?, owner = NULL, lease_until = NULL, account = NULL, "
                "value = NULL, created_at = created_at - ?, updated_at = updated_at - ? "
                "WHERE key = ?",
                (f"batch:{out_dir}:{job}", older_by, older_by, key),
            )


def test_a_batch_refuses_to_run_beside_a_pre_lease_kiekit_at_work_and_sends_nothing(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """Such a kiekit neither claims its jobs nor sees this one's keys: run together on one
    jobs file, every job was paid for twice (3 jobs, 6 tasks). Its open rows, just made, say
    it is at work; once they are older than the window (it was killed), the batch runs and
    finds its jobs in them, making nothing again."""
    mock = mock_server_factory(polls_to_complete=10_000)  # its tasks still running
    jobs = _jobs(tmp_path, ("a", "one"), ("b", "two"))
    out = tmp_path / "out"
    batch = ["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url, *FAST]
    assert main([*batch, "--timeout", "0.1"]) == 1  # the waits give up: rows `created`
    _as_a_pre_lease_kiekit_left_them(older_by=0.0)
    more = _jobs(tmp_path, ("a", "one"), ("b", "two"), ("c", "three"))
    capsys.readouterr()

    assert main(["batch", str(more), "--out", str(out), "--base-url", mock.base_url, *FAST]) == 2

    err = capsys.readouterr().err
    assert "by a kiekit older than a7f754c" in err
    assert "Nothing was sent" in err
    assert _creates(mock) == 2

    _as_a_pre_lease_kiekit_left_them(older_by=PRE_LEASE_WINDOW + 1)  # it is gone (killed)
    for task in mock.tasks():
        mock.complete(task.task_id)
    batch = ["batch", str(more), "--out", str(out), "--base-url", mock.base_url, *FAST]
    assert main([*batch, "--timeout", "0.1"]) == 1  # "c" is made, and still running
    assert _creates(mock) == 3  # only "c" was new
    states = {job: row["state"] for job, row in _results(out).items()}
    assert states == {"a": "succeeded", "b": "succeeded", "c": "error"}


def test_an_older_kiekits_finished_batch_rows_do_not_stop_a_batch(
    mock_server_factory: Callable[..., Any], tmp_path: Path, fake_key: None
) -> None:
    """Rows it finished alone say it has ended: no wait after an upgrade."""
    mock = mock_server_factory(polls_to_complete=0)
    jobs = _jobs(tmp_path, ("a", "one"))
    out = tmp_path / "out"
    assert main(["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url, *FAST]) == 0
    _as_a_pre_lease_kiekit_left_them(older_by=0.0)

    assert main(["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url, *FAST]) == 0
    assert _creates(mock) == 1


def test_an_older_kiekits_batch_rows_are_found_under_another_out_by_job_id_and_content(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fake_key: None,
) -> None:
    """Its rows were found only under the --out they were made with: another folder paid for
    every job again. A row of the same id that asks for something else is another job."""
    mock = mock_server_factory(polls_to_complete=0)
    first = tmp_path / "first"
    jobs = _jobs(tmp_path, ("a", "one"), ("b", "two"))
    assert main(["batch", str(jobs), "--out", str(first), "--base-url", mock.base_url, *FAST]) == 0
    made = _results(first)
    _as_a_pre_lease_kiekit_left_them(older_by=PRE_LEASE_WINDOW + 1)
    changed = _jobs(tmp_path, ("a", "one"), ("b", "something else"))
    second = tmp_path / "second"

    assert (
        main(["batch", str(changed), "--out", str(second), "--base-url", mock.base_url, *FAST]) == 0
    )

    again = _results(second)
    assert _creates(mock) == 3  # "b" asks for something else now: made; "a" was not
    assert again["a"]["task_id"] == made["a"]["task_id"]
    assert again["a"]["state"] == "succeeded"
    assert again["b"]["task_id"] != made["b"]["task_id"]
    assert "asks for something else: not taken as this job's" in caplog.text


OLD_COLUMNS = (
    "key TEXT PRIMARY KEY, task_id TEXT, model TEXT NOT NULL, state TEXT NOT NULL, "
    "created_at REAL NOT NULL, updated_at REAL NOT NULL, base_url TEXT, out_dir TEXT, "
    "request TEXT, assets TEXT NOT NULL DEFAULT '[]', files TEXT NOT NULL DEFAULT '[]', "
    "error TEXT"
)  # the journal of kiekit 388b5d9 and 03035cc (24 Nov): no owner, lease, account or value


def _older_journal(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(f"CREATE TABLE entries ({OLD_COLUMNS})")
        connection.execute(
            "INSERT INTO entries (key, task_id, model, state, created_at, updated_at, request) "
            "VALUES ('k1', 't1', ?, 'created', 1.0, 2.0, '{\"prompt\": \"x\"}')",
            (GROK,),
        )


def test_an_older_journal_that_cannot_be_written_is_read_with_its_missing_columns_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a read-only mount it cannot be brought up to date: every read failed with "no such
    column: account" (a kiekit of 6 Dec's: "no such column: value"), which read as damage."""
    path = tmp_path / "journal.sqlite3"
    _older_journal(path)
    store = SqliteStore(path)

    def cannot_write() -> Any:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(store, "_open", cannot_write)  # as on a read-only mount
    monkeypatch.setattr(store, "_writable", lambda: False)

    (row,) = store.entries()
    assert (row.key, row.task_id, row.account, row.owner, row.lease_until) == (
        "k1", "t1", None, None, None
    )  # fmt: skip
    assert row.value is NOT_KEPT
    assert store.get("k1") == row
    assert store.by_task("t1") == row
    with sqlite3.connect(path) as connection:  # the file as it was: not written
        columns = [found[1] for found in connection.execute("PRAGMA table_info(entries)")]
    assert "account" not in columns


def test_kie_tasks_json_tells_a_value_never_kept_from_a_null_one(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fake_key: None,
) -> None:
    """An older kiekit's row showed "value": null, as a task whose value is null: it looked
    lost while its lyrics were in results.jsonl."""
    mock = mock_server_factory(polls_to_complete=0)
    jobs = _jobs(tmp_path, ("a", "one"))
    out = tmp_path / "out"
    assert main(["batch", str(jobs), "--out", str(out), "--base-url", mock.base_url, *FAST]) == 0
    capsys.readouterr()
    assert main(["tasks", "--json"]) == 0
    [kept] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    _as_a_pre_lease_kiekit_left_them(older_by=PRE_LEASE_WINDOW + 1)

    assert main(["tasks", "--json"]) == 0
    [old] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert (kept["value"], kept["value_kept"]) == (None, True)  # a model with no value
    assert (old["value"], old["value_kept"]) == (None, False)


def test_an_older_kiekits_row_resumed_under_another_key_is_not_called_lost(
    mock_server_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its row does not say which key made its task, and KIE answers "Task not found" to any
    other key: the 404 was written into the row and `kie settle ID --abandon` advised, for a
    task paid for and alive."""
    mock = mock_server_factory(polls_to_complete=10_000)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KIE_API_KEY", "key-of-the-upgrade")
    assert main(["run", GROK, "--prompt", "x", "--timeout", "0.1",
                 "--base-url", mock.base_url]) == 1  # fmt: skip
    with sqlite3.connect(_journal_path()) as connection:
        connection.execute("UPDATE entries SET account = NULL")  # as an older kiekit wrote it
    (row,) = default_journal().entries()
    capsys.readouterr()
    monkeypatch.setenv("KIE_API_KEY", "key-after-a-rotation")

    assert main(["resume", "--base-url", mock.base_url]) == 1

    err = capsys.readouterr().err
    assert "it may have been created with another key" in err
    assert "run kie resume with that key" in err
    assert "--abandon" not in err
    (after,) = default_journal().entries()
    assert (after.state, after.error) == (row.state, row.error)  # not written as lost
    mock.complete(row.task_id)
    monkeypatch.setenv("KIE_API_KEY", "key-of-the-upgrade")
    assert main(["resume", "--base-url", mock.base_url]) == 0
