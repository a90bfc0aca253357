"""A version token for the mock's state, and waiters for its next change (``GET /_mock/changes``,
changes_http.py).

Anything watching the mock — the inspector page (inspector/), a dashboard, a test in another
language — needs to know *when* to look again without re-reading everything in a loop. Each
request that can change the mock moves the token on and names the topics it touched; a watcher
sends back the token it last saw and is answered as soon as it differs (or after ``wait``
seconds), with the token and each topic's last change, so it re-reads only what moved.

The token is opaque (``<instance>.<counter>``): a watcher of a mock that restarted, or one that
sends a made-up token, simply gets the current one at once. The view names the ``instance`` too
(a new one each time a mock starts afresh; GET /_mock/journal answers it as well): a watcher that
sees it change knows that the mock it knew is gone — its journal's seqs start again from 0 —
and reads everything anew instead of mixing the two. What moves it: every client request
(journal, tasks, accounts, rules, faults, limits, callbacks), every control request other than a
GET (the topic named by its path: ``POST /_mock/rules`` → rules; reset and scenarios → all), and
a callback delivery settling. Changes made through MockServer's Python API bypass HTTP and do
not move it: a watcher sees them at its next look.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from typing import Any

TOPICS = (
    "journal",
    "tasks",
    "callbacks",
    "rules",
    "faults",
    "limits",
    "accounts",
    "clock",
    "scenarios",
)
CONTROL = "/_mock/"
_EVERYTHING = frozenset(TOPICS)
_CLIENT_REQUEST = _EVERYTHING - {"clock", "scenarios"}  # a client cannot move the clock
# what a control request changes besides its own topic (tasks ending refund and call back)
_ALSO = {
    "tasks": frozenset({"tasks", "callbacks", "accounts"}),
    "callbacks": frozenset({"callbacks", "tasks"}),  # Luma/Suno records read the delivery
    "clock": frozenset({"clock", "limits"}),
}


def topics_of(method: str, path: str) -> frozenset[str]:
    """What a request may have changed: nothing for a control GET (or the document), its
    path's topic for another control request, everything but the clock for a client's."""
    if path == "/openapi.json" or (path.startswith(CONTROL) and method in ("GET", "HEAD")):
        return frozenset()
    if not path.startswith(CONTROL):
        return _CLIENT_REQUEST
    topic = path[len(CONTROL) :].split("/", 1)[0]
    if topic in ("reset", "scenarios"):
        return _EVERYTHING
    return _ALSO.get(topic, frozenset({topic}) & _EVERYTHING)


class Changes:
    """The token and the topics' last changes; wakes waiters on any thread's change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instance = secrets.token_hex(4)
        self._count = 0
        # each topic's last change as a count; made a token only when read (every client
        # request touches most topics, few are ever watched)
        self._topics = dict.fromkeys(TOPICS, 0)
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def _token(self, count: int | None = None) -> str:
        return f"{self._instance}.{self._count if count is None else count}"

    def _view(self) -> dict[str, Any]:
        topics = {topic: self._token(count) for topic, count in self._topics.items()}
        return {"token": self._token(), "instance": self._instance, "topics": topics}

    @property
    def instance(self) -> str:
        """This mock's instance id: a new one for each Runtime (a mock started afresh)."""
        return self._instance

    @property
    def token(self) -> str:
        with self._lock:
            return self._token()

    @property
    def waiting(self) -> int:
        """How many long-polls are held now."""
        with self._lock:
            return len(self._waiters)

    def touch(self, topics: frozenset[str] | set[str] | tuple[str, ...]) -> None:
        """Note a change of `topics` (none: nothing happens) and wake every waiter."""
        if not topics:
            return
        with self._lock:
            self._count += 1
            count = self._count
            for topic in topics:
                self._topics[topic] = count
            if not self._waiters:  # most changes: nobody is watching
                return
            waiters, self._waiters = self._waiters, []
        _wake(waiters)

    def wake_all(self) -> None:
        """Answer every waiting long-poll now (the server is stopping)."""
        with self._lock:
            waiters, self._waiters = self._waiters, []
        _wake(waiters)

    def view(self) -> dict[str, Any]:
        with self._lock:
            return self._view()

    async def wait(self, since: str | None, timeout: float) -> dict[str, Any]:
        """The view once the token differs from `since` (at once if it already does, or
        `since` is None), or after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if since is None or since != self._token() or timeout <= 0:
                return self._view()
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), timeout)
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove((loop, waiter))
        return self.view()


def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
    for loop, waiter in waiters:
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits there
            loop.call_soon_threadsafe(_settle, waiter)


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


__all__ = ["TOPICS", "Changes", "topics_of"]
