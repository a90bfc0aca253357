"""``Urllib3Transport``: the blocking transport of ``Client``, on a urllib3 pool."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from kiekit._engine import Fetch, HttpRequest, HttpResponse, StreamHead, StreamUpload
from kiekit._transports.base import (
    CHUNK,
    MAX_ANSWER_BYTES,
    STREAM_CHUNK,
    ByteStream,
    declared_length,
    in_words,
    late,
    lower,
    oversized,
    upload_chunks,
    what,
    where,
)
from kiekit._transports.download import Download
from kiekit.errors import TransportError

# A download's read size here. Each read1() allocates a new bytes object of this size, and
# glibc serves one of 1 MiB with a fresh mmap whenever the reads before it came back smaller
# (its mmap threshold follows the size of what was freed), so every byte of the file cost a
# page fault: 0.8 s of CPU a GB against 0.45-0.5 at this size, which the heap serves.
SOCKET_READ = 256 * 1024


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
        self._full_timeout = urllib3.Timeout(connect=connect_timeout, read=timeout)
        self._longest = max(connect_timeout, timeout)
        self._pool = urllib3.PoolManager(
            maxsize=maxsize,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=timeout),
        )
        self._maxsize = maxsize
        # API calls go to one or two hosts: a pool of each, found by the URL's origin, spares
        # every call the PoolManager's URL parsing and pool lookup (15 % of a call's work)
        self._origins: dict[str, Any] = {}
        self._origins_made = threading.Lock()
        # what retries=False, redirect=False make on every call (Retry.from_int), made once
        self._no_retry = urllib3.Retry(False, redirect=False)
        # CDNs redirect result links; API calls never follow redirects, downloads do (as aiohttp).
        self._follow_redirects = urllib3.Retry(
            total=10, connect=0, read=0, status=0, other=0, redirect=10
        )

    def _timeout(self, seconds: float | None, read: float | None = None) -> Any:
        """urllib3's timeouts for an exchange that may take ``seconds`` in all, waiting up to
        ``read`` for bytes (None: the read timeout; without ``seconds``, always it)."""
        read = self._read_timeout if read is None else read
        if seconds is None or (seconds >= self._longest and read == self._read_timeout):
            return self._full_timeout  # most calls: made once (urllib3 clones it)
        seconds = max(seconds, 0.001)
        return self._urllib3.Timeout(
            connect=min(self._connect_timeout, seconds), read=min(read, seconds)
        )

    def _open(self, request: HttpRequest, **options: Any) -> Any:
        """Send ``request`` (never following a redirect); its answer's body is read later."""
        url = request.url
        start = url.find("/", url.find("//") + 2)
        origin, target = (url, "/") if start < 0 else (url[:start], url[start:])
        pool = self._origins.get(origin) or self._origin_pool(origin)
        return pool.urlopen(
            request.method,
            target,
            body=request.body,
            headers=dict(request.headers),
            redirect=False,
            retries=self._no_retry,
            preload_content=False,
            **options,
        )

    def _origin_pool(self, origin: str) -> Any:
        with self._origins_made:
            if origin not in self._origins:
                self._origins[origin] = self._urllib3.connection_from_url(
                    origin, maxsize=self._maxsize, retries=False, timeout=self._full_timeout
                )
            return self._origins[origin]

    def send(self, request: HttpRequest) -> HttpResponse:
        ends = None if request.timeout is None else time.monotonic() + request.timeout
        try:
            response = self._open(
                request,
                timeout=self._timeout(request.timeout, request.silence_allowed(self._read_timeout)),
            )
        except self._urllib3.exceptions.HTTPError as exc:
            raise TransportError(
                f"{what(request)} failed: {in_words(exc)}",
                task_id=request.task_id,
                # urllib3's ConnectTimeoutError covers refused connections and DNS failures
                # too: the request never left, so even a create may be sent again
                maybe_sent=not isinstance(exc, self._urllib3.exceptions.ConnectTimeoutError),
            ) from exc
        headers = _lowered(response.headers)
        limit = self._max_answer_bytes
        try:
            declared = declared_length(headers)
            if declared is not None and declared > limit:
                raise oversized(limit, what(request), request.task_id)
            # read1: whatever has come, so that the deadline is looked at as the answer drips in
            parts: list[bytes] = []
            size = 0
            # An answer not compressed skips urllib3's decoder and its buffer; of declared
            # length, it ends at that length: no read past it
            decode = "content-encoding" in headers
            whole = None if decode else declared
            while (whole is None or size < whole) and (
                chunk := response.read1(CHUNK, decode_content=decode)
            ):
                size += len(chunk)
                if size > limit:
                    raise oversized(limit, what(request), request.task_id)
                parts.append(chunk)
                if ends is not None and time.monotonic() > ends:
                    raise late(request)
        except self._urllib3.exceptions.HTTPError as exc:
            response.close()
            raise TransportError(
                f"{what(request)}: reading the answer failed: {in_words(exc)}",
                task_id=request.task_id,
            ) from exc
        except BaseException:
            response.close()  # not back into the pool with an answer half read
            raise
        response.release_conn()
        return HttpResponse(response.status, b"".join(parts), response.reason or "", headers)

    def fetch(self, fetch: Fetch, *, stop: threading.Event | None = None) -> Path:
        """Stream one result file to disk. ``stop``, set from another thread, abandons the
        download at its next chunk (its temporary file removed, nothing renamed into place):
        how ``AiohttpTransport``, which runs this on a thread, hands on a cancellation."""
        # No Authorization header: result links are public CDN URLs, and the key must not
        # travel to hosts other than KIE's API.
        with Download(fetch) as download:
            try:
                response = self._pool.request(
                    "GET",
                    fetch.url,
                    preload_content=False,
                    retries=self._follow_redirects,
                    timeout=self._timeout(fetch.timeout),
                )
                try:
                    download.begin(response.status, _lowered(response.headers))
                    # read1: whatever has come, so the deadline is looked at as bytes trickle.
                    # A body sent as is skips urllib3's decoder and its buffer (a copy of it all).
                    decode = download.encoded
                    while chunk := response.read1(SOCKET_READ, decode_content=decode):
                        if stop is not None and stop.is_set():
                            raise download.error("download abandoned: cancelled", curable=False)
                        download.write(chunk)
                except BaseException:
                    response.close()  # not back into the pool with a body half read
                    raise
                response.release_conn()
            except self._urllib3.exceptions.HTTPError as exc:
                if download.late():
                    raise download.timed_out() from exc
                # the redirects' Retry wraps what went wrong in a MaxRetryError: name the cause
                cause = getattr(exc, "reason", None) or exc
                raise download.error(f"download failed: {in_words(cause)}") from exc
            if stop is not None and stop.is_set():  # cancelled after its last chunk came
                raise download.error("download abandoned: cancelled", curable=False)
            return download.finish()

    def upload(self, upload: StreamUpload) -> HttpResponse:
        # A generator body with a Content-Length header: urllib3 sends it piece by piece as it
        # is read, not chunked-encoded (some upload hosts refuse chunked bodies).
        chunks = upload_chunks(upload)
        try:
            response = self._pool.request(
                "POST",
                upload.url,
                body=chunks,
                headers=dict(upload.headers),
                redirect=False,
                chunked=False,
            )
        except (self._urllib3.exceptions.HTTPError, OSError) as exc:
            # (a local file that cannot be read is a FileReadError from the chunks: urllib3
            # lets it through as it is)
            raise TransportError(f"POST {where(upload.url)} failed: {in_words(exc)}") from exc
        finally:
            chunks.close()  # the file, when the body was not read to its end
        return HttpResponse(
            response.status, response.data, response.reason or "", _lowered(response.headers)
        )

    def stream(self, request: HttpRequest) -> ByteStream:
        """Send ``request`` and read the answer as it arrives (a chat's server-sent events)."""
        described = what(request)
        ends = None if request.timeout is None else time.monotonic() + request.timeout
        try:
            response = self._open(
                request,
                timeout=self._timeout(request.timeout, request.silence_allowed(self._read_timeout)),
            )
        except self._urllib3.exceptions.HTTPError as exc:
            raise TransportError(f"{described} failed: {in_words(exc)}") from exc
        # A stream that may be silent long waits for its bytes up to its deadline, not past it
        ends = ends if request.long_silence else None
        return _Urllib3Stream(response, request, self._urllib3.exceptions.HTTPError, ends)

    def close(self) -> None:
        self._pool.clear()
        with self._origins_made:
            pools, self._origins = list(self._origins.values()), {}
        for pool in pools:
            pool.close()


class _Urllib3Stream:
    """A streamed answer; with ``ends`` (a monotonic time), each wait for bytes lasts until
    then at most, so a silent stream ends at its deadline, as one that trickles does."""

    def __init__(
        self, response: Any, request: HttpRequest, errors: type[Exception], ends: float | None
    ) -> None:
        self._response = response
        self._request = request
        self._errors = errors
        self._ends = ends
        self._ended = False  # read to its end: its connection may serve another request
        self.head = StreamHead(
            response.status, response.reason or "", response.headers.get("content-type", "")
        )

    def read(self) -> bytes:
        if self._ends is not None:
            self._wait_until(self._ends)
        try:
            # read1: whatever has arrived, so each event reaches the user as it is sent
            chunk = bytes(self._response.read1(STREAM_CHUNK))
        except self._errors as exc:
            if self._ends is not None and time.monotonic() >= self._ends:
                raise late(self._request) from exc
            raise TransportError(
                f"{what(self._request)}: the stream broke: {in_words(exc)}"
            ) from exc
        self._ended = not chunk
        return chunk

    def _wait_until(self, ends: float) -> None:
        """The socket's wait for bytes, cut to the time left (urllib3 set it once, when the
        request was sent)."""
        connection = self._response.connection
        sock = None if connection is None else getattr(connection, "sock", None)
        if sock is not None:
            sock.settimeout(max(ends - time.monotonic(), 0.001))

    def close(self) -> None:
        if not self._ended:
            # Stopped early: the rest of the stream is still coming on this connection, so it
            # is closed, not handed back to the pool for the next call to read it (the pool
            # opens a new one in its place)
            self._response.close()
        self._response.release_conn()


def _lowered(headers: Any) -> dict[str, str]:
    """An answer's headers by lower-cased name (the last of a repeated one), as ``lower`` makes
    them. urllib3's HTTPHeaderDict keeps them so already (``_container``: lower-cased name ->
    [name as sent, *values]): read from there, they cost a fifth of going through its items(),
    a generator that lower-cases each name again (a few µs of every API call)."""
    table = getattr(headers, "_container", None)
    if type(table) is dict:
        return {name: values[-1] for name, values in table.items()}
    return lower(headers.items())
