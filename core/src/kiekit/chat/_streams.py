"""Streamed chat answers as the user reads them: iterators over a stream flow.

The flow (:func:`kiekit.chat._flows.chat_stream`) yields the engine's stream ops, performed by
the client's driver (:mod:`kiekit._transports.drivers`) on its transport, and :class:`Emit` for each
delta, which the iterator hands to the user as it comes. Closing early (``close()``, leaving a
``with`` block, ``break``) closes the flow and the connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from kiekit._engine import OpenStream, ReadStream
from kiekit._redact import clean_chain
from kiekit._transports.base import AsyncTransport, SyncTransport
from kiekit._transports.drivers import AsyncDriver, SyncDriver
from kiekit.chat._flows import Emit, StreamFlow
from kiekit.chat.types import ChatDelta, ChatReply
from kiekit.errors import StreamClosedError

__all__ = ["AsyncChatStream", "ChatStream"]


class ChatStream:
    """The deltas of a streamed answer, as they arrive; ``reply`` is the whole answer once
    they are all read.

    ``close()`` may come from another thread while this one waits for bytes (a stalled
    upstream): it closes the connection, and the reading thread's wait ends in a
    StreamClosedError (a TransportError; not retryable: KIE had begun answering), carrying
    the answer so far (``partial``). Closing the client does the same to its streams."""

    def __init__(self, flow: StreamFlow, transport: SyncTransport) -> None:
        self._driver = SyncDriver(transport)
        self._deltas = self._run(flow, self._driver)
        self._closing = False
        self.reply: ChatReply | None = None

    def _run(self, flow: StreamFlow, driver: SyncDriver) -> Iterator[ChatDelta]:
        outcome: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    op = flow.throw(error) if error is not None else flow.send(outcome)
                except StopIteration as done:
                    self.reply = done.value
                    return
                outcome, error = None, None
                if driver.deferred is not None:  # held back by a journal write (SyncDriver)
                    error, driver.deferred = driver.deferred, None
                    continue
                if isinstance(op, Emit):
                    yield op.delta
                    continue
                try:
                    outcome = driver.perform(op)
                except BaseException as exc:
                    error = exc
                if self._closing and isinstance(op, OpenStream | ReadStream):
                    # closed by another thread while this one waited: whatever the read made
                    # of its closed socket (an end, an OSError), the news is the close
                    error = _closed(error, opened=isinstance(op, ReadStream) or error is None)
        except Exception as exc:  # an error for the caller: its chain reportable with locals
            outcome = error = None  # this frame runs on: it lets go of the raw answer
            clean_chain(exc)
            raise
        finally:
            flow.close()
            driver.close()

    def __iter__(self) -> Iterator[ChatDelta]:
        return self._deltas

    def __next__(self) -> ChatDelta:
        return next(self._deltas)

    def close(self) -> None:
        """End the stream and close its connection; from another thread too, while a read
        waits (see the class)."""
        self._closing = True
        try:
            self._deltas.close()  # type: ignore[attr-defined]
        except ValueError:  # "generator already executing": another thread reads it now
            self._driver.abort()  # its wait ends; that thread closes the rest

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _closed(error: BaseException | None, *, opened: bool) -> StreamClosedError:
    """The error a read ends in when ``close()`` came from another thread; ``opened``: the
    answer's head had come (KIE received the call)."""
    if isinstance(error, StreamClosedError):
        return error  # the transport said so already
    closed = StreamClosedError(
        "the stream was closed while it was read (its close(), or its client's)",
        retryable=False,
        answered=opened,
    )
    closed.__cause__ = error
    return closed


class AsyncChatStream:
    """The asyncio twin of :class:`ChatStream`: ``async for delta in stream``."""

    def __init__(self, flow: StreamFlow, transport: AsyncTransport | SyncTransport) -> None:
        self._deltas = self._run(flow, AsyncDriver(transport))
        self.reply: ChatReply | None = None

    async def _run(self, flow: StreamFlow, driver: AsyncDriver) -> AsyncIterator[ChatDelta]:
        outcome: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    op = flow.throw(error) if error is not None else flow.send(outcome)
                except StopIteration as done:
                    self.reply = done.value
                    return
                outcome, error = None, None
                if driver.deferred is not None:  # held back by a journal write (AsyncDriver)
                    error, driver.deferred = driver.deferred, None
                    continue
                if isinstance(op, Emit):
                    yield op.delta
                    continue
                try:
                    outcome = await driver.perform(op)
                except BaseException as exc:
                    error = exc
        except Exception as exc:  # an error for the caller: its chain reportable with locals
            outcome = error = None  # this frame runs on: it lets go of the raw answer
            clean_chain(exc)
            raise
        finally:
            flow.close()
            await driver.close()

    def __aiter__(self) -> AsyncIterator[ChatDelta]:
        return self._deltas

    async def __anext__(self) -> ChatDelta:
        return await anext(self._deltas)

    async def aclose(self) -> None:
        await self._deltas.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
