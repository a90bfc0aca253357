"""The drivers: one per I/O flavour, each performing the engine's ops (:mod:`kiekit._engine`).

``drive`` runs a flow to its end with blocking I/O (``Client``), ``drive_async`` on the event
loop (``AsyncClient``); a chat stream (:mod:`kiekit.chat._streams`) steps its flow with the same
drivers and hands the deltas to the user as they come. Whatever an op raises goes back into the
flow — kiekit's errors to be retried or given context, any other (Ctrl-C, a cancellation, a
bug) so that the flow can write down what it knows before it ends.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from kiekit._engine import (
    Digest,
    Fetch,
    Flow,
    HttpRequest,
    HttpResponse,
    Now,
    OpenStream,
    ReadStream,
    Record,
    Reserve,
    Sleep,
    StreamUpload,
    mark_unsent,
)
from kiekit._redact import clean_chain
from kiekit._transports.base import (
    AsyncByteStream,
    AsyncTransport,
    BufferedStream,
    ByteStream,
    SyncTransport,
    file_digest,
)
from kiekit.journal._writer import WRITER, in_place

T = TypeVar("T")


class SyncDriver:
    """Performs ops with blocking I/O; holds the stream a flow opened until :meth:`close`.
    An interruption (Ctrl-C) that comes while a journal write is waited for reaches the flow
    once the write's outcome has, as a cancellation does on :class:`AsyncDriver`."""

    def __init__(
        self,
        transport: SyncTransport,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self._sleep = sleep
        self._clock = clock
        self._stream: ByteStream | None = None
        self.deferred: BaseException | None = None  # an interruption held back by a write

    def perform(self, op: object) -> Any:
        if isinstance(op, HttpRequest):
            return self.transport.send(op)
        if isinstance(op, Fetch):
            return self.transport.fetch(op)
        if isinstance(op, StreamUpload):
            return self.transport.upload(op)
        if isinstance(op, Sleep):
            return self._sleep(op.seconds)
        if isinstance(op, Now):
            return self._clock()
        if isinstance(op, Record):
            outcome, self.deferred = _write_now(op)
            return outcome()
        if isinstance(op, Reserve):
            return op.limiter.reserve(op)
        if isinstance(op, OpenStream):
            self._stream = _open_stream(self.transport, op.request)
            return self._stream.head
        if isinstance(op, ReadStream):
            assert self._stream is not None, "ReadStream before OpenStream"
            return self._stream.read()
        if isinstance(op, Digest):
            return file_digest(op)
        raise TypeError(f"not an engine op: {op!r}")

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def abort(self) -> None:
        """From another thread: end the wait of the stream being read (its connection shut
        down), for a stream that can (:class:`~kiekit._transports.base.ByteStream`'s
        ``abort``); the reading thread then closes it."""
        abort = getattr(self._stream, "abort", None)
        if abort is not None:
            abort()

    def run(self, flow: Flow[T]) -> T:
        outcome: Any = None
        error: BaseException | None = None
        clock, perform, send = self._clock, self.perform, self.transport.send
        try:
            while True:
                try:
                    op = flow.throw(error) if error is not None else flow.send(outcome)
                except StopIteration as done:
                    if self.deferred is not None:
                        raise self.deferred from None
                    return done.value  # type: ignore[no-any-return]
                error = None
                if self.deferred is not None:  # the flow hears of it now, the write being done
                    error, self.deferred = _instead_of(op, self.deferred), None
                    continue
                if type(op) is Now:  # the commonest op, and one that cannot fail: no dispatch
                    outcome = clock()
                    continue
                outcome = None
                try:
                    # the commonest I/O, straight to the transport
                    outcome = send(op) if type(op) is HttpRequest else perform(op)
                except BaseException as exc:
                    error = exc
        except Exception as exc:  # an error for the caller: its chain reportable with locals
            outcome = error = None  # this frame runs on: it lets go of the raw answer
            clean_chain(exc)
            raise
        finally:
            self.close()


class AsyncDriver:
    """Performs ops on the event loop (a sync in-memory transport works too). Journal writes
    run on the journal's writer thread, never on the loop; a cancellation that comes during
    one reaches the flow once the write is done (:meth:`run`)."""

    def __init__(
        self,
        transport: AsyncTransport | SyncTransport,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if sleep is None:
            import asyncio  # here, not at the top: a sync Client never loads asyncio

            sleep = asyncio.sleep
        self.transport = transport
        self._sleep = sleep
        self._clock = clock
        self._stream: AsyncByteStream | ByteStream | None = None
        self.deferred: BaseException | None = None  # a cancellation held back by a write

    async def perform(self, op: object) -> Any:
        transport = self.transport
        if isinstance(op, HttpRequest):
            return await _maybe_await(transport.send(op))
        if isinstance(op, Fetch):
            return await _maybe_await(transport.fetch(op))
        if isinstance(op, StreamUpload):
            return await _maybe_await(transport.upload(op))
        if isinstance(op, Sleep):
            return await self._sleep(op.seconds)
        if isinstance(op, Now):
            return self._clock()
        if isinstance(op, Record):
            written, self.deferred = await WRITER.written(op.write, op.store)
            return written.result()
        if isinstance(op, Reserve):
            return await op.limiter.reserve_async(op)
        if isinstance(op, OpenStream):
            self._stream = await _maybe_await(_open_stream(transport, op.request))
            return self._stream.head
        if isinstance(op, ReadStream):
            assert self._stream is not None, "ReadStream before OpenStream"
            return await _maybe_await(self._stream.read())
        if isinstance(op, Digest):  # a file read whole: on a thread, never on the loop
            import asyncio

            try:
                return await asyncio.to_thread(file_digest, op)
            except RuntimeError as exc:  # no thread to be had (a memory cap)
                from kiekit.errors import ResourceLimitError

                raise ResourceLimitError.of(exc, "to read a file") from exc
        raise TypeError(f"not an engine op: {op!r}")

    async def close(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await _maybe_await(stream.close())

    async def run(self, flow: Flow[T]) -> T:
        outcome: Any = None
        error: BaseException | None = None
        clock, perform, send = self._clock, self.perform, self.transport.send
        # An aiohttp-like transport's send is a coroutine function: no need to ask each answer
        coroutines = inspect.iscoroutinefunction(send)
        try:
            while True:
                try:
                    op = flow.throw(error) if error is not None else flow.send(outcome)
                except StopIteration as done:
                    if self.deferred is not None:
                        raise self.deferred from None
                    return done.value  # type: ignore[no-any-return]
                outcome, error = None, None
                if self.deferred is not None:  # the flow hears of it now, the write being done
                    error, self.deferred = _instead_of(op, self.deferred), None
                    continue
                if type(op) is Now:  # the commonest op, and one that cannot fail: no await
                    outcome = clock()
                    continue
                try:
                    if type(op) is HttpRequest:  # the commonest I/O, straight to the transport
                        outcome = send(op)
                        if coroutines or inspect.isawaitable(outcome):
                            outcome = await outcome
                    else:
                        outcome = await perform(op)
                except BaseException as exc:
                    error = exc
        except Exception as exc:  # an error for the caller: its chain reportable with locals
            outcome = error = None  # this frame runs on: it lets go of the raw answer
            clean_chain(exc)
            raise
        finally:
            await self.close()


def _open_stream(transport: Any, request: HttpRequest) -> Any:
    """``transport.stream(request)``; a hand-written test double that only has ``send`` (as
    transports had before streams) still serves a stream, its whole answer buffered."""
    if hasattr(transport, "stream"):
        return transport.stream(request)
    answer = transport.send(request)
    if inspect.isawaitable(answer):
        return _buffered_later(answer)
    return BufferedStream(answer)


async def _buffered_later(answer: Awaitable[HttpResponse]) -> BufferedStream:
    return BufferedStream(await answer)


def drive(
    flow: Flow[T],
    transport: SyncTransport,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run an engine flow to its result with blocking I/O."""
    return SyncDriver(transport, sleep=sleep, clock=clock).run(flow)


async def drive_async(
    flow: Flow[T],
    transport: AsyncTransport | SyncTransport,
    *,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run an engine flow to its result on the event loop (``sleep``: asyncio's)."""
    return await AsyncDriver(transport, sleep=sleep, clock=clock).run(flow)


def _write_now(op: Record) -> tuple[Callable[[], Any], BaseException | None]:
    """A journal write from a thread: a store that commits in groups gets it on the writer
    thread, where it shares a commit with the other threads' writes (SQLite has one write lock:
    threads writing on their own would take turns for it, sleeping meanwhile); any other store
    is written in place (a Ctrl-C meanwhile held until it is done: journal._writer.in_place).
    Either way it is committed when this returns: its outcome (called, the result or the
    write's error), and an interruption that came while it was waited for or written."""
    if getattr(op.store, "batch", None) is None:
        return in_place(op.write)
    return WRITER.waited(op.write, op.store)


def _instead_of(op: object, deferred: BaseException) -> BaseException:
    """The interruption a journal write held back, thrown into the flow in place of ``op``,
    which is not performed: when ``op`` is an HTTP request (a create whose intent row, or
    whose row un-parked, was just written), it is marked as having come before a byte was
    sent (:func:`~kiekit._engine.ops.mark_unsent`), so that the create's row says
    ``rejected``, free to send again, not "outcome unknown" (docs/reliability.md)."""
    if isinstance(op, HttpRequest):
        mark_unsent(deferred)
    return deferred


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
