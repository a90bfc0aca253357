"""The sockets of :meth:`kiekit.webhooks.WebhookReceiver.serve`: a deadline on each connection.

A callback URL is public. aiohttp waits for a request head as long as a client cares to take:
a connection that says nothing, or sends its head a byte at a time (slowloris), holds a socket
and a file descriptor for good (aiohttp before 3.14 arms its keep-alive timer only after a first
answer; an outside tester held such connections open for 90 s and more), and a few thousand of
them exhaust a process's descriptors. Here each connection must bring a whole request head
within ``seconds`` of opening or of its previous answer, whatever it sends meanwhile. The body
is bounded by the receiver's handler itself (size and time), so that holds when it is mounted in
an application of the user's too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Connections"]

log = logging.getLogger("kiekit.webhooks")


class Connections:
    """The open connections of one receiver's servers, by their aiohttp protocol (what a
    handler sees as ``request.protocol``)."""

    def __init__(self) -> None:
        self._open: dict[object, _Deadline] = {}

    def __len__(self) -> int:
        return len(self._open)

    def protocol(self, inner: asyncio.Protocol, seconds: float) -> asyncio.Protocol:
        """``inner`` (aiohttp's protocol for one connection) with a deadline of ``seconds``."""
        return _Deadline(inner, self, seconds)

    @contextmanager
    def serving(self, protocol: object) -> Iterator[None]:
        """A request of this connection is being handled: no deadline until it is answered
        (a connection not of ``serve``, in an application of the user's, is left alone)."""
        deadline = self._open.get(protocol)
        if deadline is None:
            yield
            return
        deadline.busy += 1
        deadline.cancel()
        try:
            yield
        finally:
            deadline.busy -= 1
            if not deadline.busy:
                deadline.arm()  # the next request (keep-alive) has as long again


class _Deadline(asyncio.Protocol):
    """aiohttp's protocol for one connection, closed when no request of it is being handled
    ``seconds`` after it opened or after its last answer. Data does not move the deadline: a
    head sent slowly is cut as one never sent."""

    def __init__(self, inner: asyncio.Protocol, owner: Connections, seconds: float) -> None:
        self.inner = inner
        self.owner = owner
        self.seconds = seconds
        self.busy = 0
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self.owner._open[self.inner] = self
        self.inner.connection_made(transport)
        self.arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel()
        self.owner._open.pop(self.inner, None)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def arm(self) -> None:
        self.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.seconds, self._expire)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        transport = self._transport
        if self.busy or transport is None or transport.is_closing():
            return
        log.debug("closing a connection that brought no request in %g s", self.seconds)
        transport.close()
