"""Where journal rows live: the JournalStore protocol, in memory, and in SQLite.

Rows may be held: a worker that works on a row writes itself as its ``owner`` with a lease that
runs until ``lease_until`` on the store's own clock (one clock for every worker of a shared
store, whatever their hosts' clocks say). ``update(..., holder=me)`` applies only while no one
else's lease runs, so taking a row over is one atomic compare-and-set (docs/teams.md).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import functools
import json
import math
import os
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn, Protocol, runtime_checkable

import attrs

from kiekit.errors import code_number
from kiekit.journal._entry import (
    CHOSEN_BY,
    HANDED_OFF,
    NOT_KEPT,
    WAYS_OUT,
    Entry,
    EntryState,
    JournalError,
    UnlessHandedOff,
    private_folder,
)
from kiekit.journal._selection import (
    PAGE_ROWS,
    Selection,
    done_condition,
    in_memory,
    is_done,
    open_condition,
    sql_conditions,
)
from kiekit.models import Asset, AssetRole, MediaKind


@runtime_checkable
class JournalStore(Protocol):
    """Where journal rows live. Implementations must be safe to call from several threads."""

    def insert(self, entry: Entry, *, lease: float | None = None) -> bool:
        """Add ``entry`` unless a row with its key exists (atomically); True when added. With
        ``lease``, ``entry.owner`` holds it for that many seconds of the store's clock."""

    def update(
        self,
        key: str,
        changes: Mapping[str, Any],
        *,
        only_if: Iterable[EntryState] | None = None,
        holder: str | None = None,
        lease: float | None = None,
        let_go_before: float | None = None,
    ) -> Entry | None:
        """Apply ``changes`` (Entry field names) to the row; with ``only_if``, only when its
        state is one of those (a compare-and-set). With ``holder``, only when no other owner's
        lease runs; the row is then ``holder``'s, for ``lease`` seconds (None: released). With
        ``let_go_before`` too, not a row another owner let go (no lease) at or after that
        moment (its ``updated_at``): what another worker of this run gave up stays given up.
        The row after, or None when not applied."""

    # A store may also say ``checks_owner = True``: its ``update`` (and its ``change``, if it
    # has one) takes ``owned_by=OWNER``, applying the change only while the row's owner is
    # OWNER (whatever its lease): the
    # journal's writes about a row a worker holds, which another worker may have taken over
    # meanwhile (Journal's taken-over rows). A store without it gets those writes unchecked.

    # A store may also say ``keeps_hand_offs = True``: it takes an ``error`` given as
    # UnlessHandedOff (applied, in the same statement, unless the row is a success handed
    # off). The journal gives a store without it the bare error.

    # A store may also say ``keeps_runs = True``: it keeps Entry.run, given as the ``run``
    # change of a row's ``created`` write. The journal gives a store without it no ``run``.

    # A store may also offer ``change(key, changes) -> bool``: ``update`` without conditions
    # and without reading the row back (the clients' writes after the create ignore the row),
    # True when a row was changed. The journal uses it when present (kiekit's stores have it).

    def renew(self, owner: str, lease: float) -> int:
        """Extend every running lease ``owner`` holds to ``lease`` seconds from now; how many."""

    # A store may also offer ``renew_rows(owner, lease, keys) -> int``: ``renew`` of the rows
    # named by ``keys`` only (a client's waits and downloads at work: Journal.renew_at_work),
    # in one statement or a few. Without it the journal renews every lease ``owner`` holds.

    def now(self) -> float:
        """The store's clock (Unix seconds), which leases run on."""

    def get(self, key: str) -> Entry | None:
        """The row whose key is ``key``, or None."""

    def by_task(self, task_id: str) -> Entry | None:
        """The row of a created task: the oldest holding it; a ``rejected`` row naming it
        (a create refused naming the task an earlier one made, kie-api.md §3.3) only when no
        row holds it."""

    def entries(self) -> list[Entry]:
        """Every row, oldest first, all in memory at once (small journals, tests): a reader of
        a journal that grows uses ``select``."""

    # A store may also offer ``open()``: connect now (JournalError if it cannot), not at the
    # first use (Journal.open; kiekit's stores have it). Without it a lookup of no row does.

    # A store may also offer ``select(selection: Selection) -> Iterator[Entry]``: the rows
    # ``selection`` chooses, oldest first, read a page at a time where they live (filtered,
    # ordered and cut there), so memory stays flat however many rows there are; each page is
    # its own short read, so writes may go on between pages. kiekit's stores have it; for a
    # store without it the journal filters ``entries()`` in memory (a store written before
    # select() existed keeps working).


class MemoryStore:
    """A journal that lives as long as the process: for tests and throwaway scripts. Its
    methods are :class:`JournalStore`'s (documented there); a user reads rows through a
    :class:`~kiekit.journal.Journal`."""

    keeps_hand_offs = True  # an error given as UnlessHandedOff (JournalStore)
    checks_owner = True  # update(owned_by=...) (JournalStore)
    keeps_runs = True  # Entry.run (JournalStore)

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, Entry] = {}
        self._clock = clock

    def open(self) -> None:
        """Nothing to open: the rows live in this process."""

    def now(self) -> float:
        return self._clock()

    def insert(self, entry: Entry, *, lease: float | None = None) -> bool:
        with self._lock:
            if entry.key in self._rows:
                return False
            if lease is not None:
                entry = attrs.evolve(entry, lease_until=self._clock() + lease)
            self._rows[entry.key] = entry
            return True

    def update(
        self,
        key: str,
        changes: Mapping[str, Any],
        *,
        only_if: Iterable[EntryState] | None = None,
        holder: str | None = None,
        lease: float | None = None,
        let_go_before: float | None = None,
        owned_by: str | None = None,
    ) -> Entry | None:
        with self._lock:
            row = self._rows.get(key)
            if row is None or (only_if is not None and row.state not in set(only_if)):
                return None
            if owned_by is not None and row.owner != owned_by:
                return None
            now = self._clock()
            if holder is not None:
                if not _free_for(row, holder, now):
                    return None
                if let_go_before is not None and _let_go_since(row, holder, let_go_before):
                    return None
                until = None if lease is None else now + lease
                changes = {**changes, "owner": holder, "lease_until": until}
            error = changes.get("error")
            if isinstance(error, UnlessHandedOff):
                changes = {**changes, "error": error.over(row)}
            row = self._rows[key] = attrs.evolve(row, **changes)
            return row

    def change(self, key: str, changes: Mapping[str, Any], *, owned_by: str | None = None) -> bool:
        _column_values(changes)  # the same checks as the other stores: a wrong field is named
        return self.update(key, changes, owned_by=owned_by) is not None

    def renew(self, owner: str, lease: float) -> int:
        with self._lock:
            held = [
                key
                for key, row in self._rows.items()
                if row.owner == owner and row.lease_until is not None
            ]
            until = self._clock() + lease
            for key in held:
                self._rows[key] = attrs.evolve(self._rows[key], lease_until=until)
            return len(held)

    def renew_rows(self, owner: str, lease: float, keys: Iterable[str]) -> int:
        with self._lock:
            until = self._clock() + lease
            held = 0
            for key in set(keys):
                row = self._rows.get(key)
                if row is not None and row.owner == owner and row.lease_until is not None:
                    self._rows[key] = attrs.evolve(row, lease_until=until)
                    held += 1
            return held

    def get(self, key: str) -> Entry | None:
        with self._lock:
            return self._rows.get(key)

    def by_task(self, task_id: str) -> Entry | None:
        with self._lock:
            named = sorted(
                (row for row in self._rows.values() if row.task_id == task_id),
                key=lambda row: (row.state is EntryState.REJECTED, row.created_at),
            )
        return named[0] if named else None

    def entries(self) -> list[Entry]:
        with self._lock:
            return sorted(self._rows.values(), key=lambda row: row.created_at)

    def select(self, selection: Selection) -> Iterator[Entry]:
        with self._lock:
            rows = list(self._rows.values())
        return in_memory(rows, selection)

    def prune(self, before: float, *, dry_run: bool = False) -> int:
        with self._lock:
            now = self._clock()
            gone = [key for key, row in self._rows.items() if _prunable(row, before, now)]
            if not dry_run:
                for key in gone:
                    del self._rows[key]
            return len(gone)


def _prunable(row: Entry, before: float, now: float) -> bool:
    """PRUNABLE for one row: done, last changed before ``before``, held by no running lease."""
    held = row.lease_until is not None and row.lease_until > now
    return row.updated_at < before and not held and is_done(row)


class Unopenable:
    """A journal with nowhere to be: the default one when there is no home directory to keep
    it under (a container's user without an entry in /etc/passwd, HOME unset). Every use
    raises why, as a journal file that cannot be opened does at its first use: so a client is
    made, a command that records nothing (credits, chat, upload) works, and a create is
    refused before it is sent."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __repr__(self) -> str:
        return f"Unopenable({self.why!r})"

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise JournalError(self.why)

    insert = update = change = renew = now = get = by_task = entries = select = prune = _refuse
    open = _refuse


# How many keys one statement of SqliteStore.renew_rows names (SQLite before 3.32 takes 999
# parameters at most).
_KEYS_A_STATEMENT = 500
_LENGTH = "json_array_length({})"  # SQLite's JSON functions are built in since 3.38
_KIND = "json_extract({}, '$.type')"
# The rows Journal.prune deletes, in SQLite and PostgreSQL alike: done (is_done), last changed
# before {before} and held by no running lease. created_at is never later than updated_at: said
# too, so the created_at index finds them, oldest first.
PRUNABLE = (
    "created_at < {before} AND updated_at < {before} AND (lease_until IS NULL OR "
    "lease_until <= {now}) AND {done}"
)

# The journal's schema version, kept in the file (SQLite's ``PRAGMA user_version``; a comment
# on PostgreSQL's table). It goes up with a change an older kiekit could not write correctly (a
# column it would leave empty that must not be, a state it does not know): an older kiekit then
# refuses the journal, and a newer one brings an older journal up to date when it opens it.
# 0: a journal of a kiekit before versions were kept (brought up to date like any older one).
SCHEMA_VERSION = 1

# One statement each: the schema is brought up to date in one transaction (see _prepare).
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    task_id TEXT,
    model TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    base_url TEXT,
    out_dir TEXT,
    account TEXT,
    request TEXT,
    assets TEXT NOT NULL DEFAULT '[]',
    files TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    value TEXT,
    run TEXT,
    owner TEXT,
    lease_until REAL
)""",
    "CREATE INDEX IF NOT EXISTS entries_task_id ON entries (task_id)",
    # no index on state: every change of state would pay for it. Listings read the newest rows
    # by created_at (never changed, so only an insert pays for it); the open rows (kie resume,
    # kie tasks --state unfinished) have a partial index of their own, as small as the work in
    # flight.
    "DROP INDEX IF EXISTS entries_state",
    "CREATE INDEX IF NOT EXISTS entries_created_at ON entries (created_at)",
    f"CREATE INDEX IF NOT EXISTS entries_open ON entries (created_at) "
    f"WHERE {open_condition(_LENGTH)}",
)
# After the columns an older journal gains (_add_columns): the leased rows by owner. A renewal
# (every lease/3 while a worker waits) and the ending of a dead worker's leases (kie resume,
# take) touch one owner's rows, not the whole table, as in PostgreSQL's journal. Rows let go
# (lease_until NULL) are left out, so the index is as small as the work held.
_OWNER_INDEX = (
    "CREATE INDEX IF NOT EXISTS entries_owner ON entries (owner) WHERE lease_until IS NOT NULL"
)
_COLUMNS = (
    "key",
    "task_id",
    "model",
    "state",
    "created_at",
    "updated_at",
    "base_url",
    "out_dir",
    "account",
    "request",
    "assets",
    "files",
    "error",
    "value",
    "run",
    "owner",
    "lease_until",  # the last: SqliteStore.insert sets it by position
)
# Columns added since the first journal files; _prepare adds them to an older file. ``value``
# needs no new schema version: an older kiekit's rows leave it NULL, which reads as NOT_KEPT
# (its value fetched once more while KIE keeps the task), never as a wrong value; nor does
# ``run``: an older kiekit's rows leave it NULL, "not known", and its Celery batch summaries
# count as they did (kiekit.distributed.collect).
_ADDED_COLUMNS = {
    "owner": "TEXT",
    "lease_until": "REAL",
    "account": "TEXT",
    "value": "TEXT",
    "run": "TEXT",
}

# UnlessHandedOff in SQL, in SQLite and PostgreSQL alike: the error a success handed off has,
# else the one written ({value}). SET reads the row as it was before the UPDATE, so the test
# and the write are one statement: a hand-off cannot land between them.
KEEP_HAND_OFF = (
    f"CASE WHEN state = 'succeeded' AND {{kind}} = '{HANDED_OFF}' THEN error ELSE {{value}} END"
)


def kept_error(changes: Mapping[str, Any], kind: str) -> str | None:
    """``kind`` (a database's reading of an error's type, _KIND) when ``changes`` give their
    ``error`` as UnlessHandedOff, for :func:`assignments`; else None."""
    return kind if isinstance(changes.get("error"), UnlessHandedOff) else None


@functools.cache
def assignments(names: tuple[str, ...], mark: str, kept_error: str | None = None) -> str:
    """The SET list of an UPDATE of these columns, with the database's placeholder ``mark``;
    with ``kept_error`` (:func:`kept_error`), an ``error`` a hand-off's mark outlives."""
    said = [
        f"error = {KEEP_HAND_OFF.format(kind=kept_error.format('error'), value=mark)}"
        if name == "error" and kept_error is not None
        else f"{name} = {mark}"
        for name in names
    ]
    return ", ".join(said)


# A row nobody else holds: unowned, ours, released, or its lease has run out. The same words
# in SQLite and PostgreSQL, with each one's placeholders.
FREE_FOR = "(owner IS NULL OR owner = {holder} OR lease_until IS NULL OR lease_until <= {now})"
# Not a row another owner let go at or after {since}: update(let_go_before=…), in both stores.
LET_GO_BEFORE = (
    "(owner IS NULL OR owner = {holder} OR lease_until IS NOT NULL OR updated_at < {since})"
)


def _prepare(connection: sqlite3.Connection, path: Path, *, patience: float = 30.0) -> None:
    """WAL mode and the schema, once per file. Several processes opening a new journal at once
    race to switch it to WAL, and the switch answers "database is locked" at once instead of
    waiting out busy_timeout: so it is tried again, a little later each time, until one has
    done it (the others then find WAL already on)."""
    ends = time.monotonic() + patience
    pause = 0.002
    while True:
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                connection.execute("PRAGMA journal_mode = WAL")
            _require_json(connection)
            _bring_up_to_date(connection, path)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > ends:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def _bring_up_to_date(connection: sqlite3.Connection, path: Path) -> None:
    """The schema of SCHEMA_VERSION, in one transaction holding the write lock from the look
    at the file's version to the new version: a newer kiekit opening the file at the same time
    cannot have its version written over with this one's (a journal it then could not trust)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        found = _version(connection, path)
        _drop_stale_open_index(connection)
        for statement in _SCHEMA:
            connection.execute(statement)
        _add_columns(connection)
        connection.execute(_OWNER_INDEX)
        if found < SCHEMA_VERSION:
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise


def _version(connection: sqlite3.Connection, path: Path) -> int:
    """The file's schema version; JournalError when a newer kiekit wrote it."""
    found: int = connection.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise newer_schema(str(path), found)
    return found


def newer_schema(where: str, found: int) -> JournalError:
    """A journal whose schema is newer than this kiekit's: its rows may hold what this one
    cannot read or would write wrong, so nothing is read or written (SCHEMA_VERSION). The
    store does not know what named it, so the message names every way, first the one that
    wins: moving KIEKIT_DATA_DIR does nothing to a journal ``--journal`` names."""
    return JournalError(
        f"task journal {where}: written by a newer kiekit (schema {found}); upgrade kiekit "
        f"(this one knows the journal up to schema {SCHEMA_VERSION}), or use another journal: "
        f"{CHOSEN_BY}"
    )


def _free_for(row: Entry, holder: str, now: float) -> bool:
    """Whether ``holder`` may take ``row``: no one else's lease runs on it."""
    return row.owner in (None, holder) or row.lease_until is None or row.lease_until <= now


def _let_go_since(row: Entry, holder: str, since: float) -> bool:
    """Whether another owner than ``holder`` let ``row`` go (no lease) at ``since`` or later."""
    return row.owner not in (None, holder) and row.lease_until is None and row.updated_at >= since


def _require_json(connection: sqlite3.Connection) -> None:
    """The schema's partial index reads JSON arrays (``json_array_length``): a SQLite built
    without its JSON functions is named as the cause, not left to a bare "no such function"."""
    try:
        connection.execute("SELECT json_array_length('[]')")
    except sqlite3.OperationalError as exc:
        raise sqlite3.OperationalError(
            "the journal needs SQLite's JSON functions (built in since SQLite 3.38); this "
            f"Python's sqlite3 module has SQLite {sqlite3.sqlite_version} without them ({exc})"
        ) from exc


def _drop_stale_open_index(connection: sqlite3.Connection) -> None:
    """An ``entries_open`` made by an earlier kiekit with other words for its condition is
    made again (by _SCHEMA) with today's: a query names the condition in today's words, and
    SQLite uses a partial index only for the very words it was made with."""
    found = connection.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'entries_open'"
    ).fetchone()
    if found is not None and open_condition(_LENGTH) not in found[0]:
        connection.execute("DROP INDEX IF EXISTS entries_open")


def _add_columns(connection: sqlite3.Connection) -> None:
    """Bring a journal file made by an older kiekit up to today's columns."""
    present = {row[1] for row in connection.execute("PRAGMA table_info(entries)")}
    for name, kind in _ADDED_COLUMNS.items():
        if name not in present:
            try:
                connection.execute(f"ALTER TABLE entries ADD COLUMN {name} {kind}")
            except sqlite3.OperationalError as exc:  # another process added it meanwhile
                if "duplicate column" not in str(exc):
                    raise


def _missing_columns_read_as_empty(connection: sqlite3.Connection) -> None:
    """An older kiekit's journal opened read-only cannot be brought up to date (_add_columns):
    the columns it lacks read as NULL, as they would once added (an older row's ``account``,
    ``owner``, ``value``: not known, not kept). A temporary view named ``entries`` stands in
    front of the file's table (SQLite looks in ``temp`` first), in this connection alone;
    the file is not written."""
    present = {row[1] for row in connection.execute("PRAGMA main.table_info(entries)")}
    missing = [name for name in _ADDED_COLUMNS if name not in present]
    if missing:
        empty = ", ".join(f"NULL AS {name}" for name in missing)
        connection.execute(
            f"CREATE TEMP VIEW entries AS SELECT rowid AS rowid, *, {empty} FROM main.entries"  # noqa: S608 - fixed names
        )


_UNSTORABLE = "a value that is not valid UTF-8 (a file or folder name?) cannot be recorded"
# A row refused by a rule kiekit did not make: a column or constraint a newer kiekit added.
NOT_OURS = (
    "the journal has a column or rule this kiekit does not know (made by a newer kiekit?): "
    f"upgrade kiekit, or use another journal: {CHOSEN_BY}"
)


class _SqliteErrors:
    """A reusable ``with`` block raising sqlite3's errors as JournalError (a class, not a
    generator: it guards every statement of the journal's hot path, and costs less so)."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        if isinstance(exc, sqlite3.IntegrityError):  # no rule of kiekit's own can be broken
            raise JournalError(f"task journal {self.path}: {exc}; {NOT_OURS}") from exc
        if isinstance(exc, sqlite3.Error):
            raise JournalError(f"task journal {self.path}: {exc}") from exc
        if isinstance(exc, OSError):  # the folder cannot be made
            raise JournalError(f"task journal {self.path}: {exc.strerror or exc}") from exc
        if isinstance(exc, UnicodeEncodeError):  # a path whose name is not UTF-8 (bytes on Linux)
            raise JournalError(f"task journal {self.path}: {_UNSTORABLE}") from exc


def _cannot_open(path: Path, exc: sqlite3.Error | OSError) -> str:
    """Why the journal file cannot be opened, and the three ways out: the user meets this in a
    container or CI job whose home or data folder cannot be written."""
    if path.is_dir():
        why = "it is a folder, not a file (name a file in it, e.g. journal.sqlite3)"
    elif path.parent.is_dir() and not os.access(path.parent, os.W_OK) and not path.exists():
        why = f"its folder {path.parent} is not writable"
    elif isinstance(exc, FileExistsError | NotADirectoryError) and exc.filename:
        why = f"its folder cannot be made: {exc.filename} is a file"
    elif isinstance(exc, OSError):
        why = exc.strerror or str(exc)
    else:
        why = str(exc)
    return f"task journal {path}: {why}. {WAYS_OUT}"


def _private_file(path: Path) -> None:
    """Create the journal file readable and writable by this user alone (0600) before SQLite
    opens it (SQLite gives its -wal and -shm files the database file's mode). An existing file
    keeps its mode: kiekit does not change the modes of files it did not just make."""
    # an existing file is left as it is; in a read-only folder SQLite's own open says why (or
    # reads the journal read-only)
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


class _Connection(sqlite3.Connection):
    """sqlite3's connection, which can be referred to weakly (SqliteStore._opened)."""


class SqliteStore:
    """The journal in one SQLite file: WAL mode, so readers never block the writer and several
    processes (a batch, ``kie resume``, ``kie tasks``) share it; every change is its own
    transaction, committed before the call returns, so a row survives the process being killed
    (SIGKILL included). By default commits are not flushed to the disk one by one
    (``synchronous=NORMAL``, about 0.4 ms a write): an OS crash or power cut may lose the last
    few. ``fsync=True`` flushes every commit (``synchronous=FULL``; several ms a write, which a
    1,000-task batch feels). One connection per thread; nothing is opened until used.

    Keep the file on a local disk: SQLite's locking is unreliable on network file systems.
    Its methods are :class:`JournalStore`'s (documented there); a user reads rows through a
    :class:`~kiekit.journal.Journal`.
    """

    keeps_hand_offs = True  # an error given as UnlessHandedOff (JournalStore)
    checks_owner = True  # update(owned_by=...) (JournalStore)
    keeps_runs = True  # Entry.run (JournalStore)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._clock = clock  # one machine's clock: every process sharing the file reads it
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()
        self._errors = _SqliteErrors(self.path)
        # every connection opened (one a thread: the journal writer's, a client's), so close()
        # closes all of them, not only the calling thread's: each holds the file, its -wal and
        # its -shm open until closed. A thread's connection of an earlier generation is closed.
        # (weakly: a connection whose thread ended is freed, and closed, with it)
        self._opened: weakref.WeakSet[sqlite3.Connection] = weakref.WeakSet()
        self._generation = 0

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def _guard(self) -> _SqliteErrors:
        """sqlite3's errors, as kiekit's: the file and what went wrong, never a traceback."""
        return self._errors

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if getattr(self._local, "generation", None) != self._generation:
            connection = None  # closed by close(), from whatever thread: a new one
        if connection is None:
            try:
                try:
                    connection = self._open()
                except sqlite3.OperationalError:
                    if self._writable():
                        raise
                    connection = self._open_read_only()
            except (sqlite3.Error, OSError) as exc:
                if "locked" in str(exc):  # another process holds it: no set-up to fix
                    raise
                raise JournalError(_cannot_open(self.path, exc)) from exc
            with self._ready_lock:
                self._opened.add(connection)
                self._local.generation = self._generation
            self._local.connection = connection
        return connection

    def _open(self) -> sqlite3.Connection:
        private_folder(self.path.parent)
        _private_file(self.path)
        # isolation_level=None: we open transactions ourselves (BEGIN IMMEDIATE), so a
        # compare-and-set holds the write lock from its read to its write.
        # check_same_thread=False: only close() uses it from another thread (each thread has
        # its own connection otherwise)
        connection = sqlite3.connect(
            self.path,
            timeout=30.0,
            isolation_level=None,
            check_same_thread=False,
            factory=_Connection,
        )
        try:
            connection.execute("PRAGMA busy_timeout = 30000")
            connection.execute(f"PRAGMA synchronous = {'FULL' if self.fsync else 'NORMAL'}")
            with self._ready_lock:
                if not self._ready:
                    _prepare(connection, self.path)
                    self._ready = True
        except BaseException:  # sqlite3's errors, a journal of a newer kiekit
            connection.close()
            raise
        return connection

    def open(self) -> None:
        """This thread's connection opened (and the file made, or upgraded) now."""
        with self._guard():
            self._connection()

    def check_folders(self) -> None:
        """JournalError, as opening would give, when a file stands where a folder of the path
        should be (``KIEKIT_DATA_DIR`` naming a file): a journal not made yet reads as empty,
        but this one could never be made, and a reading command must not say "nothing yet"."""
        for folder in self.path.parents:
            if folder.exists():
                if not folder.is_dir():
                    error = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), folder)
                    raise JournalError(_cannot_open(self.path, error))
                return

    def _writable(self) -> bool:
        folder = self.path.parent
        if not folder.exists():
            return True  # the folder could not be made: that error says why
        return os.access(folder, os.W_OK) and (
            not self.path.exists() or os.access(self.path, os.W_OK)
        )

    def _open_read_only(self) -> sqlite3.Connection:
        """A journal on a read-only mount (a backup, a container's image) can still be read
        (``kie tasks``): read-only mode, or immutable when SQLite cannot even make the WAL's
        shared-memory file beside it (nobody writes a read-only mount, so nothing changes)."""
        uri = self.path.resolve().as_uri()
        for options in ("mode=ro", "mode=ro&immutable=1"):
            connection = sqlite3.connect(
                f"{uri}?{options}",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                factory=_Connection,
            )
            try:
                connection.execute("SELECT count(*) FROM entries").fetchone()
                _version(connection, self.path)  # read-only, it is still no file to misread
                _missing_columns_read_as_empty(connection)
            except sqlite3.Error:
                connection.close()
                continue
            except JournalError:
                connection.close()
                raise
            return connection
        raise sqlite3.OperationalError("the journal is on a read-only file system and unreadable")

    def now(self) -> float:
        return self._clock()

    def insert(self, entry: Entry, *, lease: float | None = None) -> bool:
        values = _row_values(entry)
        if lease is not None:
            values[-1] = self._clock() + lease  # lease_until, the last column
        with self._guard():
            return self._connection().execute(_INSERT, values).rowcount == 1

    def update(
        self,
        key: str,
        changes: Mapping[str, Any],
        *,
        only_if: Iterable[EntryState] | None = None,
        holder: str | None = None,
        lease: float | None = None,
        let_go_before: float | None = None,
        owned_by: str | None = None,
    ) -> Entry | None:
        # One statement, so one atomic transaction: the state test (compare-and-set) and the
        # write cannot be split, and the row comes back without a second query (RETURNING).
        if holder is not None:
            now = self._clock()
            until = None if lease is None else now + lease
            changes = {**changes, "owner": holder, "lease_until": until}
        values = _column_values(changes)
        where, params = "key = ?", [*values.values(), key]
        if only_if is not None:
            states = [state.value for state in only_if]
            where += f" AND state IN ({', '.join('?' for _ in states)})"
            params += states
        if holder is not None:
            where += " AND " + FREE_FOR.format(holder="?", now="?")
            params += [holder, now]
            if let_go_before is not None:
                where += " AND " + LET_GO_BEFORE.format(holder="?", since="?")
                params += [holder, let_go_before]
        if owned_by is not None:
            where += " AND owner = ?"
            params.append(owned_by)
        said = assignments(tuple(values), "?", kept_error(changes, _KIND))
        with self._guard():
            rows = (
                self._connection()
                .execute(
                    f"UPDATE entries SET {said} WHERE {where} "  # noqa: S608 - fixed names
                    f"RETURNING {', '.join(_COLUMNS)}",
                    params,
                )
                .fetchall()  # all of them: the statement (and its transaction) ends here
            )
        return _from_row(dict(zip(_COLUMNS, rows[0], strict=True))) if rows else None

    def change(self, key: str, changes: Mapping[str, Any], *, owned_by: str | None = None) -> bool:
        """``update(key, changes[, owned_by=])`` without reading the row back: one statement
        (its own transaction, or its part of a ``batch``); True when the row was changed."""
        values = _column_values(changes)
        statement = change_statement(
            "entries", "?", tuple(values), kept_error(changes, _KIND), owned_by is not None
        )
        params = [*values.values(), key, *([] if owned_by is None else [owned_by])]
        with self._guard():
            return self._connection().execute(statement, params).rowcount == 1

    def renew(self, owner: str, lease: float) -> int:
        with self._guard():
            cursor = self._connection().execute(
                "UPDATE entries SET lease_until = ? WHERE owner = ? AND lease_until IS NOT NULL",
                (self._clock() + lease, owner),
            )
            return cursor.rowcount

    def renew_rows(self, owner: str, lease: float, keys: Iterable[str]) -> int:
        """:meth:`renew` of the rows ``keys`` names, a few hundred keys a statement (older
        SQLite takes 999 parameters at most)."""
        named = sorted(set(keys))
        until = self._clock() + lease
        held = 0
        with self._guard():
            connection = self._connection()
            for start in range(0, len(named), _KEYS_A_STATEMENT):
                some = named[start : start + _KEYS_A_STATEMENT]
                cursor = connection.execute(
                    "UPDATE entries SET lease_until = ? WHERE owner = ? AND "  # noqa: S608
                    f"lease_until IS NOT NULL AND key IN ({', '.join('?' * len(some))})",
                    (until, owner, *some),
                )
                held += cursor.rowcount
        return held

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """The writes this thread makes inside the block share one transaction, committed at
        its end (the clients' group commit, kiekit.journal._writer); an error rolls
        them all back."""
        connection = self._connection()
        with self._guard():
            connection.execute("BEGIN IMMEDIATE")
        try:
            yield
            with self._guard():
                connection.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # a failed COMMIT leaves it open
                connection.execute("ROLLBACK")
            raise

    def get(self, key: str) -> Entry | None:
        with self._guard():
            return self._get(self._connection(), key)

    def by_task(self, task_id: str) -> Entry | None:
        query = (
            f"SELECT {', '.join(_COLUMNS)} FROM entries WHERE task_id = ? "  # noqa: S608
            # the row holding the task before a refused one naming it (JournalStore.by_task)
            "ORDER BY state = 'rejected', created_at LIMIT 1"
        )
        with self._guard():
            found = self._connection().execute(query, (task_id,)).fetchone()
        return None if found is None else _from_row(dict(zip(_COLUMNS, found, strict=True)))

    def entries(self) -> list[Entry]:
        query = f"SELECT {', '.join(_COLUMNS)} FROM entries ORDER BY created_at, rowid"  # noqa: S608
        with self._guard():
            rows = self._connection().execute(query).fetchall()
        return [_from_row(dict(zip(_COLUMNS, values, strict=True))) for values in rows]

    def select(self, selection: Selection) -> Iterator[Entry]:
        terms, params = sql_conditions(selection, mark="?", length=_LENGTH)
        columns = f"SELECT {', '.join(_COLUMNS)}, rowid FROM entries"  # noqa: S608 - fixed names
        if selection.newest is not None:
            where = f" WHERE {' AND '.join(terms)}" if terms else ""
            query = f"{columns}{where} ORDER BY created_at DESC, rowid DESC LIMIT ?"
            yield from reversed(self._page(query, [*params, selection.newest])[0])
            return
        after: list[Any] = []
        while True:  # keyset pages: each starts after the last row of the one before
            later = "created_at >= ? AND (created_at > ? OR rowid > ?)"
            paged = [*terms, later] if after else terms
            where = f" WHERE {' AND '.join(paged)}" if paged else ""
            query = f"{columns}{where} ORDER BY created_at, rowid LIMIT {PAGE_ROWS}"
            page, last_rowid = self._page(query, [*params, *after])
            yield from page
            if len(page) < PAGE_ROWS:
                return
            after = [page[-1].created_at, page[-1].created_at, last_rowid]

    def prune(self, before: float, *, dry_run: bool = False) -> int:
        """Delete the rows ``Journal.prune`` names, a page at a time (each page its own short
        transaction, so the service writing to the file waits at most for one); how many."""
        where = PRUNABLE.format(before="?", now="?", done=done_condition(_LENGTH, _KIND))
        params = [before, before, self._clock()]
        connection = self._connection()
        with self._guard():
            if dry_run:
                query = f"SELECT count(*) FROM entries WHERE {where}"  # noqa: S608 - fixed names
                return int(connection.execute(query, params).fetchone()[0])
        pruned = 0
        after: list[Any] = []
        while True:  # keyset pages over created_at, as select's: what is kept is read once
            later = " AND created_at >= ? AND (created_at > ? OR rowid > ?)" if after else ""
            query = (
                f"SELECT created_at, rowid FROM entries WHERE {where}{later} "  # noqa: S608
                f"ORDER BY created_at, rowid LIMIT {PAGE_ROWS}"
            )
            with self._guard():
                page = connection.execute(query, [*params, *after]).fetchall()
                if not page:
                    return pruned
                marks = ", ".join("?" for _ in page)
                # the condition again: a row that changed since it was read is kept
                pruned += connection.execute(
                    f"DELETE FROM entries WHERE rowid IN ({marks}) AND {where}",  # noqa: S608
                    [*(rowid for _, rowid in page), *params],
                ).rowcount
            if len(page) < PAGE_ROWS:
                return pruned
            after = [page[-1][0], page[-1][0], page[-1][1]]

    def _page(self, query: str, params: list[Any]) -> tuple[list[Entry], int | None]:
        """One page of rows (their rowid last in each), and the rowid of its last."""
        with self._guard():
            rows = self._connection().execute(query, params).fetchall()
        last_rowid = rows[-1][-1] if rows else None
        return [_from_row(dict(zip(_COLUMNS, row[:-1], strict=True))) for row in rows], last_rowid

    def _get(self, connection: sqlite3.Connection, key: str) -> Entry | None:
        found = connection.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM entries WHERE key = ?",  # noqa: S608
            (key,),
        ).fetchone()
        return None if found is None else _from_row(dict(zip(_COLUMNS, found, strict=True)))

    def close(self) -> None:
        """Close every connection this store opened, on every thread (a later call opens a
        new one). Call it when no other thread is using the store: ``Journal.close`` does so
        after the writes queued for it."""
        with self._ready_lock:
            opened, self._opened = list(self._opened), weakref.WeakSet()
            self._generation += 1
        for connection in opened:
            connection.close()
        self._local.connection = None


def _asset_json(asset: Asset) -> dict[str, Any]:
    return {
        "url": asset.url,
        "kind": asset.kind.value,
        "media_type": asset.media_type,
        "label": asset.label,
        "role": asset.role.value,
    }


def _asset_of(item: Mapping[str, Any]) -> Asset:
    return Asset(
        url=str(item["url"]),
        kind=MediaKind(item.get("kind", "other")),
        media_type=item.get("media_type"),
        label=item.get("label"),
        role=AssetRole(item.get("role", "main")),  # rows written before roles: all main
    )


# ON CONFLICT (key), not INSERT OR IGNORE: IGNORE also skips a row that breaks a NOT NULL or
# CHECK constraint (a newer kiekit's column this one does not fill), without a word; the intent
# row was then lost and its create sent all the same. Only an existing key is passed over here.
_INSERT = (
    f"INSERT INTO entries ({', '.join(_COLUMNS)}) "  # noqa: S608 - fixed names
    f"VALUES ({', '.join('?' for _ in _COLUMNS)}) ON CONFLICT (key) DO NOTHING"
)


@functools.cache
def change_statement(
    table: str,
    mark: str,
    names: tuple[str, ...],
    kept_error: str | None = None,
    owned: bool = False,
) -> str:
    """The UPDATE of these columns by key (and owner, when ``owned``: a second parameter),
    with the database's placeholder ``mark`` (SQLite and PostgreSQL write the same words;
    ``kept_error``: :func:`assignments`): a handful of combinations, each built once."""
    said = assignments(names, mark, kept_error)
    owner = f" AND owner = {mark}" if owned else ""
    return f"UPDATE {table} SET {said} WHERE key = {mark}{owner}"  # noqa: S608 - fixed names


# A path whose name is not UTF-8 (bytes on Linux, held in a str by surrogateescape) is kept as
# its bytes in base64 behind this mark: SQLite's and PostgreSQL's text refuse the lone surrogates
# such a str holds, and a download whose files could not be recorded left its row owed for ever
# with the files on disk. The journal's paths are absolute, so no real one starts so.
_BYTES_MARK = "base64:"


def _path_text(path: str | os.PathLike[str]) -> str:
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _BYTES_MARK + base64.b64encode(os.fsencode(text)).decode("ascii")
    return text


def _path_of(text: str) -> str:
    if text.startswith(_BYTES_MARK):
        return os.fsdecode(base64.b64decode(text[len(_BYTES_MARK) :]))
    return text


def _json(value: Any, **options: Any) -> str:
    """``value`` as a column stores JSON: readable (``"Кот"``, so SQL's ``LIKE '%Кот%'`` finds
    a prompt), in JSON's ``\\u`` escapes only what UTF-8 cannot carry (a lone surrogate,
    which neither SQLite nor PostgreSQL takes). Rows written before in escapes read the same:
    ``json.loads`` takes both."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return _SURROGATE.sub(lambda found: json.dumps(found[0])[1:-1], text)


_SURROGATE = re.compile(r"[\ud800-\udfff]")  # in no UTF-8: JSON's "\\udcff" for it


def _files_json(files: Iterable[str | os.PathLike[str]]) -> str:
    return _json([_path_text(path) for path in files])


def _row_values(entry: Entry) -> list[Any]:
    """The entry's column values, in the order of _COLUMNS."""
    request, error = entry.request, entry.error
    return [
        entry.key,
        entry.task_id,
        entry.model,
        entry.state.value,
        entry.created_at,
        entry.updated_at,
        entry.base_url,
        None if entry.out_dir is None else _path_text(entry.out_dir),
        entry.account,
        None if request is None else _json(request),
        _json([_asset_json(asset) for asset in entry.assets]) if entry.assets else "[]",
        _files_json(entry.files) if entry.files else "[]",
        None if error is None else _json(error),
        _value_json(entry.value),
        entry.run,
        entry.owner,
        entry.lease_until,
    ]


def _to_row(entry: Entry) -> dict[str, Any]:
    return dict(zip(_COLUMNS, _row_values(entry), strict=True))


def _json_or_none(value: Any) -> str | None:
    return None if value is None else _json(value)


def _value_json(value: Any) -> str | None:
    """A task's value as its column holds it: NULL when not kept (NOT_KEPT), else JSON, a value
    of None included ("null"). A value JSON cannot spell (a plugin's own object) is kept as its
    text, not refused: the write it rides on records a paid task's success."""
    if value is NOT_KEPT:
        return None
    return _json(value, default=str)


_ENCODERS: dict[str, Any] = {
    "value": _value_json,
    "state": lambda state: EntryState(state).value,
    "request": _json_or_none,
    "assets": lambda assets: _json([_asset_json(asset) for asset in assets]),
    "files": _files_json,
    "out_dir": lambda out_dir: None if out_dir is None else _path_text(out_dir),
    "error": lambda error: _json_or_none(
        error.error if isinstance(error, UnlessHandedOff) else error
    ),
}


_CHANGEABLE = frozenset(_COLUMNS[1:])


def _column_values(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changed fields as column values; a field that is not a column (or the key) is a bug."""
    unknown = changes.keys() - _CHANGEABLE
    if unknown or not changes:
        raise ValueError(f"cannot update journal fields {sorted(unknown) or 'none'}")
    return {name: _ENCODERS.get(name, _same)(value) for name, value in changes.items()}


def _same(value: Any) -> Any:
    return value


def _time(value: Any) -> float:
    """A row's time. SQLite keeps any text in a REAL column: a time that is not a number (a
    row edited by hand) reads as 0, not known, rather than breaking every listing it is in."""
    if type(value) is not float:
        try:
            value = float(value)
        except (TypeError, ValueError):
            return 0.0
    return value if math.isfinite(value) else 0.0


def _error_of(text: str | None) -> Any:
    """A row's error; a failCode an older kiekit kept as a string (``"500"``) reads as the
    number it spells, as this kiekit writes it (code_number), so ``code == 500`` finds both."""
    if text is None:
        return None
    error = json.loads(text)
    if isinstance(error, dict) and "code" in error:
        error["code"] = code_number(error["code"])
    return error


def _from_row(row: Mapping[str, Any]) -> Entry:
    return Entry(
        key=row["key"],
        model=row["model"],
        request=None if row["request"] is None else json.loads(row["request"]),
        state=EntryState.read(row["state"]),  # a newer kiekit's state is listed, not a crash
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
        task_id=row["task_id"],
        base_url=row["base_url"],
        out_dir=None if row["out_dir"] is None else _path_of(row["out_dir"]),
        account=row["account"],
        assets=tuple(_asset_of(item) for item in json.loads(row["assets"])),
        files=tuple(_path_of(path) for path in json.loads(row["files"])),
        error=_error_of(row["error"]),
        value=NOT_KEPT if row["value"] is None else json.loads(row["value"]),
        run=row["run"],
        owner=row["owner"],
        lease_until=row["lease_until"],
    )
