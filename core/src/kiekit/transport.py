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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from kiekit._engine import Fetch, Flow, HttpRequest, HttpResponse, Now, Sleep
from kiekit.errors import DownloadError, KieError, TransportError

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
    def close(self) -> None: ...


class AsyncTransport(Protocol):
    async def send(self, request: HttpRequest) -> HttpResponse: ...
    async def fetch(self, fetch: Fetch) -> Path: ...
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


def _part_path(destination: Path) -> Path:
    return destination.with_name(destination.name + ".part")


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
            ) from exc
        return HttpResponse(response.status, response.data, response.reason or "")

    def fetch(self, fetch: Fetch) -> Path:
        # No Authorization header: result links are public CDN URLs, and the key must not
        # travel to hosts other than KIE's API.
        part = _part_path(fetch.destination)
        try:
            response = self._pool.request(
                "GET", fetch.url, preload_content=False, retries=self._follow_redirects
            )
            try:
                if response.status != 200:
                    raise DownloadError(
                        f"download answered HTTP {response.status}",
                        url=fetch.url,
                        task_id=fetch.task_id,
                    )
                with open(part, "wb") as out:
                    for chunk in response.stream(CHUNK):
                        out.write(chunk)
            finally:
                response.release_conn()
        except self._urllib3.exceptions.HTTPError as exc:
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"download failed: {type(exc).__name__}", url=fetch.url, task_id=fetch.task_id
            ) from exc
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, fetch.destination)
        return fetch.destination

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
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=self._connect_timeout, sock_read=self._timeout
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
                return HttpResponse(response.status, body, response.reason or "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(
                f"{request.method} {_where(request.url)} failed: {type(exc).__name__}",
                task_id=request.task_id,
            ) from exc

    async def fetch(self, fetch: Fetch) -> Path:
        import aiohttp

        session = self._open()
        part = _part_path(fetch.destination)
        try:
            async with session.get(fetch.url) as response:
                if response.status != 200:
                    raise DownloadError(
                        f"download answered HTTP {response.status}",
                        url=fetch.url,
                        task_id=fetch.task_id,
                    )
                with open(part, "wb") as out:  # noqa: ASYNC230 - small chunks, local disk
                    async for chunk in response.content.iter_chunked(CHUNK):
                        out.write(chunk)
        except (aiohttp.ClientError, TimeoutError) as exc:
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"download failed: {type(exc).__name__}", url=fetch.url, task_id=fetch.task_id
            ) from exc
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, fetch.destination)
        return fetch.destination

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
        try:
            response = self.send(HttpRequest("GET", fetch.url, {}, None, task_id=fetch.task_id))
        except TransportError as exc:
            if isinstance(exc, DownloadError):
                raise
            raise DownloadError(
                f"download failed: {exc.message}", url=fetch.url, task_id=fetch.task_id
            ) from exc
        if response.status != 200:
            raise DownloadError(
                f"download answered HTTP {response.status}", url=fetch.url, task_id=fetch.task_id
            )
        part = _part_path(fetch.destination)
        part.write_bytes(response.body)
        os.replace(part, fetch.destination)
        return fetch.destination

    def close(self) -> None:
        pass
