"""How bytes move: the only I/O in kiekit, behind a small seam (as httpx's transports).

A transport sends one :class:`HttpRequest` and streams one :class:`Fetch` to disk. The drivers
run an engine generator to completion against a transport, sleeping and reading the clock for it.
``Urllib3Transport`` serves ``Client``; ``AiohttpTransport`` serves ``AsyncClient``;
``MockTransport`` answers from a Python function, for tests with no sockets, and serves both.

Network failures are translated to :class:`~kiekit.errors.TransportError` here and nowhere else.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Mapping,
)
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from kiekit._engine import (
    Fetch,
    Flow,
    HttpRequest,
    HttpResponse,
    Now,
    Sleep,
    StreamUpload,
    check_file_start,
)
from kiekit.errors import DownloadError, KieError, TransportError

if TYPE_CHECKING:
    from kiekit.chat._streams import AsyncByteStream, ByteStream

__all__ = [
    "AiohttpTransport",
    "AsyncTransport",
    "HttpRequest",
    "HttpResponse",
    "MockTransport",
    "SyncTransport",
    "Urllib3Transport",
    "drive",
    "drive_async",
]

T = TypeVar("T")
CHUNK = 64 * 1024


class SyncTransport(Protocol):
    def send(self, request: HttpRequest) -> HttpResponse: ...
    def fetch(self, fetch: Fetch) -> Path: ...
    def upload(self, upload: StreamUpload) -> HttpResponse: ...
    def close(self) -> None: ...


class AsyncTransport(Protocol):
    async def send(self, request: HttpRequest) -> HttpResponse: ...
    async def fetch(self, fetch: Fetch) -> Path: ...
    async def upload(self, upload: StreamUpload) -> HttpResponse: ...
    async def close(self) -> None: ...


def drive(
    flow: Flow[T],
    transport: SyncTransport,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run an engine flow to its result with blocking I/O."""
    outcome: Any = None
    error: KieError | None = None
    while True:
        try:
            op = flow.throw(error) if error is not None else flow.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        outcome, error = None, None
        try:
            if isinstance(op, HttpRequest):
                outcome = transport.send(op)
            elif isinstance(op, Fetch):
                outcome = transport.fetch(op)
            elif isinstance(op, StreamUpload):
                outcome = transport.upload(op)
            elif isinstance(op, Sleep):
                sleep(op.seconds)
            elif isinstance(op, Now):
                outcome = clock()
        except KieError as exc:
            error = exc  # handed back to the flow, which may retry or add context


async def drive_async(
    flow: Flow[T],
    transport: AsyncTransport | SyncTransport,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run an engine flow to its result on the event loop (a sync in-memory transport works too)."""
    outcome: Any = None
    error: KieError | None = None
    while True:
        try:
            op = flow.throw(error) if error is not None else flow.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        outcome, error = None, None
        try:
            if isinstance(op, HttpRequest):
                outcome = await _maybe_await(transport.send(op))
            elif isinstance(op, Fetch):
                outcome = await _maybe_await(transport.fetch(op))
            elif isinstance(op, StreamUpload):
                outcome = await _maybe_await(transport.upload(op))
            elif isinstance(op, Sleep):
                await sleep(op.seconds)
            elif isinstance(op, Now):
                outcome = clock()
        except KieError as exc:
            error = exc


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _where(url: str) -> str:
    """The URL without its query, for error messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _upload_chunks(upload: StreamUpload) -> Generator[bytes, None, None]:
    """The multipart body of ``upload``, read from disk one chunk at a time."""
    yield upload.head
    left = upload.size
    with open(upload.path, "rb") as source:
        while left > 0:
            chunk = source.read(min(CHUNK, left))
            if not chunk:  # the Content-Length already sent would be a lie: stop here
                raise TransportError(f"{upload.path} shrank while it was being uploaded")
            left -= len(chunk)
            yield chunk
    yield upload.tail


def _part_path(destination: Path) -> Path:
    """A temporary name beside ``destination`` (same folder, so the final rename is atomic),
    unique so that two downloads of one file never write into each other."""
    return destination.with_name(f"{destination.name}.{uuid.uuid4().hex[:12]}.part")


def _lower(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


class _Download:
    """One result file on its way to disk, shared by every transport: refuse a non-200 answer
    or an error page, stream into a temporary file, check the promised size, rename.
    Whatever goes wrong, the temporary file is removed (use it as a context manager)."""

    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch
        self.part = _part_path(fetch.destination)
        self._out: IO[bytes] | None = None
        self._content_type: str | None = None
        self._expected: int | None = None
        self._head = b""
        self._written = 0
        self._checked = False

    def __enter__(self) -> _Download:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._out is not None:
            self._out.close()
        if exc_type is not None:
            self.part.unlink(missing_ok=True)

    def error(self, message: str, *, http_status: int | None = None) -> DownloadError:
        return DownloadError(
            message, url=self.fetch.url, task_id=self.fetch.task_id, http_status=http_status
        )

    def begin(self, status: int, headers: Mapping[str, str]) -> None:
        if status != 200:
            raise self.error(f"download answered HTTP {status}", http_status=status)
        self._content_type = headers.get("content-type")
        length = headers.get("content-length", "")
        # A compressed body is decoded on the way, so its length is not the file's.
        encoded = headers.get("content-encoding", "identity").lower() not in ("", "identity")
        self._expected = int(length) if length.strip().isdigit() and not encoded else None
        self._out = open(self.part, "wb")  # noqa: SIM115 - closed in __exit__

    def write(self, chunk: bytes) -> None:
        assert self._out is not None
        if not self._checked:
            self._head += chunk[:64]
            if len(self._head) >= 16:
                self._check_start()
        self._out.write(chunk)
        self._written += len(chunk)

    def _check_start(self) -> None:
        self._checked = True
        check_file_start(self.fetch, self._content_type, self._head)

    def finish(self) -> Path:
        assert self._out is not None
        if not self._checked:
            self._check_start()
        self._out.close()
        self._out = None
        if self._expected is not None and self._written != self._expected:
            raise self.error(f"download ended after {self._written} of {self._expected} bytes")
        os.replace(self.part, self.fetch.destination)
        return self.fetch.destination


class Urllib3Transport:
    """Blocking transport on a urllib3 pool; it never retries on its own (the client decides)."""

    def __init__(self, *, timeout: float = 30.0, connect_timeout: float = 10.0, maxsize: int = 10):
        import urllib3

        self._urllib3 = urllib3
        self._pool = urllib3.PoolManager(
            maxsize=maxsize,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=timeout),
        )
        # CDNs redirect result links; API calls never follow redirects, downloads do (as aiohttp).
        self._follow_redirects = urllib3.Retry(
            total=10, connect=0, read=0, status=0, other=0, redirect=10
        )

    def send(self, request: HttpRequest) -> HttpResponse:
        try:
            response = self._pool.request(
                request.method,
                request.url,
                body=request.body,
                headers=dict(request.headers),
                redirect=False,
            )
        except self._urllib3.exceptions.HTTPError as exc:
            raise TransportError(
                f"{request.method} {_where(request.url)} failed: {type(exc).__name__}",
                task_id=request.task_id,
                # urllib3's ConnectTimeoutError covers refused connections and DNS failures
                # too: the request never left, so even a create may be sent again
                maybe_sent=not isinstance(exc, self._urllib3.exceptions.ConnectTimeoutError),
            ) from exc
        return HttpResponse(
            response.status,
            response.data,
            response.reason or "",
            _lower(response.headers.items()),
        )

    def fetch(self, fetch: Fetch) -> Path:
        # No Authorization header: result links are public CDN URLs, and the key must not
        # travel to hosts other than KIE's API.
        with _Download(fetch) as download:
            try:
                response = self._pool.request(
                    "GET", fetch.url, preload_content=False, retries=self._follow_redirects
                )
                try:
                    download.begin(response.status, _lower(response.headers.items()))
                    for chunk in response.stream(CHUNK):
                        download.write(chunk)
                finally:
                    response.release_conn()
            except self._urllib3.exceptions.HTTPError as exc:
                raise download.error(f"download failed: {type(exc).__name__}") from exc
            return download.finish()

    def upload(self, upload: StreamUpload) -> HttpResponse:
        # A generator body with a Content-Length header: urllib3 sends it piece by piece as it
        # is read, not chunked-encoded (some upload hosts refuse chunked bodies).
        chunks = _upload_chunks(upload)
        try:
            response = self._pool.request(
                "POST",
                upload.url,
                body=chunks,
                headers=dict(upload.headers),
                redirect=False,
                chunked=False,
            )
        except self._urllib3.exceptions.HTTPError as exc:
            raise TransportError(f"POST {_where(upload.url)} failed: {type(exc).__name__}") from exc
        except OSError as exc:  # the local file could not be read
            raise TransportError(f"reading {upload.path} failed: {exc}") from exc
        finally:
            chunks.close()  # the file, when the body was not read to its end
        return HttpResponse(
            response.status, response.data, response.reason or "", _lower(response.headers.items())
        )

    def stream(self, request: HttpRequest) -> ByteStream:
        """Send ``request`` and read the answer as it arrives (a chat's server-sent events)."""
        from kiekit.chat._streams import urllib3_stream

        return urllib3_stream(self._pool, request)

    def close(self) -> None:
        self._pool.clear()


class AiohttpTransport:
    """Asynchronous transport on one aiohttp session, opened on first use inside the loop."""

    def __init__(self, *, timeout: float = 30.0, connect_timeout: float = 10.0, limit: int = 100):
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._limit = limit
        self._session: Any = None

    def _open(self) -> Any:
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(
                # sock_connect, not connect: aiohttp's `connect` also counts the wait for a
                # free pooled connection, so thousands of tasks in flight would time out queued.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self._connect_timeout, sock_read=self._timeout
                ),
                connector=aiohttp.TCPConnector(limit=self._limit),
            )
        return self._session

    async def send(self, request: HttpRequest) -> HttpResponse:
        import aiohttp

        session = self._open()
        try:
            async with session.request(
                request.method,
                request.url,
                data=request.body,
                headers=dict(request.headers),
                allow_redirects=False,
            ) as response:
                body = await response.read()
                return HttpResponse(
                    response.status,
                    body,
                    response.reason or "",
                    _lower(response.headers.items()),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(
                f"{request.method} {_where(request.url)} failed: {type(exc).__name__}",
                task_id=request.task_id,
                # refused, DNS, TLS handshake, connect timeout: the request never left
                maybe_sent=not isinstance(
                    exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
                ),
            ) from exc

    async def fetch(self, fetch: Fetch) -> Path:
        import aiohttp

        session = self._open()
        with _Download(fetch) as download:
            try:
                async with session.get(fetch.url) as response:
                    download.begin(response.status, _lower(response.headers.items()))
                    async for chunk in response.content.iter_chunked(CHUNK):
                        download.write(chunk)  # small chunks to local disk
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise download.error(f"download failed: {type(exc).__name__}") from exc
            return download.finish()

    async def upload(self, upload: StreamUpload) -> HttpResponse:
        import aiohttp

        chunks = _upload_chunks(upload)

        async def body() -> AsyncIterator[bytes]:
            for chunk in chunks:  # small chunks from local disk
                yield chunk

        session = self._open()
        try:
            # With Content-Length given, aiohttp streams the generator as is, not chunked.
            async with session.post(
                upload.url, data=body(), headers=dict(upload.headers), allow_redirects=False
            ) as response:
                answer = await response.read()
                return HttpResponse(
                    response.status, answer, response.reason or "", _lower(response.headers.items())
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"POST {_where(upload.url)} failed: {type(exc).__name__}") from exc
        except OSError as exc:
            raise TransportError(f"reading {upload.path} failed: {exc}") from exc
        finally:
            chunks.close()  # the file, when aiohttp stopped short of the body's end

    async def stream(self, request: HttpRequest) -> AsyncByteStream:
        """Send ``request`` and read the answer as it arrives (a chat's server-sent events)."""
        from kiekit.chat._streams import aiohttp_stream

        return await aiohttp_stream(self._open(), request)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


Handler = Callable[[HttpRequest], HttpResponse]


class MockTransport:
    """Answers every request from ``handler``, in memory; file fetches are GETs through it too.

    Works with both clients. ``requests`` keeps every request sent, for assertions.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[HttpRequest] = []

    def send(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        return self._handler(request)

    def fetch(self, fetch: Fetch) -> Path:
        with _Download(fetch) as download:
            try:
                response = self.send(HttpRequest("GET", fetch.url, {}, None, task_id=fetch.task_id))
            except TransportError as exc:
                if isinstance(exc, DownloadError):
                    raise
                raise download.error(f"download failed: {exc.message}") from exc
            download.begin(response.status, _lower(response.headers.items()))
            download.write(response.body)
            return download.finish()

    def upload(self, upload: StreamUpload) -> HttpResponse:
        """The multipart body is assembled in memory here: this transport is for small tests."""
        body = b"".join(_upload_chunks(upload))
        return self.send(HttpRequest("POST", upload.url, upload.headers, body))

    def stream(self, request: HttpRequest) -> ByteStream:
        """The handler's answer in small chunks, as a network would cut an event stream."""
        from kiekit.chat._streams import BufferedStream

        return BufferedStream(self.send(request), chunk=64)

    def close(self) -> None:
        pass
