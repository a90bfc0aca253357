"""Shared fixtures of the core tests.

- The environment never holds a KIE key (autouse): a test that needs one sets a fake value.
- ``api`` runs each client scenario twice, once with ``Client`` and once with ``AsyncClient``,
  behind one awaitable surface (STYLE.md: parametrize across implementations).
- ``kit`` is an in-memory KIE for ``MockTransport`` plus builders of KIE-shaped answers
  (test modules cannot import each other in importlib mode, so the helpers travel as a fixture).
- ``mock_server`` / ``file_server`` are real sockets on 127.0.0.1, closed after use.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import gc
import gzip
import http.server
import inspect
import json
import logging
import socket
import subprocess
import sys
import threading
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import pytest
from kiekit.transport import HttpRequest, HttpResponse, MockTransport

if TYPE_CHECKING:
    from pathlib import Path

    from kiekit._engine import Fetch

T = TypeVar("T")

# A made-up key. Tests look for it in every text a user could see; it must never show up.
CANARY = "sk-canary-7f3e9b21d04c4a6e"
TASK_ID = "5f488be792eafad4b066e21e5bc472c7"  # 32 hex, as in KIE's recorded traffic (§1)
GROK_T2I = "grok-imagine/text-to-image"
GROK_I2I = "grok-imagine/image-to-image"
FLUX_PRO = "flux-kontext-pro"
FLUX_MAX = "flux-kontext-max"
CDN = "https://tempfile.aiquickdraw.com/r"
# A PNG's signature and its last chunk (IEND), which a download checks (a file cut short is
# refused: kiekit._engine.file_ends), around bytes no decoder needs to read here
IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
PNG = b"\x89PNG\r\n\x1a\n-not-really-a-png" + IEND
# A file larger than a download's one read (kiekit._transports.base.DOWNLOAD_READ, and
# the smaller kiekit._transports.urllib3_transport.SOCKET_READ)
LARGE_PNG = PNG[: -len(IEND)] + bytes(range(256)) * (3 * 4096) + IEND


@pytest.fixture(autouse=True)
def _no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may read a real key from the developer's shell or CI."""
    monkeypatch.delenv("KIE_API_KEY", raising=False)


@pytest.fixture(autouse=True)
def _private_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The task journal of every client goes to a fresh folder, never the real home folder."""
    # A fresh path, made only if a client records a task (most tests never do).
    folder = tmp_path_factory.getbasetemp() / "kiekit-data" / uuid.uuid4().hex
    monkeypatch.setenv("KIEKIT_DATA_DIR", str(folder))


# -- KIE-shaped answers ----------------------------------------------------------------------------


def reply(data: Any = None, *, code: int = 200, msg: str = "success") -> HttpResponse:
    """KIE's envelope, always over HTTP 200 (kie-api.md §1)."""
    return HttpResponse(200, json.dumps({"code": code, "msg": msg, "data": data}).encode(), "OK")


def created(task_id: str = TASK_ID) -> HttpResponse:
    """A create answer as recorded: taskId plus the undocumented recordId (§2.1)."""
    return reply({"taskId": task_id, "recordId": task_id})


def market_data(
    state: str,
    *,
    task_id: str = TASK_ID,
    model: str = GROK_T2I,
    urls: tuple[str, ...] | list[str] = (),
    fail_code: Any = None,
    fail_msg: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """A jobs/recordInfo ``data`` shaped like the recorded traffic of §2.2: ``param`` double
    encoded, ``resultJson`` a string ("" while pending), null fail fields, ms timestamps."""
    param = json.dumps({"input": json.dumps({"prompt": "a cat"}), "model": model})
    data: dict[str, Any] = {
        "taskId": task_id,
        "model": model,
        "state": state,
        "param": param,
        "resultJson": json.dumps({"resultUrls": list(urls)}) if state == "success" else "",
        "failCode": fail_code,
        "failMsg": fail_msg,
        "costTime": 12 if state in ("success", "fail") else None,
        "completeTime": 1776323928526 if state in ("success", "fail") else None,
        "createTime": 1776323915587,
    }
    data.update(extra)
    return data


def market(state: str, **options: Any) -> HttpResponse:
    return reply(market_data(state, **options))


def flux_data(
    flag: int,
    *,
    task_id: str = TASK_ID,
    result: str | None = None,
    origin: str | None = None,
    error_code: Any = None,
    error_message: str = "",
) -> dict[str, Any]:
    """A Flux Kontext record-info ``data`` (§3.2): string timestamps, successFlag 0–3."""
    response = None
    if flag == 1:
        response = {"resultImageUrl": result or f"{CDN}/{task_id}.jpg"}
        if origin:
            response["originImageUrl"] = origin
    return {
        "taskId": task_id,
        "paramJson": json.dumps({"prompt": "a cat", "model": FLUX_PRO}),
        "completeTime": "2025-06-06 10:30:00" if flag else None,
        "createTime": "2025-06-06 10:25:00",
        "response": response,
        "successFlag": flag,
        "errorCode": error_code,
        "errorMessage": error_message,
    }


def flux(flag: int, **options: Any) -> HttpResponse:
    return reply(flux_data(flag, **options))


Answer = HttpResponse | BaseException | Callable[[HttpRequest], HttpResponse]


@dataclass
class FakeKie:
    """KIE in memory, for ``MockTransport``: creates answer ``create``; status polls get
    ``statuses`` in order (the last one repeats); ``files`` maps result URLs to bytes or to an
    answer. An answer that is an exception is raised, as a transport would raise it."""

    statuses: list[Answer] = field(default_factory=list)
    create: Answer = field(default_factory=created)
    files: dict[str, bytes | Answer] = field(default_factory=dict)
    polls: int = 0

    def __post_init__(self) -> None:
        self.transport = MockTransport(self)

    @property
    def requests(self) -> list[HttpRequest]:
        return self.transport.requests

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = urlsplit(request.url).path
        answer: bytes | Answer
        if request.url in self.files:
            answer = self.files[request.url]
        elif path.endswith(("/jobs/createTask", "/kontext/generate")):
            answer = self.create
        elif path.endswith(("/jobs/recordInfo", "/kontext/record-info")):
            if not self.statuses:
                raise AssertionError("the test scripted no status answers")
            answer = self.statuses[min(self.polls, len(self.statuses) - 1)]
            self.polls += 1
        else:
            answer = HttpResponse(404, b"404: Not Found", "Not Found")
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, bytes):
            return HttpResponse(200, answer, "OK")
        if isinstance(answer, HttpResponse):
            return answer
        return answer(request)


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (which cannot import conftest in importlib mode)."""
    return SimpleNamespace(
        CANARY=CANARY,
        TASK_ID=TASK_ID,
        GROK_T2I=GROK_T2I,
        GROK_I2I=GROK_I2I,
        FLUX_PRO=FLUX_PRO,
        FLUX_MAX=FLUX_MAX,
        CDN=CDN,
        PNG=PNG,
        FakeKie=FakeKie,
        reply=reply,
        created=created,
        market=market,
        market_data=market_data,
        flux=flux,
        flux_data=flux_data,
        free_port=free_port,
    )


# -- both clients behind one surface ---------------------------------------------------------------


class Session:
    """A client whose every method is awaitable, whichever client it is."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        return call


@dataclass(frozen=True)
class Api:
    """One of the two clients. Scenarios are coroutines written once; ``run`` executes one with
    ``asyncio.run`` for AsyncClient and, for Client, by stepping the coroutine with no event
    loop at all — which also proves the blocking client never awaits anything."""

    name: str

    @property
    def is_async(self) -> bool:
        return self.name == "AsyncClient"

    @property
    def cls(self) -> type[Any]:
        from kiekit.client import AsyncClient, Client

        return AsyncClient if self.is_async else Client

    def client(self, *, api_key: str | None = CANARY, **options: Any) -> Session:
        from kiekit.retry import RetryPolicy

        # the retry schedule, not its real-time waits, is what these tests are about
        options.setdefault("retry", RetryPolicy(base=0.001, cap=0.002))
        return Session(self.cls(api_key, **options))

    def run(self, scenario: Callable[[], Awaitable[T]]) -> T:
        if self.is_async:
            return asyncio.run(scenario())  # type: ignore[arg-type]
        coroutine = scenario()
        try:
            coroutine.send(None)  # type: ignore[attr-defined]
        except StopIteration as done:
            return done.value
        coroutine.close()  # type: ignore[attr-defined]
        raise AssertionError("the blocking Client awaited something")


@pytest.fixture(params=["Client", "AsyncClient"])
def api(request: pytest.FixtureRequest) -> Api:
    return Api(request.param)


@pytest.fixture
def apis() -> list[Api]:
    """Both clients at once, for parity tests."""
    return [Api("Client"), Api("AsyncClient")]


# -- real sockets ----------------------------------------------------------------------------------


_HELD_PORTS: list[socket.socket] = []


@atexit.register
def _release_held_ports() -> None:
    for held in _HELD_PORTS:
        held.close()


def free_port() -> int:
    """A port nobody listens on, nor will while the tests run: bound without listening, and
    held, so a connection to it is refused and no other test's server can take it meanwhile."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    _HELD_PORTS.append(probe)
    return int(probe.getsockname()[1])


@pytest.fixture
def crash() -> Callable[[Any, str], None]:
    """``crash(journal, key)``: row ``key`` as a worker that died mid-create leaves it — its
    owner's pid is no process's any more, and no lease holds it (an intent written by the
    test process itself would read as a create still on its way)."""

    def crashed(journal: Any, key: str) -> None:
        ended = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            check=True,
            text=True,
        )
        host, _, site, rand = journal.owner.split(":")
        journal.store.update(key, {"owner": f"{host}:{ended.stdout.strip()}:{site}:{rand}"})
        journal.store.renew(journal.owner, 0.0)

    return crashed


def _mock_server_class() -> tuple[Any, Any]:
    try:
        from kiekit_mock import MockConfig, MockServer
    except ImportError as exc:
        pytest.skip(f"kiekit_mock.MockServer is not importable yet ({exc}); socket tests skipped")
    return MockServer, MockConfig


@pytest.fixture
def mock_server_factory() -> Iterator[Callable[..., Any]]:
    """Start ``kiekit_mock.MockServer`` instances on 127.0.0.1; all are stopped afterwards."""
    server_cls, config_cls = _mock_server_class()
    started: list[Any] = []

    def start(**config: Any) -> Any:
        server = server_cls(config_cls(**config))
        started.append(server)
        return server.__enter__()

    yield start
    for server in reversed(started):
        server.__exit__(None, None, None)


@pytest.fixture
def mock_server(mock_server_factory: Callable[..., Any]) -> Any:
    """A mock KIE whose tasks answer one pending poll, then finish."""
    return mock_server_factory(polls_to_complete=1)


@dataclass
class FileServer:
    """A tiny CDN: ``/file.png`` serves bytes, ``/redirect`` sends a 302 to it, ``/loop`` a 302
    to itself, ``/truncated``
    promises more bytes than it sends, ``/missing`` is a 404, ``/hang`` never answers (until
    the fixture ends), ``/large.png`` serves ``large`` in pieces and ``/gzip.png`` serves it
    gzip-compressed (Content-Encoding), ``/stall.png`` sends half of ``large``, sets
    ``stalled`` and sends the rest once ``resume`` is set. Request headers are kept."""

    base_url: str
    seen: list[dict[str, str]]
    stalled: threading.Event
    resume: threading.Event
    body: bytes = PNG
    large: bytes = LARGE_PNG


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    seen: list[dict[str, str]] = []
    release = threading.Event()
    stalled, resume = threading.Event(), threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers.items()))
            if self.path.startswith("/hang"):
                release.wait(120)  # set at teardown: only a client timeout ends it sooner
                self.close_connection = True
            elif self.path.startswith("/loop"):
                self.send_response(302)
                self.send_header("Location", "/loop.png")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", "/file.png")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path.startswith("/truncated"):
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(PNG)
                self.wfile.flush()
                self.close_connection = True
            elif self.path.startswith("/missing"):
                self.send_error(404)
            elif self.path.startswith("/stall"):
                half = len(LARGE_PNG) // 2
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(LARGE_PNG)))
                self.end_headers()
                self.wfile.write(LARGE_PNG[:half])
                self.wfile.flush()
                stalled.set()
                resume.wait(120)  # set by the test, or at teardown
                with contextlib.suppress(OSError):  # a reader that gave up has closed
                    self.wfile.write(LARGE_PNG[half:])
            elif self.path.startswith(("/large", "/gzip")):
                compress = self.path.startswith("/gzip")
                body = gzip.compress(LARGE_PNG) if compress else LARGE_PNG
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                if compress:
                    self.send_header("Content-Encoding", "gzip")
                self.end_headers()
                for start in range(0, len(body), 100_000):
                    self.wfile.write(body[start : start + 100_000])
            else:
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield FileServer(f"http://127.0.0.1:{server.server_address[1]}", seen, stalled, resume)
    finally:
        release.set()
        resume.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(params=["urllib3", "aiohttp", "aiohttp, large"])
def fetch(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Fetch], Path]:
    """One fetch through each real transport, closed afterwards ("aiohttp, large": every file
    counts as large, read on a thread). The garbage collection makes a socket the transport
    forgot to close warn here, in the test that leaked it; garbage earlier tests on this
    worker left is collected first, its warnings not this test's (a socket leaked elsewhere
    failed one of these once, in a loaded full run)."""
    from kiekit.transport import AiohttpTransport, Urllib3Transport

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()

    if request.param == "aiohttp, large":
        monkeypatch.setattr("kiekit._transports.aiohttp_transport.LARGE_FILE", 1)

    def run(job: Fetch) -> Path:
        if request.param == "urllib3":
            transport = Urllib3Transport(timeout=5)
            try:
                return transport.fetch(job)
            finally:
                transport.close()
                gc.collect()

        async def go() -> Path:
            async_transport = AiohttpTransport(timeout=5)
            try:
                return await async_transport.fetch(job)
            finally:
                await async_transport.close()

        try:
            return asyncio.run(go())
        finally:
            gc.collect()

    return run


# -- a network of proxies and TLS on loopback --------------------------------------------------


# The suite's stand-in for a host out there: ".test" is reserved and never resolves (RFC 6761
# §6.2), and is not loopback by name, so the proxy rules treat it as a remote host. The
# `network` fixture resolves it to 127.0.0.1 in this process, without DNS: a request that
# skipped the proxy still stays on this machine (and reaches the server unseen by the proxy).
REMOTE = "kie.test"


@dataclass
class Network:
    """A forward proxy and TLS fronts on 127.0.0.1, on a loop of their own (a thread).

    ``proxy_url``: an HTTP proxy that forwards absolute-URI requests (GET, POST …) and opens
    CONNECT tunnels, each one request per connection; ``seen`` lists what it was asked
    (``"GET http://kie.test:1234/x"``, ``"CONNECT kie.test:1234"``). With ``refuse_connect``
    set it answers CONNECT with 403; with ``answer`` (``b"407 Proxy Authentication
    Required"``) it answers every request so, forwarded or CONNECT; with ``stall`` it reads a
    request and never answers (until the client goes). With ``credentials`` (``user:password``)
    it demands them, as an authenticated corporate proxy does: a request without
    ``Proxy-Authorization: Basic …`` of them is answered 407, forwarded or CONNECT alike; each
    ``Proxy-Authorization`` it was sent is in ``authorizations``, its name as spelt and its
    value. ``tls_front(port)`` listens with a
    certificate of ``ca`` (a trustme CA) for kie.test, localhost and 127.0.0.1, and pipes to
    ``port``;
    ``ssl_context`` trusts that CA only. ``close()`` ends it all (the fixture calls it)."""

    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    ca: Any
    proxy_url: str = ""
    seen: list[str] = field(default_factory=list)
    refuse_connect: bool = False
    answer: bytes = b""
    stall: bool = False
    credentials: str = ""
    authorizations: list[tuple[str, str]] = field(default_factory=list)
    servers: list[asyncio.Server] = field(default_factory=list)
    # every connection's writer, both sides, from the moment it is accepted or opened: aborted
    # by close() while the loop still runs (one collected after the loop closed is an
    # "unclosed transport" or "loop is closed" warning that fails whichever test runs next)
    streams: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def ssl_context(self) -> Any:
        import ssl

        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def tls_front(self, port: int) -> int:
        """A TLS server in front of 127.0.0.1:``port``; its port."""
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(REMOTE, "localhost", "127.0.0.1").configure_cert(context)

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # TLS here, not start_server(ssl=): that server hands a connection over only once
            # its handshake is done, so one the test left in it was nobody's to close
            try:
                await writer.start_tls(context)
            except OSError:  # the client refused our certificate: start_tls closed the socket
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            self.streams.append(up_writer)
            await _splice(reader, writer, up_reader, up_writer)

        return self._listen(accept)

    def _listen(self, handle: Any) -> int:
        def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
            # called as the connection is accepted, before its handler's task first runs: a
            # task cancelled before then never runs a line, and its writer would go unseen
            self.streams.append(writer)
            return handle(reader, writer)

        async def start() -> int:
            server = await asyncio.start_server(accepted, "127.0.0.1", 0)
            self.servers.append(server)
            return int(server.sockets[0].getsockname()[1])

        return asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    def close(self) -> None:
        """Every server and connection closed, then the loop; a second call does nothing."""
        if self.loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _stop(self) -> None:
        for server in self.servers:
            server.close()
        # until none is left: a connection accepted while the first ones wound down has a task
        # that did not exist yet when they were cancelled
        while tasks := [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        # abort, not close: a TLS close waits for the peer's close_notify, which a client the
        # test left mid-way never sends (the socket stayed open, and the teardown took 5 s)
        for stream in self.streams:
            stream.transport.abort()
        # one turn of the loop: the sockets close in the callbacks abort() queued
        await asyncio.sleep(0)

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        line, _, rest = head.partition(b"\r\n")
        method, target, version = line.decode("latin-1").split(" ")
        self.seen.append(f"{method} {target}")
        given = []
        for header in rest.decode("latin-1").split("\r\n"):
            name, _, value = header.partition(":")
            if name.strip().lower() == "proxy-authorization":
                given.append(value.strip())
                self.authorizations.append((name.strip(), value.strip()))
        wanted = "Basic " + base64.b64encode(self.credentials.encode("latin-1")).decode()
        if self.credentials and given != [wanted]:
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="test"\r\n'
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            writer.close()
            return
        if self.stall:  # took the connection, read the request: says nothing, ever
            with contextlib.suppress(ConnectionError):
                await reader.read()  # until the client gives up and closes
            writer.close()
            return
        if self.answer:  # the proxy's own answer (407, 502 …), to CONNECT or a forward
            writer.write(
                b"HTTP/1.1 " + self.answer + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            writer.close()
            return
        if method == "CONNECT":
            if self.refuse_connect:
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                writer.close()
                return
            host, _, port = target.rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            self.streams.append(up_writer)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await _splice(reader, writer, up_reader, up_writer)
            return
        parts = urlsplit(target)  # absolute-URI form: the proxy asks for the path only
        up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        self.streams.append(up_writer)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        kept = [h for h in rest.split(b"\r\n") if h and not h.lower().startswith(b"connection:")]
        kept = [h for h in kept if not h.lower().startswith(b"proxy-")]
        up_writer.write(
            f"{method} {path} {version}\r\n".encode("latin-1")
            + b"\r\n".join([*kept, b"Connection: close"])
            + b"\r\n\r\n"
        )
        await _splice(reader, writer, up_reader, up_writer)


async def _splice(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    up_reader: asyncio.StreamReader,
    up_writer: asyncio.StreamWriter,
) -> None:
    """Bytes both ways until either side ends; then both are closed."""

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()

    ends = [
        asyncio.ensure_future(pipe(reader, up_writer)),
        asyncio.ensure_future(pipe(up_reader, writer)),
    ]
    await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
    for end in ends:
        end.cancel()
    for side in (writer, up_writer):
        side.close()


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Iterator[Network]:
    """A forward proxy (and TLS fronts on demand) on 127.0.0.1, and ``kie.test`` resolved to
    127.0.0.1 without DNS; the environment's proxy variables cleared for the test."""
    import trustme

    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.rstrip(".").lower().endswith(".test"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-network", daemon=True)
    thread.start()
    net = Network(loop, thread, trustme.CA())
    try:
        net.proxy_url = f"http://127.0.0.1:{net._listen(net._proxy)}"
        yield net
    finally:
        net.close()


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every record of the ``kiekit`` loggers, at DEBUG, as a handler of the user's gets it."""
    got: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got.append(record)

    logger = logging.getLogger("kiekit")
    handler, level = Keep(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield got
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
