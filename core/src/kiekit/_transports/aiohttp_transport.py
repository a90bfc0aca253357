"""``AiohttpTransport``: the asyncio transport of ``AsyncClient``, on one aiohttp session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kiekit._engine import Fetch, HttpRequest, HttpResponse, StreamHead, StreamUpload
from kiekit._transports.base import (
    CHUNK,
    DOWNLOAD_READ,
    MAX_ANSWER_BYTES,
    AsyncByteStream,
    lower,
    oversized,
    upload_chunks,
    what,
    where,
)
from kiekit._transports.download import Download
from kiekit.errors import TransportError


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
        limit = self._max_answer_bytes
        try:
            async with asyncio.timeout(request.timeout):  # the whole exchange, answer included
                async with session.request(
                    request.method,
                    request.url,
                    data=request.body,
                    headers=request.headers,  # aiohttp copies them
                    allow_redirects=False,
                ) as response:
                    declared = response.content_length
                    if declared is not None and declared > limit:
                        raise oversized(limit, what(request), request.task_id)
                    # Counted as read (a compressed answer may grow past what it declared),
                    # in chunks of a bounded size however it was compressed
                    read = response.content.read
                    parts: list[bytes] = []
                    size = 0
                    while chunk := await read(CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise oversized(limit, what(request), request.task_id)
                        parts.append(chunk)
                    return HttpResponse(
                        response.status,
                        b"".join(parts),
                        response.reason or "",
                        lower(response.headers.items()),
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(
                f"{what(request)} failed: {type(exc).__name__}",
                task_id=request.task_id,
                # refused, DNS, TLS handshake, connect timeout: the request never left
                maybe_sent=not isinstance(
                    exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
                ),
            ) from exc

    async def fetch(self, fetch: Fetch) -> Path:
        import aiohttp

        session = self._open()
        with Download(fetch) as download:
            try:
                async with asyncio.timeout(fetch.timeout):  # the whole file, however it trickles
                    # A large read buffer: the socket is paused and resumed less often.
                    async with session.get(fetch.url, read_bufsize=DOWNLOAD_READ) as response:
                        download.begin(response.status, lower(response.headers.items()))
                        # Each piece as it came, not cut to a size: iter_chunked copies them all
                        async for chunk in response.content.iter_any():
                            download.write(chunk)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if download.late():
                    raise download.timed_out() from exc
                raise download.error(f"download failed: {type(exc).__name__}") from exc
            return download.finish()

    async def upload(self, upload: StreamUpload) -> HttpResponse:
        import aiohttp

        chunks = upload_chunks(upload)

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
                    response.status, answer, response.reason or "", lower(response.headers.items())
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"POST {where(upload.url)} failed: {type(exc).__name__}") from exc
        except OSError as exc:
            raise TransportError(f"reading {upload.path} failed: {exc}") from exc
        finally:
            chunks.close()  # the file, when aiohttp stopped short of the body's end

    async def stream(self, request: HttpRequest) -> AsyncByteStream:
        """Send ``request`` and read the answer as it arrives (a chat's server-sent events)."""
        import aiohttp

        described = what(request)
        try:
            response = await self._open().request(
                request.method,
                request.url,
                data=request.body,
                headers=dict(request.headers),
                allow_redirects=False,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"{described} failed: {type(exc).__name__}") from exc
        return _AiohttpStream(response, described)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _AiohttpStream:
    def __init__(self, response: Any, what: str) -> None:
        self._response = response
        self._what = what
        self.head = StreamHead(
            response.status, response.reason or "", response.headers.get("Content-Type", "")
        )

    async def read(self) -> bytes:
        import aiohttp

        try:
            return bytes(await self._response.content.readany())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"{self._what}: the stream broke: {type(exc).__name__}") from exc

    async def close(self) -> None:
        self._response.release()
