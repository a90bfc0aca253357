"""The task journal: stores (memory, SQLite), the row lifecycle, and what the clients record."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
from kiekit.errors import (
    InsufficientCreditsError,
    OutcomeUnknownError,
    TaskFailedError,
    TransportError,
)
from kiekit.journal import (
    Entry,
    EntryState,
    Journal,
    JournalError,
    JournalStore,
    MemoryStore,
    Selection,
    SqliteStore,
    data_dir,
    default_journal,
)
from kiekit.journal._entry import RESULT_LIFETIME
from kiekit.journal._stores import Unopenable
from kiekit.models import Asset, AssetRole, MediaKind, Results, Task

GROK = "grok-imagine/text-to-image"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> JournalStore:
    if request.param == "memory":
        return MemoryStore()
    return SqliteStore(tmp_path / "journal.sqlite3")


def _entry(key: str, **changes: Any) -> Entry:
    values: dict[str, Any] = {
        "key": key,
        "model": "grok-imagine/text-to-image",
        "request": {"model": "grok-imagine/text-to-image", "input": {"prompt": "a cat"}},
        "state": EntryState.SENDING,
        "created_at": 1.0,
        "updated_at": 1.0,
    }
    values.update(changes)
    return Entry(**values)


def test_an_entry_built_by_position_as_before_keeps_its_owner_and_lease() -> None:
    """A store of one's own (JournalStore is public) that builds rows by position, in the
    order of kiekit before the account column: its owner and lease stay where they were.
    With ``account`` among them the owner became the account and the lease the owner, and
    every row looked free to every worker."""
    row = Entry("k1", GROK, None, EntryState.CREATED, 1.0, 2.0, "t1", "http://kie", "/out",
                "worker-a", 99.0, (), ("/out/a.png",), {"type": "X"})  # fmt: skip
    assert (row.owner, row.lease_until, row.account) == ("worker-a", 99.0, None)
    assert (row.task_id, row.base_url, row.out_dir) == ("t1", "http://kie", "/out")
    assert (row.files, row.error) == (("/out/a.png",), {"type": "X"})
    assert Entry("k1", GROK, None, EntryState.CREATED, 1.0, 2.0, account="h").account == "h"


def test_data_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(tmp_path / "here"))
    assert data_dir() == tmp_path / "here"
    journal = default_journal()
    assert isinstance(journal.store, SqliteStore)
    assert journal.store.path == tmp_path / "here" / "journal.sqlite3"
    assert not (tmp_path / "here").exists()  # nothing is written until a row is


def test_insert_is_a_claim_a_second_insert_of_the_key_is_refused(store: JournalStore) -> None:
    assert store.insert(_entry("job-1"))
    assert not store.insert(_entry("job-1", model="other"))
    found = store.get("job-1")
    assert found is not None
    assert found.model == "grok-imagine/text-to-image"


def test_update_with_only_if_is_a_compare_and_set(store: JournalStore) -> None:
    store.insert(_entry("k"))
    assert store.update("k", {"state": EntryState.CREATED}, only_if=[EntryState.REJECTED]) is None
    after = store.update("k", {"state": EntryState.CREATED, "task_id": "t1"})
    assert after is not None
    assert after.state is EntryState.CREATED
    assert store.update("missing", {"state": EntryState.CREATED}) is None


def test_rows_round_trip_with_assets_files_and_errors(store: JournalStore, tmp_path: Path) -> None:
    assets = (
        Asset("https://cdn.example/r/a.png", MediaKind.IMAGE, "image/png", "result"),
        Asset("https://cdn.example/r/b.mp4", MediaKind.VIDEO),
        Asset("https://cdn.example/r/c.jpg", MediaKind.IMAGE, None, "cover", AssetRole.EXTRA),
    )
    entry = _entry(
        "k",
        state=EntryState.SUCCEEDED,
        task_id="t1",
        base_url="http://127.0.0.1:1",
        assets=assets,
        files=(str(tmp_path / "t1-0.png"),),
        error={"type": "DownloadError", "message": "HTTP 403"},
    )
    store.insert(entry)
    assert store.get("k") == entry
    assert store.by_task("t1") == entry
    assert store.entries() == [entry]


def test_assets_journalled_before_roles_read_as_the_models_own(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    store = SqliteStore(path)
    asset = Asset("https://cdn.example/r/a.png", MediaKind.IMAGE, "image/png", "result")
    store.insert(_entry("k", state=EntryState.SUCCEEDED, task_id="t1", assets=(asset,)))
    older = [{"url": asset.url, "kind": "image", "media_type": "image/png", "label": "result"}]
    with sqlite3.connect(path) as connection:  # as a kiekit without roles wrote it
        connection.execute("UPDATE entries SET assets = ?", (json.dumps(older),))
    found = store.get("k")
    assert found is not None
    assert found.assets == (asset,)
    assert found.assets[0].role is AssetRole.MAIN


def test_change_writes_without_reading_back_and_names_a_wrong_field(
    store: JournalStore, tmp_path: Path
) -> None:
    """The clients' writes after a create ignore the row, so kiekit's stores offer change():
    the same row as update() would leave, read back by nobody."""
    asset = Asset("https://cdn.example/r/a.png", MediaKind.IMAGE, "image/png")
    store.insert(_entry("k", owner="w1", lease_until=50.0))
    changes = {"state": EntryState.SUCCEEDED, "assets": (asset,), "error": None, "updated_at": 2.0}
    change = getattr(store, "change")  # noqa: B009 - optional in the protocol
    assert change("k", changes) is True
    assert store.get("k") == _entry(
        "k",
        state=EntryState.SUCCEEDED,
        assets=(asset,),
        updated_at=2.0,
        owner="w1",
        lease_until=50.0,  # change() leaves the lease alone
    )
    assert change("nobody", {"updated_at": 3.0}) is False
    with pytest.raises(ValueError, match="colour"):
        change("k", {"colour": "red"})


def test_the_clients_writes_skip_the_read_back_and_still_land(store: JournalStore) -> None:
    journal = Journal(store)
    intent = journal.intend("m", None)
    assert intent is not None
    assert journal.created(intent, Task("t1", "m"), read_back=False) is None
    asset = Asset("https://cdn.example/a.png", MediaKind.IMAGE)
    assert journal.finished(Task("t1", "m"), Results("t1", (asset,)), read_back=False) is None
    row = journal.by_task("t1")
    assert row is not None
    assert (row.state, row.assets) == (EntryState.SUCCEEDED, (asset,))
    # a store of someone else's, without change(): update() does it
    plain = _UpdateOnly(MemoryStore())
    other = Journal(plain)
    intent = other.intend("m", None)
    assert intent is not None
    assert other.created(intent, Task("t2", "m"), read_back=False) is None
    assert plain.updates == 1
    row = other.by_task("t2")
    assert row is not None
    assert row.state is EntryState.CREATED
    # nor select(): the journal chooses among its entries() in memory
    assert not hasattr(plain, "select")
    assert [r.key for r in other.select(Selection(states=frozenset({EntryState.CREATED})))] == [
        row.key
    ]
    assert [r.key for r in other.select(Selection(model="elsewhere"))] == []


class _UpdateOnly:
    """A JournalStore with only the protocol's methods (no change()), counting updates."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.updates = 0

    def insert(self, entry: Entry, *, lease: float | None = None) -> bool:
        return self.inner.insert(entry, lease=lease)

    def update(self, key: str, changes: Any, **conditions: Any) -> Entry | None:
        self.updates += 1
        return self.inner.update(key, changes, **conditions)

    def renew(self, owner: str, lease: float) -> int:
        return self.inner.renew(owner, lease)

    def now(self) -> float:
        return self.inner.now()

    def get(self, key: str) -> Entry | None:
        return self.inner.get(key)

    def by_task(self, task_id: str) -> Entry | None:
        return self.inner.by_task(task_id)

    def entries(self) -> list[Entry]:
        return self.inner.entries()


def test_entries_come_oldest_first(store: JournalStore) -> None:
    store.insert(_entry("b", created_at=2.0))
    store.insert(_entry("a", created_at=1.0))
    assert [entry.key for entry in store.entries()] == ["a", "b"]


def test_claims_from_many_threads_let_exactly_one_win(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "journal.sqlite3")
    wins: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        won = store.insert(_entry("the-job"))
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


_CLAIM = """
import sys
from kiekit.journal import Entry, EntryState, SqliteStore
entry = Entry("the-job", "m", None, EntryState.SENDING, 1.0, 1.0)
print(SqliteStore(sys.argv[1]).insert(entry))
"""


def test_claims_from_several_processes_let_exactly_one_win(tmp_path: Path) -> None:
    path = str(tmp_path / "journal.sqlite3")
    SqliteStore(path).entries()  # create the file and schema first, as a client would
    command = [sys.executable, "-c", _CLAIM, path]
    workers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603 - our code
        for _ in range(3)
    ]
    answers = sorted(worker.communicate(timeout=60)[0].strip() for worker in workers)
    assert answers == ["False", "False", "True"]


def test_the_file_is_in_wal_mode_so_readers_never_block_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    SqliteStore(path).insert(_entry("k"))
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


class _WithoutJson:
    """A SQLite connection as a build without the JSON functions answers."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, *args: Any) -> Any:
        if "json_" in sql:
            raise sqlite3.OperationalError("no such function: json_array_length")
        return self._connection.execute(sql, *args)

    def executescript(self, script: str) -> Any:
        if "json_" in script:
            raise sqlite3.OperationalError("no such function: json_array_length")
        return self._connection.executescript(script)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def test_a_sqlite_without_json_functions_is_named_as_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: _WithoutJson(connect(*a, **k)))
    with pytest.raises(JournalError) as info:
        SqliteStore(tmp_path / "journal.sqlite3").insert(_entry("k"))
    assert "JSON functions" in str(info.value)
    assert "3.38" in str(info.value)
    assert sqlite3.sqlite_version in str(info.value)  # which SQLite this Python has


# -- the lifecycle ---------------------------------------------------------------------------------


def _journal(start: float = 0.0) -> Journal:
    ticks = iter(range(1, 1000))
    return Journal(MemoryStore(), clock=lambda: start + float(next(ticks)))


def test_an_intent_is_written_before_and_completed_after_the_create() -> None:
    journal = _journal()
    intent = journal.intend("m", {"input": {"prompt": "x"}}, base_url="http://127.0.0.1:9")
    assert intent is not None
    stored = journal.get(intent.key)
    assert stored is not None
    assert stored.lease_until is not None  # held by its sender, keyed or not (soakclient 1)
    assert attrs.evolve(stored, lease_until=None) == intent
    assert intent.state is EntryState.SENDING
    assert intent.state.outcome_unknown
    journal.created(intent, Task("t1", "m"))
    row = journal.by_task("t1")
    assert row is not None
    assert row.state is EntryState.CREATED
    assert row.unfinished


@pytest.mark.parametrize(
    ("error", "state", "kind"),
    [
        (
            InsufficientCreditsError(402, "Credits insufficient"),
            EntryState.REJECTED,
            "InsufficientCreditsError",
        ),
        (
            OutcomeUnknownError(model="m", request=None, cause=TransportError("reset")),
            "unknown",
            "OutcomeUnknownError",
        ),
        (KeyboardInterrupt(), EntryState.UNKNOWN, "Interrupted"),  # a stop, said as one
    ],
)
def test_a_failed_create_is_rejected_only_when_kie_proved_nothing_was_made(
    error: BaseException, state: EntryState | str, kind: str
) -> None:
    journal = _journal()
    intent = journal.intend("m", None)
    assert intent is not None
    row = journal.create_failed(intent, error)
    assert row is not None
    assert row.state is EntryState(state)
    assert row.error is not None
    assert row.error["type"] == kind


def test_a_keyed_intent_claims_once_but_a_rejected_one_may_be_tried_again() -> None:
    journal = _journal()
    first = journal.intend("m", None, key="job")
    assert first is not None
    assert journal.intend("m", None, key="job") is None  # in flight: never twice
    journal.create_failed(first, InsufficientCreditsError(402, "Credits insufficient"))
    again = journal.intend("m", None, key="job")
    assert again is not None
    assert again.state is EntryState.SENDING
    assert again.error is None


def test_results_files_and_failures_are_recorded_by_task_id(tmp_path: Path) -> None:
    journal = _journal(start=time.time())  # recent: KIE still keeps its files
    intent = journal.intend("m", None)
    assert intent is not None
    journal.created(intent, Task("t1", "m"))
    asset = Asset("https://cdn.example/a.png", MediaKind.IMAGE)
    journal.finished(Task("t1", "m"), Results("t1", (asset,)))
    row = journal.by_task("t1")
    assert row is not None
    assert row.state is EntryState.SUCCEEDED
    assert row.unfinished  # the file is not on disk yet
    path = tmp_path / "t1-0.png"
    path.write_bytes(b"x")
    journal.downloaded("t1", [path], tmp_path)
    row = journal.by_task("t1")
    assert row is not None
    assert row.files == (str(path.resolve()),)
    assert not row.unfinished
    path.unlink()
    assert row.unfinished  # deleted since: owed again
    old = attrs.evolve(row, created_at=time.time() - RESULT_LIFETIME - 60)
    assert not old.unfinished  # KIE no longer keeps its files: nothing to fetch again

    other = journal.intend("m", None)
    assert other is not None
    journal.created(other, Task("t2", "m"))
    journal.wait_failed(Task("t2", "m"), TaskFailedError("t2", "500", "internal error"))
    failed = journal.by_task("t2")
    assert failed is not None
    assert failed.state is EntryState.FAILED
    assert failed.error == {"type": "TaskFailedError", "code": 500, "message": "internal error"}


def test_a_failed_row_of_an_older_kiekit_reads_its_code_as_the_number_it_spells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """kiekit before 3b0c397 kept KIE's failCode as the string it came as ("500"): after the
    upgrade such rows read as this kiekit writes them (500), so ``code == 500`` finds the old
    failures too, in ``kie tasks --json`` and in a batch run again; a code in words stays."""
    from kiekit.cli import main

    path = tmp_path / "journal.sqlite3"
    store = SqliteStore(path)
    for key, code in (("old", "500"), ("words", "TIMEOUT"), ("new", 500)):
        error = {"type": "TaskFailedError", "code": code, "message": "internal error"}
        store.insert(_entry(key, task_id=f"t-{key}", state=EntryState.FAILED, error=error))
    store.close()
    with sqlite3.connect(path) as connection:  # as the older kiekit left it on disk
        stored = dict(connection.execute("SELECT key, error FROM entries").fetchall())
    assert json.loads(stored["old"])["code"] == "500"

    store = SqliteStore(path)
    codes = {row.key: row.error["code"] for row in store.entries() if row.error is not None}
    assert codes == {"old": 500, "words": "TIMEOUT", "new": 500}
    store.close()
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(tmp_path))
    assert main(["tasks", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(str(row["error"]["code"]) for row in listed) == ["500", "500", "TIMEOUT"]
    assert all(row["error"]["code"] == 500 for row in listed if row["task_id"] != "t-words")


def test_a_task_created_by_another_process_is_found_in_the_store() -> None:
    store = MemoryStore()
    first = Journal(store)
    intent = first.intend("m", None)
    assert intent is not None
    first.created(intent, Task("t1", "m"))
    second = Journal(store)
    assert second.wait_failed(Task("t1", "m"), TaskFailedError("t1", None, None)) is not None
    assert second.wait_failed(Task("not-ours", "m"), TaskFailedError("x", None, None)) is None


def test_entry_json_is_plain_data() -> None:
    entry = _entry("k", task_id="t", assets=(Asset("https://a/b.png", MediaKind.IMAGE),))
    shown = entry.to_json()
    assert json.loads(json.dumps(shown)) == shown
    assert shown["result_urls"] == ["https://a/b.png"]
    assert shown["state"] == "sending"


def test_fsync_flushes_every_commit_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def synchronous(store: SqliteStore) -> int:
        store.entries()
        connection = store._local.connection
        return int(connection.execute("PRAGMA synchronous").fetchone()[0])

    assert synchronous(SqliteStore(tmp_path / "a.sqlite3")) == 1  # NORMAL
    assert synchronous(SqliteStore(tmp_path / "b.sqlite3", fsync=True)) == 2  # FULL
    monkeypatch.setenv("KIEKIT_JOURNAL_FSYNC", "1")
    store = default_journal().store
    assert isinstance(store, SqliteStore)
    assert store.fsync
    from kiekit.errors import ConfigurationError

    monkeypatch.setenv("KIEKIT_JOURNAL_FSYNC", "banana")  # a typo: not durability silently off
    with pytest.raises(ConfigurationError, match="KIEKIT_JOURNAL_FSYNC must be 1 or 0"):
        default_journal()


def test_a_value_that_is_not_utf8_is_a_journal_error_not_a_crash(tmp_path: Path) -> None:
    """A text that is not UTF-8 (a model id holding a lone surrogate) cannot be stored: a
    JournalError (the clients log it after a create), never a UnicodeEncodeError. (A path
    whose name is not UTF-8 is kept: teams/test_journal_select.py.)"""
    from kiekit.journal import EntryState, JournalError, SqliteStore
    from kiekit.journal._entry import Entry

    store = SqliteStore(tmp_path / "journal.sqlite3")
    with pytest.raises(JournalError, match="not valid UTF-8"):
        store.insert(Entry("k", "m\udcff", None, EntryState.CREATED, 1.0, 1.0, task_id="t"))


def test_a_row_in_a_state_or_with_a_time_this_kiekit_cannot_read_is_read_not_a_crash(
    tmp_path: Path,
) -> None:
    """A newer kiekit's state (or a row edited by hand) raised ValueError in every listing
    it was in, and hid the other rows with it."""
    path = tmp_path / "journal.sqlite3"
    store = SqliteStore(path)
    for key in ("newer", "edited", "plain"):
        store.insert(_entry(key, state=EntryState.CREATED, task_id=f"t-{key}"))
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE entries SET state = 'archived' WHERE key = 'newer'")
        connection.execute("UPDATE entries SET created_at = 'yesterday' WHERE key = 'edited'")
    rows = {row.key: row for row in store.entries()}
    assert rows.keys() == {"newer", "edited", "plain"}
    newer = rows["newer"]
    assert (newer.state.value, newer.state.known) == ("archived", False)
    assert newer.state is EntryState.read("archived")  # one object: rows compare equal
    assert newer.state not in set(EntryState)
    assert not newer.unfinished
    assert newer.to_json()["state"] == "archived"
    with pytest.raises(ValueError, match="archived"):
        EntryState("archived")  # the closed set is as it was: only rows read so
    assert rows["edited"].created_at == 0.0  # not known
    assert {row.key for row in store.select(Selection(open=True))} >= {"newer", "plain"}


def _schema_version(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    return version


def test_the_journal_file_records_its_schema_version(tmp_path: Path) -> None:
    from kiekit.journal._stores import SCHEMA_VERSION

    path = tmp_path / "journal.sqlite3"
    store = SqliteStore(path)
    assert store.get("nothing") is None
    store.close()
    assert _schema_version(path) == SCHEMA_VERSION >= 1


class _Unreachable(_UpdateOnly):
    """A store of before ``open()`` whose database is down."""

    def get(self, key: str) -> Entry | None:
        raise JournalError("task journal db.example: connection refused")


def test_journal_open_opens_the_store_now_and_says_why_it_cannot_be(tmp_path: Path) -> None:
    """``kie run`` and ``kie batch`` open the journal before they make a folder or send
    anything: ``Journal.open()`` does it, as the lookup of a row named "" they used did. A
    store of before ``open()`` is opened by such a lookup."""
    path = tmp_path / "data" / "journal.sqlite3"
    journal = Journal(SqliteStore(path))
    journal.open()
    assert _schema_version(path) >= 1  # made now, not at the first write
    journal.open()  # again: nothing more
    assert journal.entries() == []
    (tmp_path / "a-file").write_text("")
    with pytest.raises(JournalError, match="a-file"):
        Journal(SqliteStore(tmp_path / "a-file" / "journal.sqlite3")).open()
    with pytest.raises(JournalError, match="set KIEKIT_DATA_DIR"):
        Journal(Unopenable("no home directory: set KIEKIT_DATA_DIR")).open()
    Journal(MemoryStore()).open()
    Journal(_UpdateOnly(MemoryStore())).open()
    with pytest.raises(JournalError, match="connection refused"):
        Journal(_Unreachable(MemoryStore())).open()


def test_a_journal_file_of_a_newer_kiekit_is_refused_in_words_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its rows may hold a column or a state this kiekit cannot fill or read (an outside
    tester's journal lost every intent row so): neither read nor written, and the user told."""
    from kiekit.cli import main
    from kiekit.journal._stores import SCHEMA_VERSION

    path = tmp_path / "journal.sqlite3"
    store = SqliteStore(path)
    store.insert(_entry("old", task_id="t1"))
    store.close()
    newer = SCHEMA_VERSION + 1
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {newer}")
    said = (
        f"task journal {path}: written by a newer kiekit (schema {newer}); upgrade kiekit "
        f"(this one knows the journal up to schema {SCHEMA_VERSION}), or use another journal: "
        "the one `kie COMMAND --journal` names, else KIEKIT_JOURNAL_URL's"
    )
    for use in (lambda s: s.get("old"), lambda s: s.insert(_entry("new"))):
        with pytest.raises(JournalError) as refused:
            use(SqliteStore(path))
        assert said in str(refused.value)
    assert _schema_version(path) == newer  # not written over with this kiekit's
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(tmp_path))
    assert main(["tasks"]) == 2  # one line, refused as a set-up error
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"kie: error: {said}")


@pytest.mark.parametrize("chosen", ["--journal", "KIEKIT_JOURNAL_URL", "journal="])
def test_a_newer_journal_named_otherwise_than_by_the_data_folder_is_refused_with_that_way_out(
    chosen: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The refusal said to point KIEKIT_DATA_DIR elsewhere whatever named the journal: moved
    as told, it was refused the same (a --journal, a URL or journal= wins over the folder).
    It names each way, in the order they win."""
    from kiekit import Client
    from kiekit.cli import main
    from kiekit.journal._stores import SCHEMA_VERSION

    path = tmp_path / "newer.sqlite3"
    SqliteStore(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(tmp_path / "moved-as-told"))
    if chosen == "journal=":
        # refused before the create: nothing listens on the discard port all the same
        client = Client(api_key="sk-test", base_url="http://127.0.0.1:9", journal=str(path))
        with pytest.raises(JournalError) as refused:
            client.submit("grok-imagine/text-to-image", {"prompt": "a cat"})
        client.close()
        said = str(refused.value)
    else:
        if chosen == "KIEKIT_JOURNAL_URL":
            monkeypatch.setenv("KIEKIT_JOURNAL_URL", f"sqlite://{path}")
        assert main(["tasks", *(["--journal", str(path)] if chosen == "--journal" else [])]) == 2
        said = capsys.readouterr().err
    assert f"task journal {path}: written by a newer kiekit" in said
    ways = ["`kie COMMAND --journal`", "KIEKIT_JOURNAL_URL", "KIEKIT_DATA_DIR", "Client(journal="]
    assert all(way in said for way in ways), said


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_the_journal_and_the_folder_kiekit_makes_for_it_are_private(tmp_path: Path) -> None:
    """The journal holds prompts, create bodies, result links and a hash of the key: on a
    shared machine other users must not read it, whatever the umask lets new files be."""
    import os
    import stat

    folder = tmp_path / "data" / "kiekit"
    old = os.umask(0o022)
    try:
        store = SqliteStore(folder / "journal.sqlite3")
        store.insert(_entry("k1"))
    finally:
        os.umask(old)
    made = sorted(folder.iterdir())
    assert {p.name for p in made} >= {"journal.sqlite3", "journal.sqlite3-wal"}
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in made} == {p.name: 0o600 for p in made}
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o755  # not ours alone


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_a_folder_or_journal_the_user_made_keeps_its_mode(tmp_path: Path) -> None:
    import os
    import stat

    folder = tmp_path / "shared"
    folder.mkdir(mode=0o750)
    os.chmod(folder, 0o750)  # noqa: S103 (a folder the user shares on purpose)
    (folder / "old.sqlite3").touch(mode=0o640)
    os.chmod(folder / "old.sqlite3", 0o640)
    SqliteStore(folder / "journal.sqlite3").insert(_entry("k1"))
    SqliteStore(folder / "old.sqlite3").insert(_entry("k1"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert stat.S_IMODE((folder / "journal.sqlite3").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "old.sqlite3").stat().st_mode) == 0o640
