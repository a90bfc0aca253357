"""KIE's callbacks: verify their signature, read every family's shape, receive them with aiohttp.

KIE POSTs JSON to a task's ``callBackUrl`` when it ends (and at each stage for Suno), with a 15 s
timeout, possibly more than once (kie-api.md §6.1). Three surprises shape this module:

- **The task id moves** (§6.2): ``data.taskId`` (market, 4o, Flux, Veo, Luma, Suno MIDI/cover),
  ``data.task_id`` (Runway, most of Suno, Veo 4K's schema), top-level ``taskId`` (Runway Aleph).
  :func:`parse_callback` looks in all of those places.
- **The signature does not cover the body** (§6.3): ``X-Webhook-Signature`` is
  ``base64(HMAC-SHA256(key, taskId + "." + X-Webhook-Timestamp))``. A valid signature proves who
  sent *a* callback for that task id, not what its body says. So a callback is a signal: the
  receiver confirms the task's state by asking KIE (``client.status``) before anyone trusts it.
- **No replay window is documented** (§6.3): :func:`verify_signature` refuses timestamps more
  than ``max_age`` seconds (default 300) from now, in either direction.

:class:`WebhookReceiver` is a small aiohttp application: it verifies (when it has the key),
drops repeated deliveries, answers 200 at once (``{"code": 200, "msg": "success"}``, §2.3) and
does the rest in the background. Its :meth:`~WebhookReceiver.wait` lets a callback end a wait
early, with polling kept as the fallback for callbacks that never come.

Errors: everything wrong with a callback is a :class:`CallbackError` (a
:class:`~kiekit.errors.ProtocolError`); a bad or missing signature is a :class:`SignatureError`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

from kiekit.errors import KieError, ProtocolError

if TYPE_CHECKING:
    from aiohttp import web

    from kiekit.client import AsyncClient
    from kiekit.journal import Journal
    from kiekit.models import Results, Task, TaskStatus

__all__ = [
    "ACK",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Callback",
    "CallbackError",
    "SignatureError",
    "WebhookReceiver",
    "parse_callback",
    "sign",
    "verify_signature",
]

TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Webhook-Signature"
ACK = {"code": 200, "msg": "success"}  # what KIE expects back (kie-api.md §2.3, WAN30)
DEFAULT_MAX_AGE = 300.0  # seconds; KIE names no window (§6.3 [INF: e.g. 5 min])
_MAX_TASK_ID = 256
_SEEN = 10_000  # deliveries remembered for de-duplication
# Seconds between tries to confirm a callback whose status call failed (each try has the
# client's own retries too): about a minute in all, as a short outage at KIE lasts
CONFIRM_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)

log = logging.getLogger("kiekit.webhooks")


class CallbackError(ProtocolError):
    """A callback kiekit cannot accept: not JSON, not an object, no task id."""


class SignatureError(CallbackError):
    """A callback whose signature is missing, malformed, stale or wrong."""


@frozen
class Callback:
    """One callback, as read from any family's shape. Nothing in it is confirmed: ask KIE."""

    task_id: str
    code: int | None  # the envelope's code: 200 success, else KIE's failure code (§6.2, §7)
    message: str | None
    stage: str | None = None  # Suno's callbackType: "text", "first", "complete", "error"
    state: str | None = None  # the market record's state, when the body carries one
    model: str | None = None  # the market record's model, when the body carries one
    payload: Any = field(default=None, eq=False, repr=False)


def sign(key: str, task_id: str, timestamp: int | str) -> str:
    """KIE's signature for a task id and a Unix-seconds timestamp (§6.3)."""
    message = f"{task_id}.{timestamp}".encode()
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


def verify_signature(
    key: str,
    task_id: str,
    timestamp: str | None,
    signature: str | None,
    *,
    now: float | None = None,
    max_age: float = DEFAULT_MAX_AGE,
) -> None:
    """Raise SignatureError unless ``signature`` is KIE's for ``task_id`` and ``timestamp`` and
    the timestamp is within ``max_age`` seconds of ``now``. Framework-free: pass the header
    values as received. The comparison takes constant time."""
    if not key:
        raise SignatureError("no webhook HMAC key configured", task_id=task_id)
    if timestamp is None or signature is None:
        raise SignatureError(
            f"unsigned callback: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required",
            task_id=task_id,
        )
    stamp = timestamp.strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not Unix seconds", task_id=task_id)
    current = time.time() if now is None else now
    if not math.isfinite(current) or abs(current - int(stamp)) > max_age:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is more than {max_age:g} s from now (a replay?)", task_id=task_id
        )
    try:
        given = base64.b64decode(signature.strip().encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise SignatureError(f"{SIGNATURE_HEADER} is not base64", task_id=task_id) from None
    expected = hmac.new(key.encode(), f"{task_id}.{stamp}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise SignatureError("the callback's signature does not match", task_id=task_id)


def parse_callback(body: bytes | str) -> Callback:
    """Read a callback body of any family (§6.2); CallbackError when it is not one."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise CallbackError("callback body is not JSON") from None
    if not isinstance(payload, dict):
        raise CallbackError("callback body is not a JSON object", payload=_clip(payload))
    data = payload.get("data")
    inner = data if isinstance(data, dict) else {}
    task_id = _task_id(payload, inner)
    code = payload.get("code")
    message = payload.get("msg", payload.get("message"))
    stage = inner.get("callbackType")
    state = inner.get("state")
    model = inner.get("model")
    return Callback(
        task_id=task_id,
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        message=message if isinstance(message, str) else None,
        stage=stage if isinstance(stage, str) else None,
        state=state if isinstance(state, str) else None,
        model=model if isinstance(model, str) and model else None,
        payload=payload,
    )


def _task_id(payload: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    # Every documented location, most common first (§6.2, §6.3; APICITY webhook.ts).
    for where in (data, payload):
        for name in ("taskId", "task_id"):
            value = where.get(name)
            if isinstance(value, str) and value.strip():
                if len(value) > _MAX_TASK_ID or not value.isprintable():
                    raise CallbackError("callback task id is not a task id")
                return value
    raise CallbackError("callback carries no task id (data.taskId, data.task_id, taskId)")


def _clip(value: Any) -> str:
    return repr(value)[:200]


StatusHandler = Callable[["TaskStatus"], Awaitable[None] | None]


class WebhookReceiver:
    """An aiohttp receiver for KIE's callbacks at ``path`` (POST).

    - with ``hmac_key``, unsigned or badly signed callbacks get HTTP 401 and are dropped;
    - unreadable bodies get HTTP 400; repeated deliveries get 200 and are not handled again;
    - accepted callbacks get 200 at once and go to ``on_callback`` (unconfirmed: for logs and
      for payloads the status endpoint lacks, e.g. Suno's stages); then waiters of the task are
      woken and, with a
      ``client`` that knows the task's model (from the body, a wait, or the ``journal``), its
      status is fetched from KIE and handed to ``on_status`` — the confirmed state, not the
      body's claim. A status call that fails is tried again after each of ``confirm_delays``
      seconds (a warning on ``kiekit.webhooks`` each time); if it never succeeds, the
      delivery is forgotten, so KIE's next delivery of it is handled afresh.

    The receiver, the client and the waits must share one event loop.
    """

    def __init__(
        self,
        hmac_key: str | None = None,
        *,
        client: AsyncClient | None = None,
        journal: Journal | None = None,
        on_status: StatusHandler | None = None,
        on_callback: Callable[[Callback], None] | None = None,
        path: str = "/kie/callback",
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.time,
        confirm_delays: Sequence[float] = CONFIRM_DELAYS,
    ) -> None:
        self._key = hmac_key or None
        self._confirm_delays = tuple(confirm_delays)
        # the time signatures are judged by: a test against the mock after moving its clock
        # passes the mock's (`clock=mock.clock.now`), as the mock stamps callbacks with it
        self._clock = clock
        self._client = client
        self._journal = journal
        self._on_status = on_status
        self._on_callback = on_callback
        self.path = path
        self._max_age = max_age
        self._seen: OrderedDict[tuple[str, str | None, int | None], None] = OrderedDict()
        # the waits on each task (one event each: two waits on one task are both woken)
        self._waiters: dict[str, set[asyncio.Event]] = {}
        # tasks a callback was accepted for, so a wait that starts after it polls at once
        self._called: OrderedDict[str, None] = OrderedDict()
        self._models: dict[str, str] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.accepted = 0  # callbacks handled (not counting repeats)
        self.repeated = 0
        self.refused = 0

    def __repr__(self) -> str:  # the key is never shown
        signed = "signed" if self._key else "unsigned"
        return f"WebhookReceiver(path={self.path!r}, {signed})"

    @property
    def app(self) -> web.Application:
        from aiohttp import web

        app = web.Application()
        app.router.add_post(self.path, self.handle)
        app.on_cleanup.append(self._cleanup)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        """The aiohttp handler (mount it in an app of your own if you prefer)."""
        from aiohttp import web

        try:
            callback = self._accept(
                await request.read(),
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
            )
        except SignatureError as exc:
            self.refused += 1
            return web.json_response({"code": 401, "msg": exc.message}, status=401)
        except CallbackError as exc:
            self.refused += 1
            return web.json_response({"code": 400, "msg": exc.message}, status=400)
        if callback is None:
            return web.json_response(ACK)
        self._start(self._process(callback))  # waits are woken whatever the hook does
        try:
            self._tell(callback)
        except Exception:  # logged by _tell; a 500 asks KIE for the delivery again
            return web.json_response({"code": 500, "msg": "on_callback failed"}, status=500)
        return web.json_response(ACK)

    def accept(self, body: bytes, timestamp: str | None, signature: str | None) -> Callback | None:
        """Parse and verify one delivery, and tell ``on_callback``; None when it repeats one
        already accepted. A delivery whose ``on_callback`` raises is not counted as seen (the
        error is raised here): KIE's next delivery of it is handled afresh."""
        callback = self._accept(body, timestamp, signature)
        if callback is not None:
            self._tell(callback)
        return callback

    def _tell(self, callback: Callback) -> None:
        if self._on_callback is None:
            return
        try:
            self._on_callback(callback)  # the body's claim: log it, but trust on_status
        except Exception:
            self._forget(callback)
            log.exception(
                "on_callback raised for task %s: the delivery is not counted as seen, so KIE's "
                "next delivery of it is handled again",
                callback.task_id,
            )
            raise

    def _forget(self, callback: Callback) -> None:
        """A delivery that was not handled to its end is no repeat: the next one is handled."""
        self._seen.pop((callback.task_id, callback.stage, callback.code), None)

    def _accept(self, body: bytes, timestamp: str | None, signature: str | None) -> Callback | None:
        callback = parse_callback(body)
        if self._key is not None:
            verify_signature(
                self._key,
                callback.task_id,
                timestamp,
                signature,
                now=self._clock(),
                max_age=self._max_age,
            )
        seen = (callback.task_id, callback.stage, callback.code)
        if seen in self._seen:
            self.repeated += 1
            return None
        self._seen[seen] = None
        if len(self._seen) > _SEEN:
            self._seen.popitem(last=False)
        self._called[callback.task_id] = None
        self._called.move_to_end(callback.task_id)
        if len(self._called) > _SEEN:
            self._called.popitem(last=False)
        self.accepted += 1
        return callback

    async def _process(self, callback: Callback) -> None:
        for event in self._waiters.get(callback.task_id, ()):
            event.set()  # a wait re-polls now, and ends with what it confirms
        # on_status hears of every accepted callback, a waited task's too (with a status call
        # of its own: the wait's poll answers the wait)
        model = callback.model or self._models.get(callback.task_id) or self._model_of(callback)
        if self._client is None or model is None or self._on_status is None:
            return
        from kiekit.models import Task

        status = await self._confirm(self._client, Task(callback.task_id, model))
        if status is None:  # not confirmed: KIE's next delivery of it is handled afresh
            self._forget(callback)
            return
        try:
            outcome = self._on_status(status)
            if outcome is not None:
                await outcome
        except Exception:  # the application's own failure: said here, not lost in a task
            self._forget(callback)
            log.exception(
                "on_status raised for task %s (%s): KIE's next delivery of its callback is "
                "handled again",
                status.task_id,
                status.state.value,
            )

    async def _confirm(self, client: AsyncClient, task: Task) -> TaskStatus | None:
        """The task's status from KIE, tried again after each of ``confirm_delays`` while the
        failure is one that can pass (None once it cannot, or the delays are used up)."""
        delays = iter(self._confirm_delays)
        while True:
            try:
                return await client.status(task)
            except KieError as exc:
                delay = next(delays, None) if exc.retryable else None
                if delay is None:
                    log.warning(
                        "a callback for task %s could not be confirmed (%s): on_status is not "
                        "told; a repeated delivery will be handled again",
                        task.id,
                        exc,
                    )
                    return None
                log.warning(
                    "a callback for task %s is not confirmed yet (%s): asking KIE again in %g s",
                    task.id,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)

    def _model_of(self, callback: Callback) -> str | None:
        if self._journal is None:
            return None
        entry = self._journal.by_task(callback.task_id)
        return None if entry is None else entry.model

    async def wait(
        self, client: AsyncClient, task: Task, *, timeout: float | None = None
    ) -> Results:
        """``client.wait(task)``, ended early by a callback for the task.

        The wait polls on the client's schedule (make it slow when callbacks are expected);
        a callback for the task restarts it, so the next poll is immediate: that poll confirms
        the state (the signature does not cover the body). A callback that came before the
        wait began (between ``submit`` and ``wait``) makes its first poll immediate too. A
        callback that never comes costs nothing but the polling. ``timeout`` bounds the whole
        wait (None: each round of polling keeps the client's own deadline). Several waits on
        one task are each woken.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        task_id = task.id
        self._models[task_id] = task.model
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
                polling.cancel()  # woken: poll again now (a status poll is free, §2.2)
                await asyncio.gather(polling, return_exceptions=True)
        finally:
            for job in running:  # also when this wait itself is cancelled
                job.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(task_id, None)
                self._models.pop(task_id, None)

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
