"""The journal in PostgreSQL: one journal shared by every worker of a team (docs/teams.md).

Selected by ``KIEKIT_JOURNAL_URL=postgresql://…`` (or ``--journal``, or ``journal="postgresql://…"``);
needs the ``postgresql`` extra (psycopg 3). Rows are the SQLite store's, column for column, in one
table, ``kiekit_journal``, made on first use. Every change is one statement in autocommit, so it is
atomic and durable when the call returns; leases run on the server's clock, so workers on hosts
whose clocks disagree still agree on whose lease has run out. One connection per thread (the
clients write from the journal's writer thread, kiekit.journal._writer: never from an event
loop); a process forked after using the store opens its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from kiekit.journal._entry import Entry, EntryState, JournalError
from kiekit.journal._selection import (
    PAGE_ROWS,
    Selection,
    done_condition,
    open_condition,
    sql_conditions,
)
from kiekit.journal._stores import (
    _COLUMNS,
    _UNSTORABLE,
    FREE_FOR,
    LET_GO_BEFORE,
    NOT_OURS,
    PRUNABLE,
    SCHEMA_VERSION,
    _column_values,
    _from_row,
    _to_row,
    assignments,
    change_statement,
    kept_error,
    newer_schema,
)
from kiekit.shared_limits import redacted  # one way to hide a password in a URL

if TYPE_CHECKING:
    import psycopg

TABLE = "kiekit_journal"
_NOW = "extract(epoch from clock_timestamp())::double precision"
_LENGTH = "json_array_length({}::json)"
_KIND = "({}::json ->> 'type')"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    key TEXT PRIMARY KEY,
    task_id TEXT,
    model TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    base_url TEXT,
    out_dir TEXT,
    account TEXT,
    request TEXT,
    assets TEXT NOT NULL DEFAULT '[]',
    files TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    value TEXT,
    owner TEXT,
    lease_until DOUBLE PRECISION
);
-- columns added since the first journals (a table made by an older kiekit)
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS account TEXT;
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS value TEXT;
CREATE INDEX IF NOT EXISTS {TABLE}_task_id ON {TABLE} (task_id);
CREATE INDEX IF NOT EXISTS {TABLE}_owner ON {TABLE} (owner) WHERE lease_until IS NOT NULL;
-- listings read the newest rows, resume the open ones (as in SQLite: kiekit.journal._stores)
CREATE INDEX IF NOT EXISTS {TABLE}_created_at ON {TABLE} (created_at, key);
CREATE INDEX IF NOT EXISTS {TABLE}_open ON {TABLE} (created_at, key)
    WHERE {open_condition(_LENGTH)};
"""
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM {TABLE}"  # noqa: S608 - fixed names


class PostgresStore:
    """A :class:`~kiekit.journal.JournalStore` in a PostgreSQL database."""

    keeps_hand_offs = True  # an error given as UnlessHandedOff (JournalStore)

    def __init__(self, url: str) -> None:
        try:
            import psycopg  # noqa: F401 - only to say clearly what is missing
        except ImportError as exc:
            raise JournalError(
                "a PostgreSQL journal needs the postgresql extra: pip install 'kiekit[postgresql]'"
            ) from exc
        _check_form(url)
        self.url = url
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()
        # every connection opened, so close() (or the store's end) closes all of them, not only
        # the calling thread's: the journal's writer thread lives as long as the process
        self._opened: list[tuple[int, psycopg.Connection[tuple[Any, ...]]]] = []

    def __repr__(self) -> str:
        return f"PostgresStore({redacted(self.url)!r})"

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """psycopg's errors, as kiekit's: which database (no password) and what went wrong."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, psycopg.errors.IntegrityError):  # no rule of kiekit's own
                message += f"; {NOT_OURS}"
            raise JournalError(
                f"task journal {redacted(self.url)}: {message}", unreachable=_unreachable(exc)
            ) from exc
        except UnicodeEncodeError as exc:  # a path whose name is not UTF-8 (bytes on Linux)
            raise JournalError(f"task journal {redacted(self.url)}: {_UNSTORABLE}") from exc

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        held: tuple[int, psycopg.Connection[tuple[Any, ...]]] | None = getattr(
            self._local, "held", None
        )
        if held is not None and held[0] == os.getpid() and not held[1].closed:
            return held[1]
        # none yet, or one inherited through fork(): the parent's socket is not ours to use
        import psycopg

        try:
            connection = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            missing = _missing_database(self.url)
            if missing is not None:  # a misconfiguration (exit 2), not the server's absence
                raise JournalError(
                    f"task journal {redacted(self.url)}: no database {missing!r} on that "
                    f"server: create it (createdb {missing}, or CREATE DATABASE {missing}) or "
                    "name the database the team uses (KIEKIT_JOURNAL_URL or --journal)"
                ) from exc
            raise
        with self._ready_lock:
            if not self._ready:
                try:
                    _prepare(connection, redacted(self.url))
                except BaseException:  # psycopg's errors, a journal of a newer kiekit
                    connection.close()
                    raise
                self._ready = True
            self._opened.append((os.getpid(), connection))
        self._local.held = (os.getpid(), connection)
        return connection

    def open(self) -> None:
        """This thread's connection opened (and the table made, or upgraded) now."""
        with self._guard():
            self._connection()

    def now(self) -> float:
        with self._guard():
            row = self._connection().execute(f"SELECT {_NOW}").fetchone()
        assert row is not None
        return float(row[0])

    def insert(self, entry: Entry, *, lease: float | None = None) -> bool:
        row = _to_row(entry)
        names = [name for name in _COLUMNS if name != "lease_until"]
        values = ["%s"] * len(names)
        params: list[Any] = [row[name] for name in names]
        names.append("lease_until")
        if lease is None:
            values.append("%s")
            params.append(row["lease_until"])
        else:
            values.append(f"{_NOW} + %s")
            params.append(lease)
        statement = (
            f"INSERT INTO {TABLE} ({', '.join(names)}) VALUES ({', '.join(values)}) "  # noqa: S608
            "ON CONFLICT (key) DO NOTHING"
        )
        with self._guard():
            return self._connection().execute(statement, params).rowcount == 1

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
        values = _column_values(changes) if changes else {}
        said = [assignments(tuple(values), "%s", kept_error(changes, _KIND))] if values else []
        params: list[Any] = list(values.values())
        if holder is not None:
            said.append("owner = %s")
            params.append(holder)
            if lease is None:
                said.append("lease_until = NULL")
            else:
                said.append(f"lease_until = {_NOW} + %s")
                params.append(lease)
        if not said:
            raise ValueError("cannot update journal fields none")
        where = "key = %s"
        params.append(key)
        if only_if is not None:
            states = [state.value for state in only_if]
            where += " AND state = ANY(%s)"
            params.append(states)
        if holder is not None:
            where += " AND " + FREE_FOR.format(holder="%s", now=_NOW)
            params.append(holder)
            if let_go_before is not None:
                where += " AND " + LET_GO_BEFORE.format(holder="%s", since="%s")
                params += [holder, let_go_before]
        statement = (
            f"UPDATE {TABLE} SET {', '.join(said)} WHERE {where} "  # noqa: S608 - fixed
            f"RETURNING {', '.join(_COLUMNS)}"
        )
        with self._guard():
            found = self._connection().execute(statement, params).fetchone()
        return None if found is None else _from_row(dict(zip(_COLUMNS, found, strict=True)))

    def change(self, key: str, changes: Mapping[str, Any]) -> bool:
        """``update(key, changes)`` without reading the row back; True when the row was there."""
        values = _column_values(changes)
        statement = change_statement(TABLE, "%s", tuple(values), kept_error(changes, _KIND))
        with self._guard():
            return self._connection().execute(statement, [*values.values(), key]).rowcount == 1

    def renew(self, owner: str, lease: float) -> int:
        statement = (
            f"UPDATE {TABLE} SET lease_until = {_NOW} + %s "  # noqa: S608 - fixed names
            "WHERE owner = %s AND lease_until IS NOT NULL"
        )
        with self._guard():
            return self._connection().execute(statement, (lease, owner)).rowcount

    def renew_rows(self, owner: str, lease: float, keys: Iterable[str]) -> int:
        statement = (
            f"UPDATE {TABLE} SET lease_until = {_NOW} + %s "  # noqa: S608 - fixed names
            "WHERE owner = %s AND lease_until IS NOT NULL AND key = ANY(%s)"
        )
        with self._guard():
            return self._connection().execute(statement, (lease, owner, sorted(set(keys)))).rowcount

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """The writes this thread makes inside the block share one transaction (the
        clients' group commit, kiekit.journal._writer); an error rolls them all back."""
        with self._guard(), self._connection().transaction():
            yield

    def get(self, key: str) -> Entry | None:
        return self._one(f"{_SELECT} WHERE key = %s", key)

    def by_task(self, task_id: str) -> Entry | None:
        return self._one(f"{_SELECT} WHERE task_id = %s ORDER BY created_at LIMIT 1", task_id)

    def entries(self) -> list[Entry]:
        with self._guard():
            rows = self._connection().execute(f"{_SELECT} ORDER BY created_at, key").fetchall()
        return [_from_row(dict(zip(_COLUMNS, values, strict=True))) for values in rows]

    def select(self, selection: Selection) -> Iterator[Entry]:
        terms, params = sql_conditions(selection, mark="%s", length=_LENGTH)
        if selection.newest is not None:
            where = f" WHERE {' AND '.join(terms)}" if terms else ""
            query = f"{_SELECT}{where} ORDER BY created_at DESC, key DESC LIMIT %s"
            yield from reversed(self._page(query, [*params, selection.newest]))
            return
        after: list[Any] = []
        while True:  # keyset pages: each starts after the last row of the one before
            paged = [*terms, "(created_at, key) > (%s, %s)"] if after else terms
            where = f" WHERE {' AND '.join(paged)}" if paged else ""
            query = f"{_SELECT}{where} ORDER BY created_at, key LIMIT {PAGE_ROWS}"
            page = self._page(query, [*params, *after])
            yield from page
            if len(page) < PAGE_ROWS:
                return
            after = [page[-1].created_at, page[-1].key]

    def prune(self, before: float, *, dry_run: bool = False) -> int:
        """Delete the rows ``Journal.prune`` names, a page at a time (a statement each, so
        the workers' writes go on between them); how many."""
        where = PRUNABLE.format(before="%s", now=_NOW, done=done_condition(_LENGTH, _KIND))
        params = [before, before]
        with self._guard():
            connection = self._connection()
        if dry_run:
            query = f"SELECT count(*) FROM {TABLE} WHERE {where}"  # noqa: S608 - fixed names
            with self._guard():
                found = connection.execute(query, params).fetchone()
            assert found is not None
            return int(found[0])
        pruned = 0
        after: list[Any] = []
        while True:  # keyset pages over created_at, as select's: what is kept is read once
            later = " AND (created_at, key) > (%s, %s)" if after else ""
            query = (
                f"SELECT created_at, key FROM {TABLE} WHERE {where}{later} "  # noqa: S608
                f"ORDER BY created_at, key LIMIT {PAGE_ROWS}"
            )
            with self._guard():
                page = connection.execute(query, [*params, *after]).fetchall()
                if not page:
                    return pruned
                # the condition again: a row that changed since it was read is kept
                pruned += connection.execute(
                    f"DELETE FROM {TABLE} WHERE key = ANY(%s) AND {where}",  # noqa: S608
                    [[key for _, key in page], *params],
                ).rowcount
            if len(page) < PAGE_ROWS:
                return pruned
            after = [page[-1][0], page[-1][1]]

    def _page(self, query: str, params: list[Any]) -> list[Entry]:
        with self._guard():
            rows = self._connection().execute(query, params).fetchall()
        return [_from_row(dict(zip(_COLUMNS, values, strict=True))) for values in rows]

    def _one(self, query: str, value: str) -> Entry | None:
        with self._guard():
            found = self._connection().execute(query, (value,)).fetchone()
        return None if found is None else _from_row(dict(zip(_COLUMNS, found, strict=True)))

    def close(self) -> None:
        """Close every connection this process opened (a later call opens new ones)."""
        with self._ready_lock:
            opened, self._opened = self._opened, []
        for pid, connection in opened:
            if pid == os.getpid():  # a parent's connection, inherited through fork, is not ours
                connection.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


# The schema version (kiekit.journal._stores.SCHEMA_VERSION) as the table's comment: PostgreSQL
# has no user_version, and a comment lives and dies with its table, as SQLite's does with its file.
_VERSION_NOTE = "kiekit journal, schema {}"
_VERSION_READ = re.compile(r"kiekit journal, schema (\d+)")


def _prepare(connection: psycopg.Connection[tuple[Any, ...]], where: str) -> None:
    """The table, once per database: workers starting together take turns (an advisory lock),
    since concurrent CREATE TABLE IF NOT EXISTS may still collide in PostgreSQL's catalogue;
    the lock also keeps a newer kiekit's version from being written over with this one's. A
    table of a newer kiekit is refused (JournalError), an older one brought up to date."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
        found = _version(connection)
        if found > SCHEMA_VERSION:
            raise newer_schema(where, found)
        if found < 1:  # its open rows' index, in a kiekit's words before versions: made anew
            connection.execute(f"DROP INDEX IF EXISTS {TABLE}_open")  # (the planner needs ours)
        connection.execute(_SCHEMA)
        if found < SCHEMA_VERSION:
            note = _VERSION_NOTE.format(SCHEMA_VERSION)
            connection.execute(f"COMMENT ON TABLE {TABLE} IS '{note}'")


def _version(connection: psycopg.Connection[tuple[Any, ...]]) -> int:
    """The table's schema version: 0 for none yet, or a table of a kiekit before versions."""
    row = connection.execute(
        "SELECT obj_description(to_regclass(%s), 'pg_class')", (TABLE,)
    ).fetchone()
    found = _VERSION_READ.fullmatch((row[0] if row else None) or "")
    return int(found.group(1)) if found else 0


def _check_form(url: str) -> None:
    """A URL libpq cannot read (an unknown parameter, a port that is no number) is a
    misconfiguration, said before any connection: a failed connection is then the database's
    absence (JournalError.unreachable), which libpq does not tell apart by a code."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    def misconfigured(why: str) -> JournalError:
        return JournalError(f"journal: {redacted(url)} is not a PostgreSQL URL libpq reads: {why}")

    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise misconfigured(str(exc).strip() or type(exc).__name__) from exc
    for port in str(params.get("port") or "").split(","):
        if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise misconfigured(f"port {port!r} is not a port number")


# Databases every PostgreSQL server has, asked whether the journal's database exists
_MAINTENANCE_DATABASES = ("postgres", "template1")


def _missing_database(url: str) -> str | None:
    """The name of the journal's database when its server answers and has no database of
    that name, else None. A failed connection carries no SQLSTATE (libpq gives none at
    connect, and its words are no interface), so the server is asked: through a database
    every server has, with the URL's own credentials. Only after a connection failed: a
    server that is down refuses this too, and the failure stays the retryable one."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url)
    name = str(params.get("dbname") or params.get("user") or "")  # libpq's default: the user
    if not name:
        return None
    for maintenance in _MAINTENANCE_DATABASES:
        if maintenance == name:
            continue
        try:
            with psycopg.connect(
                url, dbname=maintenance, autocommit=True, connect_timeout=5
            ) as connection:
                found = connection.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
        except psycopg.Error:
            continue  # not reachable (or not allowed) this way: the next, else not known
        return name if found is None else None
    return None


# SQLSTATEs of a server going down or not up yet: a restart, which a later try outlives
_GOING_DOWN = ("57P01", "57P02", "57P03")


def _unreachable(exc: psycopg.Error) -> bool:
    """Whether the database could not be reached (a retryable JournalError), rather than
    refused what was asked. Told by the error's type and SQLSTATE, never its words: a failed
    connection has none (refused, reset, timed out, and a server starting up; libpq gives
    none to a wrong password or database named at connect either, so those count as
    unreachable too); connection errors are class 08; a shutdown or start-up its own."""
    import psycopg

    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in _GOING_DOWN
