"""The one thread that writes journals for asyncio clients: off the event loop, in groups.

An ``AsyncClient`` must never block its loop on the journal (a commit may wait for the disk),
so its driver hands each write here. Writes queue up while one group is being written; the next
group takes everything queued for one store and, where the store can (``SqliteStore.batch``),
commits it in one transaction ("group commit": one commit for many concurrent tasks instead of
one each). A write's future is settled only after its group's commit, so an intent row is on
disk before its create is sent, as with a write of its own. If a group's commit fails, its
writes are done again one by one, each with its own outcome.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from attrs import define


@define
class _Job:
    write: Callable[[], Any]
    store: object
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result, self.error = self.write(), None
        except BaseException as exc:
            self.result, self.error = None, exc


class JournalWriter:
    """Runs journal writes on its own thread (started on first use) and settles their futures
    on the loops that asked."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, write: Callable[[], Any], store: object) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        job = _Job(write, store, loop, loop.create_future())
        self._queue.put(job)
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    # daemon: a write is awaited by its flow, so none is pending at a clean exit
                    self._thread = threading.Thread(
                        target=self._serve, name="kiekit-journal", daemon=True
                    )
                    self._thread.start()
        return job.future

    def _serve(self) -> None:
        while True:
            jobs = [self._queue.get()]
            while True:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for _, group in itertools.groupby(jobs, key=lambda job: id(job.store)):
                _write_group(list(group))
            for loop, done in itertools.groupby(jobs, key=lambda job: job.loop):
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
        if job.future.done():  # cancelled: the driver no longer waits on this future
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.result)


WRITER = JournalWriter()


def _forget_after_fork() -> None:
    """A forked child has none of its parent's threads: it starts a writer of its own (else
    its writes would wait forever on a thread that is not there)."""
    WRITER.__init__()  # type: ignore[misc]


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_forget_after_fork)
