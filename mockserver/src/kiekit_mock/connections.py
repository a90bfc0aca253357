"""How long the mock waits on a client's connection: a shared CI mock must not be held open by
a slow or leaking client until its file descriptors run out and every other job is locked out.

Two limits (MockConfig.read_timeout and idle_timeout, ``--read-timeout`` / ``--idle-timeout``):

- a request's head and body must have arrived ``read_timeout`` seconds after its first byte
  (a partial head, an unfinished ``Content-Length`` or chunked body): else the connection is
  closed, with no answer (none could be read to answer);
- a connection with no request under way — one that never sent a byte, or a kept-alive one
  between requests — is closed after ``idle_timeout`` seconds (aiohttp's keep-alive timeout,
  which it also starts when a connection opens).

A request being answered is not timed here: a long-poll (``/_mock/callbacks?wait=…``,
``/_mock/changes``) or a slow fault answers when it does. aiohttp has no read timeout of its
own, so the runner's request handler notes when a request starts arriving and when it has
arrived whole (its body's end read from the wire, ``StreamReader.is_eof``).

At a stop (SIGTERM, ``MockServer.stop``) the listeners close and each connection is closed
gracefully: a request being answered gets the shutdown grace to finish. aiohttp drops every
byte that arrives on a connection once it is closed, so a request whose body was still
arriving could never finish and the stop waited the whole grace (found by a Node tester:
"closed @ 5211", no answer). Here the rest of a body under way is still read at a stop;
a new request on the same connection is not (the connection closes once it is answered).

A malformed request (not HTTP, a bad head) is logged in one line, not aiohttp's traceback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import StreamReader

from .config import IDLE_TIMEOUT, READ_TIMEOUT

log = logging.getLogger("kiekit_mock")


class _TimedRequestHandler(web.RequestHandler):
    """aiohttp's handler, closing a connection whose request is not read whole in time."""

    __slots__ = ("_body", "_cut", "_read_timeout", "_read_timer")

    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timeout = read_timeout
        self._read_timer: asyncio.TimerHandle | None = None
        self._body: StreamReader | None = None  # the body being received, if one is
        self._cut = False  # force_close() called: read nothing more

    def data_received(self, data: bytes) -> None:
        stopping = getattr(self._manager, "stopping", False)
        if stopping and self._body is not None and not self._cut:
            # closed by the stop while this request's body arrives (aiohttp's shutdown marks
            # the connection closed, and force-closed, without closing it yet): aiohttp would
            # drop the rest, and the request could only be cut off at the end of the grace
            marks = self._close, self._force_close
            self._close = self._force_close = False
            try:
                self._receive(data)
            finally:
                self._close, self._force_close = marks
            return
        self._receive(data)

    def _receive(self, data: bytes) -> None:
        if self._read_timer is None and data:  # a request's first byte: its time starts
            self._read_timer = asyncio.get_running_loop().call_later(
                self._read_timeout, self._read_too_slow
            )
        # (head, body) of each request read, not yet handled: aiohttp's own queue, read
        # defensively — an aiohttp without it (a later 3.x) only loses the read timeout
        messages = getattr(self, "_messages", None)
        if messages is None:
            self._stop_timer()
            super().data_received(data)
            return
        before = len(messages)
        super().data_received(data)
        if len(messages) > before:  # a head arrived whole: its body is read next
            _, body = messages[-1]
            self._body = body if isinstance(body, StreamReader) else None
        elif self._body is None:
            return  # a head still arriving
        if self._body is None or self._body.is_eof():  # the request has arrived whole
            self._body = None
            self._stop_timer()

    def force_close(self) -> None:
        self._cut = True
        super().force_close()

    def _read_too_slow(self) -> None:
        self._read_timer = None
        self.logger.info(
            "kiekit-mock: closed a connection whose request did not arrive within %g s "
            "(--read-timeout)",
            self._read_timeout,
        )
        self.force_close()

    def _stop_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """A request aiohttp could not parse, in one line (its traceback says nothing a user
        can act on, and a client sending junk filled the log); any other error as aiohttp
        logs it."""
        exc = kw.get("exc_info")
        if not isinstance(exc, HttpProcessingError):
            super().log_exception(*args, **kw)
            return
        remote = f" from {args[1]}" if len(args) > 1 and args[1] else ""
        said = " ".join(word for word in str(exc.message).split() if word.strip("^"))
        said = said if len(said) <= 200 else said[:199] + "…"
        self.logger.warning(
            "kiekit-mock: refused a malformed HTTP request%s (%d): %s", remote, exc.code, said
        )


class _TimedServer(web.Server):
    """aiohttp's low-level server, its connections handled by _TimedRequestHandler."""

    read_timeout = READ_TIMEOUT
    grace = 0.0  # seconds a request in flight gets at a stop (the runner's shutdown timeout)
    stopping = False  # set once the stop has begun (pre_shutdown)

    def pre_shutdown(self) -> None:
        """The stop: each connection is marked closed (a request under way finishes, its
        body still read: _TimedRequestHandler), and the log says how many are waited for."""
        self.stopping = True
        super().pre_shutdown()
        busy = sum(
            1
            for connection in self.connections
            if getattr(connection, "_request_in_progress", False)
            or getattr(connection, "_body", None) is not None
        )
        if busy:
            log.info(
                "kiekit-mock: stopping: %d request%s in flight get%s up to %g s to finish "
                "(--shutdown-grace)",
                busy,
                "" if busy == 1 else "s",
                "s" if busy == 1 else "",
                self.grace,
            )

    def __call__(self) -> web.RequestHandler:
        return _TimedRequestHandler(
            self, loop=self._loop, read_timeout=self.read_timeout, **self._kwargs
        )


class TimedAppRunner(web.AppRunner):
    """An AppRunner whose connections have the read and idle timeouts above."""

    def __init__(
        self,
        app: web.Application,
        *,
        read_timeout: float = READ_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, keepalive_timeout=idle_timeout, **kwargs)
        self._read_timeout = read_timeout

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # the app's own server, made a _TimedServer: aiohttp has no setting for the class of
        # its connection handlers (the subclass adds no slots: the object stays as it was)
        server.__class__ = _TimedServer
        assert isinstance(server, _TimedServer)
        server.read_timeout = self._read_timeout
        server.grace = self._shutdown_timeout
        return server
