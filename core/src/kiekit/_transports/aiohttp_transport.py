"""``AiohttpTransport``: the asyncio transport of ``AsyncClient``, on one aiohttp session."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import ssl  # for the annotations: urllib3 (imported below) imports it anyway
import sys
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import attrs

from kiekit._engine import (
    Fetch,
    HttpRequest,
    HttpResponse,
    StreamHead,
    StreamUpload,
    mark_unsent,
)
from kiekit._transports.base import (
    CHUNK,
    DOWNLOAD_READ,
    MAX_ANSWER_BYTES,
    MAX_REDIRECTS,
    PROXY_AUTH,
    PROXY_GATEWAY,
    REDIRECTS,
    AsyncByteStream,
    TunnelStalled,
    check_seconds,
    declared_length,
    forwarded,
    in_words,
    late,
    lower,
    next_hop,
    oversized,
    proxy_failure,
    proxy_refused,
    proxy_status,
    refused_download,
    tunnel_stalled,
    upload_chunks,
    what,
    where,
)
from kiekit._transports.download import Download
from kiekit._transports.proxies import Proxies
from kiekit._transports.urllib3_transport import Urllib3Transport, checked_context
from kiekit.errors import (
    ConfigurationError,
    DownloadError,
    FileReadError,
    ResourceLimitError,
    TransportError,
)

# A result file this large or larger is read on a thread (AiohttpTransport.fetch): the
# figures of tools/bench/downloads.py put the break-even of a thread's hand-over near 10 MB
LARGE_FILE = 16 * 2**20


def _large(status: int, headers: dict[str, str]) -> bool:
    """Whether an answer is a file to read on a thread: a success declaring LARGE_FILE bytes or
    more, sent as is (a compressed one is decoded on the way, its length not the file's)."""
    length = declared_length(headers)
    return (
        status == 200
        and length is not None
        and length >= LARGE_FILE
        and headers.get("content-encoding", "identity").lower() in ("", "identity")
    )


def _payload(body: bytes | None) -> bytes | io.BytesIO | None:
    """A body as aiohttp should take it: one over 1 MiB (a base64 upload of a few megabytes)
    as a BytesIO, written in chunks, for aiohttp warns that a large ``bytes`` body "might lock
    the event loop" (a ResourceWarning). The BytesIO shares the bytes: nothing is copied."""
    return io.BytesIO(body) if body is not None and len(body) > 2**20 else body


class AiohttpTransport:
    """Asynchronous transport on one aiohttp session, opened on first use inside the loop.
    Timeouts, ``max_answer_bytes``, ``proxy``, ``trust_env`` and ``ssl_context`` as
    :class:`Urllib3Transport`'s (the proxy chosen per request by kiekit's rules, not
    aiohttp's: loopback is never proxied, the environment is read by default).

    Large result files are the exception: each is read on a thread of its own by a blocking
    urllib3 pool (:meth:`fetch`), not by the session."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        limit: int = 100,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        proxy: str | None = None,
        trust_env: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self._timeout = check_seconds("timeout", timeout)
        self._connect_timeout = check_seconds("connect_timeout", connect_timeout)
        self._ssl_context = checked_context(ssl_context)
        self._proxy = proxy
        self._trust_env = trust_env
        self._proxies = Proxies(proxy, trust_env=trust_env)
        self._limit = limit
        self._max_answer_bytes = max_answer_bytes
        self._session: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the session is on
        # closes the session when its loop ends (_closed_with_loop); held here, as a loop
        # keeps only a weak reference to its async generators
        self._ending: Any = None
        self._files: Urllib3Transport | None = None  # result files' pool (fetch)
        self._files_made = threading.Lock()
        # files read at once: as many as the session's connections (aiohttp's 0, no limit: 100)
        self._file_limit = limit if limit > 0 else 100
        self._file_threads: ThreadPoolExecutor | None = None
        # close() was called: a call in flight then fails in those words, and a later one is
        # refused (a session opened after close() would be one nobody closes)
        self._closed = False

    async def _opened(self) -> Any:
        """:meth:`_open`, with aiohttp imported on a thread the first time: importing it
        builds its TLS contexts (reading the system's CA store), some 250 ms that would hold
        up every other task of the loop (an outside tester's web service: its first request
        stalled all others), as importing urllib3 does not (:meth:`_fetch_on_thread`)."""
        if "aiohttp" not in sys.modules and not self._closed:
            try:
                await asyncio.to_thread(_import_aiohttp)
            except RuntimeError as exc:  # no thread to be had: before anything is sent
                raise ResourceLimitError.of(exc, "to import aiohttp") from exc
        return self._open()

    async def ready(self) -> None:
        """Open the session now (importing aiohttp the first time: a second on a busy
        machine). AsyncClient.submit and generate call it before the journal's intent row is
        written, so a process killed meanwhile leaves no row saying a create may have gone."""
        await self._opened()

    def _open(self) -> Any:
        """The session of the running loop. A session serves the loop it was opened on: when
        that loop has ended (one ``asyncio.run`` after another, a test framework's loop per
        test), a new one is opened on this loop; while it still runs (another thread's), using
        this transport here is an error."""
        if self._closed:
            raise ConfigurationError(
                "this AsyncClient is closed (its close() was called, or its `async with` "
                "ended): nothing was sent; make a new AsyncClient"
            )
        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is not loop:
            assert self._loop is not None
            if not self._loop.is_closed():
                raise ConfigurationError(
                    "this AsyncClient is in use on another event loop (another thread's): an "
                    "AsyncClient serves one running loop at a time; make one client per loop"
                )
            self._session = None  # its loop closed without asyncio.run's clean-up: gone with it
        if self._session is None:
            import aiohttp

            self._loop = loop
            connector = _connector_type()(
                limit=self._limit,
                ssl=True if self._ssl_context is None else self._ssl_context,
            )
            # a proxy's answer to CONNECT is a wait for bytes: bounded as the sync client's is
            # (aiohttp would wait for it for ever)
            connector.tunnel_wait = min(self._timeout, self._connect_timeout)
            self._session = aiohttp.ClientSession(
                trace_configs=_trace_configs(),
                # sock_connect, not connect: aiohttp's `connect` also counts the wait for a
                # free pooled connection, so thousands of tasks in flight would time out queued.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self._connect_timeout, sock_read=self._timeout
                ),
                connector=connector,
            )
            self._ending = _closed_with_loop(self, self._session)
            # Started by hand to its first yield (it awaits nothing before): the loop now holds
            # it, and asyncio.run closes it, and with it the session, before closing the loop.
            with contextlib.suppress(StopIteration):
                self._ending.__anext__().send(None)
        return self._session

    async def send(self, request: HttpRequest) -> HttpResponse:
        try:
            session = await self._opened()
        except BaseException as exc:
            # cancelled (or Ctrl-C) while the session opened (aiohttp's first import, on a
            # thread): not a byte was written, a create made nothing (an outside tester's
            # AsyncClient.generate cancelled at 0.1 s was left "outcome unknown")
            if not isinstance(exc, Exception):
                mark_unsent(exc)
            raise
        import aiohttp

        limit = self._max_answer_bytes
        progress = _Progress()
        marker = _IN_PROGRESS.set(progress)
        try:
            async with asyncio.timeout(request.timeout):  # the whole exchange, answer included
                async with session.request(
                    request.method,
                    request.url,
                    data=_payload(request.body),
                    headers=request.headers,  # aiohttp copies them
                    allow_redirects=False,
                    proxy=self._proxies.for_url(request.url),
                    **self._silence(request),
                ) as response:
                    progress.answered = True  # its head came: the request reached KIE
                    declared = response.content_length
                    if declared is not None and declared > limit:
                        raise oversized(limit, what(request), request.task_id)
                    if declared is not None and "Content-Encoding" not in response.headers:
                        # as declared: the parser stops at the length the answer promised
                        body = await response.read()
                    else:
                        # Counted as read (a compressed answer may grow past what it
                        # declared), in chunks of a bounded size however it was compressed
                        read = response.content.read
                        parts: list[bytes] = []
                        size = 0
                        while chunk := await read(CHUNK):
                            size += len(chunk)
                            if size > limit:
                                raise oversized(limit, what(request), request.task_id)
                            parts.append(chunk)
                        body = b"".join(parts)
                    headers = lower(response.headers.items())
                    answer = HttpResponse(response.status, body, response.reason or "", headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            words = in_words(exc)
            if type(exc) is TimeoutError and not progress.connected:
                words = "no connection in time"  # the deadline came in the pool's queue
            if self._closed:  # its connection was closed by us, not by the server
                words = _CLOSED_IN_FLIGHT
            failure = proxy_failure(
                what(request),
                exc,
                "" if progress.answered else self._proxies.named(request.url),
                task_id=request.task_id,
                # Whatever failed before a connection was in hand (the wait for a free pooled
                # one, DNS, connect, the proxy's tunnel, the TLS handshake, a timeout in any of
                # them) failed before a byte of the request was written: it never left
                maybe_sent=progress.connected,
                words=words,
            )
            failure.answered = progress.answered
            raise failure from exc
        except BaseException as exc:  # the caller's cancellation (its timeout, a TaskGroup)
            if not progress.connected:  # in the pool's queue, or connecting: nothing written
                mark_unsent(exc)
            raise
        finally:
            _IN_PROGRESS.reset(marker)
        if answer.status == PROXY_AUTH or answer.status in PROXY_GATEWAY:
            # a plain-http proxy's own answer, maybe (kie-api.md §1: KIE's codes are the body's)
            named = self._proxies.named(request.url)
            answer = forwarded(what(request), answer, named, request.task_id)
        return answer

    async def fetch(self, fetch: Fetch) -> Path:
        """Stream one result file to disk, on the event loop; a large one on a thread.

        An answer that declares :data:`LARGE_FILE` bytes or more is left unread, and the file is
        asked for again by :meth:`Urllib3Transport.fetch` on a thread of its own, with the same
        checks, bounds and errors: a blocking read into a large buffer moves a big file at about
        curl's pace where aiohttp's stream takes some 1.5 times the CPU per byte, and its writes
        to disk never hold up the loop (tools/bench/downloads.py). A small file stays on the loop,
        where handing it to a thread would cost more than reading it. A cancellation of a
        thread's download is raised at once; the thread stops at its next chunk (a stalled host:
        by the read timeout), removes its temporary file and renames nothing into place."""
        session = await self._opened()
        import aiohttp

        started = time.monotonic()
        with Download(fetch) as download:
            hops = [fetch.url]  # the link, then where it redirects
            try:
                async with asyncio.timeout(fetch.timeout):  # the whole file, however it trickles
                    async with await self._follow(session, download, hops) as response:
                        headers = lower(response.headers.items())
                        if _large(response.status, headers):
                            response.close()  # unread: its connection is not reused
                        else:
                            self._begin(download, response.status, headers, hops[-1])
                            # Each piece as it came, not cut to a size: iter_chunked copies them
                            async for chunk in response.content.iter_any():
                                download.write(chunk)
                            return download.finish()
            except (aiohttp.ClientError, TimeoutError) as exc:
                if download.late():
                    raise download.timed_out() from exc
                named = self._proxies.named(hops[-1])
                if named and proxy_status(exc) == PROXY_AUTH:
                    raise refused_download(download, named) from exc
                through = f", through {named}" if named else ""
                raise download.error(f"download failed: {in_words(exc)}{through}") from exc
        if fetch.timeout is not None:  # the time the first answer took counts
            fetch = attrs.evolve(
                fetch, timeout=max(fetch.timeout - (time.monotonic() - started), 0)
            )
        return await self._fetch_large(fetch)

    async def _follow(self, session: Any, download: Download, hops: list[str]) -> Any:
        """The answer to a result link's GET, its redirects followed (up to 10); ``hops`` gets
        each URL asked. Each hop goes through the proxy its own URL takes (loopback and
        NO_PROXY's hosts straight): aiohttp's own following sends every hop through the
        first one's (README, "Proxies and TLS")."""
        for _ in range(MAX_REDIRECTS + 1):
            url = hops[-1]
            # A large read buffer: the socket is paused and resumed less often.
            response = await session.get(
                url,
                read_bufsize=DOWNLOAD_READ,
                allow_redirects=False,
                proxy=self._proxies.for_url(url),
            )
            location = response.headers.get("Location") if response.status in REDIRECTS else None
            if not location:
                return response
            response.release()
            hops.append(next_hop(url, location, download))
        raise download.error("download failed: too many redirects (a redirect loop?)")

    def _begin(self, download: Download, status: int, headers: dict[str, str], url: str) -> None:
        """:meth:`Download.begin`, with a proxy's 407 and 5xx told as the proxy's."""
        named = "" if status == 200 else self._proxies.named(url)
        if named and status == PROXY_AUTH:
            raise refused_download(download, named)
        try:
            download.begin(status, headers)
        except DownloadError as exc:
            if named and exc.http_status in PROXY_GATEWAY:
                exc.message += f" (from {named}, or the host behind it)"
            raise

    async def _fetch_large(self, fetch: Fetch) -> Path:
        if self._file_threads is None:
            # threads made as downloads need them, as many as the session has connections
            self._file_threads = ThreadPoolExecutor(
                self._file_limit, thread_name_prefix="kiekit-file"
            )
        stop = threading.Event()
        try:
            job = self._file_threads.submit(self._fetch_on_thread, fetch, stop)
        except RuntimeError as exc:  # no thread to be had (a memory cap); the fetch queued
            stop.set()  # anyway lets the file go, should a thread of the pool take it
            raise ResourceLimitError.of(exc, "to download a file", task_id=fetch.task_id) from exc
        try:
            return await asyncio.wrap_future(job)
        except BaseException:
            stop.set()  # a cancellation (or the loop closing): the thread lets the file go
            raise

    def _fetch_on_thread(self, fetch: Fetch, stop: threading.Event) -> Path:
        with self._files_made:
            if self._files is None:  # made here: importing urllib3 does not hold up the loop
                self._files = Urllib3Transport(
                    timeout=self._timeout,
                    connect_timeout=self._connect_timeout,
                    maxsize=self._file_limit,
                    proxy=self._proxy,
                    trust_env=self._trust_env,
                    ssl_context=self._ssl_context,
                )
            files = self._files
        return files.fetch(fetch, stop=stop)

    async def upload(self, upload: StreamUpload) -> HttpResponse:
        chunks = upload_chunks(upload)
        # aiohttp turns whatever the body raises into a network error (ClientConnectionError,
        # or ClientOSError for an OSError), so a local file that could not be read is kept
        # here and raised as it is: it is not the connection's fault, nor cured by a retry.
        local: list[FileReadError] = []

        async def body() -> AsyncIterator[bytes]:
            try:
                for chunk in chunks:  # small chunks from local disk or memory
                    yield chunk
            except FileReadError as exc:
                local.append(exc)
                raise

        session = await self._opened()
        import aiohttp

        try:
            # With Content-Length given, aiohttp streams the generator as is, not chunked.
            async with session.post(
                upload.url,
                data=body(),
                headers=dict(upload.headers),
                allow_redirects=False,
                proxy=self._proxies.for_url(upload.url),
            ) as response:
                answer = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            if local:
                raise local[0] from local[0].__cause__
            named = self._proxies.named(upload.url)
            raise proxy_failure(f"POST {where(upload.url)}", exc, named) from exc
        finally:
            chunks.close()  # the file, when aiohttp stopped short of the body's end
        if local:  # the host answered a body cut short: the local failure is the news
            raise local[0] from local[0].__cause__
        reply = HttpResponse(
            response.status, answer, response.reason or "", lower(response.headers.items())
        )
        if reply.status == PROXY_AUTH or reply.status in PROXY_GATEWAY:
            reply = forwarded(f"POST {where(upload.url)}", reply, self._proxies.named(upload.url))
        return reply

    async def stream(self, request: HttpRequest) -> AsyncByteStream:
        """Send ``request`` and read the answer as it arrives (a chat's server-sent events)."""
        session = await self._opened()
        import aiohttp

        # A stream that may be silent long waits for its bytes up to its deadline, not past it
        ends = None
        if request.long_silence and request.timeout is not None:
            ends = asyncio.get_running_loop().time() + request.timeout
        progress = _Progress()
        marker = _IN_PROGRESS.set(progress)
        try:
            async with asyncio.timeout_at(ends):
                response = await session.request(
                    request.method,
                    request.url,
                    data=request.body,
                    headers=dict(request.headers),
                    allow_redirects=False,
                    proxy=self._proxies.for_url(request.url),
                    **self._silence(request),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            if ends is not None and isinstance(exc, TimeoutError):
                raise late(request) from exc
            words = in_words(exc)
            if self._closed:
                words = _CLOSED_IN_FLIGHT
            named = self._proxies.named(request.url)
            raise proxy_failure(
                what(request), exc, named, maybe_sent=progress.connected, words=words
            ) from exc
        finally:
            _IN_PROGRESS.reset(marker)
        if response.status == PROXY_AUTH and (named := self._proxies.named(request.url)):
            response.release()  # a plain-http proxy's own answer, as send()'s
            raise proxy_refused(what(request), named, request.task_id)
        return _AiohttpStream(response, request, ends)

    def _silence(self, request: HttpRequest) -> dict[str, Any]:
        """The options of a request whose answer may be silent long: the session's read
        timeout lifted (its deadline, an ``asyncio.timeout``, bounds the wait); none for
        any other request, which keeps the session's."""
        if not request.long_silence or request.timeout is None:
            return {}
        import aiohttp

        return {
            "timeout": aiohttp.ClientTimeout(
                total=None, sock_connect=self._connect_timeout, sock_read=None
            )
        }

    async def close(self) -> None:
        """Close the session and the file threads' pool; calls in flight fail in those words,
        later ones are refused (ConfigurationError)."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._file_threads is not None:
            # no fetch is awaited any more: a thread still running was abandoned (stop is set)
            self._file_threads.shutdown(wait=False, cancel_futures=True)
            self._file_threads = None
        with self._files_made:
            files, self._files = self._files, None
        if files is not None:
            files.close()

    def close_dropped(self) -> bool:
        """Close what is open without awaiting (its AsyncClient was collected without
        ``close()``): the session's pooled connections closed in place, as aiohttp's own
        finalizer does (on the session's loop, when that runs in another thread), so that
        aiohttp warns of neither its session nor its connector; the file threads and pool let
        go. True when a session was open (the caller warns of it once). Never blocks."""
        session, self._session = self._session, None
        self._closed = True
        if self._file_threads is not None:
            self._file_threads.shutdown(wait=False, cancel_futures=True)
            self._file_threads = None
        files, self._files = self._files, None
        if files is not None:
            files.close()
        if session is None or session.closed:
            return False
        loop = self._loop
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if loop is not None and here is not loop and loop.is_running():
            with contextlib.suppress(RuntimeError):  # closed meanwhile: closed here, below
                loop.call_soon_threadsafe(_close_pool, session)  # holds it until then
                return True
        _close_pool(session)
        return True


_CLOSED_IN_FLIGHT = "the AsyncClient was closed while the call was in flight"


def _close_pool(session: Any) -> None:
    """Close ``session``'s pooled connections without awaiting, as aiohttp's own finalizer
    does (``BaseConnector._close``, sync in aiohttp 3; without it aiohttp warns, as before)."""
    close = getattr(session.connector, "_close", None)
    if close is not None:
        with contextlib.suppress(Exception):  # a finalizer's: nothing may escape
            close()


def _import_aiohttp() -> None:
    import aiohttp  # noqa: F401 - imported for its side effect: loaded, off the loop


class _Progress:
    """How far one request got: ``connected`` once aiohttp handed it a connection (pooled or
    new), just before it writes the request on it; set by :func:`_connector_type`'s connector.
    ``answered`` once the answer's head was read."""

    __slots__ = ("answered", "connected")

    def __init__(self) -> None:
        self.connected = False
        self.answered = False


# The request the running task is sending (AiohttpTransport.send), for the connector to mark
_IN_PROGRESS: ContextVar[_Progress | None] = ContextVar("kiekit_request", default=None)


@functools.cache
def _connector_type() -> Any:
    """aiohttp's TCPConnector, marking the calling task's request connected once the pool or a
    new connection gives it one: the line between "never left" and "may have been sent"
    (AiohttpTransport.send). It stands in for aiohttp's trace signals, which build their
    parameters for every signal of every request whether listened to or not: some 0.14 ms of
    CPU per task of four requests, 18 % of a bare aiohttp loop's (tools/bench target 1)."""
    import aiohttp

    class Connector(aiohttp.TCPConnector):
        # the longest wait for a proxy's answer to CONNECT (AiohttpTransport sets it)
        tunnel_wait: float | None = None

        async def connect(self, *args: Any, **kwargs: Any) -> Any:
            connection = await super().connect(*args, **kwargs)
            progress = _IN_PROGRESS.get()
            if progress is not None:  # None: a request not sent by send() (a file, a stream)
                progress.connected = True
            return connection

        # aiohttp waits for a proxy's answer to CONNECT with no bound at all (not sock_read,
        # not sock_connect): a proxy that takes the connection and says nothing held a call
        # for its whole retry deadline. The wait is bounded here, between the proxy's socket
        # (_create_direct_connection, bounded by sock_connect) and the TLS handshake through
        # the tunnel (_start_tls_connection, bounded by sock_connect too).
        async def _create_proxy_connection(self, req: Any, *args: Any, **kwargs: Any) -> Any:
            if self.tunnel_wait is None or not req.is_ssl():  # plain http: no tunnel
                return await super()._create_proxy_connection(req, *args, **kwargs)
            bound = asyncio.timeout(None)  # set once the proxy's socket is open
            try:
                async with bound:
                    marker = _TUNNEL.set(bound)
                    try:
                        return await super()._create_proxy_connection(req, *args, **kwargs)
                    finally:
                        _TUNNEL.reset(marker)
            except TimeoutError as exc:
                if bound.expired():
                    raise TunnelStalled(tunnel_stalled(self.tunnel_wait)) from exc
                raise

        async def _create_direct_connection(self, *args: Any, **kwargs: Any) -> Any:
            made = await super()._create_direct_connection(*args, **kwargs)
            bound = _TUNNEL.get()
            if (
                bound is not None
                and kwargs.get("client_error") is aiohttp.ClientProxyConnectionError
            ):
                # the proxy's socket is open: the CONNECT exchange starts now
                bound.reschedule(asyncio.get_running_loop().time() + (self.tunnel_wait or 0))
            return made

        async def _start_tls_connection(self, *args: Any, **kwargs: Any) -> Any:
            bound = _TUNNEL.get()
            if bound is not None:  # the proxy answered: the handshake has its own bound
                bound.reschedule(None)
            return await super()._start_tls_connection(*args, **kwargs)

    return Connector


# The bound of the CONNECT exchange under way in this task (Connector._create_proxy_connection)
_TUNNEL: ContextVar[asyncio.Timeout | None] = ContextVar("kiekit_tunnel", default=None)


def _trace_configs() -> list[Any]:
    """The trace configs of a new session: none (see :func:`_connector_type`); a seam for
    tests that watch aiohttp's signals, such as its pool's queue."""
    return []


async def _closed_with_loop(transport: AiohttpTransport, session: Any) -> AsyncIterator[None]:
    """Waits for its loop's end (``loop.shutdown_asyncgens``, which ``asyncio.run`` calls),
    then closes ``session`` on that loop, so the connections close cleanly with it."""
    try:
        yield
    finally:
        if transport._session is session:
            transport._session = None
        await session.close()


class _AiohttpStream:
    """A streamed answer; with ``ends`` (the loop's time), each wait for bytes lasts until
    then at most, so a silent stream ends at its deadline, as one that trickles does."""

    def __init__(self, response: Any, request: HttpRequest, ends: float | None) -> None:
        self._response = response
        self._request = request
        self._ends = ends
        self.head = StreamHead(
            response.status, response.reason or "", response.headers.get("Content-Type", "")
        )

    async def read(self) -> bytes:
        import aiohttp

        try:
            async with asyncio.timeout_at(self._ends):
                return bytes(await self._response.content.readany())
        except (aiohttp.ClientError, TimeoutError) as exc:
            if self._ends is not None and isinstance(exc, TimeoutError):
                raise late(self._request) from exc
            raise TransportError(
                f"{what(self._request)}: the stream broke: {in_words(exc)}"
            ) from exc

    async def close(self) -> None:
        self._response.release()
