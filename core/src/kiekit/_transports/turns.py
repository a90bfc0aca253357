"""One download of a task into one folder at a time per client: the second waits.

A service that waits on a task (``receiver.wait`` then ``download``) while a webhook's
``on_status`` downloads it too ran two downloads of one task at once: each fetched every file
(an outside tester: 4 fetches for 2 files). Run one after the other, the second finds the
first's files in the journal, still on disk, and fetches none (Session._downloading). So a
download waits its turn behind one of the same task under way on the same client, and then
does what it would have done afterwards: it returns the paths written, fetching nothing they
hold. Downloads of different tasks, or of one task into different folders (each folder gets
its own files, as one after the other), never wait on each other.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where first used: a sync Client never loads asyncio
    import asyncio

__all__ = ["AsyncTurns", "Turns"]


def _place(task_id: str, folder: str | os.PathLike[str]) -> tuple[str, str]:
    """A task's download into a folder, however the folder is spelt."""
    return task_id, os.path.abspath(os.fspath(folder))


class Turns:
    """Per task id and folder, one holder at a time (threads: :class:`kiekit.Client`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], tuple[threading.Lock, int]] = {}

    @contextmanager
    def turn(self, task_id: str, folder: str | os.PathLike[str]) -> Iterator[None]:
        key = _place(task_id, folder)
        with self._lock:
            lock, users = self._held.get(key, (None, 0))
            lock = lock or threading.Lock()
            self._held[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                _, users = self._held[key]
                if users == 1:
                    del self._held[key]
                else:
                    self._held[key] = (lock, users - 1)


class AsyncTurns:
    """Per task id and folder, one holder at a time (one event loop:
    :class:`kiekit.AsyncClient`)."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def turn(self, task_id: str, folder: str | os.PathLike[str]) -> AsyncIterator[None]:
        import asyncio  # loaded already: this runs on an event loop

        key = _place(task_id, folder)
        lock, users = self._held.get(key, (None, 0))
        lock = lock or asyncio.Lock()
        self._held[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._held[key]
            if users == 1:
                del self._held[key]
            else:
                self._held[key] = (lock, users - 1)
