"""Streamed answers: the byte streams each transport opens, and the drivers of stream flows.

A transport's ``stream(request)`` sends a request and returns a :class:`ByteStream` (or, for
``AiohttpTransport``, an :class:`AsyncByteStream`) whose body is read chunk by chunk as it
arrives — what server-sent events need. A transport without ``stream`` (a test double) still
works: its ``send`` answer is read as one chunk. Network failures while reading become
:class:`~kiekit.errors.TransportError` here, as everywhere else in :mod:`kiekit.transport`.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

from kiekit._engine import HttpRequest, HttpResponse
from kiekit.chat._flows import Emit, OpenStream, ReadStream, StreamFlow, StreamHead
from kiekit.chat.types import ChatDelta, ChatReply
from kiekit.errors import KieError, TransportError

__all__ = [
    "AsyncByteStream",
    "AsyncChatStream",
    "BufferedStream",
    "ByteStream",
    "ChatStream",
    "aiohttp_stream",
    "urllib3_stream",
]

CHUNK = 16 * 1024


class ByteStream(Protocol):
    head: StreamHead

    def read(self) -> bytes: ...  # the next chunk; b"" once the body has ended
    def close(self) -> None: ...


class AsyncByteStream(Protocol):
    head: StreamHead

    async def read(self) -> bytes: ...
    async def close(self) -> None: ...


def _where(request: HttpRequest) -> str:
    return f"{request.method} {request.url.partition('?')[0]}"


class BufferedStream:
    """A whole answer served as a stream, ``chunk`` bytes at a time (test doubles, and
    transports that cannot stream)."""

    def __init__(self, response: HttpResponse, *, chunk: int = CHUNK) -> None:
        content_type = response.headers.get("content-type", "") if response.headers else ""
        self.head = StreamHead(response.status, response.reason, content_type)
        self._body = response.body
        self._chunk = chunk

    def read(self) -> bytes:
        piece, self._body = self._body[: self._chunk], self._body[self._chunk :]
        return piece

    def close(self) -> None:
        self._body = b""


class _Urllib3Stream:
    def __init__(self, response: Any, request: HttpRequest, errors: type[Exception]) -> None:
        self._response = response
        self._request = request
        self._errors = errors
        self.head = StreamHead(
            response.status, response.reason or "", response.headers.get("content-type", "")
        )

    def read(self) -> bytes:
        try:
            # read1: whatever has arrived, so each event reaches the user as it is sent
            return bytes(self._response.read1(CHUNK))
        except self._errors as exc:
            raise TransportError(
                f"{_where(self._request)}: the stream broke: {type(exc).__name__}"
            ) from exc

    def close(self) -> None:
        self._response.release_conn()


def urllib3_stream(pool: Any, request: HttpRequest) -> ByteStream:
    """Send ``request`` on a urllib3 pool; the answer's body is read as it arrives."""
    import urllib3

    try:
        response = pool.request(
            request.method,
            request.url,
            body=request.body,
            headers=dict(request.headers),
            redirect=False,
            preload_content=False,
        )
    except urllib3.exceptions.HTTPError as exc:
        raise TransportError(f"{_where(request)} failed: {type(exc).__name__}") from exc
    return _Urllib3Stream(response, request, urllib3.exceptions.HTTPError)


class _AiohttpStream:
    def __init__(self, response: Any, request: HttpRequest) -> None:
        self._response = response
        self._request = request
        self.head = StreamHead(
            response.status, response.reason or "", response.headers.get("Content-Type", "")
        )

    async def read(self) -> bytes:
        import aiohttp

        try:
            return bytes(await self._response.content.readany())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(
                f"{_where(self._request)}: the stream broke: {type(exc).__name__}"
            ) from exc

    async def close(self) -> None:
        self._response.release()


async def aiohttp_stream(session: Any, request: HttpRequest) -> AsyncByteStream:
    """Send ``request`` on an aiohttp session; the answer's body is read as it arrives."""
    import aiohttp

    try:
        response = await session.request(
            request.method,
            request.url,
            data=request.body,
            headers=dict(request.headers),
            allow_redirects=False,
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TransportError(f"{_where(request)} failed: {type(exc).__name__}") from exc
    return _AiohttpStream(response, request)


def _open(transport: Any, request: HttpRequest) -> ByteStream:
    opener = getattr(transport, "stream", None)
    if opener is not None:
        return opener(request)  # type: ignore[no-any-return]
    return BufferedStream(transport.send(request))


async def _open_async(transport: Any, request: HttpRequest) -> Any:
    opener = getattr(transport, "stream", None)
    value = opener(request) if opener is not None else transport.send(request)
    if inspect.isawaitable(value):
        value = await value
    return BufferedStream(value) if isinstance(value, HttpResponse) else value


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class ChatStream:
    """The deltas of a streamed answer, as they arrive; ``reply`` is the whole answer once
    they are all read. Closing early (``close()``, leaving a ``with`` block, ``break``) closes
    the connection."""

    def __init__(self, flow: StreamFlow, transport: Any) -> None:
        self._deltas = self._run(flow, transport)
        self.reply: ChatReply | None = None

    def _run(self, flow: StreamFlow, transport: Any) -> Iterator[ChatDelta]:
        stream: ByteStream | None = None
        outcome: Any = None
        error: KieError | None = None
        try:
            while True:
                try:
                    op = flow.throw(error) if error is not None else flow.send(outcome)
                except StopIteration as done:
                    self.reply = done.value
                    return
                outcome, error = None, None
                try:
                    if isinstance(op, OpenStream):
                        stream = _open(transport, op.request)
                        outcome = stream.head
                    elif isinstance(op, ReadStream):
                        assert stream is not None
                        outcome = stream.read()
                    elif isinstance(op, Emit):
                        yield op.delta
                except KieError as exc:
                    error = exc
        finally:
            flow.close()
            if stream is not None:
                stream.close()

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

    def __init__(self, flow: StreamFlow, transport: Any) -> None:
        self._deltas = self._run(flow, transport)
        self.reply: ChatReply | None = None

    async def _run(self, flow: StreamFlow, transport: Any) -> AsyncIterator[ChatDelta]:
        stream: Any = None
        outcome: Any = None
        error: KieError | None = None
        try:
            while True:
                try:
                    op = flow.throw(error) if error is not None else flow.send(outcome)
                except StopIteration as done:
                    self.reply = done.value
                    return
                outcome, error = None, None
                try:
                    if isinstance(op, OpenStream):
                        stream = await _open_async(transport, op.request)
                        outcome = stream.head
                    elif isinstance(op, ReadStream):
                        outcome = await _maybe_await(stream.read())
                    elif isinstance(op, Emit):
                        yield op.delta
                except KieError as exc:
                    error = exc
        finally:
            flow.close()
            if stream is not None:
                await _maybe_await(stream.close())

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
