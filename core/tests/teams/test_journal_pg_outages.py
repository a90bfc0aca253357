"""The PostgreSQL journal outlives a database that hangs or restarts (outside tester "pgops",
findings 2, 3 and 5), against a real PostgreSQL.

A hung database is a loopback TCP proxy of the test's own that stops forwarding (the kernel
still acknowledges, as a stopped server's does): no SIGSTOP of a shared server, and the only
time involved is a deadline of a fraction of a second set for the test, waited for with a
bound. A restart is ``pg_terminate_backend`` of the store's connection from another one.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from kiekit.errors import ConfigurationError
from kiekit.journal import Entry, EntryState, Journal, JournalError, _postgres
from kiekit.journal._postgres import STATEMENT_TIMEOUT_ENV, PostgresStore
from kiekit.retry import RetryPolicy
from kiekit.settings import VARIABLES

GROK = "grok-imagine/text-to-image"


def row(key: str, owner: str | None = None) -> Entry:
    return Entry(key, GROK, {"p": 1}, EntryState.SENDING, 1.0, 1.0, owner=owner)


@pytest.fixture
def database(postgres_url: str) -> str:
    """The URL of a database of this test's own."""
    name = "o" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + "/" + name


class Proxy:
    """Forwards 127.0.0.1:port to the database; ``freeze()`` stops forwarding (bytes are
    still taken in, never passed on), ``thaw()`` forwards again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def freeze(self) -> None:
        self.flowing.clear()

    def thaw(self) -> None:
        self.flowing.set()

    def _accept(self) -> None:
        self.listener.settimeout(0.05)  # looks at `closed` between connections
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                thread = threading.Thread(target=self._pipe, args=(source, sink), daemon=True)
                thread.start()
                self.threads.append(thread)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = source.recv(65536)
                if not data:
                    break
                while not self.flowing.wait(0.05):  # frozen: held here
                    if self.closed.is_set():
                        return
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.closed.set()
        self.flowing.set()
        self.listener.close()
        for each in self.sockets:
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked reading it
            with contextlib.suppress(OSError):
                each.close()
        for thread in self.threads:
            thread.join(10)


@pytest.fixture
def proxy(database: str) -> Iterator[tuple[Proxy, str]]:
    parts = psycopg.conninfo.conninfo_to_dict(database)
    through = Proxy((str(parts["host"]), int(str(parts["port"]))))
    try:
        yield through, database.replace(f":{parts['port']}/", f":{through.port}/")
    finally:
        through.close()


@pytest.fixture
def worker() -> Iterator[Any]:
    """One thread of the test's own for the store's calls (a worker's journal thread: one
    connection), each of which must end within a bound (a bound, not a timing)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:

        def within(seconds: float, call: Any) -> Any:
            return pool.submit(call).result(timeout=seconds)

        yield within


def test_a_statement_the_database_never_answers_fails_after_the_deadline(
    proxy: tuple[Proxy, str], worker: Any
) -> None:
    """A server that accepts and never answers (stopped, a partition) blocked a worker's
    statement for ever, without a word; now its connection is cut at the deadline, the
    statement fails retryable (the callers' warnings and retries run), and the next one,
    once the database answers again, goes through on a fresh connection."""
    through, url = proxy
    store = PostgresStore(url, statement_timeout=0.3)
    try:
        within = worker
        assert within(30, lambda: store.insert(row("a")))
        through.freeze()
        with pytest.raises(JournalError) as hung:
            within(30, lambda: store.get("a"))
        assert hung.value.unreachable
        assert hung.value.retryable
        assert STATEMENT_TIMEOUT_ENV in str(hung.value)
        assert "no answer within 0.3 s" in str(hung.value)
        through.thaw()
        found = within(30, lambda: store.get("a"))
        assert found is not None
        assert found.state is EntryState.SENDING
    finally:
        through.thaw()
        store.close()


def test_the_statement_deadline_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert STATEMENT_TIMEOUT_ENV in VARIABLES
    monkeypatch.delenv(STATEMENT_TIMEOUT_ENV, raising=False)
    assert _postgres.statement_timeout_from_env() == 30.0
    monkeypatch.setenv(STATEMENT_TIMEOUT_ENV, "2.5")
    assert _postgres.statement_timeout_from_env() == 2.5
    for bad in ("0", "-1", "soon", "inf"):
        monkeypatch.setenv(STATEMENT_TIMEOUT_ENV, bad)
        with pytest.raises(ConfigurationError, match=STATEMENT_TIMEOUT_ENV):
            PostgresStore("postgresql://127.0.0.1/kiekit")


def _terminate(admin_url: str, store: PostgresStore) -> None:
    """End the server's side of every connection the store holds, as a restart does, and wait
    (bounded) until those backends are gone."""
    name = psycopg.conninfo.conninfo_to_dict(store.url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
        assert ended
        assert all(done for (done,) in ended)
        for _ in range(1_000):
            left = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                "pg_backend_pid()",
                (name,),
            ).fetchone()
            if left == (0,):
                return
            threading.Event().wait(0.01)
    raise AssertionError("the terminated backends did not end")


def test_a_connection_the_server_ended_is_replaced_before_its_next_statement(
    postgres_url: str, database: str
) -> None:
    store = PostgresStore(database)
    try:
        assert store.insert(row("a"))
        _terminate(postgres_url, store)
        assert store.insert(row("b"))  # not "terminating connection due to administrator…"
        assert [entry.key for entry in store.entries()] == ["a", "b"]
    finally:
        store.close()


@pytest.mark.parametrize("what", ["read", "insert", "renewal"])
def test_a_statement_whose_connection_broke_under_it_is_tried_once_more_when_safe(
    postgres_url: str, database: str, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    """The restart raced the look at the connection (it looked alive, the statement met the
    server's goodbye): the statement goes once more on a fresh connection. An insert whose
    outcome is unknown is read back first (never written twice, never lost)."""
    store = PostgresStore(database)
    try:
        assert store.insert(row("a", owner="me"), lease=60)
        monkeypatch.setattr(_postgres, "_gone", lambda connection: False)  # the race lost
        _terminate(postgres_url, store)
        if what == "read":
            found = store.get("a")
            assert found is not None
            assert found.key == "a"
        elif what == "insert":
            assert store.insert(row("b"))
            assert [entry.key for entry in store.entries()] == ["a", "b"]
        else:
            assert store.renew("me", 60) == 1
    finally:
        store.close()


def test_a_compare_and_set_whose_outcome_is_unknown_is_not_sent_again(
    postgres_url: str, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conditional update on a connection lost without a word may have committed: it is not
    repeated (the JournalError is retryable; its caller writes it again)."""
    store = PostgresStore(database)
    try:
        assert store.insert(row("a"))
        store.get("a")
        sent: list[str] = []
        real = _postgres.PostgresStore._run

        def lost_once(self: PostgresStore, work: Any, **options: Any) -> Any:
            def breaking(connection: Any) -> Any:
                sent.append("try")
                if len(sent) == 1:
                    raise psycopg.OperationalError("server closed the connection unexpectedly")
                return work(connection)

            return real(self, breaking, **options)

        monkeypatch.setattr(_postgres.PostgresStore, "_run", lost_once)
        with pytest.raises(JournalError) as caught:
            store.update("a", {"state": EntryState.CLAIMED}, only_if=[EntryState.SENDING])
        assert caught.value.retryable
        assert sent == ["try"]
        sent.clear()
        assert store.change("a", {"state": EntryState.CREATED})  # by key alone: sent again
        assert sent == ["try", "try"]
    finally:
        store.close()


@pytest.mark.parametrize("client", ["Client", "AsyncClient"])
def test_a_long_lived_client_loses_no_submit_to_a_database_restart(
    postgres_url: str, database: str, kit: SimpleNamespace, client: str
) -> None:
    import asyncio

    from kiekit import AsyncClient, Client

    store = PostgresStore(database)
    journal = Journal(store)
    made = iter(f"task-{n}" for n in range(3))
    kie = kit.FakeKie(create=lambda request: kit.created(next(made)))
    options: dict[str, Any] = {"rate_limits": None, "retry": RetryPolicy.never()}
    try:
        if client == "Client":
            with Client(kit.CANARY, transport=kie.transport, journal=journal, **options) as kie_:
                kie_.submit(GROK, prompt="before")
                _terminate(postgres_url, store)
                kie_.submit(GROK, prompt="after the restart")
        else:

            async def scenario() -> None:
                async with AsyncClient(
                    kit.CANARY, transport=kie.transport, journal=journal, **options
                ) as kie_:
                    await kie_.submit(GROK, prompt="before")
                    _terminate(postgres_url, store)
                    await kie_.submit(GROK, prompt="after the restart")

            asyncio.run(scenario())
        assert sorted(entry.task_id or "" for entry in journal.entries()) == ["task-0", "task-1"]
    finally:
        journal.close()
        store.close()


@pytest.mark.parametrize(
    ("option", "named"),
    [
        ("sslmode=bogus", "sslmode"),
        ("gssencmode=always", "gssencmode"),
        ("target_session_attrs=writable", "target_session_attrs"),
        ("connect_timeout=soon", "connect_timeout"),
    ],
)
def test_a_libpq_option_of_a_wrong_value_is_a_usage_error(option: str, named: str) -> None:
    """libpq refuses these only when it connects, without a SQLSTATE: they were read as an
    unreachable database (exit 1, "try again later") though no later try can help."""
    with pytest.raises(JournalError) as caught:
        PostgresStore(f"postgresql://kiekit:pw@127.0.0.1:1/kiekit?{option}")
    assert not caught.value.unreachable
    assert not caught.value.retryable
    assert named in str(caught.value)
    assert "pw" not in str(caught.value).replace("password", "")


def test_a_socket_url_keeps_its_three_slashes_when_shown() -> None:
    url = "postgresql:///kiekit?host=/run/postgresql&password=s3cret&dbname=nosuch"
    assert repr(PostgresStore(url)) == (
        "PostgresStore('postgresql:///kiekit?host=/run/postgresql&password=***&dbname=nosuch')"
    )


def test_the_watchdog_thread_ends_once_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    """No thread left behind by a store at rest (a bounded wait for its end)."""
    monkeypatch.setattr(_postgres._Watchdog, "_IDLE", 0.01)
    watchdog = _postgres._Watchdog(5.0)
    with watchdog.watching():
        pass
    deadline = time.monotonic() + 30
    while watchdog._thread is not None and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert watchdog._thread is None
