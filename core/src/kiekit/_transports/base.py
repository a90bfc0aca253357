"""What every transport shares: the two protocols, byte streams, and the answer helpers.

A transport moves bytes for the engine's ops (:mod:`kiekit._engine`): it sends one
:class:`HttpRequest`, streams one :class:`Fetch` to disk, streams one :class:`StreamUpload`
from disk or memory, and opens a streamed answer. Network failures become
:class:`~kiekit.errors.TransportError` in the transports and nowhere else; a local file an upload
cannot read is a :class:`~kiekit.errors.FileReadError` (raised by :func:`upload_chunks`, and
kept so by each transport, whatever its HTTP library makes of it).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Generator, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kiekit._engine import Digest, Fetch, HttpRequest, HttpResponse, StreamHead, StreamUpload
from kiekit._numbers import finite, shown
from kiekit.errors import (
    ConfigurationError,
    DownloadError,
    FileReadError,
    ProtocolError,
    TransportError,
    without_query,
)

if TYPE_CHECKING:
    from kiekit._transports.download import Download

CHUNK = 64 * 1024
STREAM_CHUNK = 16 * 1024  # a streamed answer's chunks, in a test double
# The most an aiohttp download reads at once: large reads cost few calls a file (a 64 KiB read
# size held downloads to half curl's speed), and a file's memory stays this size however big it
# is. (urllib3 reads less at a time: see SOCKET_READ there.)
DOWNLOAD_READ = 2**20
# KIE's answers are a few kilobytes (a long chat answer, some hundreds); anything near this is
# not KIE talking, and is refused rather than read into memory whole.
MAX_ANSWER_BYTES = 32 * 2**20


class ByteStream(Protocol):
    """An answer read as it arrives: its head, then chunks (``b""`` once it has ended)."""

    head: StreamHead

    def read(self) -> bytes: ...
    def close(self) -> None: ...


class AsyncByteStream(Protocol):
    head: StreamHead

    async def read(self) -> bytes: ...
    async def close(self) -> None: ...


class SyncTransport(Protocol):
    def send(self, request: HttpRequest) -> HttpResponse: ...
    def fetch(self, fetch: Fetch) -> Path: ...
    def upload(self, upload: StreamUpload) -> HttpResponse: ...
    def stream(self, request: HttpRequest) -> ByteStream: ...
    def close(self) -> None: ...


class AsyncTransport(Protocol):
    async def send(self, request: HttpRequest) -> HttpResponse: ...
    async def fetch(self, fetch: Fetch) -> Path: ...
    async def upload(self, upload: StreamUpload) -> HttpResponse: ...
    async def stream(self, request: HttpRequest) -> AsyncByteStream: ...
    async def close(self) -> None: ...


class BufferedStream:
    """A whole answer served as a stream, ``chunk`` bytes at a time (test doubles, and
    transports that cannot stream)."""

    def __init__(self, response: HttpResponse, *, chunk: int = STREAM_CHUNK) -> None:
        content_type = response.headers.get("content-type", "") if response.headers else ""
        self.head = StreamHead(response.status, response.reason, content_type)
        self._body = memoryview(response.body)  # read without copying the rest each time
        self._chunk = chunk

    def read(self) -> bytes:
        piece, self._body = self._body[: self._chunk], self._body[self._chunk :]
        return bytes(piece)

    def close(self) -> None:
        self._body = memoryview(b"")


where = without_query  # the URL without its query, for error messages


def what(request: HttpRequest) -> str:
    """The request in error messages: its method and URL, without the query (made only when
    a message needs it: urlsplit is not free, and most answers come without error)."""
    return f"{request.method} {where(request.url)}"


def upload_chunks(upload: StreamUpload) -> Generator[bytes, None, None]:
    """The multipart body of ``upload``, one chunk at a time: a file read from disk as it is
    sent, or slices of bytes in memory. A file that cannot be read, or that shrank, grew or
    changed since its size was taken, raises :class:`FileReadError` naming it (before the
    body's tail: the host never takes the upload as whole)."""
    yield upload.head
    if isinstance(upload.source, Path):
        yield from _file_chunks(upload.source, upload.size, upload.mtime_ns)
    else:
        data = memoryview(upload.source)
        for at in range(0, len(data), CHUNK):
            yield bytes(data[at : at + CHUNK])  # 64 KiB copied at a time, never the whole
    yield upload.tail


def file_digest(op: Digest) -> str:
    """The SHA-256 of the file ``op`` names, as hex, read as its upload reads it (the first
    step of uploading it: a file that cannot be read, or that changed since it was looked at,
    is the same FileReadError naming it)."""
    digest = hashlib.sha256()
    for chunk in _file_chunks(op.path, op.size, op.mtime_ns):
        digest.update(chunk)
    return digest.hexdigest()


def _file_chunks(
    path: Path, size: int, mtime_ns: int | None = None
) -> Generator[bytes, None, None]:
    left = size
    try:
        with open(path, "rb") as source:
            while left > 0:
                chunk = source.read(min(CHUNK, left))
                if not chunk:  # the Content-Length already sent would be a lie: stop here
                    raise FileReadError(
                        f"{path} shrank while it was being uploaded: {size - left} of its "
                        f"{size} bytes were there",
                        path=path,
                    )
                left -= len(chunk)
                yield chunk
            _check_unchanged(path, os.fstat(source.fileno()), size, mtime_ns)
    except OSError as exc:  # deleted or moved before it was opened, unreadable, an I/O error
        why = exc.strerror or type(exc).__name__
        raise FileReadError(f"cannot read {path}: {why}", path=path, errno=exc.errno) from exc


def _check_unchanged(path: Path, now: os.stat_result, size: int, mtime_ns: int | None) -> None:
    """A file that grew (an export still being written) was sent cut to the size it had at
    first, with no word; one written over in place, a mix of two versions. Either would be
    the input of a paid generation: said as a shrunk file is."""
    if now.st_size > size:
        raise FileReadError(
            f"{path} grew while it was being uploaded: {now.st_size} bytes now, {size} when "
            "its upload began (is it still being written?)",
            path=path,
        )
    if mtime_ns is not None and now.st_mtime_ns != mtime_ns:
        raise FileReadError(
            f"{path} was written to while it was being uploaded (its modification time "
            "changed): what was read may mix two versions",
            path=path,
        )


class NotConnected(Exception):
    """A connection that failed after its socket opened: the TLS handshake, or a proxy that
    would not open a tunnel. Raised while connecting, so no byte of the request was written
    (``Urllib3Transport``'s connections raise it; urllib3 lets it through as it is). Its text
    is the failure in words; ``proxy_status`` the proxy's answer to CONNECT (407, 502 …) when
    that was the failure."""

    def __init__(self, words: str, *, proxy_status: int | None = None) -> None:
        super().__init__(words)
        self.proxy_status = proxy_status


class TunnelStalled(TimeoutError):
    """A proxy took the connection but did not answer CONNECT in time (``AiohttpTransport``'s
    connector raises it; aiohttp itself would wait for ever). Its text is the failure in
    words, as :class:`NotConnected`'s."""


def tunnel_stalled(seconds: float) -> str:
    return f"no answer to CONNECT within {seconds:g} s"


# A proxy's own answers, told as the proxy's (README, "Proxies and TLS"): 407, it wants
# credentials (never KIE's: KIE's codes come in the body, kie-api.md §1); 502/503/504, it
# could not reach the host behind it (or that host's own gateway said so)
PROXY_AUTH = 407
PROXY_GATEWAY = frozenset({502, 503, 504})


def proxy_status(exc: BaseException) -> int | None:
    """The status a proxy answered CONNECT with, when that is what ``exc`` is (urllib3's
    :class:`NotConnected`, aiohttp's ClientHttpProxyError), else None."""
    status = getattr(exc, "proxy_status", None)
    if status is None and type(exc).__name__ == "ClientHttpProxyError":
        status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def asks_credentials(named: str) -> str:
    """The words of a proxy's 407 (``named``: :meth:`Proxies.named`'s)."""
    return (
        f"{named} asks for credentials (HTTP 407 Proxy Authentication Required): give "
        "user:password@ in its URL, or check them"
    )


def proxy_refused(described: str, named: str, task_id: str | None = None) -> TransportError:
    """A proxy's 407 to the request ``described`` ("GET https://…"): it went no further, and
    no retry cures it."""
    return TransportError(
        f"{described} failed: {asks_credentials(named)}",
        task_id=task_id,
        maybe_sent=False,
        retryable=False,
    )


def refused_download(download: Download, named: str) -> DownloadError:
    """A result file's GET a proxy answered 407 (``named``: :meth:`Proxies.named`'s)."""
    return download.error(
        f"download failed: {asks_credentials(named)}", http_status=PROXY_AUTH, curable=False
    )


# A result link's redirects: followed hop by hop by each transport (README, "Proxies and TLS")
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10


def next_hop(url: str, location: str, download: Download) -> str:
    """Where a redirect from ``url`` to ``location`` leads: an http(s) URL, or the
    download's error (a redirect to ``ftp:``, ``file:`` … is not followed)."""
    from urllib.parse import urljoin

    target = urljoin(url, location)
    scheme = target.partition(":")[0].lower()
    if scheme not in ("http", "https"):
        raise download.error(f"download failed: redirected to a {scheme}: URL, not followed")
    return target


def proxy_failure(
    described: str,
    exc: BaseException,
    named: str,
    *,
    task_id: str | None = None,
    maybe_sent: bool = True,
    words: str | None = None,
) -> TransportError:
    """The TransportError of the request ``described`` ("GET https://…"), which failed with
    ``exc`` (said as ``words``, default :func:`in_words`) on its way through the proxy
    ``named`` (:meth:`Proxies.named`: "" when it went straight): the proxy named, and a 407
    said as the proxy's demand for credentials, which no retry cures."""
    if named and proxy_status(exc) == PROXY_AUTH:
        return proxy_refused(described, named, task_id)
    words = in_words(exc) if words is None else words
    if named:
        words = f"{words}, through {named}"
    return TransportError(f"{described} failed: {words}", task_id=task_id, maybe_sent=maybe_sent)


def forwarded(
    described: str, response: HttpResponse, named: str, task_id: str | None = None
) -> HttpResponse:
    """``response``, a plain-http proxy's answer to the request ``described`` it forwarded
    (``named``: the proxy, :meth:`Proxies.named`; "" when it went straight), told as the
    proxy's where it may be: a 407 raised as :func:`proxy_refused`, not taken for a KIE code;
    a 502/503/504 with the proxy named in its reason (the proxy's own, or the host's behind
    it)."""
    if not named:
        return response
    if response.status == PROXY_AUTH:
        raise proxy_refused(described, named, task_id)
    if response.status in PROXY_GATEWAY:
        reason = f"{response.reason} (from {named}, or the host behind it)".lstrip()
        return HttpResponse(response.status, response.body, reason, response.headers)
    return response


# What went wrong on the network, in words: the first of an exception's classes (urllib3's,
# aiohttp's, the standard library's; by name, so that neither library is imported here)
# that one of these names. The exception itself stays the error's __cause__.
_IN_WORDS = {
    "NameResolutionError": "the host name could not be resolved",
    "ClientConnectorDNSError": "the host name could not be resolved",
    "ConnectionRefusedError": "connection refused",
    "ReadTimeoutError": "no answer in time",
    "SocketTimeoutError": "no answer in time",
    "ServerTimeoutError": "no answer in time",
    "ConnectionTimeoutError": "no connection in time",
    "ConnectTimeoutError": "no connection in time",
    "SSLError": "the TLS handshake failed",
    "ClientSSLError": "the TLS handshake failed",
    "ProxyError": "could not connect to the proxy",
    "ClientProxyConnectionError": "could not connect to the proxy",
    "NewConnectionError": "could not connect",
    "ClientConnectorError": "could not connect",
    "ServerDisconnectedError": "the server closed the connection",
    "ProtocolError": "the connection broke",
    "ClientPayloadError": "the answer broke off",
    "ClientOSError": "the connection broke",
    "TimeoutError": "no answer in time",
    "TooManyRedirects": "too many redirects (a redirect loop?)",
}


def in_words(exc: BaseException) -> str:
    """``exc``, a network failure, as a person would say it ("connection refused"); a TLS
    failure with OpenSSL's reason ("the TLS handshake failed: certificate verify failed:
    self-signed certificate"), so that a missing CA tells itself apart from a wrong port."""
    reason = getattr(exc, "reason", None)  # urllib3's MaxRetryError wraps the cause
    exc = reason if isinstance(reason, BaseException) else exc  # (an SSLError's is a str)
    if isinstance(exc, (NotConnected, TunnelStalled)):
        return str(exc)
    if isinstance(exc.__cause__, TunnelStalled):  # aiohttp's ConnectionTimeoutError wraps it
        return str(exc.__cause__)
    if type(exc).__name__ in ("ProxyError", "ClientProxyConnectionError"):  # the proxy's
        # socket (urllib3's error holds the cause in its args; aiohttp's in os_error)
        inner = [a for a in exc.args if isinstance(a, BaseException)]
        cause = inner[0] if inner else getattr(exc, "os_error", None)
        why = "" if cause is None or cause is exc else f": {in_words(cause)}"
        return f"could not connect to the proxy{why}"
    cause = exc.__cause__ or exc.__context__ or getattr(exc, "os_error", None)
    if isinstance(cause, ConnectionRefusedError) or isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if type(exc).__name__ == "ResponseError":  # urllib3's own words: "too many redirects"
        return f"{exc} (a redirect loop?)" if "redirect" in str(exc) else str(exc)
    if type(exc).__name__ == "ClientHttpProxyError":  # aiohttp: the proxy's answer to CONNECT
        return f"the proxy would not open a tunnel: HTTP {exc.status} {exc.message}"  # type: ignore[attr-defined]
    tls = _tls_failure(exc)
    if tls is not None:
        return f"the TLS handshake failed: {tls_reason(tls)}"
    for kind in type(exc).__mro__:
        if kind.__name__ in _IN_WORDS:
            return _IN_WORDS[kind.__name__]
    return type(exc).__name__


def _tls_failure(exc: BaseException) -> BaseException | None:
    """The TLS error behind ``exc``, the innermost of those urllib3 or aiohttp wrapped (the
    standard library's, whose fields say why), or None."""
    import ssl  # loaded already by whichever HTTP library raised exc

    seen: list[BaseException] = []
    found: BaseException | None = exc
    while found is not None and not any(found is s for s in seen):
        seen.append(found)
        inner = [a for a in found.args if isinstance(a, BaseException)]
        found = (
            getattr(found, "certificate_error", None)  # aiohttp's certificate errors
            or found.__cause__
            or found.__context__
            or (inner[0] if inner else None)  # urllib3's SSLError(ssl_error)
        )
    tls = [e for e in seen if isinstance(e, ssl.SSLError) or type(e).__name__ == "CertificateError"]
    return tls[-1] if tls else None


def tls_reason(exc: BaseException) -> str:
    """Why OpenSSL refused, from the error's fields (not its text, which names a C file):
    ``certificate verify failed: self-signed certificate in certificate chain``,
    ``wrong version number`` (plain http on the port), ``tlsv1 alert protocol version``."""
    verify = getattr(exc, "verify_message", None)
    if verify:
        return f"certificate verify failed: {verify}"
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason.lower().replace("_", " ")
    return str(exc) or type(exc).__name__  # urllib3 CertificateError: its hostname


def check_seconds(name: str, value: object) -> float:
    """``value`` as a timeout: a finite number of seconds > 0, else ConfigurationError naming
    ``name``, worded as the policy classes' checks (0 would mean "never" to aiohttp, and a
    negative one time every call out at once)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(
            f"{name} must be a number of seconds > 0, got {value!r} ({type(value).__name__})"
        )
    number = finite(value)
    if number is None or not number > 0:
        raise ConfigurationError(f"{name} must be a finite number > 0, got {shown(value)}")
    return number


def lower(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def oversized(limit: int, what: str, task_id: str | None) -> ProtocolError:
    return ProtocolError(
        f"the answer to {what} is larger than {limit} bytes (max_answer_bytes): not KIE's",
        task_id=task_id,
    )


def late(request: HttpRequest, *, answered: bool = False) -> TransportError:
    """The error of an answer still dripping in at the request's deadline (``answered``: its
    head had come)."""
    return TransportError(
        f"{what(request)}: the answer took longer than the call's "
        f"{request.timeout or 0:.1f} s deadline",
        task_id=request.task_id,
        answered=answered,
    )


def declared_length(headers: Mapping[str, str]) -> int | None:
    length = headers.get("content-length", "").strip()
    return int(length) if length.isdigit() else None
