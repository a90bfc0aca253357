"""Which ``kie batch --celery`` run made a task: the row's ``run`` (Entry.run), in every store.

Written with the task id by the worker whose create KIE answered (Journal.made_for_run and
Journal.created), kept when another worker takes the row over, and never written by anyone
else: a run's summary counts the tasks its workers made, once (kiekit.distributed.collect).
A journal of an older kiekit gains the column, which an older kiekit leaves NULL ("not known").
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import psycopg
from kiekit.journal import EntryState, Journal, SqliteStore
from kiekit.journal._postgres import PostgresStore
from kiekit.journal._stores import JournalStore
from kiekit.models import Task

GROK = "grok-imagine/text-to-image"


def test_the_run_is_written_with_the_task_id_by_its_maker_and_kept_by_a_taker(
    store: JournalStore,
) -> None:
    maker = Journal(store)
    intent = maker.intend(GROK, {"prompt": "x"}, key="job-1")
    assert intent is not None
    with maker.made_for_run("job-1", "run-1"):
        maker.created(intent, Task("t-1", GROK), read_back=False)  # as a client writes it
    row = store.get("job-1")
    assert row is not None
    assert (row.state, row.task_id, row.run) == (EntryState.CREATED, "t-1", "run-1")

    store.renew(maker.owner, 0.0)  # the maker's lease ended: as a worker that died
    taker = Journal(store)  # another run's worker, taking the row over
    taken = taker.claim(GROK, "job-1")
    assert taken is not None
    assert (taken.owner, taken.run) == (taker.owner, "run-1")

    plain = maker.intend(GROK, {"prompt": "y"}, key="job-2")  # no run: not a Celery batch's
    assert plain is not None
    maker.created(plain, Task("t-2", GROK))
    other = store.get("job-2")
    assert other is not None
    assert other.run is None


# The table of a kiekit before runs were kept, as it made it; and its insert, naming its columns.
_OLD_COLUMNS = (
    "key TEXT PRIMARY KEY, task_id TEXT, model TEXT NOT NULL, state TEXT NOT NULL, "
    "created_at {real} NOT NULL, updated_at {real} NOT NULL, base_url TEXT, out_dir TEXT, "
    "account TEXT, request TEXT, assets TEXT NOT NULL DEFAULT '[]', "
    "files TEXT NOT NULL DEFAULT '[]', error TEXT, value TEXT, owner TEXT, lease_until {real}"
)
_OLD_INSERT = (
    "INSERT INTO {table} (key, task_id, model, state, created_at, updated_at, owner) "
    "VALUES ('{key}', 't-{key}', '{model}', 'created', 1, 1, 'older-worker')"
)


def _old_and_new(store: JournalStore) -> None:
    """A row an older kiekit wrote before the upgrade, and ``later``, one it wrote after (into
    the table this kiekit brought up to date): both read as made by no known run, and a task
    made through this kiekit says its run."""
    old = store.get("old")
    assert old is not None
    assert (old.task_id, old.run) == ("t-old", None)
    journal = Journal(store)
    intent = journal.intend(GROK, {"prompt": "x"}, key="new")
    assert intent is not None
    with journal.made_for_run("new", "run-1"):
        journal.created(intent, Task("t-new", GROK))
    new = store.get("new")
    assert new is not None
    assert new.run == "run-1"
    later = store.get("later")
    assert later is not None
    assert (later.task_id, later.run, later.owner) == ("t-later", None, "older-worker")


def test_an_older_sqlite_journal_gains_the_run_column_and_an_older_kiekit_still_writes_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute(f"CREATE TABLE entries ({_OLD_COLUMNS.format(real='REAL')})")
        old.execute(_OLD_INSERT.format(table="entries", key="old", model=GROK))
        old.execute("PRAGMA user_version = 1")
    store = SqliteStore(path)
    assert store.get("old") is not None  # brought up to date as it opens
    later = _OLD_INSERT.format(table="entries", key="later", model=GROK)
    with sqlite3.connect(path) as older_kiekit:
        older_kiekit.execute(later)
    try:
        _old_and_new(store)
    finally:
        store.close()
    with sqlite3.connect(path) as opened:
        columns = [row[1] for row in opened.execute("PRAGMA table_info(entries)")]
        assert opened.execute("PRAGMA user_version").fetchone()[0] == 1  # no new version
    assert "run" in columns


def test_an_older_postgresql_journal_gains_the_run_column_and_an_older_kiekit_still_writes_it(
    postgres_url: str,
) -> None:
    name = "u" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as old:
        old.execute(f"CREATE TABLE kiekit_journal ({_OLD_COLUMNS.format(real='DOUBLE PRECISION')})")
        old.execute("COMMENT ON TABLE kiekit_journal IS 'kiekit journal, schema 1'")
        old.execute(_OLD_INSERT.format(table="kiekit_journal", key="old", model=GROK))
    store = PostgresStore(url)
    try:
        assert store.get("old") is not None  # brought up to date as it opens
        later = _OLD_INSERT.format(table="kiekit_journal", key="later", model=GROK)
        with psycopg.connect(url, autocommit=True) as older_kiekit:
            older_kiekit.execute(later)
        _old_and_new(store)
    finally:
        store.close()
