"""The journal's JSON columns hold text as it is (``"Кот"``), so SQL's ``LIKE '%Кот%'`` finds a
prompt or a folder in SQLite and PostgreSQL alike; rows an older kiekit wrote in JSON's ``\\u``
escapes read the same, with no migration (outside tester "russian", finding 1)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kiekit.journal import Journal, SqliteStore
from kiekit.journal._postgres import PostgresStore
from kiekit.journal._stores import JournalStore
from kiekit.models import Results, Task

MODEL = "flux-kontext-pro"
REQUEST = {"prompt": "Кот на крыше", "note": "caf\udce9"}  # a C locale's byte: in no UTF-8

# the stores with SQL to ask (the memory store keeps no JSON text)
pytestmark = pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)


def _sql(store: JournalStore, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """``query`` on the store's database through a connection of its own (a user's psql)."""
    if isinstance(store, SqliteStore):
        import sqlite3

        with contextlib.closing(sqlite3.connect(store.path)) as db, db:
            return db.execute(query.format(table="entries"), params).fetchall()
    if isinstance(store, PostgresStore):
        with psycopg.connect(store.url, autocommit=True) as pg:
            cursor = pg.execute(query.format(table="kiekit_journal"), params)
            return cursor.fetchall() if cursor.description else []
    raise AssertionError(f"no SQL to ask of {store!r}")


def _finished_row(store: JournalStore) -> Journal:
    journal = Journal(store)
    intent = journal.intend(MODEL, REQUEST, out_dir="/tmp/вывод")
    assert intent is not None
    task = Task("t-1", MODEL)
    journal.created(intent, task)
    journal.finished(task, Results("t-1", (), value={"title": "Ночь"}))
    journal.downloaded("t-1", [Path("/tmp/вывод/t-1-0.png")], "/tmp/вывод")
    return journal


def test_new_rows_store_their_json_readable_for_sql_to_find(store: JournalStore) -> None:
    journal = _finished_row(store)
    like = "SELECT count(*) FROM {table} WHERE request LIKE %s"
    like = like.replace("%s", "?") if isinstance(store, SqliteStore) else like
    assert _sql(store, like, "%Кот на крыше%") == [(1,)]
    (stored,) = _sql(store, "SELECT request, files, value FROM {table}")
    request, files, value = stored
    assert "Кот на крыше" in request
    assert "\\udce9" in request  # what UTF-8 cannot carry stays JSON's escape
    assert "вывод" in files
    assert "Ночь" in value
    row = journal.by_task("t-1")
    assert row is not None
    assert row.request == REQUEST
    assert row.files == ("/tmp/вывод/t-1-0.png",)
    assert row.value == {"title": "Ночь"}


def test_rows_written_in_escapes_before_read_the_same(store: JournalStore) -> None:
    journal = _finished_row(store)
    update = "UPDATE {table} SET request = %s, files = %s, value = %s"
    update = update.replace("%s", "?") if isinstance(store, SqliteStore) else update
    escaped = (
        json.dumps(REQUEST),
        json.dumps(["/tmp/вывод/t-1-0.png"]),
        json.dumps({"title": "Ночь"}),
    )
    _sql(store, update, *escaped)
    assert _sql(store, "SELECT request FROM {table}") == [(escaped[0],)]  # as before: ASCII
    row = journal.by_task("t-1")
    assert row is not None
    assert row.request == REQUEST
    assert row.files == ("/tmp/вывод/t-1-0.png",)
    assert row.value == {"title": "Ночь"}
