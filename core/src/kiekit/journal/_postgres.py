"""The journal in PostgreSQL: one journal shared by every worker of a team (docs/teams.md).

Selected by ``KIEKIT_JOURNAL_URL=postgresql://…`` (or ``--journal``, or ``journal="postgresql://…"``);
needs the ``postgresql`` extra (psycopg 3). Rows are the SQLite store's, column for column, in one
table, ``kiekit_journal``, made on first use. Every change is one statement in autocommit, so it is
atomic and durable when the call returns; leases run on the server's clock, so workers on hosts
whose clocks disagree still agree on whose lease has run out. One connection per thread (the
clients write from the journal's writer thread, kiekit.journal._writer: never from an event
loop); a process forked after using the store opens its own.

A database that goes away is outlived (outside tester "pgops", findings 2 and 3):

- **A dead connection is replaced before it is used.** A restart (``pg_ctl restart``, a
  failover, ``pg_terminate_backend``) ends the server's side of every pooled connection; the
  server's goodbye (or the socket's end) is then waiting to be read on an idle connection. Each
  statement outside a transaction first looks (a poll of the socket, no round trip): a
  connection with something unasked-for to read is closed and a fresh one opened, so a
  long-lived client's next write works at once instead of failing once per restart.
- **A statement whose connection broke is tried once more on a fresh one, when that is
  safe.** An answer of SQLSTATE 57P01/57P02/57P03 (the server shutting down) to the statement
  means its transaction did not commit: any statement is sent again. A connection lost
  without a word (no SQLSTATE) may have lost the statement's commit with it (its outcome is
  unknown): a read, or a write that leaves the row the same however often it is made (a
  renewal, a change of columns by key), is sent again; an insert is read back first (the row
  there with this worker's owner and creation time: it was written); a compare-and-set
  (``update`` with a state or owner test) is not sent again: its JournalError is retryable,
  and the journal's callers write it again (``Journal.write_missed``, ``kie batch``'s retries).
- **A statement has a deadline** (``KIEKIT_JOURNAL_STATEMENT_TIMEOUT``, 30 s): a server that
  accepts and never answers (stopped, ``SIGSTOP``; a network partition that drops packets)
  blocks a statement for ever, and neither TCP keepalives nor ``tcp_user_timeout`` help while
  its kernel still acknowledges. A watchdog thread shuts the connection's socket down once a
  statement has run past the deadline: the statement fails (a retryable JournalError saying
  so), and the callers' warnings and retries (docs/teams.md) run as for a database that is
  down. The connection is not used again.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from kiekit.errors import ConfigurationError
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

log = logging.getLogger("kiekit.journal")
T = TypeVar("T")

STATEMENT_TIMEOUT_ENV = "KIEKIT_JOURNAL_STATEMENT_TIMEOUT"
# Seconds a journal statement may go unanswered before its connection is cut (module docstring)
DEFAULT_STATEMENT_TIMEOUT = 30.0


def statement_timeout_from_env() -> float:
    """``KIEKIT_JOURNAL_STATEMENT_TIMEOUT`` in seconds (default 30); ConfigurationError naming
    it when it is no positive number."""
    text = os.environ.get(STATEMENT_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_STATEMENT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not (seconds > 0 and seconds < float("inf")):
        raise ConfigurationError(
            f"{STATEMENT_TIMEOUT_ENV} must be a positive number of seconds, not {text!r}"
        )
    return seconds


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
    run TEXT,
    owner TEXT,
    lease_until DOUBLE PRECISION
);
-- columns added since the first journals (a table made by an older kiekit)
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS account TEXT;
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS value TEXT;
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS run TEXT;
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
    checks_owner = True  # update(owned_by=...) (JournalStore)
    keeps_runs = True  # Entry.run (JournalStore)

    def __init__(self, url: str, *, statement_timeout: float | None = None) -> None:
        """``statement_timeout``: seconds a statement may go unanswered before its connection
        is cut (module docstring); None: ``KIEKIT_JOURNAL_STATEMENT_TIMEOUT``, else 30."""
        seconds = statement_timeout_from_env() if statement_timeout is None else statement_timeout
        if not (isinstance(seconds, int | float) and 0 < seconds < float("inf")):
            raise ConfigurationError(
                f"statement_timeout must be a positive number of seconds, not {seconds!r}"
            )
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
        self._watchdog = _Watchdog(float(seconds))

    def __repr__(self) -> str:
        return f"PostgresStore({redacted(self.url)!r})"

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """psycopg's errors, as kiekit's: which database (no password) and what went wrong."""
        import psycopg

        watchdog = self._watchdog
        try:
            with watchdog.watching():
                yield
        except psycopg.Error as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, psycopg.errors.IntegrityError):  # no rule of kiekit's own
                message += f"; {NOT_OURS}"
            unreachable = _unreachable(exc)
            if watchdog.fired():
                message = (
                    f"no answer within {watchdog.seconds:g} s ({STATEMENT_TIMEOUT_ENV}): the "
                    "database hangs or cannot be reached; its connection was cut"
                )
                unreachable = True
            if unreachable:  # this thread's connection is not used again
                self._drop()
            raise JournalError(
                f"task journal {redacted(self.url)}: {message}", unreachable=unreachable
            ) from exc
        except UnicodeEncodeError as exc:  # a path whose name is not UTF-8 (bytes on Linux)
            raise JournalError(f"task journal {redacted(self.url)}: {_UNSTORABLE}") from exc

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        held: tuple[int, psycopg.Connection[tuple[Any, ...]]] | None = getattr(
            self._local, "held", None
        )
        if held is not None and held[0] == os.getpid() and not held[1].closed:
            if not _gone(held[1]):
                self._watchdog.use(held[1])
                return held[1]
            log.debug("task journal %s: a connection the server ended: opened anew", self)
            self._drop()
        # none yet, or one inherited through fork(): the parent's socket is not ours to use
        import psycopg

        try:
            # a connection through a hung network waits for the statements' deadline at most
            # (libpq's connect_timeout: whole seconds, 2 at least)
            waited = max(2, min(10, math.ceil(self._watchdog.seconds)))
            connection = psycopg.connect(self.url, autocommit=True, connect_timeout=waited)
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
        self._watchdog.use(connection)
        return connection

    def _drop(self) -> None:
        """Close this thread's connection (broken, or ended by the server): the next use
        opens a new one."""
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is None or held[0] != os.getpid():
            return
        with self._ready_lock:
            self._opened = [pair for pair in self._opened if pair[1] is not held[1]]
        with contextlib.suppress(Exception):
            held[1].close()

    def _run(
        self,
        work: Callable[[psycopg.Connection[tuple[Any, ...]]], T],
        *,
        again: bool = True,
        in_doubt: Callable[[psycopg.Connection[tuple[Any, ...]]], T] | None = None,
    ) -> T:
        """``work`` on this thread's connection, tried once more on a fresh connection when the
        first broke under it and that is safe (module docstring): always after the server's
        shutdown answer, which proves no commit; after a connection lost without a word, only
        when ``again`` (the work may be repeated) or through ``in_doubt`` (the work that finds
        out what the first try did). Inside a transaction (``batch``) nothing is tried again:
        the transaction is gone, and its caller tries it all again."""
        import psycopg

        with self._guard():
            connection = self._connection()
            try:
                return work(connection)
            except psycopg.OperationalError as exc:
                state = exc.sqlstate
                no_commit = state in _GOING_DOWN
                lost = state is None or state.startswith("08")
                in_batch = getattr(self._local, "batch", 0) > 0
                if in_batch or self._watchdog.fired(peek=True) or not (no_commit or lost):
                    raise
                if not no_commit and not again and in_doubt is None:
                    raise
                log.debug("task journal %s: connection lost (%s): tried again", self, exc)
                self._drop()
            connection = self._connection()  # a failure now is the outage itself: raised
            return work(connection) if no_commit or in_doubt is None else in_doubt(connection)

    def open(self) -> None:
        """This thread's connection opened (and the table made, or upgraded) now."""
        with self._guard():
            self._connection()

    def now(self) -> float:
        row = self._run(lambda connection: connection.execute(f"SELECT {_NOW}").fetchone())
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

        def inserted(connection: psycopg.Connection[tuple[Any, ...]]) -> bool:
            return connection.execute(statement, params).rowcount == 1

        def read_back(connection: psycopg.Connection[tuple[Any, ...]]) -> bool:
            """The first try's connection was lost: was the row written? This worker's row
            (its owner, its creation time) there: yes; another's: no; none: insert it now."""
            found = connection.execute(
                f"SELECT owner, created_at FROM {TABLE} WHERE key = %s",  # noqa: S608
                (entry.key,),
            ).fetchone()
            if found is None:
                return inserted(connection)
            return (found[0], found[1]) == (entry.owner, entry.created_at)

        return self._run(inserted, again=False, in_doubt=read_back)

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
        if owned_by is not None:
            where += " AND owner = %s"
            params.append(owned_by)
        statement = (
            f"UPDATE {TABLE} SET {', '.join(said)} WHERE {where} "  # noqa: S608 - fixed
            f"RETURNING {', '.join(_COLUMNS)}"
        )
        # a compare-and-set (a state, an owner or a lease tested) is not sent again once its
        # outcome is unknown: the same values by key alone are
        plain = only_if is None and holder is None and owned_by is None
        found = self._run(
            lambda connection: connection.execute(statement, params).fetchone(), again=plain
        )
        return None if found is None else _from_row(dict(zip(_COLUMNS, found, strict=True)))

    def change(self, key: str, changes: Mapping[str, Any], *, owned_by: str | None = None) -> bool:
        """``update(key, changes[, owned_by=])`` without reading the row back; True when the
        row was changed."""
        values = _column_values(changes)
        owned = owned_by is not None
        statement = change_statement(TABLE, "%s", tuple(values), kept_error(changes, _KIND), owned)
        params = [*values.values(), key, *([owned_by] if owned else [])]
        # an owner tested is a compare-and-set: not sent again once its outcome is unknown
        return self._run(
            lambda connection: connection.execute(statement, params).rowcount == 1,
            again=not owned,
        )

    def renew(self, owner: str, lease: float) -> int:
        statement = (
            f"UPDATE {TABLE} SET lease_until = {_NOW} + %s "  # noqa: S608 - fixed names
            "WHERE owner = %s AND lease_until IS NOT NULL"
        )
        return self._run(lambda connection: connection.execute(statement, (lease, owner)).rowcount)

    def renew_rows(self, owner: str, lease: float, keys: Iterable[str]) -> int:
        statement = (
            f"UPDATE {TABLE} SET lease_until = {_NOW} + %s "  # noqa: S608 - fixed names
            "WHERE owner = %s AND lease_until IS NOT NULL AND key = ANY(%s)"
        )
        params = (lease, owner, sorted(set(keys)))
        return self._run(lambda connection: connection.execute(statement, params).rowcount)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """The writes this thread makes inside the block share one transaction (the
        clients' group commit, kiekit.journal._writer); an error rolls them all back."""
        with self._guard(), self._connection().transaction():
            self._local.batch = getattr(self._local, "batch", 0) + 1
            try:
                yield
            finally:
                self._local.batch -= 1

    def get(self, key: str) -> Entry | None:
        return self._one(f"{_SELECT} WHERE key = %s", key)

    def by_task(self, task_id: str) -> Entry | None:
        # the row holding the task before a refused one naming it (JournalStore.by_task)
        order = "ORDER BY state = 'rejected', created_at LIMIT 1"
        return self._one(f"{_SELECT} WHERE task_id = %s {order}", task_id)

    def entries(self) -> list[Entry]:
        query = f"{_SELECT} ORDER BY created_at, key"
        rows = self._run(lambda connection: connection.execute(query).fetchall())
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
        if dry_run:
            query = f"SELECT count(*) FROM {TABLE} WHERE {where}"  # noqa: S608 - fixed names
            found = self._run(lambda connection: connection.execute(query, params).fetchone())
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
                connection = self._connection()
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
        rows = self._run(lambda connection: connection.execute(query, params).fetchall())
        return [_from_row(dict(zip(_COLUMNS, values, strict=True))) for values in rows]

    def _one(self, query: str, value: str) -> Entry | None:
        found = self._run(lambda connection: connection.execute(query, (value,)).fetchone())
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
    for name, allowed in _CHOICES.items():  # libpq refuses these only when it connects,
        given = params.get(name)  # in words that carry no SQLSTATE (read as an outage, exit 1)
        if given is not None and str(given) not in allowed:
            raise misconfigured(f"{name}={given!r} is none of {', '.join(allowed)}")
    for name in _WHOLE_NUMBERS:
        given = params.get(name)
        if given is not None and not str(given).strip().lstrip("-").isdigit():
            raise misconfigured(f"{name}={given!r} is not a whole number")


# libpq's connection options that take one of a few words (libpq's "Parameter Key Words"), and
# those that take a whole number: a wrong one is a misconfiguration, said before connecting
_CHOICES = {
    "sslmode": ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
    "gssencmode": ("disable", "prefer", "require"),
    "channel_binding": ("disable", "prefer", "require"),
    "target_session_attrs": (
        "any", "read-write", "read-only", "primary", "standby", "prefer-standby",
    ),
    "load_balance_hosts": ("disable", "random"),
    "sslnegotiation": ("postgres", "direct"),
    "sslcertmode": ("disable", "allow", "require"),
}  # fmt: skip
_WHOLE_NUMBERS = (
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
)


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


def _gone(connection: psycopg.Connection[tuple[Any, ...]]) -> bool:
    """Whether an idle connection has something to read that nobody asked for: the server's
    goodbye (SQLSTATE 57P01, a restart or pg_terminate_backend) or the socket's end (a crash,
    ``-m immediate``). A poll, no round trip; a connection inside a transaction is left be."""
    import psycopg
    import psycopg.pq

    if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return False
    try:
        number = connection.fileno()
    except psycopg.Error:  # closed or broken: gone
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(number, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    readable, _, _ = select.select([number], [], [], 0)
    return bool(readable)


class _Watchdog:
    """Cuts the connection of a statement that has gone unanswered past ``seconds`` (module
    docstring): one thread for the store, which sleeps until the earliest deadline of the
    statements under way and ends once none has been under way for a while."""

    _IDLE = 1.0  # seconds the thread waits for a statement before it ends (a new one starts)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._wake = threading.Condition()
        # thread id -> [deadline (monotonic), its connection (None while it connects), depth]
        self._armed: dict[int, list[Any]] = {}
        self._fired: set[int] = set()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """The calling thread's statements in the block each have ``seconds`` to be answered
        (nested blocks, a ``batch``'s writes, each start the count again)."""
        ident = threading.get_ident()
        with self._wake:
            armed = self._armed.get(ident)
            deadline = time.monotonic() + self.seconds
            if armed is None:
                self._fired.discard(ident)
                self._armed[ident] = [deadline, None, 1]
            else:
                armed[0], armed[2] = deadline, armed[2] + 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="kiekit-journal-deadline", daemon=True
                )
                self._thread.start()
            self._wake.notify()
        try:
            yield
        finally:
            with self._wake:
                armed = self._armed.get(ident)
                if armed is not None:
                    armed[2] -= 1
                    if armed[2] <= 0:
                        del self._armed[ident]
                    else:  # the outer block goes on: its next statement's count starts now
                        armed[0] = time.monotonic() + self.seconds

    def use(self, connection: psycopg.Connection[tuple[Any, ...]]) -> None:
        """The calling thread's statements now go to ``connection``."""
        with self._wake:
            armed = self._armed.get(threading.get_ident())
            if armed is not None:
                armed[1] = connection
                armed[0] = time.monotonic() + self.seconds

    def fired(self, *, peek: bool = False) -> bool:
        """Whether the calling thread's connection was cut since its block began (forgotten
        once asked, unless ``peek``)."""
        ident = threading.get_ident()
        with self._wake:
            if peek:
                return ident in self._fired
            found = ident in self._fired
            self._fired.discard(ident)
            return found

    def _watch(self) -> None:
        with self._wake:
            idle_since = time.monotonic()
            while True:
                now = time.monotonic()
                if not self._armed:
                    if now - idle_since >= self._IDLE:
                        self._thread = None
                        return
                    self._wake.wait(self._IDLE - (now - idle_since))
                    continue
                idle_since = now
                for ident, armed in list(self._armed.items()):
                    if armed[0] <= now and armed[1] is not None and ident not in self._fired:
                        self._fired.add(ident)
                        _cut(armed[1], self.seconds)
                waiting = [armed[0] for ident, armed in self._armed.items()
                           if ident not in self._fired]  # fmt: skip
                self._wake.wait(max(0.0, min(waiting) - now) if waiting else self._IDLE)


def _cut(connection: psycopg.Connection[tuple[Any, ...]], seconds: float) -> None:
    """Shut the connection's socket down: the statement blocked on it fails at once (a
    connection error, retryable), and the connection is not used again."""
    import psycopg

    try:
        number = connection.fileno()
    except psycopg.Error:  # closed meanwhile: nothing to cut
        return
    with contextlib.suppress(OSError):
        duplicate = socket.socket(fileno=os.dup(number))  # its own descriptor, closed here
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()
    log.warning(
        "task journal: a statement had no answer within %g s (%s): its connection was cut",
        seconds,
        STATEMENT_TIMEOUT_ENV,
    )
