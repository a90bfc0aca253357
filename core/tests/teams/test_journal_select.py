"""Reading a journal that grows: ``select`` filters, orders and cuts where the rows live, the same
on every store (memory, SQLite, PostgreSQL), a page at a time; SQLite's plans use its indexes."""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
import sys
import time
from pathlib import Path

import attrs
import pytest
from kiekit.journal import Entry, EntryState, Journal, MemoryStore, Selection, SqliteStore
from kiekit.journal._entry import RESULT_LIFETIME
from kiekit.journal._postgres import PostgresStore
from kiekit.journal._selection import is_open
from kiekit.models import Asset, MediaKind

GROK = "grok-imagine/text-to-image"
KLING = "kling-3.0/video"
ASSET = Asset("https://cdn.example/a.png", MediaKind.IMAGE)
Store = MemoryStore | SqliteStore | PostgresStore  # kiekit's stores: all have select()


@pytest.fixture
def store(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """conftest's store of each kind, read in pages of 4 rows, so a few dozen rows cross many
    page boundaries (ties included)."""
    monkeypatch.setattr("kiekit.journal._stores.PAGE_ROWS", 4)
    monkeypatch.setattr("kiekit.journal._postgres.PAGE_ROWS", 4)
    return store


def _rows() -> list[Entry]:
    """Every state (and one a newer kiekit wrote, not known to this one: open, as not known
    to be finished), two models, results with and without their files, and created_at ties;
    keys sorted as inserted, so every store breaks ties the same way."""
    states = [*EntryState, EntryState.read("archived")]
    rows = []
    for n in range(37):
        state = states[n % len(states)]
        files = ("/f",) if state is EntryState.SUCCEEDED and n // len(states) % 2 else ()
        rows.append(
            Entry(
                key=f"k{n:03}",
                model=GROK if n % 3 else KLING,
                request={"input": {"prompt": f"p{n}"}},
                state=state,
                created_at=1_000.0 + n // 3,  # three rows a second: ties
                updated_at=1_000.0 + n,
                task_id=None if state in (EntryState.CLAIMED, EntryState.SENDING) else f"t{n}",
                assets=(ASSET,) if state is EntryState.SUCCEEDED else (),
                files=files,
            )
        )
    return rows


SELECTIONS = [
    Selection(),
    Selection(newest=5),
    Selection(newest=0),
    Selection(newest=100),
    Selection(states=frozenset({EntryState.SUCCEEDED})),
    Selection(states=frozenset({EntryState.CREATED, EntryState.UNKNOWN}), newest=3),
    Selection(open=True),
    Selection(open=True, newest=4),
    Selection(states=frozenset({EntryState.FAILED}), open=True),
    Selection(model=KLING),
    Selection(model=KLING, since=1_005.0, newest=2),
    Selection(since=1_010.0),
    Selection(open=True, model=GROK, since=1_003.0),
]


# ids by place: a frozenset's repr is ordered by hash, which differs between test processes
@pytest.mark.parametrize("selection", SELECTIONS, ids=[f"s{n}" for n in range(len(SELECTIONS))])
def test_select_chooses_the_rows_the_selection_says_oldest_first_on_every_store(
    store: Store, selection: Selection
) -> None:
    rows = _rows()
    for entry in rows:
        assert store.insert(entry)
    expected = [row for row in rows if selection.matches(row)]
    if selection.newest is not None:
        expected = expected[len(expected) - selection.newest :] if selection.newest else []
    assert [row.key for row in store.select(selection)] == [row.key for row in expected]
    assert list(store.select(selection)) == expected  # whole rows, as written


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX names are bytes")
def test_a_download_under_a_folder_whose_name_is_not_utf8_is_kept_on_every_store(
    store: Store,
) -> None:
    """Such a name reaches the journal as a str with lone surrogates, which SQLite's and
    PostgreSQL's text refuse: the files went unrecorded, and the row stayed owed for ever with
    them on disk. It is kept (as its bytes) and read back as the same str."""
    folder = os.fsdecode(b"/tmp/out-\xff\xfe")
    files = (folder + "/t-0.png", folder + "/t-1.png")
    created = Entry("k", GROK, None, EntryState.CREATED, 1_000.0, 1_000.0, task_id="t")
    assert store.insert(attrs.evolve(created, out_dir=folder))  # with the intent
    done = {"state": EntryState.SUCCEEDED, "assets": (ASSET, ASSET), "files": files}
    assert store.update("k", {**done, "out_dir": folder}) is not None  # as downloaded() does
    row = store.get("k")
    assert row is not None
    assert (row.out_dir, row.files) == (folder, files)
    assert list(store.select(Selection(open=True))) == []  # its files are all recorded


def test_open_rows_are_the_ones_still_owed_something(store: Store) -> None:
    for entry in _rows():
        store.insert(entry)
    chosen = list(store.select(Selection(open=True)))
    assert chosen
    assert all(is_open(row) for row in chosen)
    states = {row.state for row in chosen}
    assert EntryState.FAILED not in states
    assert EntryState.REJECTED not in states
    succeeded = [row for row in chosen if row.state is EntryState.SUCCEEDED]
    assert succeeded
    assert all(row.files == () for row in succeeded)
    # a newer kiekit's state: not known to be finished, so kie resume reads it (and says so)
    assert EntryState.read("archived") in states


def test_writes_between_pages_neither_repeat_nor_skip_rows(store: Store) -> None:
    for entry in _rows():
        store.insert(entry)
    stream = store.select(Selection())
    first = [next(stream) for _ in range(6)]
    store.insert(
        Entry(
            key="z-late",
            model=GROK,
            request=None,
            state=EntryState.CREATED,
            created_at=2_000.0,
            updated_at=2_000.0,
        )
    )
    store.update("k000", {"state": EntryState.FAILED})  # a write while a reader is mid-way
    store.update("k030", {"state": EntryState.FAILED})
    keys = [row.key for row in first + list(stream)]
    # every row there when reading began, once, in order; a row added since may come last
    assert [key for key in keys if key != "z-late"] == [row.key for row in _rows()]
    assert keys.count("z-late") <= 1
    assert keys[-1] in ("z-late", "k036")


def test_the_journal_finds_unfinished_tasks_without_reading_old_finished_ones(
    store: Store, tmp_path: Path
) -> None:
    now = time.time()
    on_disk = tmp_path / "kept.png"
    on_disk.write_bytes(b"png")
    gone = str(tmp_path / "deleted.png")  # downloaded, then deleted by the user

    def succeeded(key: str, created_at: float, files: tuple[str, ...]) -> Entry:
        return Entry(
            key=key,
            model=GROK,
            request=None,
            state=EntryState.SUCCEEDED,
            created_at=created_at,
            updated_at=created_at,
            task_id=key,
            assets=(ASSET,),
            files=files,
        )

    old = now - RESULT_LIFETIME - 3_600
    rows = [
        succeeded("a-old-deleted", old, (gone,)),  # KIE no longer keeps it: not owed
        succeeded("b-old-never-downloaded", old + 1, ()),  # owed (its download fails: told so)
        Entry(
            key="c-created",
            model=KLING,
            request=None,
            state=EntryState.CREATED,
            created_at=now - 60,
            updated_at=now - 60,
            task_id="c",
        ),
        succeeded("d-recent-deleted", now - 30, (gone,)),  # owed: fetched again
        succeeded("e-recent-kept", now - 20, (str(on_disk),)),  # done
        Entry(
            key="f-unknown",
            model=GROK,
            request=None,
            state=EntryState.UNKNOWN,
            created_at=now - 10,
            updated_at=now - 10,
        ),
    ]
    for entry in rows:
        store.insert(entry)
    journal = Journal(store)
    assert [row.key for row in journal.unfinished()] == [
        "b-old-never-downloaded",
        "c-created",
        "d-recent-deleted",
    ]
    assert [row.key for row in journal.unfinished(model=KLING)] == ["c-created"]
    assert [row.key for row in journal.unfinished(since=now - 40)] == ["d-recent-deleted"]
    everything = [row.key for row in journal.entries() if row.unfinished]
    assert everything == [row.key for row in journal.unfinished()]


def _plan(path: Path, selection: Selection) -> str:
    """SQLite's plan for the first page of ``selection``, as EXPLAIN QUERY PLAN words it."""
    from kiekit.journal._selection import sql_conditions
    from kiekit.journal._stores import _LENGTH

    terms, params = sql_conditions(selection, mark="?", length=_LENGTH)
    where = f" WHERE {' AND '.join(terms)}" if terms else ""
    order = "DESC" if selection.newest is not None else ""
    query = f"SELECT key FROM entries{where} ORDER BY created_at {order}, rowid {order} LIMIT 5"  # noqa: S608
    with sqlite3.connect(path) as connection:
        found = connection.execute(f"EXPLAIN QUERY PLAN {query}", params).fetchall()
    return " | ".join(str(step[-1]) for step in found)


def test_sqlite_reads_open_rows_and_the_newest_rows_through_indexes(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    store = SqliteStore(path)
    for entry in _rows():
        store.insert(entry)
    store.close()
    assert "USING INDEX entries_open" in _plan(path, Selection(open=True))
    created = Selection(states=frozenset({EntryState.CREATED}))
    assert "USING INDEX entries_open" in _plan(path, created)  # created rows are all open
    assert "USING INDEX entries_created_at" in _plan(path, Selection(newest=20))
    assert "USING INDEX entries_created_at" in _plan(path, Selection(since=1_010.0))
    for plan in (_plan(path, Selection(open=True)), _plan(path, Selection(newest=20))):
        assert not re.search(r"SCAN entries(?! USING)", plan)  # never the table without an index
        assert "TEMP B-TREE" not in plan  # no sort of every row: the index is in order


def test_an_older_journal_file_gets_the_new_indexes_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    store = SqliteStore(path)
    for entry in itertools.islice(_rows(), 5):
        store.insert(entry)
    store.close()
    with sqlite3.connect(path) as connection:  # as a kiekit before these indexes left it
        connection.execute("DROP INDEX entries_open")
        connection.execute("DROP INDEX entries_created_at")
    reopened = SqliteStore(path)
    assert len(list(reopened.select(Selection(open=True)))) == len(
        [row for row in itertools.islice(_rows(), 5) if is_open(row)]
    )
    reopened.close()
    with sqlite3.connect(path) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"entries_open", "entries_created_at"} <= names


def test_an_open_index_in_older_words_is_made_again_and_serves_the_queries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite3"
    store = SqliteStore(path)
    rows = list(itertools.islice(_rows(), 5))
    for entry in rows:
        store.insert(entry)
    store.close()
    with sqlite3.connect(path) as connection:  # as an earlier kiekit made it
        connection.execute("DROP INDEX entries_open")
        connection.execute(
            "CREATE INDEX entries_open ON entries (created_at) WHERE (state IN ('claimed', "
            "'sending', 'unknown', 'created') OR (state = 'succeeded' AND "
            "json_array_length(files) < json_array_length(assets)))"
        )
    assert "USING INDEX entries_open" not in _plan(path, Selection(open=True))  # other words
    reopened = SqliteStore(path)
    assert len(list(reopened.select(Selection(open=True)))) == len(
        [row for row in rows if is_open(row)]
    )
    reopened.close()
    assert "USING INDEX entries_open" in _plan(path, Selection(open=True))


def test_the_journals_writes_build_no_temporary_table(tmp_path: Path) -> None:
    """What a write costs in SQLite: an ``IN (...)`` list in the open index's condition made
    every insert and update build a temporary table (most of a write's work)."""
    from kiekit.journal._stores import _COLUMNS, _INSERT, change_statement

    path = tmp_path / "journal.sqlite3"
    store = SqliteStore(path)
    assert store.get("nothing") is None  # the file and its schema, as kiekit makes them
    store.close()
    writes = [
        (_INSERT, [None] * len(_COLUMNS)),
        (change_statement("entries", "?", ("state", "task_id", "updated_at")), [None] * 4),
        (change_statement("entries", "?", ("state", "assets", "error", "updated_at")), [None] * 5),
        (  # a finish, as Journal.finished writes it (the task's value too)
            change_statement("entries", "?", ("state", "assets", "value", "error", "updated_at")),
            [None] * 6,
        ),
        (change_statement("entries", "?", ("files", "out_dir", "updated_at")), [None] * 4),
    ]
    with sqlite3.connect(path) as connection:
        for statement, params in writes:
            program = [step[1] for step in connection.execute(f"EXPLAIN {statement}", params)]
            assert "OpenEphemeral" not in program, statement


def test_by_task_is_the_row_holding_the_task_before_an_older_refused_row_naming_it(
    store: Store,
) -> None:
    """A create refused naming the task an earlier one made (Veo 4K asked again, kie-api.md
    §3.3) keeps its id; a lost create settled with that task later is the row holding it, the
    one a task's wait and files are written to (by_task). It was the oldest row naming it: a
    wait in another process wrote to the refused row, and ``kie resume`` owed the holder's
    for ever."""

    def row(key: str, state: EntryState, at: float) -> Entry:
        return Entry(key, GROK, {"taskId": "v"}, state, at, at, task_id="t1")

    refused = row("asked-again", EntryState.REJECTED, 1_000.0)
    store.insert(refused)
    assert store.by_task("t1") == refused  # no row holds it: the refused row says where it is
    holder = row("lost", EntryState.CREATED, 1_001.0)
    store.insert(holder)
    store.insert(row("later", EntryState.CREATED, 1_002.0))
    assert store.by_task("t1") == holder
