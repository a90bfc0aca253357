"""Claims, owners and leases, the same on every journal store (memory, SQLite, PostgreSQL).

A worker holds a row while its lease runs; another takes it over only after (docs/teams.md).
Memory and SQLite run on a fake clock; PostgreSQL on its own server clock, so its leases are
made to run out by renewing them for no time at all (``renew(owner, 0)``: lapsed at once).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from kiekit.journal import (
    Entry,
    EntryState,
    Journal,
    JournalError,
    SqliteStore,
    open_journal,
)
from kiekit.journal._journal import _site
from kiekit.journal._postgres import PostgresStore
from kiekit.journal._stores import SCHEMA_VERSION, JournalStore
from kiekit.models import Task
from teams.clocks import FakeClock

GROK = "grok-imagine/text-to-image"

pytestmark = pytest.mark.fake_clock  # the stores run on the test's clock (conftest)


def lapse(store: JournalStore, clock: FakeClock, owner: str) -> None:
    """Make ``owner``'s leases run out: the fake clock moves on; PostgreSQL's cannot."""
    if isinstance(store, PostgresStore):
        store.renew(owner, 0.0)
    else:
        clock.now += 3_600


def row(key: str, state: EntryState = EntryState.SENDING, owner: str | None = None) -> Entry:
    return Entry(key, GROK, {"p": 1}, state, 1.0, 1.0, owner=owner)


def test_a_held_row_is_taken_by_no_one_else_until_its_lease_runs_out(
    store: JournalStore, clock: FakeClock
) -> None:
    assert store.insert(row("k", owner="a"), lease=60)
    held = store.get("k")
    assert held is not None
    assert held.owner == "a"
    assert held.lease_until is not None
    assert store.update("k", {"updated_at": 2.0}, holder="b", lease=60) is None
    assert store.update("k", {"updated_at": 2.0}, holder="a", lease=60) is not None  # its own
    lapse(store, clock, "a")
    taken = store.update("k", {"updated_at": 3.0}, holder="b", lease=60)
    assert taken is not None
    assert taken.owner == "b"
    assert taken.updated_at == 3.0
    assert store.update("k", {"updated_at": 4.0}, holder="a", lease=60) is None  # a lost it


def test_a_released_row_is_free_at_once_and_an_unheld_row_is_anyones(store: JournalStore) -> None:
    store.insert(row("k", owner="a"), lease=60)
    released = store.update("k", {"updated_at": 2.0}, holder="a")  # no lease: let go
    assert released is not None
    assert released.lease_until is None
    assert store.update("k", {"updated_at": 3.0}, holder="b", lease=60) is not None
    store.insert(row("plain"))  # a row nobody holds (a create without a key)
    assert store.update("plain", {"updated_at": 2.0}, holder="c", lease=60) is not None


def test_the_clients_writes_without_read_back_keep_the_holders_lease(store: JournalStore) -> None:
    """A keyed create's later writes (created, finished) skip reading the row back; they change
    what they say and leave the lease with its holder, so no other worker takes the job."""
    journal = Journal(store, lease=600)
    intent = journal.intend(GROK, {"p": 1}, key="job-1")
    assert intent is not None
    assert journal.created(intent, Task("t1", GROK), read_back=False) is None
    other = Journal(store, lease=600)
    after = other.by_task("t1")
    assert after is not None
    assert (after.state, after.owner) == (EntryState.CREATED, journal.owner)
    assert after.lease_until is not None
    assert other.claim(GROK, "job-1") is None  # still held
    assert journal.downloaded("t1", [], ".", read_back=False) is None
    done = other.by_task("t1")
    assert done is not None
    assert done.lease_until is None  # let go with its last write
    assert getattr(store, "change")("no-such-key", {"updated_at": 1.0}) is False  # noqa: B009


def test_the_state_test_and_the_lease_test_hold_together(
    store: JournalStore, clock: FakeClock
) -> None:
    store.insert(row("k", EntryState.CREATED, owner="a"), lease=60)
    lapse(store, clock, "a")
    retryable = [EntryState.REJECTED]
    assert store.update("k", {"updated_at": 2.0}, only_if=retryable, holder="b", lease=1) is None
    assert store.update(
        "k", {"updated_at": 2.0}, only_if=[EntryState.CREATED], holder="b", lease=60
    )


def test_renew_extends_only_the_owners_held_rows(store: JournalStore, clock: FakeClock) -> None:
    store.insert(row("a1", owner="a"), lease=10)
    store.insert(row("a2", owner="a"), lease=10)
    store.insert(row("b1", owner="b"), lease=10)
    store.update("a2", {"updated_at": 2.0}, holder="a")  # released: not renewed
    before = store.get("a1")
    assert before is not None
    assert before.lease_until is not None
    clock.now += 5
    assert store.renew("a", 100) == 1
    after = store.get("a1")
    assert after is not None
    assert after.lease_until is not None
    assert after.lease_until > before.lease_until
    released = store.get("a2")
    assert released is not None
    assert released.lease_until is None


def test_renew_rows_extends_only_the_named_rows_the_owner_holds(
    store: JournalStore, clock: FakeClock
) -> None:
    """A client renews the rows its waits and downloads work on, not every row it ever held
    (one submitted and never waited for lets its lease run out: soakclient finding 1)."""
    for key, owner in (("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b")):
        store.insert(row(key, owner=owner), lease=10)
    store.update("a3", {"updated_at": 2.0}, holder="a")  # released: not renewed
    before = {key: store.get(key) for key in ("a1", "a2", "b1")}
    clock.now += 5
    renew_rows = getattr(store, "renew_rows")  # noqa: B009 - optional in the protocol
    # more keys than one SQLite statement names: they go a few hundred at a time
    named = ["a1", "a3", "b1", *(f"missing-{i}" for i in range(1_200))]
    assert renew_rows("a", 100, named) == 1
    after = {key: store.get(key) for key in ("a1", "a2", "a3", "b1")}
    renewed, was = after["a1"], before["a1"]
    assert renewed is not None
    assert was is not None
    assert (renewed.lease_until or 0) > (was.lease_until or 0)
    assert after["a2"] == before["a2"]  # not named: its lease runs out
    released = after["a3"]
    assert released is not None
    assert released.lease_until is None
    assert after["b1"] == before["b1"]  # another owner's


def test_journal_claims_a_job_once_across_workers_and_takes_over_a_gone_workers_claim(
    store: JournalStore, clock: FakeClock
) -> None:
    first, second = Journal(store, clock=clock), Journal(store, clock=clock)
    second._owner = (first._owner[0], "elsewhere:1:-:0000")  # another worker, another machine
    claimed = first.claim(GROK, "job", out_dir="/out/a")
    assert claimed is not None
    assert claimed.state is EntryState.CLAIMED
    assert claimed.owner == first.owner
    assert claimed.out_dir == "/out/a"
    assert second.claim(GROK, "job", out_dir="/out/b") is None  # held: not twice
    assert second.held_elsewhere(store.get("job") or claimed) > 0
    lapse(store, clock, first.owner)  # the first worker died before it sent anything
    taken = second.claim(GROK, "job", out_dir="/out/b")
    assert taken is not None
    assert taken.owner == second.owner
    # the taker's create goes out under the claim; the first worker cannot send it any more
    sending = second.intend(GROK, {"p": 1}, key="job")
    assert sending is not None
    assert sending.state is EntryState.SENDING
    assert first.intend(GROK, {"p": 1}, key="job") is None


def test_a_create_sent_by_a_gone_worker_is_never_claimed_again(
    store: JournalStore, clock: FakeClock
) -> None:
    first, second = Journal(store, clock=clock), Journal(store, clock=clock)
    second._owner = (first._owner[0], "elsewhere:1:-:0000")
    assert first.intend(GROK, {"p": 1}, key="job") is not None  # sent, then the worker died
    lapse(store, clock, first.owner)
    assert second.claim(GROK, "job") is None  # its outcome is unknown: never sent twice
    assert second.intend(GROK, {"p": 1}, key="job") is None


def test_a_rejected_create_may_be_claimed_by_anyone_at_once(
    store: JournalStore, clock: FakeClock
) -> None:
    from kiekit.errors import ApiError

    first, second = Journal(store, clock=clock), Journal(store, clock=clock)
    second._owner = (first._owner[0], "elsewhere:1:-:0000")
    intent = first.intend(GROK, {"p": 1}, key="job")
    assert intent is not None
    refused = ApiError(422, "prompt is required")
    first.create_failed(intent, refused, maybe_sent=True)
    again = second.claim(GROK, "job")
    assert again is not None
    assert again.state is EntryState.CLAIMED


def test_an_ended_process_of_this_machine_holds_nothing(store: JournalStore) -> None:
    """A worker killed with SIGKILL here is seen to be gone: its jobs are taken over at once."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                           capture_output=True, text=True)  # fmt: skip
    dead = f"here:{int(ended.stdout)}:{_site()}:dead0000"
    store.insert(row("job", EntryState.CLAIMED, owner=dead), lease=3_600)
    journal = Journal(store)
    entry = store.get("job")
    assert entry is not None
    assert journal.held_elsewhere(entry) == 0.0
    assert journal.claim(GROK, "job") is not None
    live = f"here:{1}:{_site()}:init0000"  # pid 1 lives as long as the machine does
    store.insert(row("other", EntryState.CLAIMED, owner=live), lease=3_600)
    other = store.get("other")
    assert other is not None
    assert journal.held_elsewhere(other) > 0


def test_an_ended_processs_leases_are_ended_once_not_once_a_row(
    store: JournalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kie resume` over the rows a killed worker left asks held_elsewhere of each: its leases
    are ended by one statement, not one a row (each an UPDATE by owner: the resume took
    quadratic time, 47 s on 2,000 rows, perfuser finding 1)."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                           capture_output=True, text=True)  # fmt: skip
    dead = f"here:{int(ended.stdout)}:{_site()}:dead0000"
    for n in range(5):
        store.insert(row(f"job{n}", EntryState.CLAIMED, owner=dead), lease=3_600)
    journal = Journal(store)
    renewals: list[tuple[str, float]] = []
    renew = store.renew

    def counted(owner: str, lease: float) -> int:
        renewals.append((owner, lease))
        return renew(owner, lease)

    monkeypatch.setattr(store, "renew", counted)
    entries = [store.get(f"job{n}") for n in range(5)]
    assert all(entry is not None and journal.held_elsewhere(entry) == 0.0 for entry in entries)
    assert renewals == [(dead, 0.0)]
    assert journal.claim(GROK, "job4") is not None  # ended: taken at once


def test_a_renewal_reads_one_owners_rows_by_index(tmp_path: Path) -> None:
    """The leased rows are indexed by owner in SQLite too (PostgreSQL's journal always was): a
    renewal, every lease/3 while a worker waits, must not scan a journal of a million rows."""
    store = SqliteStore(tmp_path / "journal.db")
    try:
        plan = (
            store._connection()
            .execute(
                "EXPLAIN QUERY PLAN UPDATE entries SET lease_until = ? "
                "WHERE owner = ? AND lease_until IS NOT NULL",
                (1.0, "a"),
            )
            .fetchall()
        )
    finally:
        store.close()
    assert any("entries_owner" in str(step) for step in plan), plan


def test_a_task_owed_a_wait_is_taken_by_one_resume_and_a_gone_holders_is_taken_over(
    store: JournalStore, clock: FakeClock
) -> None:
    """Journal.take (kie resume's hold, teamops finding 1): a ``created`` row is held by the
    first that takes it; another live worker leaves it; it is taken over once that lease has
    run out, or at once when its holder was a process of this machine that has ended. A row
    owed nothing (failed, a create not made) is taken by nobody."""
    first, second = Journal(store, clock=clock), Journal(store, clock=clock)
    second._owner = (first._owner[0], "elsewhere:1:-:0000")  # another worker, another machine
    store.insert(Entry("task", GROK, None, EntryState.CREATED, 1.0, 1.0, task_id="t1"))
    taken = first.take("task")
    assert taken is not None
    assert (taken.owner, taken.lease_until is not None) == (first.owner, True)
    assert second.take("task") is None  # held: left to the first
    held = store.get("task")
    assert held is not None
    assert second.holder(held) == first.owner  # kie tasks: "being worked on by" the first
    lapse(store, clock, first.owner)
    again = second.take("task")
    assert again is not None
    assert again.owner == second.owner
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                           capture_output=True, text=True)  # fmt: skip
    dead = f"here:{int(ended.stdout)}:{_site()}:dead0000"
    store.insert(Entry("dead", GROK, None, EntryState.CREATED, 1.0, 1.0, task_id="t2",
                       owner=dead), lease=3_600)  # fmt: skip
    assert first.take("dead") is not None  # its holder was killed here: not waited out
    store.insert(row("unsent", EntryState.CLAIMED))
    store.insert(Entry("failed", GROK, None, EntryState.FAILED, 1.0, 1.0, task_id="t3"))
    assert first.take("unsent") is None
    assert first.take("failed") is None
    assert first.take("no-such-row") is None


def test_an_older_sqlite_journal_gains_the_owner_columns(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:  # the schema of kiekit 0.1
        old.execute(
            "CREATE TABLE entries (key TEXT PRIMARY KEY, task_id TEXT, model TEXT NOT NULL, "
            "state TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL, "
            "base_url TEXT, out_dir TEXT, request TEXT, assets TEXT NOT NULL DEFAULT '[]', "
            "files TEXT NOT NULL DEFAULT '[]', error TEXT)"
        )
        old.execute(
            "INSERT INTO entries (key, task_id, model, state, created_at, updated_at) "
            "VALUES ('old', 't1', ?, 'created', 1, 1)",
            (GROK,),
        )
    store = SqliteStore(path)
    kept = store.get("old")
    assert kept is not None
    assert kept.task_id == "t1"
    assert kept.owner is None
    assert kept.account is None  # made before accounts were kept: any key may reuse its key
    assert store.insert(row("new", owner="a"), lease=5)
    store.close()
    with sqlite3.connect(path) as opened:  # brought up to this kiekit's schema, and says so
        assert opened.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_postgresql_journal_records_its_schema_version_and_refuses_a_newer_ones(
    postgres_url: str,
) -> None:
    """As a SQLite file does (PRAGMA user_version), in the table's comment: a table of an
    older kiekit is brought up to date, one of a newer kiekit is neither read nor written."""
    import uuid

    import psycopg

    name = "v" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + "/" + name

    def version_note(note: str | None = None) -> str | None:
        with psycopg.connect(url, autocommit=True) as connection:
            if note is not None:
                connection.execute(f"COMMENT ON TABLE kiekit_journal IS {note}")
            found = connection.execute(
                "SELECT obj_description('kiekit_journal'::regclass, 'pg_class')"
            ).fetchone()
        return None if found is None else found[0]

    def opened() -> PostgresStore:
        store = PostgresStore(url)
        Journal(store).open()  # opens (and prepares) the table now, reading no row
        store.close()
        return store

    def open_index() -> str:
        with psycopg.connect(url, autocommit=True) as connection:
            found = connection.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'kiekit_journal_open'"
            ).fetchone()
        assert found is not None
        return str(found[0])

    opened()
    assert version_note() == f"kiekit journal, schema {SCHEMA_VERSION}"
    ours = open_index()
    with psycopg.connect(url, autocommit=True) as connection:  # as a kiekit before versions
        connection.execute("DROP INDEX kiekit_journal_open")
        connection.execute(
            "CREATE INDEX kiekit_journal_open ON kiekit_journal (created_at, key) WHERE "
            "(state = 'claimed' OR state = 'sending' OR state = 'unknown' OR "
            "state = 'created' OR (state = 'succeeded' AND "
            "json_array_length(files::json) < json_array_length(assets::json)))"
        )
    version_note("NULL")
    assert open_index() != ours
    opened()
    assert version_note() == f"kiekit journal, schema {SCHEMA_VERSION}"
    assert open_index() == ours  # in today's words, which its queries name (or it is unused)
    newer = SCHEMA_VERSION + 1
    version_note(f"'kiekit journal, schema {newer}'")
    with pytest.raises(JournalError) as refused:
        opened()
    assert (
        f"written by a newer kiekit (schema {newer}); upgrade kiekit (this one knows the "
        f"journal up to schema {SCHEMA_VERSION}), or use another journal: the one `kie COMMAND "
        "--journal` names, else KIEKIT_JOURNAL_URL's" in str(refused.value)
    )
    assert version_note() == f"kiekit journal, schema {newer}"  # left as it was


def test_journal_urls_choose_the_store(postgres_url: str, tmp_path: Path) -> None:
    assert isinstance(open_journal(postgres_url).store, PostgresStore)
    sqlite = open_journal(f"sqlite://{tmp_path}/j.sqlite3").store
    assert isinstance(sqlite, SqliteStore)
    assert sqlite.path == tmp_path / "j.sqlite3"
    plain = open_journal(str(tmp_path / "k.sqlite3")).store
    assert isinstance(plain, SqliteStore)
    from kiekit.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="mysql:// is not a journal"):
        open_journal("mysql://db/kiekit")
    with pytest.raises(ConfigurationError, match="sqlite:///path"):
        open_journal("sqlite://relative/file")


def test_an_unreachable_database_is_a_journal_error_without_the_password(
    kit: SimpleNamespace,
) -> None:
    url = f"postgresql://kiekit:s3cret-pw@127.0.0.1:{kit.free_port()}/kiekit"  # held: refused
    store = PostgresStore(url)
    with pytest.raises(JournalError) as caught:
        store.get("anything")
    assert "s3cret-pw" not in str(caught.value)
    assert "kiekit:***@127.0.0.1" in str(caught.value)
    with pytest.raises(JournalError) as opening:  # kie run's and kie batch's check, first
        Journal(store).open()
    assert str(opening.value) == str(caught.value)
    assert "s3cret-pw" not in repr(store)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # an IPv6 host keeps its brackets: "::1:5432" would read as a different address
        ("postgresql://kiekit:pw@[::1]:5432/db", "postgresql://kiekit:***@[::1]:5432/db"),
        # a password with no user name is still a password
        ("postgresql://:pw@127.0.0.1/db", "postgresql://:***@127.0.0.1/db"),
        ("postgresql://127.0.0.1/db", "postgresql://127.0.0.1/db"),
        # libpq takes the password as a query parameter too
        (
            "postgresql://u@127.0.0.1/db?password=pw&sslmode=require",
            "postgresql://u@127.0.0.1/db?password=***&sslmode=require",
        ),
    ],
)
def test_a_database_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert repr(PostgresStore(url)) == f"PostgresStore({shown!r})"
