"""``Urllib3Transport``: the blocking transport of ``Client``, on a urllib3 pool."""

from __future__ import annotations

import contextlib
import functools
import re
import socket
import ssl  # for the annotations: urllib3 imports it anyway
import threading
import time
import weakref
from pathlib import Path
from typing import Any

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
    MAX_ANSWER_BYTES,
    MAX_REDIRECTS,
    PROXY_AUTH,
    PROXY_GATEWAY,
    REDIRECTS,
    STREAM_CHUNK,
    ByteStream,
    NotConnected,
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
from kiekit._transports.proxies import Proxies, proxy_credentials, without_credentials
from kiekit.errors import ConfigurationError, DownloadError, StreamClosedError, TransportError

# A download's read size here. Each read1() allocates a new bytes object of this size, and
# glibc serves one of 1 MiB with a fresh mmap whenever the reads before it came back smaller
# (its mmap threshold follows the size of what was freed), so every byte of the file cost a
# page fault: 0.8 s of CPU a GB against 0.45-0.5 at this size, which the heap serves.
SOCKET_READ = 256 * 1024


class Urllib3Transport:
    """Blocking transport on a urllib3 pool; it never retries on its own (the client decides).

    ``timeout`` bounds each wait for bytes; a request's own ``timeout`` (its deadline) bounds
    the whole exchange; ``max_answer_bytes`` caps an API answer read into memory.

    ``proxy`` / ``trust_env``: the proxy of every call (:mod:`kiekit._transports.proxies`: the
    environment's ``HTTPS_PROXY`` … by default, never for loopback). ``ssl_context``: the TLS
    settings of every https connection, e.g. ``ssl.create_default_context(cafile=...)`` for a
    private CA (default: urllib3's, which trusts the system's CAs, or ``SSL_CERT_FILE``)."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        maxsize: int = 10,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        proxy: str | None = None,
        trust_env: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ):
        import urllib3

        timeout = check_seconds("timeout", timeout)
        connect_timeout = check_seconds("connect_timeout", connect_timeout)
        self._ssl_context = checked_context(ssl_context)
        self._proxies = Proxies(proxy, trust_env=trust_env)
        self._urllib3 = urllib3
        self._errors = (urllib3.exceptions.HTTPError, NotConnected)
        # raised only while connecting (a refused socket, DNS, the TLS handshake, the proxy):
        # the request never left
        self._unsent = (
            urllib3.exceptions.ConnectTimeoutError,
            urllib3.exceptions.ProxyError,
            NotConnected,
        )
        self._read_timeout = timeout
        self._connect_timeout = connect_timeout
        self._max_answer_bytes = max_answer_bytes
        self._full_timeout = urllib3.Timeout(connect=connect_timeout, read=timeout)
        self._longest = max(connect_timeout, timeout)
        self._tunnel_wait = min(connect_timeout, timeout)  # a proxy's answer to CONNECT
        self._maxsize = maxsize
        # a PoolManager per proxy (None: straight), made as URLs need them
        self._managers: dict[str | None, Any] = {None: self._manager(None)}
        self._managers_made = threading.Lock()
        # the streams open (a chat's), cut by close() even while a thread waits on one
        self._streams: weakref.WeakSet[_Urllib3Stream] = weakref.WeakSet()
        # API calls go to one or two hosts: a pool of each, found by the URL's origin, spares
        # every call the PoolManager's URL parsing and pool lookup (15 % of a call's work)
        self._origins: dict[str, Any] = {}
        self._origins_made = threading.Lock()
        # what retries=False, redirect=False make on every call (Retry.from_int), made once
        self._no_retry = urllib3.Retry(False, redirect=False)
        # CDNs redirect result links; API calls never follow redirects, downloads do (_follow)

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

    def _manager(self, proxy: str | None) -> Any:
        """A PoolManager whose connections go straight (``proxy`` None) or through ``proxy``,
        each connection telling a failed handshake apart (:func:`_pool_classes`)."""
        urllib3 = self._urllib3
        options: dict[str, Any] = {
            "maxsize": self._maxsize,
            "retries": False,
            "timeout": self._full_timeout,
        }
        if self._ssl_context is not None:
            options["ssl_context"] = self._ssl_context
        if proxy is None:
            manager = urllib3.PoolManager(**options)
        else:
            credentials = proxy_credentials(proxy)  # user:password, percent-decoded
            headers = None
            if credentials is not None:
                # in the CONNECT of an https call, and in each call forwarded to an http host;
                # spelt as aiohttp and RFC 9110 §11.7.2 do (urllib3's is all lower case,
                # which HTTP allows, but a strict proxy may not, and logs show it as sent)
                basic = urllib3.make_headers(proxy_basic_auth=credentials)
                headers = {"Proxy-Authorization": basic["proxy-authorization"]}
            manager = urllib3.ProxyManager(
                without_credentials(proxy),
                proxy_headers=headers,
                proxy_ssl_context=self._ssl_context,  # a private CA signs the proxy's too
                **options,
            )
        manager.pool_classes_by_scheme = _pool_classes(self._tunnel_wait)
        return manager

    def _manager_for(self, url: str) -> Any:
        """The PoolManager for ``url``: straight, or through its proxy."""
        proxy = self._proxies.for_url(url)
        manager = self._managers.get(proxy)
        if manager is None:
            with self._managers_made:
                if proxy not in self._managers:
                    self._managers[proxy] = self._manager(proxy)
                manager = self._managers[proxy]
        return manager

    def _open(self, request: HttpRequest, **options: Any) -> Any:
        """Send ``request`` (never following a redirect); its answer's body is read later."""
        url = request.url
        start = url.find("/", url.find("//") + 2)
        origin, target = (url, "/") if start < 0 else (url[:start], url[start:])
        pool = self._origins.get(origin) or self._origin_pool(origin)
        if pool is _PROXIED:  # the ProxyManager sends it (the whole URL, the proxy's headers)
            pool, target = self._manager_for(url), url
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
                if self._proxies.for_url(origin) is not None:
                    self._origins[origin] = _PROXIED
                else:
                    self._origins[origin] = self._direct_pool(origin)
            return self._origins[origin]

    def _direct_pool(self, origin: str) -> Any:
        """A pool of its own for one origin (urllib3.connection_from_url, with this
        transport's connections and TLS settings)."""
        scheme, _, host, port, *_ = self._urllib3.util.parse_url(origin)
        scheme = scheme or "http"
        options: dict[str, Any] = {
            "maxsize": self._maxsize,
            "retries": False,
            "timeout": self._full_timeout,
        }
        if scheme == "https" and self._ssl_context is not None:
            options["ssl_context"] = self._ssl_context
        pool_class = _pool_classes()[scheme]
        return pool_class(host, port=port or (443 if scheme == "https" else 80), **options)

    def send(self, request: HttpRequest) -> HttpResponse:
        ends = None if request.timeout is None else time.monotonic() + request.timeout
        try:
            response = self._open(
                request,
                timeout=self._timeout(request.timeout, request.silence_allowed(self._read_timeout)),
            )
        except self._errors as exc:
            raise proxy_failure(
                what(request),
                exc,
                self._proxies.named(request.url),
                task_id=request.task_id,
                # urllib3's ConnectTimeoutError covers refused connections and DNS failures
                # too; a ProxyError is raised only before the proxy was reached, NotConnected
                # by a failed handshake or tunnel: the request never left, so even a create
                # may be sent again (docs/reliability.md)
                maybe_sent=not isinstance(exc, self._unsent),
            ) from exc
        if response.status == PROXY_AUTH and (named := self._proxies.named(request.url)):
            response.close()  # a plain-http proxy's own answer: not KIE's code (kie-api.md §1)
            raise proxy_refused(what(request), named, request.task_id)
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
                    raise late(request, answered=True)
        except self._urllib3.exceptions.HTTPError as exc:
            response.close()
            raise TransportError(
                f"{what(request)}: reading the answer failed: {in_words(exc)}",
                task_id=request.task_id,
                answered=True,  # its head came: the request reached KIE
            ) from exc
        except BaseException:
            response.close()  # not back into the pool with an answer half read
            raise
        response.release_conn()
        answer = HttpResponse(response.status, b"".join(parts), response.reason or "", headers)
        if response.status in PROXY_GATEWAY:  # the proxy's, maybe: named in its reason
            named = self._proxies.named(request.url)
            answer = forwarded(what(request), answer, named, request.task_id)
        return answer

    def fetch(self, fetch: Fetch, *, stop: threading.Event | None = None) -> Path:
        """Stream one result file to disk. ``stop``, set from another thread, abandons the
        download at its next chunk (its temporary file removed, nothing renamed into place):
        how ``AiohttpTransport``, which runs this on a thread, hands on a cancellation."""
        # No Authorization header: result links are public CDN URLs, and the key must not
        # travel to hosts other than KIE's API.
        with Download(fetch) as download:
            hops = [fetch.url]  # the link, then where it redirects
            try:
                response = self._follow(fetch, download, hops)
                try:
                    self._begin(download, response, hops[-1])
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
            except self._errors as exc:
                if download.late():
                    raise download.timed_out() from exc
                named = self._proxies.named(hops[-1])
                if named and proxy_status(exc) == PROXY_AUTH:
                    raise refused_download(download, named) from exc
                through = f", through {named}" if named else ""
                raise download.error(f"download failed: {in_words(exc)}{through}") from exc
            if stop is not None and stop.is_set():  # cancelled after its last chunk came
                raise download.error("download abandoned: cancelled", curable=False)
            return download.finish()

    def _follow(self, fetch: Fetch, download: Download, hops: list[str]) -> Any:
        """The answer to ``fetch``'s GET, its redirects followed (up to 10: CDNs and object
        stores redirect); ``hops`` gets each URL asked, the last the answer's. Each hop is
        sent as a request of its own,
        through the proxy its own URL takes (loopback and NO_PROXY's hosts straight) and with
        its own host in ``Host``: urllib3's own following kept the first hop's proxy and
        Host header (README, "Proxies and TLS")."""
        for _ in range(MAX_REDIRECTS + 1):
            url = hops[-1]
            response = self._manager_for(url).request(
                "GET",
                url,
                preload_content=False,
                redirect=False,
                retries=self._no_retry,
                timeout=self._timeout(fetch.timeout),
            )
            location = response.get_redirect_location() if response.status in REDIRECTS else None
            if not location:
                return response
            response.drain_conn()
            response.release_conn()
            hops.append(next_hop(url, location, download))
        raise download.error("download failed: too many redirects (a redirect loop?)")

    def _begin(self, download: Download, response: Any, url: str) -> None:
        """:meth:`Download.begin`, with a proxy's 407 and 5xx told as the proxy's."""
        named = "" if response.status == 200 else self._proxies.named(url)
        if named and response.status == PROXY_AUTH:
            raise refused_download(download, named)
        try:
            download.begin(response.status, _lowered(response.headers))
        except DownloadError as exc:
            if named and exc.http_status in PROXY_GATEWAY:
                exc.message += f" (from {named}, or the host behind it)"
            raise

    def upload(self, upload: StreamUpload) -> HttpResponse:
        # A generator body with a Content-Length header: urllib3 sends it piece by piece as it
        # is read, not chunked-encoded (some upload hosts refuse chunked bodies).
        chunks = upload_chunks(upload)
        try:
            response = self._manager_for(upload.url).request(
                "POST",
                upload.url,
                body=chunks,
                headers=dict(upload.headers),
                redirect=False,
                chunked=False,
            )
        except (*self._errors, OSError) as exc:
            # (a local file that cannot be read is a FileReadError from the chunks: urllib3
            # lets it through as it is)
            named = self._proxies.named(upload.url)
            raise proxy_failure(f"POST {where(upload.url)}", exc, named) from exc
        finally:
            chunks.close()  # the file, when the body was not read to its end
        answer = HttpResponse(
            response.status, response.data, response.reason or "", _lowered(response.headers)
        )
        if answer.status == PROXY_AUTH or answer.status in PROXY_GATEWAY:
            answer = forwarded(f"POST {where(upload.url)}", answer, self._proxies.named(upload.url))
        return answer

    def stream(self, request: HttpRequest) -> ByteStream:
        """Send ``request`` and read the answer as it arrives (a chat's server-sent events)."""
        described = what(request)
        ends = None if request.timeout is None else time.monotonic() + request.timeout
        try:
            response = self._open(
                request,
                timeout=self._timeout(request.timeout, request.silence_allowed(self._read_timeout)),
            )
        except self._errors as exc:
            raise proxy_failure(
                described,
                exc,
                self._proxies.named(request.url),
                maybe_sent=not isinstance(exc, self._unsent),  # as send()'s
            ) from exc
        if response.status == PROXY_AUTH and (named := self._proxies.named(request.url)):
            response.close()  # a plain-http proxy's own answer, as send()'s
            raise proxy_refused(described, named, request.task_id)
        # A stream that may be silent long waits for its bytes up to its deadline, not past it
        ends = ends if request.long_silence else None
        stream = _Urllib3Stream(response, request, self._urllib3.exceptions.HTTPError, ends)
        with self._managers_made:
            self._streams.add(stream)
        return stream

    def close(self) -> None:
        """Close the pools; a stream still being read (in another thread) is cut, its wait
        ending in a TransportError."""
        with self._managers_made:
            streams, self._streams = list(self._streams), weakref.WeakSet()
        for stream in streams:
            stream.abort()
        with self._managers_made:
            managers = list(self._managers.values())
        for manager in managers:
            manager.clear()
        with self._origins_made:
            pools, self._origins = list(self._origins.values()), {}
        for pool in pools:
            if pool is not _PROXIED:
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
        self._aborted = False
        self.head = StreamHead(
            response.status, response.reason or "", response.headers.get("content-type", "")
        )

    def read(self) -> bytes:
        if self._ends is not None:
            self._wait_until(self._ends)
        try:
            # read1: whatever has arrived, so each event reaches the user as it is sent
            chunk = bytes(self._response.read1(STREAM_CHUNK))
        except Exception as exc:
            if self._aborted:  # its socket shut down under it: whatever that raised
                raise self._closed() from exc
            if not isinstance(exc, self._errors):
                raise
            if self._ends is not None and time.monotonic() >= self._ends:
                raise late(self._request) from exc
            raise TransportError(
                f"{what(self._request)}: the stream broke: {in_words(exc)}"
            ) from exc
        if self._aborted:  # an end, but only that of the shut-down socket
            raise self._closed()
        self._ended = not chunk
        return chunk

    def abort(self) -> None:
        """From another thread: shut the connection down, so that a read waiting on it ends
        now (closing a socket does not wake a thread blocked on it; shutting it down does)."""
        self._aborted = True
        connection = self._response.connection
        sock = None if connection is None else getattr(connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def _closed(self) -> StreamClosedError:
        return StreamClosedError(
            f"{what(self._request)}: the stream was closed while it was read (its close(), "
            "or its client's)",
            retryable=False,
            answered=True,
        )

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


# An origin whose calls go through a proxy: its ProxyManager sends them (_open)
_PROXIED: Any = object()


def checked_context(context: object) -> ssl.SSLContext | None:
    """``ssl_context`` as given, or ConfigurationError for anything but an SSLContext (a CA
    file's path is ``ssl.create_default_context(cafile=path)``)."""
    import ssl

    if context is not None and not isinstance(context, ssl.SSLContext):
        raise ConfigurationError(
            "ssl_context must be an ssl.SSLContext, e.g. "
            f"ssl.create_default_context(cafile=...), not {type(context).__name__}"
        )
    return context


@functools.cache
def _pool_classes(tunnel_wait: float | None = None) -> dict[str, Any]:
    """urllib3's pool classes, whose connections raise :class:`NotConnected` for a failure
    past the socket: the TLS handshake (with the server, or an https proxy) or a proxy's
    refusal to open a tunnel. urllib3 would wrap those in an SSLError or a ProtocolError that
    are raised as well when a request failed after it was written; raised from connect(),
    before anything of the request, NotConnected tells that nothing was sent.

    ``tunnel_wait``: the longest wait for a proxy's answer to CONNECT (the transport's
    ``timeout``, the longest wait for bytes, when shorter than its connect timeout: a proxy
    that takes the connection and never answers fails as a stalled handshake does)."""
    import urllib3
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.exceptions import HTTPError

    class Connecting:
        def connect(self) -> None:
            # (read now: a refused tunnel closes the connection, which forgets it)
            tunnel = getattr(self, "_tunnel_host", None) is not None
            try:
                super().connect()  # type: ignore[misc]
            except HTTPError:  # urllib3's own (refused, DNS, connect timeout): it says so
                raise
            except NotConnected:  # the tunnel's, below
                raise
            except Exception as exc:  # an ssl error, the tunnel's OSError, a handshake timeout
                raise NotConnected(
                    _connect_words(exc, tunnel=tunnel),
                    proxy_status=_tunnel_status(exc) if tunnel else None,
                ) from exc
            except BaseException as exc:  # a Ctrl-C while connecting: nothing was written yet
                mark_unsent(exc)
                raise

        def _tunnel(self) -> None:
            sock = self.sock  # type: ignore[attr-defined]
            before = sock.gettimeout()
            if tunnel_wait is not None and (before is None or tunnel_wait < before):
                sock.settimeout(tunnel_wait)
            try:
                super()._tunnel()  # type: ignore[misc]
            except TimeoutError as exc:
                raise NotConnected(tunnel_stalled(sock.gettimeout())) from exc
            finally:
                with contextlib.suppress(OSError):  # closed by a refused tunnel
                    sock.settimeout(before)

    class Connection(Connecting, HTTPConnection):
        pass

    class TlsConnection(Connecting, HTTPSConnection):
        pass

    class Pool(urllib3.HTTPConnectionPool):
        ConnectionCls = Connection

    class TlsPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = TlsConnection

    return {"http": Pool, "https": TlsPool}


def _tunnel_status(exc: BaseException) -> int | None:
    """The proxy's status in http.client's words for a refused CONNECT ("Tunnel connection
    failed: 407 Proxy Authentication Required"): no other field holds it."""
    found = re.match(r"Tunnel connection failed: (\d{3})\b", str(exc))
    return int(found.group(1)) if found else None


def _connect_words(exc: BaseException, *, tunnel: bool) -> str:
    import ssl

    if isinstance(exc, TimeoutError):
        return "no connection in time (the TLS handshake or the proxy did not answer)"
    if type(exc) is OSError and tunnel:
        # http.client's words for the proxy's answer to CONNECT ("Tunnel connection failed:
        # 407 Proxy Authentication Required"): no other field holds the status
        return f"the proxy would not open a tunnel: {exc}"
    if isinstance(exc, ssl.SSLError) or type(exc).__name__ == "CertificateError":
        return in_words(exc)
    return f"could not connect: {in_words(exc)}"
