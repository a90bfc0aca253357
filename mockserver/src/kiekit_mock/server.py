"""Running the mock: MockServer (a background thread, for tests) and serve (blocking, for the CLI).

Both bind only to loopback; the mock is a test double and must never face a network.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import math
import os
import signal
import threading
import weakref
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Self, TypeVar, Unpack
from urllib.parse import urlsplit

from aiohttp import web

from . import inspector, lifetime
from .accesslog import MaskedAccessLogger
from .app import build_app, create_app, runtime_of
from .callbacks import (
    MAX_WAIT,
    CallbackChanges,
    CallbackRecord,
    CallbackSettings,
    is_loopback_host,
)
from .clock import MockClock
from .config import AccountSettings, MockConfig, account_id, as_config
from .connections import TimedAppRunner
from .egress import Egress
from .families import task_families
from .faults import Faults
from .har import load_scenario, log_warnings, read_scenario
from .limits import Limits
from .requestlog import Journal, RequestRecord
from .rules import Lifecycle, Outcome, Rule, RuleView, check_families
from .runtime import Runtime
from .scenario import Scenario
from .startup import accepted_keys, in_force, when_tasks_end
from .state import AccountSnapshot, State, TaskSnapshot
from .uploads import StoredFile, UploadStore
from .uploads_http import UPLOADS, build_upload_app

T = TypeVar("T")

START_TIMEOUT = 10.0


def _refuse_non_loopback(host: object) -> None:
    if not isinstance(host, str):
        raise TypeError(f"host must be a loopback address such as '127.0.0.1', not {host!r}")
    if not is_loopback_host(host):
        raise ValueError(
            f"the mock binds only to loopback (127.0.0.1, ::1, localhost), not {host!r}"
        )


def _checked_wait(timeout: object) -> float:
    """``callbacks(timeout=…)``: seconds to wait, as ``GET /_mock/callbacks?timeout=`` takes."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of seconds, not {timeout!r}")
    if not 0 <= timeout <= MAX_WAIT:
        raise ValueError(f"timeout must be from 0 to {MAX_WAIT:g} seconds, not {timeout}")
    return float(timeout)


# At a stop, requests in flight get this long to finish, then as long again to end once
# cancelled: aiohttp's own 60 s kept a saturated soak mock (a backlog of slow answers) alive
# for 30-55 s after SIGTERM, and a test's MockServer.stop() 60 s after a client hung up
SHUTDOWN_SECONDS = 5.0


def _checked_grace(seconds: object) -> float:
    """``shutdown_grace``: seconds, finite and not negative, refused at once."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(f"shutdown_grace must be a number of seconds, not {seconds!r}")
    if not 0 <= seconds < math.inf:
        raise ValueError(f"shutdown_grace must be a finite number of seconds >= 0, not {seconds}")
    return float(seconds)


def _runner_options(shutdown_grace: float, access_log: bool) -> dict[str, Any]:
    """AppRunner's options: aiohttp reads a shutdown timeout of 0 as "wait for ever"
    (helpers.ceil_timeout), so 0 becomes a millisecond. A line a request costs the server
    about a third of its throughput (tools/bench, 2c): no access log unless asked."""
    options: dict[str, Any] = {"shutdown_timeout": max(shutdown_grace, 0.001)}
    if not access_log:
        options["access_log"] = None
    else:  # a key given as ?api_key= is written as *** (accesslog.py)
        options["access_log_class"] = MaskedAccessLogger
    return options


def _timeouts(config: MockConfig) -> dict[str, float]:
    """TimedAppRunner's options: how long a request may take to arrive, and a connection may
    sit idle (connections.py)."""
    return {"read_timeout": config.read_timeout, "idle_timeout": config.idle_timeout}


def _checked_port(name: str, port: object) -> int:
    """A TCP port argument, refused at once (not when the server starts, in its thread)."""
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"{name} must be an integer, 0 to 65535 (0: a free one), not {port!r}")
    if not 0 <= port <= 65535:
        raise ValueError(f"{name} must be 0 to 65535 (0: a free one), not {port}")
    return port


ScenarioSource = Scenario | Mapping[str, Any] | str | os.PathLike[str]


def scenario_of(scenario: object, where: str = "scenario") -> Scenario:
    """A recording to replay, as a user has one at hand: a :class:`Scenario`, the JSON of a
    scenario file or a HAR file as a dict (what ``json.load`` gives), or the path of such a
    file. Anything else is a TypeError naming ``where``; a file or dict that is no recording,
    a ValueError naming ``where`` and the member at fault (``tasks[1].answers[1]: …``)."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Mapping):
        try:
            return load_scenario(scenario)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    if isinstance(scenario, str | os.PathLike):
        try:
            return read_scenario(scenario)
        except ValueError as exc:
            raise ValueError(f"{where} {os.fspath(scenario)}: {exc}") from None
    raise TypeError(
        f"{where} must be a Scenario, a HAR file's or a scenario file's JSON (a dict) or the "
        f"path of such a file, not {type(scenario).__name__}"
    )


async def _listen(runner: web.AppRunner, host: str, port: int) -> int:
    """Serve ``runner`` on ``host:port`` (0: a free port); the port it listens on."""
    await web.TCPSite(runner, host, port).start()
    bound: int = runner.addresses[-1][1]
    return bound


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class MockServer:
    """The mock KIE on 127.0.0.1 in a background thread, with its state open to the test.

    >>> with MockServer(MockConfig(polls_to_complete=2)) as mock:
    ...     client = MyClient(base_url=mock.base_url, api_key="test")

    Reads (tasks, callbacks, requests) are copies made under a lock, safe from any thread.
    The server can be stopped and started again; it keeps its accounts, tasks and uploads, and
    its ports: started again, it listens where it did (``port=0`` picks a free port on the
    first start only), so the links in its tasks' results and a client's ``base_url`` still
    reach it. An OSError says so should another program have taken the port meanwhile.
    A started MockServer nothing refers to any more (a notebook cell that makes and starts
    one, run again) is stopped when Python collects it; ``with`` or :meth:`stop` say when.
    """

    def __init__(
        self,
        config: MockConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        scenario: ScenarioSource | None = None,
        upload_port: int = 0,
        shutdown_grace: float = SHUTDOWN_SECONDS,
    ) -> None:
        """``scenario``: a recording to replay (:func:`scenario_of` says the forms it takes).
        ``shutdown_grace``: how long :meth:`stop` lets requests still in flight finish (a
        client that hung up mid-request, a download), then as long again once they are
        cancelled; 0 cuts them off at once. Every argument is checked here, in the caller's
        thread: a wrong one is a TypeError or ValueError naming it, not an error deep in the
        server's start."""
        _refuse_non_loopback(host)
        self.config = as_config(config)
        self._host = host
        self._requested_port = _checked_port("port", port)
        replayed = None if scenario is None else scenario_of(scenario)
        requested_upload_port = _checked_port("upload_port", upload_port)
        self._runtime = Runtime.new(self.config)
        if replayed is not None:
            log_warnings(replayed, "MockServer(scenario=…)")
            self._runtime.scenarios.load(replayed)
        self._serving: _Serving | None = None
        self._finalizer: weakref.finalize[[], MockServer] | None = None
        # KIE's upload host (uploads_http.py) on a port of its own; its files outlive a restart
        self._uploads = self._runtime.uploads
        self._requested_upload_port = requested_upload_port
        self._shutdown_grace = _checked_grace(shutdown_grace)

    # --- lifecycle ---

    def start(self) -> None:
        """Start serving on a background thread; RuntimeError if already running."""
        if self._serving is not None:
            raise RuntimeError("the mock server is already running")
        ports = (self._requested_port, self._requested_upload_port)
        serving = _Serving(self._runtime, self._uploads, self._host, ports, self._shutdown_grace)
        serving.start()
        # the ports of a first start, again: its tasks' links and its clients point there
        self._requested_port, self._requested_upload_port = serving.ports
        self._serving = serving
        # a server nobody can reach any more (a notebook cell run again rebinds `mock`) is
        # stopped when its MockServer is collected, not left listening with no handle
        self._finalizer = weakref.finalize(self, serving.stop)

    def stop(self) -> None:
        """Stop serving (a stopped mock may be started again, on the same ports)."""
        serving, self._serving = self._serving, None
        if self._finalizer is not None:
            self._finalizer.detach()
        if serving is not None:
            serving.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def _loop(self) -> asyncio.AbstractEventLoop | None:
        return None if self._serving is None else self._serving.loop

    # --- where it is ---

    @property
    def port(self) -> int:
        """The port the KIE API is served on; RuntimeError while not running."""
        if self._serving is None:
            raise RuntimeError("the mock server is not running")
        return self._serving.ports[0]

    @property
    def base_url(self) -> str:
        """e.g. "http://127.0.0.1:54321" (no trailing slash)."""
        return _base_url(self._host, self.port)

    @property
    def inspector_url(self) -> str:
        """The inspector page (inspector/): what the client sent and the mock answered, live."""
        return self.base_url + inspector.PAGE

    @property
    def upload_base_url(self) -> str:
        """Where KIE's upload host (kieai.redpandaai.co, kie-api.md §1) is emulated: pass it
        as a client's ``upload_base_url``. Uploaded files are served from it too."""
        if self._serving is None:
            raise RuntimeError("the mock server is not running")
        return _base_url(self._host, self._serving.ports[1])

    def uploads(self) -> list[StoredFile]:
        """The files on the upload host (each with its bytes)."""
        return self._uploads.files()

    # --- what happened ---

    def tasks(
        self, *, api_key: str | None = None, account_id: str | None = None
    ) -> list[TaskSnapshot]:
        """Every task in creation order; or one account's, named by its key or its id."""
        account = _account_named(api_key, account_id)
        return [_detached(task) for task in self._runtime.store.snapshots(account=account)]

    def callbacks(
        self,
        *,
        wait: bool = True,
        task_id: str | None = None,
        api_key: str | None = None,
        account_id: str | None = None,
        timeout: float | None = None,
    ) -> list[CallbackRecord]:
        """Recorded callbacks, in the order owed: every one, or one task's, or those of one
        account's tasks. By default first waits for the deliveries in flight that these select
        (only those: another job's receiver never holds it), at most ``timeout`` seconds
        (default: ``callback_timeout``); records still in flight then say "pending"."""
        account = _account_named(api_key, account_id)
        bound = self.config.callback_timeout if timeout is None else _checked_wait(timeout)
        if wait and self._loop is not None:
            dispatcher = self._runtime.callbacks
            idle = dispatcher.wait_idle(task_id=task_id, account=account, timeout=bound)
            self._call(idle, bound + START_TIMEOUT)
        dispatcher = self._runtime.callbacks
        records = dispatcher.records() if task_id is None else dispatcher.records_of(task_id)
        return [record for record in records if account is None or record.account_id == account]

    def load_har(self, path: ScenarioSource) -> Scenario:
        """Replay the tasks a HAR file (or a scenario file) recorded; see har.py. ``path`` may
        also be the file's JSON as a dict, or a Scenario (:func:`scenario_of`)."""
        scenario = scenario_of(path, "load_har")
        log_warnings(scenario, str(path) if isinstance(path, str | os.PathLike) else "load_har")
        self._runtime.scenarios.load(scenario)
        return scenario

    def requests(self) -> list[RequestRecord]:
        """Every request the mock has recorded, oldest first (``journal.records()``)."""
        return self._runtime.journal.records()

    @property
    def clock(self) -> MockClock:
        """The mock's clock: `mock.clock.advance(600)` moves every task, window and link on."""
        return self._runtime.clock

    def configure_callbacks(self, **changes: Unpack[CallbackChanges]) -> CallbackSettings:
        """Change how callbacks are sent: ``hmac_key``, ``copies`` (each callback sent N
        times), ``tamper`` ("signature" | "stale" | None), ``stale_seconds`` (callbacks.py)."""
        return self._runtime.callbacks.configure(**changes)

    @property
    def limits(self) -> Limits:
        """KIE's documented rate limits: ``mock.limits.set(LimitSettings.documented())``."""
        return self._runtime.limits

    @property
    def faults(self) -> Faults:
        """Fault rules: ``mock.faults.add(FaultRule("reset", path="/api/v1/jobs/createTask"))``."""
        return self._runtime.faults

    @property
    def journal(self) -> Journal:
        """Every client request, indexed, with assertions: `assert_created_once(task_id)`,
        `assert_no_duplicate_creates()`, `assert_no_poll_faster_than(2)`; `creates()`, `polls()`."""
        return self._runtime.journal

    def task(self, task_id: str) -> TaskSnapshot:
        """One task, as it is now; KeyError for an unknown id."""
        task = self._runtime.store.find(task_id)
        if task is None:
            raise KeyError(task_id)
        return _detached(task)

    # --- steering tasks ---

    def set_outcome(self, task_id: str, outcome: Outcome | str) -> TaskSnapshot:
        """How a pending task will end: "success", "fail", "moderation", "callback_fail",
        "create_failed" or an Outcome with its own code/message. KeyError for an unknown task,
        ValueError once ended."""
        return self._runtime.store.set_outcome(task_id, outcome)

    def set_lifecycle(self, task_id: str, lifecycle: Lifecycle) -> TaskSnapshot:
        """When a pending task will end: Lifecycle() immediate, Lifecycle(polls=3),
        Lifecycle(seconds=30) (mock clock), Lifecycle(manual=True) (only advance/complete)."""
        return self._runtime.store.set_lifecycle(task_id, lifecycle)

    def advance(self, task_id: str) -> State:
        """Move a task to its next state (its final one if it is due); returns the new state."""
        return self._step(task_id, complete=False).state

    def complete(self, task_id: str) -> TaskSnapshot:
        """End a task now with its planned outcome (its callback is owed as usual)."""
        return self._step(task_id, complete=True)

    def _step(self, task_id: str, *, complete: bool) -> TaskSnapshot:
        async def step() -> TaskSnapshot:  # on the server's loop: a callback may be owed
            return self._runtime.step(task_id, complete=complete)

        return self._call(step(), START_TIMEOUT)

    # --- rules ---

    def add_rule(self, rule: Rule) -> RuleView:
        """Outcome / lifecycle for new tasks that match, e.g.
        `mock.add_rule(Rule(outcome=Outcome("moderation"), model="kling-*", times=1))`.
        A ControlError for a `family` the mock does not serve."""
        check_families([rule], task_families())
        return self._runtime.rules.add(rule)

    def rules(self) -> list[RuleView]:
        """The rules in force, each with its id and how often it applied."""
        return self._runtime.rules.rules()

    def remove_rule(self, rule_id: int) -> None:
        """Remove the rule ``add_rule`` returned the id of."""
        self._runtime.rules.remove(rule_id)

    def clear_rules(self) -> None:
        """Drop every rule added (the built-in [mock:fail] rule stays)."""
        self._runtime.rules.clear()

    # --- accounts ---

    def put_account(self, api_key: str, settings: AccountSettings | None = None) -> AccountSnapshot:
        """Open an account for `api_key` (accepted from now on) or change its credits / rate
        limit. The key itself is not kept: the account is known by account_id(api_key)."""
        settings = settings or AccountSettings()
        if not api_key:
            raise ValueError("api_key must be a non-empty string")
        return self._runtime.store.put_account(
            account_id(api_key),
            credits=settings.credits,
            max_creates_per_10s=settings.max_creates_per_10s,
        )

    def accounts(self) -> list[AccountSnapshot]:
        """Every account the mock knows, with its credits and tasks."""
        return self._runtime.store.accounts()

    def account(self, api_key: str) -> AccountSnapshot | None:
        """The account of ``api_key`` (configured, added or seen on a request), else None."""
        return self._runtime.store.account(account_id(api_key))

    def reset(self, *, api_key: str | None = None, account_id: str | None = None) -> None:
        """Forget tasks, account changes, added rules and the journal (see Runtime.reset).
        Given an account (its key or its id), only that account's tasks, callbacks, journal
        records and the rules and faults scoped to it (Runtime.forget_account): for a mock
        that parallel jobs share. The clock is shared by all, and is never reset."""
        account = _account_named(api_key, account_id)
        if account is None:
            self._runtime.reset()
        else:
            self._runtime.forget_account(account)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("the mock server is not running")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)


class _Serving:
    """One start of a MockServer: its thread, loop and ports. The thread holds this, never
    the MockServer, so a MockServer nobody can reach is collected (and its server stopped)."""

    def __init__(
        self,
        runtime: Runtime,
        uploads: UploadStore,
        host: str,
        ports: tuple[int, int],
        shutdown_grace: float,
    ) -> None:
        self._runtime = runtime
        self._shutdown_grace = shutdown_grace
        self._uploads = uploads
        self._host = host
        self.ports = ports  # those asked for (0: a free one), then those listened on
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
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
        thread, loop, stop_event = self._thread, self.loop, self._stop_event
        if thread is None or loop is None or stop_event is None:
            return
        self._thread = self.loop = self._stop_event = None
        loop.call_soon_threadsafe(stop_event.set)
        if thread is not threading.current_thread():  # a collection may run on any thread
            thread.join()

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # handed to start(), which re-raises it in the caller
            failure.append(exc)
        finally:
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        options = _runner_options(self._shutdown_grace, access_log=False)
        options.update(_timeouts(self._runtime.config))
        runner = TimedAppRunner(build_app(self._runtime), handle_signals=False, **options)
        upload_app = build_upload_app(self._runtime, self._uploads)
        upload_runner = TimedAppRunner(upload_app, handle_signals=False, **options)
        await runner.setup()
        await upload_runner.setup()
        try:
            port = await _listen(runner, self._host, self.ports[0])
            self.ports = (port, await _listen(upload_runner, self._host, self.ports[1]))
            for own in self.ports:  # no callback reaches the mock's own control API
                self._runtime.callbacks.serves_on(own)
            # its links name its files from the start (inputs.py), before any upload reaches it
            self._uploads.serves_at(urlsplit(_base_url(self._host, self.ports[1])).netloc)
            self.loop = asyncio.get_running_loop()
            self._stop_event = asyncio.Event()
            ready.set()
            await self._stop_event.wait()
        finally:
            await _cleanup(runner, upload_runner)


def _account_named(api_key: str | None, account: str | None) -> str | None:
    """The account named by its key or its id (not both); None: every account."""
    if api_key is not None and account is not None:
        raise ValueError("give api_key or account_id, not both")
    if api_key is not None:
        if not api_key:
            raise ValueError("api_key must be a non-empty string")
        return account_id(api_key)
    return account


def _detached(task: TaskSnapshot) -> TaskSnapshot:
    """A snapshot whose request body a test may modify without touching the mock's task."""
    return replace(task, request_body=copy.deepcopy(task.request_body))


class UploadPortError(OSError):
    """The upload host's port (``--upload-port``, default ``--port`` + 1) could not be bound:
    a port the user did not name, so the message says which and how to choose another."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        super().__init__(
            cause.errno,
            f"cannot listen on {host}:{port} for the upload host (--upload-port, default "
            f"--port + 1): {cause.strerror or cause}; choose another with --upload-port N "
            "(0: a free one)",
        )
        self.port = port


def serve(
    port: int = 8000,
    host: str = "127.0.0.1",
    config: MockConfig | None = None,
    *,
    scenario: ScenarioSource | None = None,
    upload_port: int | None = None,
    access_log: bool = False,
    shutdown_grace: float = SHUTDOWN_SECONDS,
    ready_json: bool = False,
    exit_with_parent: bool = False,
    exit_on_stdin_close: bool = False,
) -> None:
    """Serve the mock until SIGINT/SIGTERM; prints one line with the base URL once listening,
    and one with the upload host's (``upload_port``; default: ``port`` + 1, or a free one).
    ``access_log`` logs every request through aiohttp's ``aiohttp.access`` logger.
    ``shutdown_grace``: seconds requests in flight get to finish at a stop, as for
    :class:`MockServer`.
    ``scenario``: a recording to replay, in any form :func:`scenario_of` takes.
    ``ready_json``: standard output gets one JSON line once both hosts accept connections
    (:func:`ready_line`), and nothing else; the prose lines are logged (standard error).
    ``exit_with_parent`` / ``exit_on_stdin_close``: also stop, as at SIGTERM, when the parent
    process ends / standard input reaches its end (lifetime.py)."""
    _refuse_non_loopback(host)
    _checked_port("port", port)
    grace = _checked_grace(shutdown_grace)
    if upload_port is not None:
        _checked_port("upload_port", upload_port)
    app = create_app(config)
    if scenario is not None:
        runtime_of(app).scenarios.load(scenario_of(scenario))  # HAR replay (har.py)
    if upload_port is None:
        upload_port = port + 1 if port else 0
    rt = runtime_of(app)
    upload_app = build_upload_app(rt)
    allowed = runtime_of(app).config.allowed_callback_hosts
    logging.getLogger("kiekit_mock").info("kiekit-mock: %s", Egress(allowed).describe())
    ends = _Ends(os.getppid() if exit_with_parent else None, exit_on_stdin_close)
    asyncio.run(
        _serve_forever(
            app, host, port, (upload_app, upload_port), access_log, grace, ready_json, ends
        )
    )


@dataclass(frozen=True)
class _Ends:
    """The ways the command line's mock stops besides a signal (lifetime.py)."""

    parent: int | None = None  # the parent's pid at start, to stop when it ends
    on_stdin_close: bool = False


def ready_line(url: str, upload_url: str | None) -> str:
    """The one JSON line ``--ready-json`` prints: the stable contract for a program that starts
    the mock (mockserver/README.md, Run it). Members may be added, never renamed or removed."""
    api_port = urlsplit(url).port
    upload_port = None if upload_url is None else urlsplit(upload_url).port
    return json.dumps({
        "event": "ready",
        "pid": os.getpid(),
        "base_url": url,
        "upload_base_url": upload_url,
        "inspector_url": url + inspector.PAGE,
        "health_url": url + "/_mock/health",
        "port": api_port,
        "upload_port": upload_port,
    })  # fmt: skip


async def _serve_forever(
    app: web.Application,
    host: str,
    port: int,
    upload: tuple[web.Application, int] | None = None,
    access_log: bool = False,
    shutdown_grace: float = SHUTDOWN_SECONDS,
    ready_json: bool = False,
    ends: _Ends = _Ends(),
) -> None:
    options = _runner_options(shutdown_grace, access_log)
    options.update(_timeouts(runtime_of(app).config))
    runner = TimedAppRunner(app, handle_signals=False, **options)
    await runner.setup()
    upload_runner = (
        None if upload is None else TimedAppRunner(upload[0], handle_signals=False, **options)
    )
    upload_url = None
    log = logging.getLogger("kiekit_mock")
    watchers: list[asyncio.Task[None]] = []
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        if upload_runner is not None and upload is not None:
            await upload_runner.setup()
            try:
                await web.TCPSite(upload_runner, host, upload[1]).start()
            except OSError as exc:
                raise UploadPortError(host, upload[1], exc) from exc
            upload_url = _base_url(host, upload_runner.addresses[0][1])
            upload[0][UPLOADS].serves_at(urlsplit(upload_url).netloc)  # as MockServer's
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # not the main thread / not POSIX: then Ctrl-C still raises KeyboardInterrupt
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)

        def stop_because(reason: str) -> None:
            if not stop.is_set():
                log.info("kiekit-mock: stopping: %s", reason)
                stop.set()

        url = _base_url(host, runner.addresses[0][1])
        for address in (*runner.addresses, *(upload_runner.addresses if upload_runner else ())):
            runtime_of(app).callbacks.serves_on(address[1])  # never called back (callbacks.py)
        config = runtime_of(app).config
        lines = [
            f"KIE API mock listening on {url} (Ctrl-C to stop); inspector: {url}{inspector.PAGE}",
            # second, so the first line stays the API's
            *([] if upload_url is None else [f"upload host mock listening on {upload_url}"]),
            when_tasks_end(config),
            accepted_keys(config),
            in_force(config),
        ]
        if ends.parent is not None:  # before the ready line: a parent may end at once
            watchers.append(asyncio.create_task(lifetime.watch_parent(ends.parent, stop_because)))
        if ends.on_stdin_close:
            lifetime.watch_stdin(loop, stop_because)
        if ready_json:  # stdout is the JSON line alone; the prose goes to the log (stderr)
            for line in lines:
                log.info("kiekit-mock: %s", line)
            print(ready_line(url, upload_url), flush=True)
        else:
            for line in lines:
                print(f"kiekit-mock: {line}", flush=True)
        await stop.wait()
    finally:
        for watcher in watchers:
            watcher.cancel()
        await _cleanup(runner, upload_runner)


async def _cleanup(*runners: web.AppRunner | None) -> None:
    """Stop the runners together: each closes its listener at once (no new connection is taken
    on either host while the other drains), then their requests in flight share one grace."""
    await asyncio.gather(*(runner.cleanup() for runner in runners if runner is not None))
