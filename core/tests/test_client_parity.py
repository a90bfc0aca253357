"""Client and AsyncClient are one client with two drivers (issue 14): the same methods with the
same signatures, the same results, errors and journal rows for the same answers; and the
asyncio driver writes the journal off its event loop, never losing a row to a cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kiekit import AsyncClient, Client, PollPolicy, TaskFailedError, ValidationError
from kiekit.journal import Entry, EntryState, Journal, JournalStore, MemoryStore, SqliteStore
from kiekit.journal._writer import WRITER
from kiekit.retry import RetryPolicy
from kiekit.transport import HttpRequest, HttpResponse, MockTransport

FAST = PollPolicy(initial=0.001, growth=0.001, maximum=0.002, timeout=5.0)
QUIET: dict[str, Any] = {"rate_limits": None, "retry": RetryPolicy.never(), "poll": FAST}


def _public(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in vars(cls).items()
        if callable(member) and not name.startswith("_")
    }


def test_both_clients_have_the_same_methods_with_the_same_signatures() -> None:
    sync, async_ = _public(Client), _public(AsyncClient)
    assert set(sync) == set(async_)
    for name, method in sync.items():
        twin = async_[name]
        # the same parameters; what comes back is the same thing, awaited or async-iterated
        sync_sig, async_sig = inspect.signature(method), inspect.signature(twin)
        assert sync_sig.parameters == async_sig.parameters, name
        returns = (sync_sig.return_annotation, async_sig.return_annotation)
        assert returns[0] == returns[1] or returns == ("ChatStream", "AsyncChatStream"), name
        # every method that does I/O is a coroutine; chat_stream hands back an async iterator
        if name != "chat_stream":
            assert inspect.iscoroutinefunction(twin), name


def test_each_method_is_one_delegation_to_the_session() -> None:
    """No client decides anything: each method body names one session flow and its driver."""
    for cls in (Client, AsyncClient):
        for name, method in _public(cls).items():
            source = inspect.getsource(method)
            if name in ("close", "chat", "chat_stream"):
                continue  # the transport's own close; chat streams have drivers of their own
            assert f"self._session.{name}(" in source, f"{cls.__name__}.{name}"
            assert "_journal" not in source, f"{cls.__name__}.{name}"
            assert "try:" not in source, f"{cls.__name__}.{name}"


def _rows(journal: Journal) -> list[tuple[Any, ...]]:
    """The rows as a user reads them, without what differs by nature (times, temp names)."""
    return [
        (
            row.model,
            row.state,
            row.task_id,
            row.request,
            row.error,
            row.assets,
            [Path(p).name for p in row.files],
        )
        for row in journal.entries()
    ]


def _scenario(kit: SimpleNamespace, api: Any, journal: Journal, out: Path) -> Any:
    """Everything a user does, with every ending: done, failed, refused before sending."""
    urls = [f"{kit.CDN}/a.png"]
    done = kit.FakeKie(
        [kit.market("generating", progress=30), kit.market("success", urls=urls)],
        files={urls[0]: kit.PNG},
    )
    failed = kit.FakeKie([kit.market("fail", fail_code="422", fail_msg="nsfw")])

    async def run() -> list[Any]:
        seen: list[Any] = []
        async with api.client(transport=done.transport, journal=journal, **QUIET) as kie:
            task = await kie.submit(kit.GROK_T2I, prompt="a fox", idempotency_key="fox-1")
            again = await kie.submit(kit.GROK_T2I, prompt="a fox", idempotency_key="fox-1")
            results = await kie.wait(task)
            paths = await kie.download(results, out)
            seen += [task.id, again.id, results.assets, [p.read_bytes() for p in paths]]
            try:
                await kie.submit(kit.GROK_T2I, prompt="a fox", aspect_ratio="7:1")
            except ValidationError as exc:
                seen.append((type(exc), exc.field))
        async with api.client(transport=failed.transport, journal=journal, **QUIET) as kie:
            task = await kie.submit(kit.GROK_T2I, prompt="a cat")
            try:
                await kie.wait(task)
            except TaskFailedError as exc:
                seen.append((type(exc), exc.task_id, exc.fail_code, exc.fail_message))
        return seen

    return api.run(run)


def test_the_same_answers_give_the_same_results_errors_and_journal_rows(
    apis: list[Any], kit: SimpleNamespace, tmp_path: Path
) -> None:
    outcomes = []
    for api in apis:
        journal = Journal(MemoryStore())
        seen = _scenario(kit, api, journal, tmp_path / api.name)
        outcomes.append((seen, _rows(journal)))
    (sync_seen, sync_rows), (async_seen, async_rows) = outcomes
    assert sync_seen == async_seen
    assert sync_rows == async_rows
    states = [row[1] for row in sync_rows]
    assert states == [EntryState.SUCCEEDED, EntryState.FAILED]


class HeldStore(MemoryStore):
    """A journal store whose first insert waits for the test's word, noting its thread."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = threading.Event()
        self.go_on = threading.Event()
        self.threads: set[str] = set()

    def insert(self, entry: Entry, *, lease: float | None = None) -> bool:
        self.threads.add(threading.current_thread().name)
        self.writing.set()
        assert self.go_on.wait(60), "the test never let the write finish"
        return super().insert(entry, lease=lease)

    def update(self, key: str, changes: Any, **conditions: Any) -> Entry | None:
        self.threads.add(threading.current_thread().name)
        return super().update(key, changes, **conditions)


@contextlib.contextmanager
def _finally(call: Any) -> Iterator[None]:
    try:
        yield
    finally:
        call()


class _GroupCountingStore(SqliteStore):
    """A SQLite journal whose first insert waits for the test's word (the writes asked for
    meanwhile queue up behind it), counting the writes of each shared transaction and noting
    the threads that write."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writing, self.go_on = threading.Event(), threading.Event()
        self.groups: list[int] = []  # writes per shared transaction
        self.threads: set[str] = set()
        self._in_group: int | None = None
        self._inserts = 0

    def insert(self, entry: Entry, *, lease: float | None = None) -> bool:
        self.threads.add(threading.current_thread().name)
        self._inserts += 1
        if self._inserts == 1:
            self.writing.set()
            assert self.go_on.wait(60), "the test never let the write finish"
        if self._in_group is not None:
            self._in_group += 1
        return super().insert(entry, lease=lease)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        self._in_group = 0
        with super().batch():
            yield
        self.groups.append(self._in_group)
        self._in_group = None


def _held_client(
    store: JournalStore, kit: SimpleNamespace, transport: MockTransport
) -> AsyncClient:
    return AsyncClient(kit.CANARY, transport=transport, journal=Journal(store), **QUIET)


def test_the_async_client_writes_its_journal_off_the_event_loop(kit: SimpleNamespace) -> None:
    store = HeldStore()
    kie = kit.FakeKie([kit.market("success", urls=[f"{kit.CDN}/a.png"])])

    async def run() -> Any:
        async with _held_client(store, kit, kie.transport) as client:
            submit = asyncio.create_task(client.submit(kit.GROK_T2I, prompt="a fox"))
            # the intent row is being written and held; the loop still runs this coroutine
            assert await asyncio.to_thread(store.writing.wait, 60)
            loop_thread = threading.current_thread().name
            store.go_on.set()
            task = await submit
            await client.wait(task)
            return loop_thread, task

    loop_thread, task = asyncio.run(run())
    assert loop_thread not in store.threads
    assert store.threads == {"kiekit-journal"}
    assert store.by_task(task.id) is not None


def test_a_cancellation_during_the_intent_write_leaves_a_row_that_says_never_sent(
    kit: SimpleNamespace,
) -> None:
    store = HeldStore()
    sent: list[HttpRequest] = []

    def kie(request: HttpRequest) -> HttpResponse:
        sent.append(request)
        return kit.created()

    async def run() -> None:
        async with _held_client(store, kit, MockTransport(kie)) as client:
            submit = asyncio.create_task(client.submit(kit.GROK_T2I, prompt="a fox"))
            assert await asyncio.to_thread(store.writing.wait, 60)
            submit.cancel()  # while the intent row is being written
            # one turn of the loop: the cancelled task runs first (its wake-up was queued by
            # cancel()), so the driver holds the cancellation before the write may finish
            await asyncio.sleep(0)
            store.go_on.set()
            with pytest.raises(asyncio.CancelledError):
                await submit

    asyncio.run(run())
    [row] = store.entries()
    assert sent == []  # the create never left
    assert row.state is EntryState.REJECTED, row  # known never sent: a batch may send it again


def test_concurrent_async_writes_share_one_commit(kit: SimpleNamespace, tmp_path: Path) -> None:
    """Group commit: writes queued while one is being written go in one transaction, and each
    flow goes on only once its row is committed."""
    store = _GroupCountingStore(tmp_path / "journal.sqlite")
    tasks = 10
    kie = kit.FakeKie([kit.market("success", urls=[f"{kit.CDN}/a.png"])])

    async def run() -> None:
        async with _held_client(store, kit, kie.transport) as client:
            # a first write holds the writer; only then do the others start, so all of them
            # queue up behind it whatever the threads' timing
            first = asyncio.create_task(client.submit(kit.GROK_T2I, prompt="first fox"))
            assert await asyncio.to_thread(store.writing.wait, 60)
            submits = [
                asyncio.create_task(client.submit(kit.GROK_T2I, prompt=f"fox {n}"))
                for n in range(tasks)
            ]
            # each submit reaches its intent write in a few turns of the loop (counted, not timed)
            for _ in range(100_000):
                if WRITER.queued >= tasks:
                    break
                await asyncio.sleep(0)
            assert WRITER.queued >= tasks
            store.go_on.set()
            await asyncio.gather(first, *submits)

    asyncio.run(run())
    rows = store.entries()
    assert len(rows) == tasks + 1
    assert all(row.state is EntryState.CREATED for row in rows)
    # the intents queued behind the held one share one transaction
    assert max(store.groups) == tasks, store.groups


def test_the_sync_clients_threads_share_commits_too(kit: SimpleNamespace, tmp_path: Path) -> None:
    """A Client's threads hand their writes to the same writer: writes queued while one is being
    written share its group's commit (instead of taking turns for SQLite's write lock), and each
    thread goes on only once its row is committed, its error raised in that thread."""
    from kiekit import Client
    from kiekit.journal import JournalError

    store = _GroupCountingStore(tmp_path / "journal.sqlite")
    tasks = 8
    kie = kit.FakeKie([kit.market("success", urls=[f"{kit.CDN}/a.png"])])
    client = Client(kit.CANARY, transport=kie.transport, journal=Journal(store), **QUIET)
    submitted: list[str] = []

    def submit(n: int) -> None:
        submitted.append(client.submit(kit.GROK_T2I, prompt=f"fox {n}").id)

    # The writer is shared by every journal of the process: a client an earlier test dropped,
    # collected now, queues its journal's let-go (an owner of its own), which would split this
    # test's queued writes into two groups. Collected and drained first, and no collection
    # until the writes are grouped.
    gc.collect()
    WRITER.after_queued(lambda: None)
    gc.disable()
    with client, _finally(gc.enable):
        threads = [threading.Thread(target=submit, args=(n,)) for n in range(tasks)]
        # the first write is under way before the others ask (else the writer may take all of
        # them in its first group, the held write among them), then the others queue behind it
        threads[0].start()
        assert store.writing.wait(60)
        for thread in threads[1:]:
            thread.start()
        # the others' intents queue behind the held one (counted, not timed)
        for _ in range(60_000):
            if WRITER.queued >= tasks - 1:
                break
            threading.Event().wait(0.001)
        assert WRITER.queued >= tasks - 1
        assert submitted == []  # nobody goes on before its row is committed
        store.go_on.set()
        for thread in threads:
            thread.join(60)
    assert len(submitted) == tasks
    assert store.threads == {"kiekit-journal"}
    rows = store.entries()
    assert [row.state for row in rows] == [EntryState.CREATED] * tasks
    assert max(store.groups) >= tasks - 1, store.groups

    def broken() -> None:
        raise JournalError("disk full")

    with pytest.raises(JournalError, match="disk full"):  # raised in the thread that asked
        WRITER.run(broken, store)


# A program that uses an AsyncClient with a journal, forks (as a prefork pool does), and has the
# child do the same. Run in a process of its own: forked inside a pytest-xdist worker, the child
# would also inherit whatever threads earlier tests left running, and the locks they held.
_FORKING_PROGRAM = """
import asyncio, faulthandler, os, sys
from pathlib import Path
from kiekit import AsyncClient
from kiekit.journal import Journal, SqliteStore
from kiekit.retry import RetryPolicy
from kiekit.transport import HttpResponse, MockTransport

def created(request):
    body = '{"code": 200, "msg": "success", "data": {"taskId": "task-%d"}}' % os.getpid()
    return HttpResponse(200, body.encode(), "OK")

def submit_once(path):
    async def run():
        journal = Journal(SqliteStore(path))
        async with AsyncClient("sk-test", transport=MockTransport(created), journal=journal,
                               rate_limits=None, retry=RetryPolicy.never()) as client:
            return (await client.submit(sys.argv[2], prompt="a fox")).id
    return asyncio.run(run())

folder = Path(sys.argv[1])
for round in range(int(sys.argv[3])):
    submit_once(folder / f"parent-{round}.sqlite")  # the parent's writer thread now runs
    child = os.fork()
    if child == 0:  # a hung child writes every thread's stack, and exits 1
        with open(folder / "child-stacks.txt", "w") as stacks:
            faulthandler.dump_traceback_later(120, exit=True, file=stacks)
            submit_once(folder / f"child-{round}.sqlite")
        os._exit(0)
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"child {round} ended with {os.waitstatus_to_exitcode(status)}")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_writes_its_journal_too(kit: SimpleNamespace, tmp_path: Path) -> None:
    """A worker forked after its parent used an AsyncClient (a prefork pool) gets a journal
    writer of its own, rather than waiting on the parent's thread, which it does not have."""
    rounds = 20
    done = subprocess.run(  # noqa: S603 - this interpreter, on a program of this file
        [sys.executable, "-c", _FORKING_PROGRAM, str(tmp_path), kit.GROK_T2I, str(rounds)],
        capture_output=True,
        text=True,
        timeout=600,  # a bound against a hang the stack dump did not end
    )
    stacks = tmp_path / "child-stacks.txt"
    assert done.returncode == 0, (done.stderr, stacks.read_text() if stacks.exists() else "")
    for round in range(rounds):
        [row] = SqliteStore(tmp_path / f"child-{round}.sqlite").entries()
        assert row.state is EntryState.CREATED


# Told when a fork begins (os.register_at_fork's "before" hooks run in the reverse order of
# registration: this one, registered after kiekit's, runs before it) while a test arms it.
_fork_begins: list[threading.Event] = []


def _tell_fork_begins() -> None:
    for event in _fork_begins:
        event.set()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_tell_fork_begins)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
@pytest.mark.filterwarnings("ignore:This process.*fork:DeprecationWarning")
def test_a_fork_waits_for_the_journal_write_under_way() -> None:
    """fork() made while the journal's writer is inside a write waits for it to end: a child
    made while that thread was inside SQLite (a commit, a connection closed) inherited SQLite's
    mutexes locked and hung at its first use of SQLite (seen in CI: a prefork pool's child)."""
    events: list[str] = []
    writing, may_finish, fork_begins = threading.Event(), threading.Event(), threading.Event()

    def slow_write() -> None:
        writing.set()
        may_finish.wait()
        events.append("written")

    writer_user = threading.Thread(target=WRITER.run, args=(slow_write, object()))
    writer_user.start()
    assert writing.wait(timeout=60)
    child_saw: list[int] = []

    def fork() -> None:
        child = os.fork()
        if child == 0:  # the child tells whether the write had ended when it was made
            os._exit(0 if "written" in events else 3)
        events.append("forked")
        child_saw.append(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))

    _fork_begins.append(fork_begins)
    try:
        forker = threading.Thread(target=fork)
        forker.start()
        assert fork_begins.wait(timeout=60)
    finally:
        _fork_begins.clear()
    # The fork is under way. Had it not waited for the write, it would end meanwhile: give it
    # the chance (on the fixed code this wait always runs out), then let the write end.
    forker.join(timeout=1.0)
    may_finish.set()
    forker.join(timeout=60)
    writer_user.join(timeout=60)
    assert events == ["written", "forked"]
    assert child_saw == [0]


class _ReadBackCountingStore(SqliteStore):
    """A SQLite journal counting the writes that read their row back (``update``)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.read_back: list[dict[str, Any]] = []

    def update(self, key: str, changes: Any, **conditions: Any) -> Entry | None:
        self.read_back.append(conditions)
        return super().update(key, changes, **conditions)


def test_a_held_rows_writes_read_nothing_back(kit: SimpleNamespace, tmp_path: Path) -> None:
    """The writes a client makes about a row it holds test its owner in the statement but read
    no row back (issue 18: no RETURNING where unused): a submit and wait of a market task
    writes through ``change``, never ``update(owned_by=...)``."""
    from kiekit import Client

    store = _ReadBackCountingStore(tmp_path / "journal.sqlite")
    kie = kit.FakeKie([kit.market("success", urls=[f"{kit.CDN}/a.png"])])
    with Client(kit.CANARY, transport=kie.transport, journal=Journal(store), **QUIET) as client:
        client.wait(client.submit(kit.GROK_T2I, prompt="a fox"))
    assert [c for c in store.read_back if "owned_by" in c] == []
    rows = store.entries()
    assert [row.state for row in rows] == [EntryState.SUCCEEDED]
