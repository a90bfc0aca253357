"""The one thread that writes journals for both clients: off the event loop, in groups.

An ``AsyncClient`` must never block its loop on the journal (a commit may wait for the disk),
and a ``Client``'s threads must not fight over SQLite's write lock (each commit of its own, the
others sleeping in SQLite's busy handler meanwhile). So both hand each write here. Writes queue
up while one group is being written; the next group takes everything queued for one store and,
where the store can (``SqliteStore.batch``), commits it in one transaction ("group commit": one
commit for many concurrent tasks instead of one each). A write is answered only after its
group's commit — its future settled, or its blocked thread woken — so an intent row is on disk
before its create is sent, as with a write of its own. If a group's commit fails, its writes
are done again one by one, each with its own outcome.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # asyncio is imported where a loop asks: a sync Client never loads it
    import asyncio

_log = logging.getLogger("kiekit.journal")


class _Job:
    """One write, and who waits for it: a future on an event loop, or a blocked thread."""

    __slots__ = ("error", "future", "loop", "result", "settled", "store", "woken", "write")

    def __init__(
        self,
        write: Callable[[], Any],
        store: object,
        loop: asyncio.AbstractEventLoop | None,
        future: asyncio.Future[Any] | None,
        woken: Any = None,
    ) -> None:
        self.write = write
        self.store = store
        self.loop = loop
        self.future = future
        self.woken = woken  # a held lock, released once the write is done (a thread waits)
        self.result: Any = None
        self.error: BaseException | None = None
        # its outcome has reached its loop (set there, by _settle), or its thread may go on
        self.settled = False

    def run(self) -> None:
        try:
            self.result, self.error = self.write(), None
        except BaseException as exc:
            self.result, self.error = None, exc


class JournalWriter:
    """Runs journal writes on its own thread (started on first use) and answers the loops and
    threads that asked."""

    def __init__(self) -> None:
        self._jobs: collections.deque[_Job] = collections.deque()
        # The writer is woken only when it sleeps: waking a thread costs a system call (and a
        # fight for the GIL), which writes queued while it writes need not pay.
        self._wake: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._sleeping = False
        self._waking: set[asyncio.AbstractEventLoop] = set()  # loops with a wake-up to come
        self._thread: threading.Thread | None = None
        self._serving: threading.Thread | None = None  # the writer thread, from its first step
        self._lock = threading.Lock()
        # held while a group is written and its last references dropped: fork() waits for it
        # (_before_fork), so that no child is made while this thread is inside SQLite
        self._busy = threading.Lock()
        self._forking = threading.local()  # the forking thread took _busy: it lets go after

    def submit(self, write: Callable[[], Any], store: object) -> asyncio.Future[Any]:
        """Queue ``write`` from an event loop; its future is settled after its group commits."""
        future = self._submit(write, store).future
        assert future is not None
        return future

    def _submit(self, write: Callable[[], Any], store: object) -> _Job:
        import asyncio

        loop = asyncio.get_running_loop()
        job = _Job(write, store, loop, loop.create_future())
        if not self._put(job, wake=False):  # no writer thread to be had: written here, now
            job.run()
            _settle([job])
            return job
        # One wake-up for all the writes this turn of the loop makes (many flows resume in one
        # turn), at its end: the write waits no longer than the loop would anyway.
        if self._sleeping and loop not in self._waking:
            self._waking.add(loop)
            loop.call_soon(self._wake_up, loop)
        return job

    async def written(
        self, write: Callable[[], Any], store: object
    ) -> tuple[Any, BaseException | None]:
        """Queue ``write`` from an event loop and wait for it to its end, even through
        cancellations: the settled future, and the cancellation that came meanwhile if one
        did. (The job's own future is awaited: a cancellation cancels it, and a new one is
        waited on, as ``asyncio.shield`` would, without its extra future and turn of the loop
        on every write.)"""
        import asyncio

        job = self._submit(write, store)
        future, loop = job.future, job.loop
        assert future is not None
        assert loop is not None
        cancelled: BaseException | None = None
        while True:
            try:
                await future
            except asyncio.CancelledError as exc:
                if not future.cancelled():
                    if future.exception() is not exc:  # not the write's own: it came after
                        cancelled = exc
                    return future, cancelled
                cancelled = exc  # this flow was cancelled: the write goes on, and is waited for
                if job.settled:  # its outcome had come, a moment before the cancellation
                    return _outcome(job, loop), cancelled
                future = job.future = loop.create_future()
                continue
            except BaseException:  # noqa: S110 - the write's own error: read from the future
                pass
            return future, cancelled

    def _wake_up(self, loop: asyncio.AbstractEventLoop) -> None:
        self._waking.discard(loop)
        if self._sleeping:
            self._sleeping = False
            self._wake.put(None)

    def run(self, write: Callable[[], Any], store: object) -> Any:
        """Do ``write`` on the writer thread, blocking this thread until its group commits;
        its result, or its error raised here (an interruption meanwhile is raised once the
        write is done, instead of its outcome: see :meth:`waited`)."""
        outcome, interrupted = self.waited(write, store)
        if interrupted is not None:
            raise interrupted
        return outcome()

    def waited(
        self, write: Callable[[], Any], store: object
    ) -> tuple[Callable[[], Any], BaseException | None]:
        """Do ``write`` on the writer thread and block this thread to its end, even through an
        interruption (Ctrl-C, kie's SIGTERM handler): its outcome (called, it returns the
        result or raises the write's error), and the interruption that came meanwhile if one
        did — the thread's counterpart of :meth:`written`, so that a blocking client's flow
        learns what was written (an intent row) before it hears of the interruption. Called
        from the writer thread itself (a write that writes), it is done in place."""
        if threading.current_thread() is self._serving:
            return in_place(write)
        woken = threading.Lock()
        woken.acquire()
        job = _Job(write, store, None, None, woken)
        if not self._put(job):  # no writer thread to be had: written on this thread
            return in_place(write)
        interrupted: BaseException | None = None
        while True:  # as on a loop: an interruption (Ctrl-C) is raised once the write is done
            try:
                woken.acquire()  # released by the writer once the group is committed
                break
            except BaseException as exc:
                interrupted = exc
                # A signal's handler may raise just after acquire() returned with the lock
                # (CPython runs it after the call): the write is done, and acquiring again
                # would wait for ever (a `kie run` stopped mid-download hung so).
                if job.settled:
                    break
        return _outcome_of(job), interrupted

    def after_queued(self, call: Callable[[], Any]) -> None:
        """``call()`` once every write queued so far is done: on the writer thread, in a group
        of its own (never inside a store's batch), blocking this thread until then; here and
        now when the writer never started (nothing was ever queued) or this is the writer.
        For closing a store, which must not happen under a write of its own."""
        if self._thread is None:
            call()
        else:
            self.run(call, object())  # an owner of its own: a group of its own

    def after_queued_nowait(self, call: Callable[[], Any]) -> None:
        """``call()`` once every write queued so far is done, on the writer thread, without
        waiting for it: from a finalizer (a client collected without ``close()``), which must
        never block, nor run a store's close under a lock its thread may hold. Dropped when no
        writer thread can be had (what it closes is freed with its objects, later)."""
        woken = threading.Lock()  # released by the writer, and by nobody awaited
        woken.acquire()
        self._put(_Job(call, object(), None, None, woken))

    async def after_queued_async(self, call: Callable[[], Any]) -> None:
        """:meth:`after_queued` from an event loop, which it does not block."""
        if self._thread is None:
            call()
            return
        future, cancelled = await self.written(call, object())
        future.result()  # its error, if it failed
        if cancelled is not None:
            raise cancelled

    @property
    def queued(self) -> int:
        """Writes waiting for the writer (not counting the group being written)."""
        return len(self._jobs)

    def _put(self, job: _Job, *, wake: bool = True) -> bool:
        """Queue ``job`` for the writer thread, started on first use; False (not queued) when
        no thread can be started (a memory cap: ``RuntimeError: can't start new thread``):
        the caller writes it in place then, blocking as a write of its own would. A write
        lost with its thread would lose what it records (a task id paid for), and a thread
        never started would leave every later write waiting for ever."""
        self._jobs.append(job)
        if wake and self._sleeping:  # read after the append: see _serve
            self._sleeping = False
            self._wake.put(None)
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    # daemon: a write is waited for by its caller, so none is pending at a
                    # clean exit
                    # set once started: a write queued meanwhile waits on this lock, and
                    # finds the thread, or starts one itself
                    thread = threading.Thread(
                        target=self._serve, name="kiekit-journal", daemon=True
                    )
                    try:
                        thread.start()
                    except RuntimeError as exc:  # tried again by the next write
                        with contextlib.suppress(ValueError):
                            self._jobs.remove(job)
                            _log.warning("no thread for the journal writer (%s): this write is "
                                         "made in place", exc)  # fmt: skip
                            return False
                    self._thread = thread
        return True

    def _serve(self) -> None:
        self._serving = threading.current_thread()
        queued = self._jobs
        while True:
            if not queued:
                # Say so before looking once more: a write appended after that look finds the
                # flag set and wakes us; one appended before it is found. (A wake-up to spare,
                # when both happen, only costs one more look.)
                self._sleeping = True
                if not queued:
                    self._wake.get()
                self._sleeping = False
                continue
            with self._busy:
                jobs = []
                while queued:
                    jobs.append(queued.popleft())
                _write_and_answer(jobs)
                # not kept while the writer sleeps: a group's writes hold their journals and
                # stores, whose file handles a client dropped meanwhile would keep open (and
                # dropping the last of them closes a SQLite connection: under _busy too)
                del jobs

    def _before_fork(self) -> None:
        """Wait for the group being written, and hold the next one back, until the fork is
        made. A child forked while this thread was inside SQLite (a commit, or a connection
        closed as its last write let go of it) inherits SQLite's mutexes locked, with no
        thread to unlock them: its first use of SQLite hung for ever (a prefork pool's worker
        made just after the parent's first task). The wait is bounded: a store that hangs
        (a database that stopped answering) must not stop the program from forking."""
        if threading.current_thread() is self._serving:  # a write that forks: nothing to wait for
            return
        self._forking.held = self._busy.acquire(timeout=_FORK_WAIT)

    def _after_fork_in_parent(self) -> None:
        if getattr(self._forking, "held", False):
            self._forking.held = False
            self._busy.release()


def _write_and_answer(jobs: list[_Job]) -> None:
    for _, group in itertools.groupby(jobs, key=lambda job: id(job.store)):
        _write_group(list(group))
    for loop, done in itertools.groupby(jobs, key=lambda job: job.loop):
        if loop is None:  # threads that wait: wake each
            for job in done:
                job.settled = True  # before the release: see run()
                job.woken.release()
            continue
        settled = list(done)
        try:
            loop.call_soon_threadsafe(_settle, settled)
        except RuntimeError:  # that loop is closed: nobody awaits these any more
            continue


def _write_group(jobs: list[_Job]) -> None:
    batch = getattr(jobs[0].store, "batch", None)
    if batch is None or len(jobs) == 1:
        for job in jobs:
            job.run()
        return
    try:
        with batch():
            for job in jobs:
                job.run()
    except Exception:
        for job in jobs:
            job.run()


def _settle(jobs: list[_Job]) -> None:
    for job in jobs:
        job.settled = True
        future = job.future
        assert future is not None
        if future.done():  # cancelled: JournalWriter.written waits on a new one
            continue
        if job.error is not None:
            future.set_exception(job.error)
        else:
            future.set_result(job.result)


def in_place(write: Callable[[], Any]) -> tuple[Callable[[], Any], BaseException | None]:
    """``write`` done now, on this thread, to its end: its outcome and the interruption that
    came meanwhile, as :meth:`JournalWriter.waited` gives them for a write on the writer
    thread. On the main thread, where Ctrl-C (and kie's SIGTERM handler) raise, a signal
    that comes during the write has its handler run once the write is done, and what that
    raises is handed back instead of cutting the write short: a Ctrl-C as a store of one's
    own (no ``batch``, written in place by a blocking client) had written an intent row
    reached the create's flow as the write's own error, before the flow had its row, which
    stayed ``sending`` — "outcome unknown" for a create never sent."""
    job = _Job(write, None, None, None)
    interrupted: BaseException | None = None
    try:
        with _signals_held():
            job.run()
    except BaseException as exc:  # a held signal's handler, run once the write was done
        interrupted = exc
    return _outcome_of(job), interrupted


# The signals whose Python handlers may raise in the middle of a write: Ctrl-C's
# KeyboardInterrupt, kie's SIGTERM handler's Terminated (cli._common)
_HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Inside, a signal of :data:`_HELD_SIGNALS` is only noted; on the way out, each one's own
    handler is put back and run for it (a KeyboardInterrupt raised from here). Only on the
    main thread: Python runs signal handlers there alone, and may set them there alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[tuple[int, Any]] = []
    handlers: dict[int, Callable[[int, Any], Any]] = {}
    for number in _HELD_SIGNALS:
        handler = signal.getsignal(number)
        if callable(handler):  # not SIG_DFL nor SIG_IGN: Python code that may raise
            handlers[number] = handler
            signal.signal(number, lambda signum, frame: came.append((signum, frame)))
    try:
        yield
    finally:
        for held, handler in handlers.items():
            signal.signal(held, handler)
        for signum, frame in came:
            handlers[signum](signum, frame)


def _outcome_of(job: _Job) -> Callable[[], Any]:
    """A settled job's outcome: called, its result, or its error raised."""
    result, error = job.result, job.error

    def outcome() -> Any:
        if error is not None:
            raise error
        return result

    return outcome


def _outcome(job: _Job, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
    """A future holding a settled job's outcome."""
    future = loop.create_future()
    if job.error is not None:
        future.set_exception(job.error)
    else:
        future.set_result(job.result)
    return future


WRITER = JournalWriter()

# How long fork() waits for the journal group being written (JournalWriter._before_fork): a
# SQLite commit waits at most its busy timeout (30 s), a PostgreSQL statement its deadline
_FORK_WAIT = 60.0


def _forget_after_fork() -> None:
    """A forked child has none of its parent's threads: it starts a writer of its own (else
    its writes would wait forever on a thread that is not there)."""
    WRITER.__init__()  # type: ignore[misc]


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(
        before=WRITER._before_fork,
        after_in_parent=WRITER._after_fork_in_parent,
        after_in_child=_forget_after_fork,
    )
