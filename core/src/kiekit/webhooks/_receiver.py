"""The receiver: an aiohttp application that verifies, acknowledges and confirms KIE's
callbacks with KIE's status (the package's docstring, :mod:`kiekit.webhooks`, says why)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import shlex
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from ssl import SSLContext  # for the annotations: asyncio imports ssl anyway
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

import kiekit
from kiekit._engine import MALFORMED_STATUS_TRIES, may_pass
from kiekit._lazy import LazyModule
from kiekit._numbers import finite, shown
from kiekit._redact import Secret
from kiekit.errors import ConfigurationError, KieError, TaskFailedError
from kiekit.models import Results, State, Task, TaskStatus
from kiekit.provider import Provider
from kiekit.webhooks._callbacks import (
    ACK,
    DEFAULT_MAX_AGE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Callback,
    CallbackError,
    SignatureError,
    digest,
    parse_callback,
    verify_signature,
)
from kiekit.webhooks._serving import Connections

# Annotations name what signing a callback never needs through modules imported when first
# read (typing.get_type_hints): kiekit.AsyncClient (kiekit's lazy name), web, kiekit_journal.
if TYPE_CHECKING:
    from aiohttp import web

    from kiekit import journal as kiekit_journal
else:
    web = LazyModule("aiohttp.web")
    kiekit_journal = LazyModule("kiekit.journal")

__all__ = [
    "BODY_TIMEOUT",
    "CONFIRM_DELAYS",
    "EARLY_TIMEOUT",
    "IDLE_TIMEOUT",
    "MAX_BODY",
    "UNKNOWN_RATE",
    "WebhookReceiver",
]

_SEEN = 10_000  # confirmed deliveries (and signatures) remembered
T = TypeVar("T")


def _remember(recent: OrderedDict[Any, None], key: Any) -> None:
    """Keep ``key`` as the newest of ``recent``, which holds the last _SEEN."""
    recent[key] = None
    recent.move_to_end(key)
    if len(recent) > _SEEN:
        recent.popitem(last=False)


# Seconds between tries to confirm a callback: after a status call that failed (each try has
# the client's own retries too), or that still reports the task running after a callback that
# announced its end: about a minute in all, as a short outage at KIE lasts
CONFIRM_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
# Status calls a second (and at once) for callbacks of tasks this process neither journalled nor
# waits on: a flood of forged task ids must not spend the key's 10 polls a second (§8)
UNKNOWN_RATE = 1.0
_UNKNOWN_BURST = 10
# Seconds a callback for a task id the journal does not hold waits while creates are in flight
# (rows ``sending``): KIE may call back before the create's answer reaches us (§6.1: and never
# again), and the answer names the task; a create's own deadline is 30 s with its retries
EARLY_TIMEOUT = 120.0
# Seconds between looks at the journal while the creates in flight are another process's (a
# webhook process beside the creating one): their answers are not heard here
EARLY_RECHECK = 1.0
MAX_BODY = 1024 * 1024  # bytes; a market callback carries the whole create request (§2.3)
BODY_TIMEOUT = 10.0  # seconds for a body, once its head is in (KIE gives up after 15, §6.1)
IDLE_TIMEOUT = 15.0  # seconds a connection of serve() may stay without bringing a request
_SHED_WARNING_EVERY = 60.0  # seconds between warnings about callbacks left unconfirmed
# seconds between warnings about refused callbacks (401, 400, 408, 413): the first is said at
# once (a mistyped or rotated hmac_key refuses every real callback), a flood once a minute
_REFUSED_WARNING_EVERY = 60.0

log = logging.getLogger("kiekit.webhooks")


StatusHandler = Callable[["TaskStatus"], Awaitable[None] | None]
CallbackHandler = Callable[[Callback], Awaitable[None] | None]
_Key = tuple[str, str | None, int | None]  # a delivery: task id, Suno stage, code


def _key(callback: Callback) -> _Key:
    return (callback.task_id, callback.stage, callback.code)


@attrs.define(eq=False)
class _Check:
    """The confirmation of one task's deliveries with KIE: one at a time per task, however
    many deliveries (or forgeries) come meanwhile."""

    keys: set[_Key] = attrs.Factory(set)  # deliveries it confirms; seen once it has
    final: bool = False  # one of them announced the end: only a finished status agrees
    fresh: bool = False  # one came since the last status call began: ask once more at least


@attrs.define
class _Budget:
    """A token bucket: ``rate`` a second, ``burst`` at once, by the receiver's clock."""

    rate: float
    burst: float
    tokens: float
    at: float | None = None

    def take(self, now: float) -> bool:
        if self.at is not None and now > self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now if self.at is None else max(self.at, now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class WebhookReceiver:
    """An aiohttp receiver for KIE's callbacks at ``path`` (POST).

    - with ``hmac_key``, unsigned, badly signed or replayed callbacks get HTTP 401 and are
      dropped (without it, a warning says so once: KIE signs callbacks on request, §6.3);
    - unreadable bodies get HTTP 400, bodies over ``max_body`` bytes 413, bodies slower than
      ``body_timeout`` seconds 408;
    - refusals are counted (``refused``) and said on ``kiekit.webhooks`` with their reason (the
      first at once, then at most once a minute), never with the key or the body;
    - accepted callbacks get 200 at once, and only then go to ``on_callback`` (unconfirmed: for
      logs and for payloads the status endpoint lacks, e.g. Suno's stages; a plain function or
      a coroutine function, as ``on_status``). Then, when someone is to be
      told (``on_status``, or a :meth:`wait` on the task) and the task's model is known (from
      a wait, the ``journal`` — by default ``client``'s —, or the body), its status is fetched
      from KIE with ``client`` (or the waiting one) and handed to ``on_status``: the confirmed
      state, not the body's claim. A callback that announces the task's end is confirmed
      again after each of ``confirm_delays`` seconds until KIE's status is final too (KIE's
      record may lag its callback); a status call that fails is tried again on the same
      schedule (a warning on ``kiekit.webhooks`` each time), an unreadable answer too, up to
      three in a row, as :meth:`AsyncClient.wait` polls again. A confirmed end is journalled as
      a wait's end (``client.finish``: the result links, or the failure) before ``on_status``
      is told, so it may ``hand_off``; waits on the task are woken with it.
    - KIE sends no callback again (kie-api.md §6.1): a hook that raises is logged and not
      called for it again (unless KIE repeats the delivery); the journal row says what is left
      (``kie resume``). The receiver asks KIE nothing more by itself.
    - A delivery counts as seen, and its repeats get 200 without being handled again, only
      once KIE's status has confirmed it; one never confirmed is forgotten, so a repeat of it
      (if KIE sends one) is handled afresh. Deliveries of one task are confirmed together, with
      one status call at a time; those of tasks this process neither journalled nor waits on
      are confirmed at most ``unknown_rate`` a second (after a burst of ten), the rest
      acknowledged and left unconfirmed with a warning.
    - A callback for a task id the journal does not hold, while the journal has creates on
      their way (rows ``sending``), waits for their answers, at most ``early_timeout``
      seconds: KIE may call back before the create's answer reaches us (§6.1), and it is then
      handled as a later one (journalled before ``on_status``).
    - :meth:`receive` is :meth:`handle` for any web framework: bytes and headers in, the HTTP
      status and answer out.
    - ``providers``: families whose callbacks carry the task id where kiekit does not look
      (:meth:`~kiekit.provider.Provider.callback_task_id`). The providers of ``client``'s
      registry (and of the clients of waits) are asked too, so an installed plugin's family
      needs none: its plugin is imported on the first callback that needs it. A callback none
      of them reads an id in is refused (HTTP 400).

    The receiver, the client and the waits must share one event loop.
    """

    def __init__(
        self,
        hmac_key: str | None = None,
        *,
        client: kiekit.AsyncClient | None = None,
        journal: kiekit_journal.Journal | None = None,
        on_status: StatusHandler | None = None,
        on_callback: CallbackHandler | None = None,
        path: str = "/kie/callback",
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.time,
        confirm_delays: Sequence[float] = CONFIRM_DELAYS,
        unknown_rate: float = UNKNOWN_RATE,
        max_body: int = MAX_BODY,
        body_timeout: float = BODY_TIMEOUT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        providers: Iterable[Provider] = (),
        early_timeout: float = EARLY_TIMEOUT,
    ) -> None:
        # held as a Secret: a debugger's, Sentry's or rich's dump of the receiver (vars())
        # shows Secret(***), and pickling the receiver is refused
        self._key = Secret(hmac_key) if hmac_key else None
        # families whose callbacks carry the task id elsewhere (Provider.callback_task_id)
        self._providers = tuple(providers)
        self._confirm_delays = tuple(confirm_delays)
        for delay in self._confirm_delays:
            _check_number("confirm_delays", delay, minimum=0.0)
        _check_number("max_age", max_age, minimum=0.0, strict=True)
        _check_number("unknown_rate", unknown_rate, minimum=0.0)
        _check_number("body_timeout", body_timeout, minimum=0.0, strict=True)
        _check_number("early_timeout", early_timeout, minimum=0.0)
        self._early_timeout = early_timeout
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise ConfigurationError(
                f"WebhookReceiver max_body must be a positive number of bytes, got {max_body!r}"
            )
        # the time signatures (and the budget for unknown tasks) are judged by: a test against
        # the mock after moving its clock passes the mock's (`clock=mock.clock.now`), as the
        # mock stamps callbacks with it
        self._clock = clock
        self._sleep = sleep  # between confirmations; a test passes its own to step them
        self._client = client
        self._journal = journal
        self._on_status = on_status
        self._on_callback = on_callback
        self.path = path
        self._max_age = max_age
        self._max_body = max_body
        self._body_timeout = body_timeout
        self._seen: OrderedDict[_Key, None] = OrderedDict()  # confirmed deliveries
        self._checks: dict[str, _Check] = {}  # confirmations under way, by task id
        # the bodies each signature came with, by stage and code: another is a replay (§6.3)
        self._signed: OrderedDict[tuple[str, str], dict[tuple[str | None, int | None], bytes]]
        self._signed = OrderedDict()
        burst = _UNKNOWN_BURST if unknown_rate > 0 else 0
        self._unknown = _Budget(rate=unknown_rate, burst=burst, tokens=burst)
        self._unknown_rate = unknown_rate
        self._shed_since_warning = 0
        self._shed_warned_at: float | None = None
        self._refused_since_warning = 0
        self._refused_warned_at: float | None = None
        # the waits on each task (one event each: two waits on one task are both woken)
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._wait_clients: dict[str, kiekit.AsyncClient] = {}
        # a waited task's final status, once confirmed: its waits end with it, not a poll more;
        # and its results, as the client that journalled that end made them (no second write)
        self._finals: dict[str, TaskStatus] = {}
        self._results: dict[str, tuple[kiekit.AsyncClient, Results]] = {}
        # tasks whose final status everyone was told (on_status, waits): a final state never
        # changes, so a later delivery, whatever stage or code it claims (a signature seen once
        # may come again relabelled within max_age, §6.3), is neither confirmed nor told again
        self._ended: OrderedDict[str, None] = OrderedDict()
        # tasks a callback was accepted for, so a wait that starts after it polls at once
        self._called: OrderedDict[str, None] = OrderedDict()
        self._models: dict[str, str] = {}
        # tasks whose callbacks could not be confirmed for want of a model: said once each
        self._modelless: OrderedDict[str, None] = OrderedDict()
        self._background: set[asyncio.Task[None]] = set()
        self._connections = Connections()
        self.accepted = 0  # callbacks handled (not counting repeats)
        self.repeated = 0
        self.refused = 0
        self.unconfirmed = 0  # accepted, but left unconfirmed: unknown tasks beyond the rate
        if self._key is None:
            log.warning(
                "WebhookReceiver at %s has no hmac_key: anyone who can reach it can send "
                "callbacks. KIE signs them once a webhook HMAC key is set at "
                "https://kie.ai/settings (kie-api.md §6.3): pass it as hmac_key. Until then "
                "on_status hears only what KIE's status confirms, but on_callback hears every "
                "body as sent.",
                path,
            )

    def __repr__(self) -> str:  # the key is never shown
        signed = "signed" if self._key is not None else "unsigned"
        return f"WebhookReceiver(path={self.path!r}, {signed})"

    @property
    def app(self) -> web.Application:
        from aiohttp import web

        app = web.Application(client_max_size=self._max_body)
        app.router.add_post(self.path, self.handle)
        app.on_cleanup.append(self._cleanup)
        return app

    @asynccontextmanager
    async def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        idle_timeout: float = IDLE_TIMEOUT,
        ssl_context: SSLContext | None = None,
    ) -> AsyncIterator[str]:
        """Run the receiver on ``host``:``port`` (0: a free port) until the block ends; yields
        its callback URL. Every connection must bring a request within ``idle_timeout`` seconds
        of opening or of its last answer, or it is closed (slow or silent clients cannot hold
        sockets: the URL is public). ``host="0.0.0.0"`` listens on every interface."""
        from aiohttp import web
        from yarl import URL

        _check_number("idle_timeout", idle_timeout, minimum=0.0, strict=True)
        runner = web.AppRunner(self.app, handle_signals=False)
        await runner.setup()
        try:
            server = runner.server
            assert server is not None  # set up above
            listener = await asyncio.get_running_loop().create_server(
                lambda: self._connections.protocol(server(), idle_timeout),
                host,
                port,
                ssl=ssl_context,
            )
            try:
                bound = listener.sockets[0].getsockname()
                scheme = "https" if ssl_context is not None else "http"
                yield str(URL.build(scheme=scheme, host=bound[0], port=bound[1], path=self.path))
            finally:
                listener.close()
        finally:
            await runner.cleanup()

    async def handle(self, request: web.Request) -> web.Response:
        """The aiohttp handler (mount it in an app of your own if you prefer)."""
        from aiohttp import web

        with self._connections.serving(request.protocol):
            body = await self._read(request)
            if isinstance(body, tuple):  # the rest of the body is not read: close after it
                code, message = body
                self._refuse(code, message, request.remote)
                answer = web.json_response({"code": code, "msg": message}, status=code)
                answer.force_close()
                await answer.prepare(request)
                await answer.write_eof()
                request.protocol.force_close()  # no lingering over the rest (aiohttp: 10 s)
                return answer
            code, reply, callback = self._received(body, request.headers, request.remote)
            answer = web.json_response(reply, status=code)
            if callback is not None and self._on_callback is not None:
                # The answer goes first: KIE gives up after 15 s (§6.1), and a hook of the
                # application's own (async, or slow) must not hold it. Then the hook runs, in
                # the background as on_status does (drain() waits for it).
                await answer.prepare(request)
                await answer.write_eof()
                self._start(self._heard(callback))
            return answer

    async def receive(
        self, body: bytes, headers: Mapping[str, str], *, peer: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """One delivery as :meth:`handle` takes it, for an application of any framework
        (FastAPI, Starlette, Quart, …): the body's bytes and the request's headers (any
        mapping; names in any case) in, the HTTP status and JSON object to answer with out.
        It does all :meth:`handle` does: the signature checked (401), the body read (400;
        over ``max_body`` bytes, 413), repeats answered without being handled again, the
        task confirmed with KIE, its end journalled and ``on_status`` told, in the
        background (``on_callback`` too: it starts once this returns). ``peer``: who sent
        it, for the log lines of refusals. Call it on the event loop of the receiver's
        client; from a WSGI (thread) application, run it there with
        ``asyncio.run_coroutine_threadsafe`` (docs/journal-batch-webhooks.md)."""
        if len(body) > self._max_body:
            message = f"callback body is larger than {self._max_body} bytes"
            self._refuse(413, message, peer)
            return 413, {"code": 413, "msg": message}
        code, reply, callback = self._received(body, headers, peer)
        if callback is not None and self._on_callback is not None:
            self._start(self._heard(callback))  # runs once the caller has answered
        return code, reply

    def _received(
        self, body: bytes, headers: Mapping[str, str], peer: str | None
    ) -> tuple[int, dict[str, Any], Callback | None]:
        """A delivery's answer (HTTP status, JSON object), and the callback accepted, its
        confirmation started (None: refused, or a repeat)."""
        try:
            callback = self._accept(
                body, _header(headers, TIMESTAMP_HEADER), _header(headers, SIGNATURE_HEADER)
            )
        except SignatureError as exc:
            self._refuse(401, exc.message, peer, exc.task_id)
            return 401, {"code": 401, "msg": exc.message}, None
        except CallbackError as exc:
            self._refuse(400, exc.message, peer)
            return 400, {"code": 400, "msg": exc.message}, None
        if callback is not None:
            self._register(callback)  # confirmed (and waits woken) whatever the hook does
        return 200, dict(ACK), callback

    def _refuse(
        self, code: int, message: str, peer: str | None, task_id: str | None = None
    ) -> None:
        """Count a refused delivery and say why on ``kiekit.webhooks``: the first at once, then
        at most once a ``_REFUSED_WARNING_EVERY`` (by the receiver's clock) with how many came
        meanwhile. The reason, the task id and the peer only: never the key or the body."""
        self.refused += 1
        self._refused_since_warning += 1
        now = self._clock()
        last = self._refused_warned_at
        about = f" for task {task_id}" if task_id else ""
        log.debug("refused a callback%s from %s: %d %s", about, peer, code, message)
        if last is not None and 0 <= now - last < _REFUSED_WARNING_EVERY:
            return
        hint = (
            " Every callback refused so? The receiver's hmac_key must be the webhook HMAC key "
            "at https://kie.ai/settings (kie-api.md §6.3), and its clock within max_age of "
            "KIE's."
            if code == 401
            else " A family whose callbacks carry the task id elsewhere is read by its "
            "provider (Provider.callback_task_id): pass client= (its installed plugins) or "
            "providers=[...]."
            if code == 400 and self._client is None and not self._providers
            else ""
        )
        log.warning(
            "refused %d callback(s) since the last warning (receiver.refused: %d in all); the "
            "last%s from %s: HTTP %d, %s. KIE does not send a refused callback again (§6.1): "
            "its task's end is learnt by polling (receiver.wait, kie resume).%s",
            self._refused_since_warning,
            self.refused,
            about,
            peer or "an unknown peer",
            code,
            message,
            hint,
        )
        self._refused_since_warning = 0
        self._refused_warned_at = now

    async def _read(self, request: web.Request) -> bytes | tuple[int, str]:
        """The body, within ``max_body`` bytes and ``body_timeout`` seconds; else the HTTP
        status and message to refuse it with."""
        too_large = (413, f"callback body is larger than {self._max_body} bytes")
        if request.content_length is not None and request.content_length > self._max_body:
            return too_large
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self._body_timeout):
                while chunk := await request.content.read(65536):
                    size += len(chunk)
                    if size > self._max_body:
                        return too_large
                    chunks.append(chunk)
        except TimeoutError:
            return 408, f"callback body not received within {self._body_timeout:g} s"
        return b"".join(chunks)

    def accept(self, body: bytes, timestamp: str | None, signature: str | None) -> Callback | None:
        """Parse and verify one delivery, and tell ``on_callback``; None when it repeats one
        already confirmed (or being confirmed). Framework-free, and it confirms nothing with
        KIE (nor journals, nor counts as seen): :meth:`receive` and :meth:`handle` do. A
        plain ``on_callback`` runs here, and one that raises is not counted (the error is
        raised here); an ``async def`` one is started on the running event loop
        (:meth:`drain` waits for it; ConfigurationError with none running)."""
        callback = self._accept(body, timestamp, signature)
        if callback is None or self._on_callback is None:
            return callback
        try:
            outcome = self._on_callback(callback)
        except Exception:
            self._forget(callback)
            raise
        if inspect.isawaitable(outcome):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                _close(outcome)
                self._forget(callback)
                raise ConfigurationError(
                    "on_callback is async, and accept() was called with no event loop running "
                    "to run it: call accept() from a coroutine, or mount receiver.app"
                ) from None
            self._start(self._heard(callback, outcome))
        return callback

    async def _heard(self, callback: Callback, outcome: Awaitable[None] | None = None) -> None:
        """Tell ``on_callback`` (the body's claim: log it, but trust on_status), after the
        answer. A hook that raises is said on ``kiekit.webhooks``; the delivery is then not
        counted as seen, so a repeat of it (KIE may deliver one more than once, §6.1) reaches
        the hook again. The task is confirmed with KIE whatever the hook does."""
        try:
            if outcome is None:
                assert self._on_callback is not None  # handle starts this only with one
                outcome = self._on_callback(callback)
            if outcome is not None:
                await outcome
        except Exception:
            self._forget(callback)
            log.exception(
                "on_callback raised for task %s: its callback was answered 200 before the hook "
                "ran, and KIE does not send a callback again (kie-api.md §6.1: no retry), so "
                "on_callback will not hear this one again unless KIE repeats it. The task's "
                "end is confirmed with KIE all the same (on_status, waits, the journal)",
                callback.task_id,
            )

    def _registry_providers(self) -> tuple[Provider, ...]:
        """The providers of ``client``'s registry and of the waiting clients', each once."""
        clients = [c for c in (self._client, *self._wait_clients.values()) if c is not None]
        registries = {id(c._engine.registry): c._engine.registry for c in clients}
        found = {id(p): p for r in registries.values() for p in r.providers()}
        return tuple(p for p in found.values() if p not in self._providers)

    def _forget(self, callback: Callback) -> None:
        """A delivery that was not handled to its end is no repeat: the next one is handled."""
        key = _key(callback)
        self._seen.pop(key, None)
        check = self._checks.get(callback.task_id)
        if check is not None:
            check.keys.discard(key)

    def _accept(self, body: bytes, timestamp: str | None, signature: str | None) -> Callback | None:
        try:
            callback = parse_callback(body, providers=self._providers)
        except CallbackError:
            # a family whose callbacks carry the task id elsewhere, installed as a plugin:
            # the clients' registries know it (the installed ones imported on the first such
            # callback); still refused, the same way, if none reads an id in it
            known = self._registry_providers()
            if not known:
                raise
            callback = parse_callback(body, providers=(*self._providers, *known))
        if self._key is not None:
            verify_signature(
                self._key.reveal(),
                callback.task_id,
                timestamp,
                signature,
                now=self._clock(),
                max_age=self._max_age,
            )
            assert timestamp is not None  # verified
            self._bind(callback, timestamp.strip(), body)
        key = _key(callback)
        check = self._checks.get(callback.task_id)
        if key in self._seen or (check is not None and key in check.keys):
            self.repeated += 1
            if check is not None:
                check.fresh = True  # it may have come after KIE's record changed: ask again
            return None
        _remember(self._called, callback.task_id)
        self.accepted += 1
        return callback

    def _bind(self, callback: Callback, stamp: str, body: bytes) -> None:
        """One signature, one body per stage and code: the signature does not cover the body
        (§6.3), so a signature seen with one body and replayed with another is refused. KIE
        may sign several stages of a task in one second (Suno), so other stages pass."""
        signed = (callback.task_id, stamp)
        bodies = self._signed.get(signed)
        if bodies is None:
            bodies = self._signed[signed] = {}
            if len(self._signed) > _SEEN:
                self._signed.popitem(last=False)
        this = digest(callback, body)
        earlier = bodies.setdefault((callback.stage, callback.code), this)
        if earlier != this:
            raise SignatureError(
                "this signature came with another body of the same callback before (a replay?)",
                task_id=callback.task_id,
            )

    # -- confirming with KIE ---------------------------------------------------------------------

    def _register(self, callback: Callback) -> None:
        """Join the task's confirmation under way, or start one."""
        task_id = callback.task_id
        if task_id in self._ended:  # its end was confirmed and told: nothing can follow it
            _remember(self._seen, _key(callback))
            return
        check = self._checks.get(task_id)
        if check is None:
            check = self._checks[task_id] = _Check()
            self._start(self._confirm(task_id, check, callback.model))
        check.keys.add(_key(callback))
        check.final = check.final or callback.announces_end
        check.fresh = True

    async def _confirm(self, task_id: str, check: _Check, body_model: str | None) -> None:
        try:
            await self._confirm_check(task_id, check, body_model)
        finally:
            if self._checks.get(task_id) is check:
                del self._checks[task_id]

    async def _confirm_check(self, task_id: str, check: _Check, body_model: str | None) -> None:
        if self._on_status is None and not self._waiters.get(task_id):
            return  # nobody to tell: nothing is confirmed, and nothing counts as seen
        client = self._client or self._wait_clients.get(task_id)
        if client is None:
            return
        model, known = await self._model_of(task_id, client, body_model)
        if not known:  # maybe a create of ours whose answer has not come yet
            model, known = await self._answered(task_id, client, model)
        if model is None:  # the status call needs it; legacy bodies do not name it
            await self._no_model(task_id, client)
            return
        if not known and not self._unknown.take(self._clock()):
            self._shed(task_id)
            return
        if not known:
            await self._not_journalled(task_id, client, model)
        from kiekit.models import Task

        task = Task(task_id, model)
        while True:
            status = await self._settle(client, task, check)
            if status is None:  # not confirmed: a repeat of it is handled afresh
                return
            covered = set(check.keys)
            await self._confirmed(client, task, status, check.final, covered)
            if not check.keys - covered or task_id in self._ended:  # an end is told once
                return
            # deliveries that came while on_status ran: a status call of their own

    async def _confirmed(
        self,
        client: kiekit.AsyncClient,
        task: Task,
        status: TaskStatus,
        final: bool,
        keys: set[_Key],
    ) -> None:
        """KIE's status for deliveries of its task: seen when it agrees with them (final, or
        none announced the end); when final, journalled as a wait's end and waits woken; then
        on_status told."""
        if status.state.finished or not final:
            for key in keys:
                _remember(self._seen, key)
        task_id = status.task_id
        if status.state.finished:
            # Before on_status: the row then says what it would after kie.wait (the result
            # links, or the failure), so on_status may hand_off or download, and kie resume
            # does not poll again what the service handled. A hook that fails leaves the row
            # so: a success still owes its files (kie resume), a failure is recorded.
            results = await self._journal_end(client, task, status)
            if self._waiters.get(task_id):
                self._finals[task_id] = status
                if results is not None:
                    self._results[task_id] = (client, results)
                for event in self._waiters[task_id]:
                    event.set()  # a wait ends with this status (Client.finish), no poll more
        if self._on_status is not None:
            try:
                outcome = self._on_status(status)
                if outcome is not None:
                    await outcome
            except Exception:  # the application's own failure: said here, not lost in a task
                for key in keys:
                    self._seen.pop(key, None)
                log.exception(
                    "on_status raised for task %s (%s). Its callback was answered 200, and KIE "
                    "does not send a callback again (kie-api.md §6.1: no retry), so on_status "
                    "will not hear of it again unless KIE repeats it. %s",
                    task_id,
                    status.state.value,
                    _recovery(client, status),
                )
                return
        if status.state.finished:
            _remember(self._ended, task_id)

    async def _journal_end(
        self, client: kiekit.AsyncClient, task: Task, status: TaskStatus
    ) -> Results | None:
        """Record a confirmed end in the client's journal as a wait's end is recorded
        (``client.finish``: the result links, or the failure); the results, None for a
        failure. A task the journal does not hold (created elsewhere) is written nowhere, and
        a row handed off already (a delivery after a restart) is not written over."""
        journal = _journal_of(client)
        if journal is not None:
            try:
                row = await _read(journal, functools.partial(journal.by_task, task.id))
            except KieError:  # finish's own write says what is wrong with the journal
                row = None
            if row is not None and row.handed_off:
                return None
        try:
            return await client.finish(task, status)
        except TaskFailedError:  # recorded as failed, as a wait records it
            return None
        except KieError as exc:  # an end kiekit cannot read (a wait would say the same)
            log.warning(
                "task %s was confirmed %s, but its results could not be read: %s",
                task.id,
                status.state.value,
                exc,
            )
            return None

    async def _settle(
        self, client: kiekit.AsyncClient, task: Task, check: _Check
    ) -> TaskStatus | None:
        """The task's status from KIE, asked again after each of ``confirm_delays`` while a
        failure can pass or while it is not final after a callback that announced the end.
        None when no call succeeded; the last status when the delays are used up."""
        delays = iter(self._confirm_delays)
        last = self._confirm_delays[-1] if self._confirm_delays else 0.0
        malformed = 0  # unreadable answers in a row
        while True:
            check.fresh = False
            try:
                status = await client.status(task)
            except KieError as exc:
                # One answer cut short or garbled by a proxy (or a record not there yet) is
                # asked again, as a wait polls again; as many in a row as end a wait end this
                # too (Engine.wait)
                malformed = malformed + 1 if may_pass(exc) else 0
                curable = exc.retryable or 0 < malformed < MALFORMED_STATUS_TRIES
                delay = next(delays, None) if curable else None
                if delay is None:
                    log.warning(
                        "a callback for task %s could not be confirmed (%s): on_status is not "
                        "told. KIE does not send a callback again (kie-api.md §6.1); a repeat "
                        "of it, if one comes, is handled afresh. %s",
                        task.id,
                        exc,
                        _recovery(client, None),
                    )
                    return None
                log.warning(
                    "a callback for task %s is not confirmed yet (%s): asking KIE again in %g s",
                    task.id,
                    exc,
                    delay,
                )
                await self._sleep(delay)
                continue
            if status.state.finished or not check.final:
                return status
            malformed = 0
            delay = next(delays, None)
            if delay is None and check.fresh:  # a delivery came while asking: once more
                delay = last
            if delay is None:
                log.warning(
                    "task %s was called back as ended, but KIE still reports it %s after %d "
                    "tries: on_status is told so. KIE does not send a callback again "
                    "(kie-api.md §6.1); a repeat of it, if one comes, is handled afresh. %s",
                    task.id,
                    status.state.value,
                    len(self._confirm_delays) + 1,
                    _recovery(client, status),
                )
                return status
            log.info(
                "task %s was called back as ended but KIE reports it %s: asking again in %g s",
                task.id,
                status.state.value,
                delay,
            )
            await self._sleep(delay)

    async def _model_of(
        self, task_id: str, client: kiekit.AsyncClient, body_model: str | None
    ) -> tuple[str | None, bool]:
        """The task's model, and whether this process knows the task (waits on it, or has it
        in the journal); else the model the body names, if any."""
        model = self._models.get(task_id)
        if model is not None:
            return model, True
        journal = self._journal if self._journal is not None else _journal_of(client)
        if journal is not None:
            try:
                entry = await _read(journal, functools.partial(journal.by_task, task_id))
            except KieError as exc:  # a journal that cannot be read: the task is not known
                log.warning("the journal could not be read for task %s: %s", task_id, exc)
                entry = None
            if entry is not None and entry.model:
                return entry.model, True
        return body_model, False

    async def _answered(
        self, task_id: str, client: kiekit.AsyncClient, model: str | None
    ) -> tuple[str | None, bool]:
        """:meth:`_model_of` once the creates in flight when the callback came have been
        answered: KIE may call back before the create's answer reaches us (kie-api.md §6.1),
        and does not call back again, so a callback for a task id the journal does not hold
        waits while the journal has creates on their way (rows ``sending``, their sender
        alive), at most ``early_timeout`` seconds. This process's creates wake it as they end
        (Journal.on_create_ended); another process's (a webhook process beside the creating
        one, on one journal) are looked at again every EARLY_RECHECK seconds."""
        journal = self._journal if self._journal is not None else _journal_of(client)
        if journal is None or self._early_timeout <= 0:
            return model, False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._early_timeout
        ended = asyncio.Event()

        def wake() -> None:  # from the thread that wrote the row
            with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
                loop.call_soon_threadsafe(ended.set)

        stop = journal.on_create_ended(wake)
        said = False
        try:
            while True:
                ended.clear()  # before looking: an answer written meanwhile wakes the wait
                try:
                    entry, sending = await _read(
                        journal, functools.partial(_looked_up, journal, task_id)
                    )
                except KieError as exc:
                    log.warning("the journal could not be read for task %s: %s", task_id, exc)
                    return model, False
                if entry is not None and entry.model:
                    return entry.model, True
                left = deadline - loop.time()
                if sending is None or left <= 0:
                    return model, False
                if not said:
                    log.info(
                        "a callback for task %s came before the answer of a create in flight "
                        "here (KIE may call back first, kie-api.md §6.1): it waits for it",
                        task_id,
                    )
                    said = True
                elsewhere = sending == "elsewhere"
                waiting = asyncio.ensure_future(ended.wait())
                pause = asyncio.ensure_future(
                    self._sleep(min(EARLY_RECHECK, left)) if elsewhere else asyncio.sleep(left)
                )
                try:
                    await asyncio.wait({waiting, pause}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for job in (waiting, pause):
                        job.cancel()
                    await asyncio.gather(waiting, pause, return_exceptions=True)
        finally:
            stop()

    async def _advice(self, task_id: str, client: kiekit.AsyncClient, model: str | None) -> str:
        """What to do with a task the journal does not hold: settle the create it most
        likely is (a row whose create's outcome is unknown), else adopt it."""
        journal = self._journal if self._journal is not None else _journal_of(client)
        rows: list[Any] = []
        if journal is not None:
            try:
                from kiekit.journal import EntryState, Selection

                unknown = Selection(states=frozenset({EntryState.SENDING, EntryState.UNKNOWN}))
                rows = [
                    row
                    for row in await _read(journal, functools.partial(journal.select, unknown))
                    if model is None or row.model == model
                ]
            except KieError:
                rows = []
        adopt = (
            "adopt it (client.adopt(task_id, model), or kie adopt TASK_ID --model M), or wait "
            "on it (receiver.wait(client, Task(task_id, model)))"
        )
        if not rows:
            return f"A task created outside kiekit: {adopt}"
        named = ", ".join(f"{row.key} ({row.model})" for row in rows[:3])
        more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
        key = shlex.quote(rows[0].key) if len(rows) == 1 else "KEY"
        return (
            f"The journal has {len(rows)} create(s) whose outcome is unknown (row(s) {named}"
            f"{more}; kie tasks --state unknown): if KIE's dashboard shows this task is the "
            f"one such a create made, record it in that row: kie settle {key} --task-id "
            f"{shlex.quote(task_id)} (kie resume then finishes it). Do not adopt it: one task "
            f"would have two rows. Only a task created outside kiekit is to be adopted: {adopt}"
        )

    async def _no_model(self, task_id: str, client: kiekit.AsyncClient) -> None:
        """Said once per task: its callbacks reach on_callback, but are never confirmed (a
        task other code created, of a family whose callback names no model)."""
        if task_id in self._modelless:
            return
        _remember(self._modelless, task_id)
        log.warning(
            "a callback for task %s cannot be confirmed with KIE: its model is not known here "
            "(not in the journal, not named by the callback), so on_status is not told. %s",
            task_id,
            await self._advice(task_id, client, None),
        )

    async def _not_journalled(self, task_id: str, client: kiekit.AsyncClient, model: str) -> None:
        """Said once per task when a journal is kept but holds no row for it: on_status is
        told, but its end is written nowhere (kie resume knows nothing of it)."""
        journal = self._journal if self._journal is not None else _journal_of(client)
        if journal is None or task_id in self._modelless:
            return
        _remember(self._modelless, task_id)
        log.warning(
            "task %s (%s) is not in the journal: on_status is told of it, but its end is "
            "recorded nowhere. %s",
            task_id,
            model,
            await self._advice(task_id, client, model),
        )

    def _shed(self, task_id: str) -> None:
        self.unconfirmed += 1
        self._shed_since_warning += 1
        now = self._clock()
        last = self._shed_warned_at
        if last is not None and 0 <= now - last < _SHED_WARNING_EVERY:
            return
        log.warning(
            "%d callback(s) for tasks this process neither journalled nor waits on (task %s "
            "the last) came beyond unknown_rate=%g a second: acknowledged, not confirmed with "
            "KIE (forged ones?). Keep the journal on, or wait on the tasks, to have them "
            "confirmed",
            self._shed_since_warning,
            task_id,
            self._unknown_rate,
        )
        self._shed_since_warning = 0
        self._shed_warned_at = now

    async def drain(self) -> None:
        """Wait until every confirmation under way has ended (``on_status`` told or not)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def wait(
        self, client: kiekit.AsyncClient, task: Task, *, timeout: float | None = None
    ) -> Results:
        """``client.wait(task)``, ended early by a callback for the task.

        The wait polls on the client's schedule (make it slow when callbacks are expected);
        once a callback for the task is confirmed with KIE as its end (the signature does not
        cover the body), the wait ends with that confirmed status (``client.finish``): the
        confirmation was the task's one status call. A callback that came before the wait
        began (between ``submit`` and ``wait``) makes its first poll immediate. A callback
        that never comes costs nothing but the polling. ``timeout`` bounds the whole wait
        (None: each round of polling keeps the client's own deadline). Several waits on one
        task are each woken.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        task_id = task.id
        self._models[task_id] = task.model
        self._wait_clients[task_id] = client
        event = asyncio.Event()
        waiters = self._waiters.setdefault(task_id, set())
        waiters.add(event)
        if task_id in self._called:  # it came already: the task without its creation time
            task = attrs.evolve(task, created_at=None)
        running: set[asyncio.Future[Any]] = set()
        try:
            while True:
                event.clear()
                left = None if deadline is None else max(deadline - loop.time(), 0.001)
                polling = asyncio.ensure_future(client.wait(task, timeout=left))
                # after a callback, the task without its creation time: poll at once
                task = attrs.evolve(task, created_at=None)
                woken = asyncio.ensure_future(event.wait())
                running = {polling, woken}
                await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                if polling.done():
                    return polling.result()
                polling.cancel()
                await asyncio.gather(polling, return_exceptions=True)
                final = self._finals.get(task_id)
                if final is not None:  # confirmed with KIE already: no second status call
                    done = self._results.get(task_id)
                    if done is not None and done[0] is client:  # journalled so already
                        return done[1]
                    return await client.finish(task, final)
                # woken otherwise: poll again now (a status poll is free, §2.2)
        finally:
            for job in running:  # also when this wait itself is cancelled
                job.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(task_id, None)
                self._models.pop(task_id, None)
                self._wait_clients.pop(task_id, None)
                self._finals.pop(task_id, None)
                self._results.pop(task_id, None)

    def _start(self, work: Awaitable[None]) -> None:
        job = asyncio.ensure_future(work)
        self._background.add(job)
        job.add_done_callback(self._background.discard)

    async def _cleanup(self, _app: web.Application) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop background work still running (status checks)."""
        for job in list(self._background):
            job.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)


def _recovery(client: kiekit.AsyncClient, status: TaskStatus | None) -> str:
    """How the task is still had, for a log line: what its journal row holds, and who will
    finish it (the receiver asks KIE nothing more by itself)."""
    if _journal_of(client) is None:
        return (
            "No journal records the task (journal=None): ask KIE yourself (client.status, "
            "client.wait or receiver.wait) if its end matters"
        )
    if status is not None and status.state is State.SUCCEEDED:
        return (
            "A task of the journal has its end recorded there (succeeded, files owed): kie "
            "resume downloads them, unless they are handed off (client.hand_off)"
        )
    if status is not None and status.state.finished:
        return "A task of the journal has its failure recorded there"
    return "A task of the journal stays owed there: kie resume (or client.wait) finishes it"


def _close(outcome: Awaitable[None]) -> None:
    """A coroutine that will not be awaited, closed (no 'never awaited' warning)."""
    close = getattr(outcome, "close", None)
    if close is not None:
        close()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Header ``name`` of any mapping: aiohttp's, Starlette's and Werkzeug's ignore case, a
    dict of one's own may not."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


async def _read(journal: kiekit_journal.Journal, read: Callable[[], T]) -> T:
    """``read()`` of the journal off the event loop, on the journal's writer thread (where the
    client's own journal work runs): a SQLite read may wait out another process's write lock,
    a PostgreSQL one a round trip or an outage, and the loop answers every other callback
    meanwhile. A cancellation that comes during the read is raised once it is done."""
    from kiekit.journal._writer import WRITER

    done, cancelled = await WRITER.written(read, journal.store)
    if cancelled is not None:
        raise cancelled
    result: T = done.result()
    return result


def _looked_up(
    journal: kiekit_journal.Journal, task_id: str
) -> tuple[kiekit_journal.Entry | None, str | None]:
    """The task's row, and where the journal's creates in flight are (_in_flight)."""
    return journal.by_task(task_id), _in_flight(journal)


def _in_flight(journal: kiekit_journal.Journal) -> str | None:
    """Whether the journal has creates on their way now (rows ``sending`` whose sender is
    alive): "here" when all are this process's (their answers wake a wait), "elsewhere" when
    one is another's, None when there are none."""
    from kiekit.journal import EntryState, Selection

    where = None
    for row in journal.select(Selection(states=frozenset({EntryState.SENDING}))):
        if journal.sender_alive(row) is not True:
            continue  # left by a crash (or an older kiekit's, unknowable): no answer comes
        if row.owner != journal.owner:
            return "elsewhere"
        where = "here"
    return where


def _journal_of(client: kiekit.AsyncClient) -> kiekit_journal.Journal | None:
    """The journal the client records its tasks in (the tasks this process created); a
    stand-in client without one has none."""
    journal: kiekit_journal.Journal | None = getattr(client, "journal", None)
    return journal


def _check_number(name: str, value: float, *, minimum: float, strict: bool = False) -> None:
    number = finite(value)
    if number is None or not (number > minimum if strict else number >= minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise ConfigurationError(
            f"WebhookReceiver {name} must be a number {bound}, got {shown(value)}"
        )
