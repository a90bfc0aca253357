"""One download of a task at a time per client: the second waits for the first.

A service that waits on a task (``receiver.wait`` then ``download``) while a webhook's
``on_status`` downloads it too ran two downloads of one task at once: each fetched every file
(an outside tester: 4 fetches for 2 files). Run one after the other, the second finds the
first's files in the journal, still on disk, and fetches none (Session._downloading). So a
download waits its turn behind one of the same task under way on the same client, and then
does what it would have done afterwards: it returns the paths written, fetching nothing they
hold. Downloads of different tasks never wait on each other.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

__all__ = ["AsyncTurns", "Turns"]


class Turns:
    """Per task id, one holder at a time (threads: :class:`kiekit.Client`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def turn(self, task_id: str) -> Iterator[None]:
        with self._lock:
            lock, users = self._held.get(task_id, (None, 0))
            lock = lock or threading.Lock()
            self._held[task_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                _, users = self._held[task_id]
                if users == 1:
                    del self._held[task_id]
                else:
                    self._held[task_id] = (lock, users - 1)


class AsyncTurns:
    """Per task id, one holder at a time (one event loop: :class:`kiekit.AsyncClient`)."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def turn(self, task_id: str) -> AsyncIterator[None]:
        lock, users = self._held.get(task_id, (None, 0))
        lock = lock or asyncio.Lock()
        self._held[task_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._held[task_id]
            if users == 1:
                del self._held[task_id]
            else:
                self._held[task_id] = (lock, users - 1)
