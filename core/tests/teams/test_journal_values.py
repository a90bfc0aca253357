"""A finished task's value (``Results.value``: Suno lyrics, MIDI notes, song ids) is kept in its
journal row, in every store, and journals of an older kiekit gain the column (music QA 1)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kiekit.journal import NOT_KEPT, Entry, EntryState, Journal, SqliteStore
from kiekit.journal._postgres import PostgresStore
from kiekit.journal._stores import JournalStore
from kiekit.models import Results, Task

LYRICS = "suno/lyrics"
VALUES: list[Any] = [
    [{"text": "[Verse]\nla la", "title": "Night"}, {"text": "oh", "title": "Day"}],
    {"instruments": [{"name": "piano", "notes": [{"pitch": 60, "start": 0.0}]}]},
    "plain text",
    None,  # a files-only task: its None is kept too, and not asked for again
]


@pytest.mark.parametrize("value", VALUES, ids=["lyrics", "midi", "text", "none"])
def test_a_finished_tasks_value_is_kept_in_its_row(store: JournalStore, value: Any) -> None:
    journal = Journal(store)
    intent = journal.intend(LYRICS, {"prompt": "x"})
    assert intent is not None
    task = Task("t-1", LYRICS)
    journal.created(intent, task)
    created = journal.by_task("t-1")
    assert created is not None
    assert created.value is NOT_KEPT  # not seen finished yet
    assert not created.value_kept

    journal.finished(task, Results("t-1", (), value=value))

    done = journal.by_task("t-1")
    assert done is not None
    assert done.state is EntryState.SUCCEEDED
    assert done.value_kept
    assert done.value == value
    assert done.to_json()["value"] == value


def test_a_value_json_cannot_spell_is_kept_as_text_not_a_failed_write(store: JournalStore) -> None:
    journal = Journal(store)
    intent = journal.intend(LYRICS, None)
    assert intent is not None
    task = Task("t-2", LYRICS)
    journal.created(intent, task)
    journal.finished(task, Results("t-2", (), value={"at": Path("/x")}))
    done = journal.by_task("t-2")
    assert done is not None
    assert done.state is EntryState.SUCCEEDED
    if not isinstance(store, PostgresStore | SqliteStore):
        return  # in memory it is the object itself
    assert done.value == {"at": "/x"}


# The schema of the kiekit before values were kept (schema version 1), as it made its table.
_OLD_COLUMNS = (
    "key TEXT PRIMARY KEY, task_id TEXT, model TEXT NOT NULL, state TEXT NOT NULL, "
    "created_at {real} NOT NULL, updated_at {real} NOT NULL, base_url TEXT, out_dir TEXT, "
    "account TEXT, request TEXT, assets TEXT NOT NULL DEFAULT '[]', "
    "files TEXT NOT NULL DEFAULT '[]', error TEXT, owner TEXT, lease_until {real}"
)
_OLD_ROW = (
    "INSERT INTO {table} (key, task_id, model, state, created_at, updated_at) "
    "VALUES ('old', 't-old', 'suno/lyrics', 'succeeded', 1, 1)"
)


def _finish_old_row(store: JournalStore) -> Entry:
    old = store.get("old")
    assert old is not None
    assert old.state is EntryState.SUCCEEDED
    assert old.value is NOT_KEPT  # never stored: a batch rerun may ask KIE once more
    Journal(store).finished(Task("t-old", LYRICS), Results("t-old", (), value=["la"]))
    again = store.get("old")
    assert again is not None
    return again


def test_an_older_sqlite_journal_gains_the_value_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute(f"CREATE TABLE entries ({_OLD_COLUMNS.format(real='REAL')})")
        old.execute(_OLD_ROW.format(table="entries"))
        old.execute("PRAGMA user_version = 1")
    store = SqliteStore(path)
    assert _finish_old_row(store).value == ["la"]
    store.close()
    with sqlite3.connect(path) as opened:
        columns = [row[1] for row in opened.execute("PRAGMA table_info(entries)")]
    assert "value" in columns


def test_an_older_postgresql_journal_gains_the_value_column(postgres_url: str) -> None:
    name = "v" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as old:
        old.execute(f"CREATE TABLE kiekit_journal ({_OLD_COLUMNS.format(real='DOUBLE PRECISION')})")
        old.execute("COMMENT ON TABLE kiekit_journal IS 'kiekit journal, schema 1'")
        old.execute(_OLD_ROW.format(table="kiekit_journal"))
    store = PostgresStore(url)
    try:
        assert _finish_old_row(store).value == ["la"]
    finally:
        store.close()
