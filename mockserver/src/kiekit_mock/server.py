"""Running the mock: MockServer (a background thread, for tests) and serve (blocking, for the CLI).

Both bind only to loopback; the mock is a test double and must never face a network.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .app import build_app, create_app
from .callbacks import CallbackRecord, is_loopback_host
from .clock import MockClock
from .config import MockConfig
from .families import notify
from .journal import RequestRecord
from .runtime import Runtime
from .state import Outcome, State, TaskSnapshot

T = TypeVar("T")

START_TIMEOUT = 10.0


def _refuse_non_loopback(host: str) -> None:
    if not is_loopback_host(host):
        raise ValueError(
            f"the mock binds only to loopback (127.0.0.1, ::1, localhost), not {host!r}"
        )


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class MockServer:
    """The mock KIE on 127.0.0.1 in a background thread, with its state open to the test.

    >>> with MockServer(MockConfig(polls_to_complete=2)) as mock:
    ...     client = MyClient(base_url=mock.base_url, api_key="test")

    Reads (tasks, callbacks, requests) are copies made under a lock, safe from any thread.
    The server can be stopped and started again; it keeps its accounts and tasks.
    """

    def __init__(
        self, config: MockConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        _refuse_non_loopback(host)
        self.config = config or MockConfig()
        self._host = host
        self._requested_port = port
        self._runtime = Runtime.new(self.config)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._port: int | None = None

    # --- lifecycle ---

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the mock server is already running")
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._run, args=(ready, failure), name="kiekit-mock", daemon=True
        )
        thread.start()
        if not ready.wait(START_TIMEOUT):
            raise RuntimeError("the mock server did not start in time")
        if failure:
            thread.join()
            raise failure[0]
        self._thread = thread

    def stop(self) -> None:
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None or loop is None or stop_event is None:
            return
        loop.call_soon_threadsafe(stop_event.set)
        thread.join()
        self._thread = self._loop = self._stop_event = None
        self._port = None

    def __enter__(self) -> MockServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # handed to start(), which re-raises it in the caller
            failure.append(exc)
        finally:
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        runner = web.AppRunner(build_app(self._runtime), handle_signals=False, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._requested_port)
            await site.start()
            self._port = runner.addresses[0][1]
            self._loop = asyncio.get_running_loop()
            self._stop_event = asyncio.Event()
            ready.set()
            await self._stop_event.wait()
        finally:
            await runner.cleanup()

    # --- where it is ---

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the mock server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """e.g. "http://127.0.0.1:54321" (no trailing slash)."""
        return _base_url(self._host, self.port)

    # --- what happened ---

    def tasks(self) -> list[TaskSnapshot]:
        return self._runtime.store.snapshots()

    def callbacks(self, *, wait: bool = True) -> list[CallbackRecord]:
        """Recorded callbacks; by default first waits for deliveries still in flight."""
        if wait and self._loop is not None:
            self._call(self._runtime.callbacks.wait_idle(), self.config.callback_timeout + 5)
        return self._runtime.callbacks.records()

    def requests(self) -> list[RequestRecord]:
        return self._runtime.journal.records()

    @property
    def clock(self) -> MockClock:
        """The mock's clock: `mock.clock.advance(600)` moves every task, window and link on."""
        return self._runtime.clock

    # --- steering ---

    def set_outcome(self, task_id: str, outcome: Outcome) -> None:
        """Force how a task ends ("success" | "fail"); KeyError for an unknown task."""
        self._runtime.store.set_outcome(task_id, outcome)

    def advance(self, task_id: str) -> State:
        """Move a task to its next state (its final one if it is due); returns the new state."""

        async def step() -> State:
            transition = self._runtime.store.advance(task_id)
            notify(self._runtime, transition)
            return transition.task.state

        return self._call(step(), START_TIMEOUT)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("the mock server is not running")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)


def serve(port: int = 8000, host: str = "127.0.0.1", config: MockConfig | None = None) -> None:
    """Serve the mock until SIGINT/SIGTERM; prints one line with the base URL once listening."""
    _refuse_non_loopback(host)
    asyncio.run(_serve_forever(create_app(config), host, port))


async def _serve_forever(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # not the main thread / not POSIX: then Ctrl-C still raises KeyboardInterrupt
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
        url = _base_url(host, runner.addresses[0][1])
        print(f"kiekit-mock: KIE API mock listening on {url} (Ctrl-C to stop)", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
