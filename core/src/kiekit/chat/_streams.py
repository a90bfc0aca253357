"""Streamed chat answers as the user reads them: iterators over a stream flow.

The flow (:func:`kiekit.chat._flows.chat_stream`) yields the engine's stream ops, performed by
the client's driver (:mod:`kiekit._transports.drivers`) on its transport, and :class:`Emit` for each
delta, which the iterator hands to the user as it comes. Closing early (``close()``, leaving a
``with`` block, ``break``) closes the flow and the connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from kiekit._transports.base import AsyncTransport, SyncTransport
from kiekit._transports.drivers import AsyncDriver, SyncDriver
from kiekit.chat._flows import Emit, StreamFlow
from kiekit.chat.types import ChatDelta, ChatReply

__all__ = ["AsyncChatStream", "ChatStream"]


class ChatStream:
    """The deltas of a streamed answer, as they arrive; ``reply`` is the whole answer once
    they are all read."""

    def __init__(self, flow: StreamFlow, transport: SyncTransport) -> None:
        self._deltas = self._run(flow, SyncDriver(transport))
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
                if isinstance(op, Emit):
                    yield op.delta
                    continue
                try:
                    outcome = driver.perform(op)
                except BaseException as exc:
                    error = exc
        finally:
            flow.close()
            driver.close()

    def __iter__(self) -> Iterator[ChatDelta]:
        return self._deltas

    def __next__(self) -> ChatDelta:
        return next(self._deltas)

    def close(self) -> None:
        self._deltas.close()  # type: ignore[attr-defined]

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
                if isinstance(op, Emit):
                    yield op.delta
                    continue
                try:
                    outcome = await driver.perform(op)
                except BaseException as exc:
                    error = exc
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
