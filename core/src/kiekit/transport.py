"""How bytes move: the only I/O in kiekit, behind a small seam (as httpx's transports).

A transport sends one :class:`HttpRequest` and streams one :class:`Fetch` to disk. The drivers
run an engine generator to completion against a transport, sleeping and reading the clock for it.
``Urllib3Transport`` serves ``Client``; ``AiohttpTransport`` serves ``AsyncClient``;
``MockTransport`` answers from a Python function, for tests with no sockets, and serves both.

Network failures are translated to :class:`~kiekit.errors.TransportError` here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    Iterator,
    Mapping,
)
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from kiekit._engine import (
    Fetch,
    Flow,
    HttpRequest,
    HttpResponse,
    Now,
    Record,
    Sleep,
    StreamUpload,
    check_file_start,
)
from kiekit.errors import DownloadError, FileWriteError, ProtocolError, TransportError
from kiekit.retry import parse_retry_after

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
# KIE's answers are a few kilobytes (a long chat answer, some hundreds); anything near this is
# not KIE talking, and is refused rather than read into memory whole.
MAX_ANSWER_BYTES = 32 * 2**20


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
    """Run an engine flow to its result with blocking I/O.

    Whatever an op raises goes back into the flow — kiekit's errors to be retried or given
    context, any other (Ctrl-C, a bug) so that the flow can write down what it knows before
    it ends (the journal's "never sent" row)."""
    outcome: Any = None
    error: BaseException | None = None
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
            elif isinstance(op, Record):
                outcome = op.write()
        except BaseException as exc:
            error = exc


async def drive_async(
    flow: Flow[T],
    transport: AsyncTransport | SyncTransport,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run an engine flow to its result on the event loop (a sync in-memory transport works
    too). Journal writes run on the journal's writer thread, never on the loop; a
    cancellation that comes during one reaches the flow once the write is done."""
    outcome: Any = None
    error: BaseException | None = None
    deferred: BaseException | None = None  # a cancellation held back while a write finished
    while True:
        try:
            op = flow.throw(error) if error is not None else flow.send(outcome)
        except StopIteration as done:
            if deferred is not None:
                raise deferred from None
            return done.value  # type: ignore[no-any-return]
        outcome, error = None, None
        if deferred is not None:
            error, deferred = deferred, None
            continue
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
            elif isinstance(op, Record):
                written, deferred = await _written(op)
                outcome = written.result()
        except BaseException as exc:
            error = exc


_writer: ThreadPoolExecutor | None = None


def journal_writer() -> ThreadPoolExecutor:
    """The one thread on which the asyncio driver writes journals: off the event loop, and
    one at a time (SQLite takes one writer anyway)."""
    global _writer
    if _writer is None:
        _writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiekit-journal")
    return _writer


async def _written(op: Record) -> tuple[asyncio.Future[Any], BaseException | None]:
    """Run ``op`` on the writer thread to its end, even through cancellations; the finished
    future, and the cancellation that came meanwhile if one did."""
    future = asyncio.get_running_loop().run_in_executor(journal_writer(), op.write)
    cancelled: BaseException | None = None
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError as exc:
            if not future.done():
                cancelled = exc
        except BaseException:  # noqa: S110 - the write's own error: read from the future
            pass
    return future, cancelled


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
    unique so that two downloads of one file never write into each other, and naming the
    process that writes it, so that one left by a killed process can be told apart."""
    return destination.with_name(f"{destination.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")


# A temporary file untouched this long belongs to no live download (DownloadPolicy.timeout is
# far shorter), whatever process wrote it.
STALE_PART_SECONDS = 24 * 3600.0


def sweep_stale_parts(destination: Path) -> list[Path]:
    """Remove the temporary files an earlier, killed download of ``destination`` left: those
    of a process that is gone (on this machine), or untouched for a day. Returns them."""
    removed: list[Path] = []
    now = time.time()
    prefix = destination.name + "."
    try:
        found = [p for p in destination.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed  # no folder yet, or unreadable: the download's own error will say
    for part in found:
        owner = part.name[len(prefix) :].removesuffix(".part")
        if not part.name.endswith(".part") or owner.count("-") != 1:
            continue
        try:
            stale = (
                not _alive(owner.split("-")[0]) or now - part.stat().st_mtime > STALE_PART_SECONDS
            )
            if stale:
                part.unlink()
                removed.append(part)
        except OSError:
            continue  # gone already (another sweep), or not ours to remove
    return removed


def _alive(pid_text: str) -> bool:
    """Whether the process that wrote a temporary file may still be writing it."""
    if not pid_text.isdigit() or os.name == "nt":  # Windows: os.kill(pid, 0) is no probe there
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _lower(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


class _Download:
    """One result file on its way to disk, shared by every transport: refuse a non-200 answer
    or an error page, stream into a temporary file within the fetch's time and size bounds,
    check the promised size, rename. Whatever goes wrong, the temporary file is removed (use it
    as a context manager); a local file-system failure is a FileWriteError naming the path."""

    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch
        sweep_stale_parts(fetch.destination)  # what a killed run of this download left
        self.part = _part_path(fetch.destination)
        self.ends = None if fetch.timeout is None else time.monotonic() + fetch.timeout
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
            with contextlib.suppress(OSError):  # the error already raised says more
                self._out.close()
        if exc_type is not None:
            with contextlib.suppress(OSError):
                self.part.unlink(missing_ok=True)

    def error(
        self, message: str, *, http_status: int | None = None, curable: bool | None = None
    ) -> DownloadError:
        return DownloadError(
            message,
            url=self.fetch.url,
            task_id=self.fetch.task_id,
            http_status=http_status,
            curable=curable,
        )

    def timed_out(self) -> DownloadError:
        return self.error(
            f"download took longer than its {self.fetch.timeout or 0:.0f} s "
            f"(DownloadPolicy.timeout); {self._written} bytes had come",
            curable=False,
        )

    def late(self) -> bool:
        return self.ends is not None and time.monotonic() >= self.ends

    def _local(self, exc: OSError, path: Path) -> FileWriteError:
        return FileWriteError.of(exc, path, task_id=self.fetch.task_id, url=self.fetch.url)

    def _too_big(self, size: int) -> DownloadError:
        return self.error(
            f"the file is larger than {self.fetch.max_bytes} bytes (DownloadPolicy.max_bytes): "
            f"{size} bytes",
            http_status=200,
            curable=False,
        )

    def begin(self, status: int, headers: Mapping[str, str]) -> None:
        if status != 200:
            error = self.error(f"download answered HTTP {status}", http_status=status)
            error.retry_after = parse_retry_after(headers)  # a CDN's 429 or 503 may say when
            raise error
        self._content_type = headers.get("content-type")
        length = headers.get("content-length", "")
        # A compressed body is decoded on the way, so its length is not the file's.
        encoded = headers.get("content-encoding", "identity").lower() not in ("", "identity")
        self._expected = int(length) if length.strip().isdigit() and not encoded else None
        cap = self.fetch.max_bytes
        if cap is not None and self._expected is not None and self._expected > cap:
            raise self._too_big(self._expected)
        try:
            self._out = open(self.part, "wb")  # noqa: SIM115 - closed in __exit__
        except OSError as exc:
            raise self._local(exc, self.part) from exc

    def write(self, chunk: bytes) -> None:
        assert self._out is not None
        if not self._checked:
            self._head += chunk[:64]
            if len(self._head) >= 16:
                self._check_start()
        cap = self.fetch.max_bytes
        if cap is not None and self._written + len(chunk) > cap:
            raise self._too_big(self._written + len(chunk))
        try:
            self._out.write(chunk)
        except OSError as exc:
            raise self._local(exc, self.part) from exc
        self._written += len(chunk)
        if self.late():  # a trickling host cannot hold the download past its deadline
            raise self.timed_out()

    def _check_start(self) -> None:
        self._checked = True
        check_file_start(self.fetch, self._content_type, self._head)

    def finish(self) -> Path:
        assert self._out is not None
        if not self._checked:
            self._check_start()
        try:
            self._out.close()
        except OSError as exc:  # a full disk may only show when the last bytes are flushed
            raise self._local(exc, self.part) from exc
        self._out = None
        if self._expected is not None and self._written != self._expected:
            raise self.error(f"download ended after {self._written} of {self._expected} bytes")
        try:
            os.replace(self.part, self.fetch.destination)
        except OSError as exc:
            raise self._local(exc, self.fetch.destination) from exc
        return self.fetch.destination


def _oversized(limit: int, what: str, task_id: str | None) -> ProtocolError:
    return ProtocolError(
        f"the answer to {what} is larger than {limit} bytes (max_answer_bytes): not KIE's",
        task_id=task_id,
    )


def _capped(chunks: Iterable[bytes], limit: int, what: str, task_id: str | None) -> bytes:
    """A whole API answer, refused once it passes ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _oversized(limit, what, task_id)
        parts.append(chunk)
    return b"".join(parts)


def _until(ends: float | None, chunks: Iterator[bytes], request: HttpRequest) -> Iterator[bytes]:
    """``chunks`` until the request's deadline: an answer dripping in cannot hold it past."""
    for chunk in chunks:
        yield chunk
        if ends is not None and time.monotonic() > ends:
            raise TransportError(
                f"{request.method} {_where(request.url)}: the answer took longer than the "
                f"call's {request.timeout or 0:.1f} s deadline",
                task_id=request.task_id,
            )


def _declared_length(headers: Mapping[str, str]) -> int | None:
    length = headers.get("content-length", "").strip()
    return int(length) if length.isdigit() else None


class Urllib3Transport:
    """Blocking transport on a urllib3 pool; it never retries on its own (the client decides).

    ``timeout`` bounds each wait for bytes; a request's own ``timeout`` (its deadline) bounds
    the whole exchange; ``max_answer_bytes`` caps an API answer read into memory."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        maxsize: int = 10,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ):
        import urllib3

        self._urllib3 = urllib3
        self._read_timeout = timeout
        self._connect_timeout = connect_timeout
        self._max_answer_bytes = max_answer_bytes
        self._pool = urllib3.PoolManager(
            maxsize=maxsize,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=timeout),
        )
        # CDNs redirect result links; API calls never follow redirects, downloads do (as aiohttp).
        self._follow_redirects = urllib3.Retry(
            total=10, connect=0, read=0, status=0, other=0, redirect=10
        )

    def _timeout(self, seconds: float | None) -> Any:
        """urllib3's timeouts for an exchange that may take ``seconds`` in all."""
        if seconds is None:
            return self._urllib3.Timeout(connect=self._connect_timeout, read=self._read_timeout)
        seconds = max(seconds, 0.001)
        return self._urllib3.Timeout(
            connect=min(self._connect_timeout, seconds), read=min(self._read_timeout, seconds)
        )

    def send(self, request: HttpRequest) -> HttpResponse:
        ends = None if request.timeout is None else time.monotonic() + request.timeout
        what = f"{request.method} {_where(request.url)}"
        try:
            response = self._pool.request(
                request.method,
                request.url,
                body=request.body,
                headers=dict(request.headers),
                redirect=False,
                preload_content=False,
                timeout=self._timeout(request.timeout),
            )
        except self._urllib3.exceptions.HTTPError as exc:
            raise TransportError(
                f"{what} failed: {type(exc).__name__}",
                task_id=request.task_id,
                # urllib3's ConnectTimeoutError covers refused connections and DNS failures
                # too: the request never left, so even a create may be sent again
                maybe_sent=not isinstance(exc, self._urllib3.exceptions.ConnectTimeoutError),
            ) from exc
        headers = _lower(response.headers.items())
        try:
            declared = _declared_length(headers)
            if declared is not None and declared > self._max_answer_bytes:
                raise _oversized(self._max_answer_bytes, what, request.task_id)
            chunks = _until(ends, iter(lambda: response.read1(CHUNK), b""), request)
            body = _capped(chunks, self._max_answer_bytes, what, request.task_id)
        except self._urllib3.exceptions.HTTPError as exc:
            response.close()
            raise TransportError(
                f"{what}: reading the answer failed: {type(exc).__name__}", task_id=request.task_id
            ) from exc
        except BaseException:
            response.close()  # not back into the pool with an answer half read
            raise
        response.release_conn()
        return HttpResponse(response.status, body, response.reason or "", headers)

    def fetch(self, fetch: Fetch) -> Path:
        # No Authorization header: result links are public CDN URLs, and the key must not
        # travel to hosts other than KIE's API.
        with _Download(fetch) as download:
            try:
                response = self._pool.request(
                    "GET",
                    fetch.url,
                    preload_content=False,
                    retries=self._follow_redirects,
                    timeout=self._timeout(fetch.timeout),
                )
                try:
                    download.begin(response.status, _lower(response.headers.items()))
                    # read1: whatever has come, so the deadline is looked at as bytes trickle
                    while chunk := response.read1(CHUNK):
                        download.write(chunk)
                except BaseException:
                    response.close()  # not back into the pool with a body half read
                    raise
                response.release_conn()
            except self._urllib3.exceptions.HTTPError as exc:
                if download.late():
                    raise download.timed_out() from exc
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
    """Asynchronous transport on one aiohttp session, opened on first use inside the loop.
    Timeouts and ``max_answer_bytes`` as :class:`Urllib3Transport`'s."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        limit: int = 100,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ):
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._limit = limit
        self._max_answer_bytes = max_answer_bytes
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
        what = f"{request.method} {_where(request.url)}"
        limit = self._max_answer_bytes
        try:
            async with asyncio.timeout(request.timeout):  # the whole exchange, answer included
                async with session.request(
                    request.method,
                    request.url,
                    data=request.body,
                    headers=dict(request.headers),
                    allow_redirects=False,
                ) as response:
                    declared = response.content_length
                    if declared is not None and declared > limit:
                        raise _oversized(limit, what, request.task_id)
                    parts: list[bytes] = []
                    size = 0
                    async for chunk in response.content.iter_chunked(CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise _oversized(limit, what, request.task_id)
                        parts.append(chunk)
                    return HttpResponse(
                        response.status,
                        b"".join(parts),
                        response.reason or "",
                        _lower(response.headers.items()),
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(
                f"{what} failed: {type(exc).__name__}",
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
                async with asyncio.timeout(fetch.timeout):  # the whole file, however it trickles
                    async with session.get(fetch.url) as response:
                        download.begin(response.status, _lower(response.headers.items()))
                        async for chunk in response.content.iter_chunked(CHUNK):
                            download.write(chunk)  # small chunks to local disk
            except (aiohttp.ClientError, TimeoutError) as exc:
                if download.late():
                    raise download.timed_out() from exc
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
