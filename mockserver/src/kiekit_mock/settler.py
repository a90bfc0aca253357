"""Tasks that end on time, polled or not, and the callbacks they owe then.

KIE POSTs a task's callback when the task ends, whether or not anyone asks for its status
(kie-api.md §6.1): that is what a webhook-only client relies on. The mock moves a task when it
is polled; this module adds the other half. A task whose lifecycle has ``seconds``, is not
manual and has had its polls ends at ``created + seconds`` on the mock's clock, and its
callbacks go out then. The store keeps those tasks in order of due time (Store.settle_due);
one coroutine per app sleeps until the next one, converted to wall time with the clock's scale,
and is woken early when a sooner one is added. A move of the mock's clock ends the tasks it made
due before ``advance()`` returns, on the server's loop, whichever thread moved it: a test reads
them ended at once.

The instant lifecycle (no polls, no seconds) is left to its first poll, as before: tests often
create a task and then set its outcome or lifecycle, and an end in the background would race
them. A polls lifecycle still needs its polls. Neither costs a request anything here: the store
wakes this coroutine only when a task's due time is sooner than every other's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .families import notify_unpolled
from .runtime import RUNTIME, Runtime

log = logging.getLogger("kiekit_mock")


async def settle_in_background(app: web.Application) -> AsyncIterator[None]:
    """An aiohttp cleanup_ctx: the settler runs while the app serves."""
    rt = app[RUNTIME]
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def wake_threadsafe() -> None:
        # the store and the clock are moved from test threads too (MockServer's Python API)
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to wake
            loop.call_soon_threadsafe(wake.set)

    def settle_on_advance() -> None:
        """The clock moved: the tasks it made due end before advance() returns, whichever
        thread moved it, so a test reads them ended at once (mock.task(), callbacks())."""
        if _running_loop() is loop:  # the control route, or a test on the server's loop
            _settle_due(rt)
        else:
            # RuntimeError: the loop has closed, nothing to end; TimeoutError: it stopped (a
            # server shutting down) without running this, and the next start settles it
            with contextlib.suppress(RuntimeError, TimeoutError):
                done = asyncio.run_coroutine_threadsafe(_settled_now(rt), loop)
                done.result(timeout=_SETTLE_TIMEOUT)
        wake_threadsafe()  # and the settler looks again at what is due next

    rt.store.on_sooner = wake_threadsafe
    stop_listening = rt.clock.listen(settle_on_advance)
    settler = asyncio.create_task(_settle(rt, wake), name="kiekit-mock settler")
    try:
        yield
    finally:
        stop_listening()
        rt.store.on_sooner = None
        settler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await settler


_SETTLE_TIMEOUT = 30.0  # seconds a clock move from another thread waits for the ends it made


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _settled_now(rt: Runtime) -> None:
    _settle_due(rt)


def _settle_due(rt: Runtime) -> None:
    """End what is due by now and owe its callbacks; on the server's loop."""
    moved = rt.store.settle_due(rt.clock.now())
    for transition in moved:
        try:
            notify_unpolled(rt, transition)
        except Exception:  # a family's payload bug must not stop every later task's end
            log.exception("kiekit-mock: the callback of task %s", transition.task.task_id)
    if moved:
        rt.changes.touch(("tasks", "callbacks", "accounts"))  # a failure refunds


async def _settle(rt: Runtime, wake: asyncio.Event) -> None:
    store, clock = rt.store, rt.clock
    while True:
        wake.clear()  # before looking: a task added while it looks wakes it again
        _settle_due(rt)
        due = store.next_due()
        timeout = None if due is None else max(0.0, clock.wall_seconds(due - clock.now()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)


__all__ = ["settle_in_background"]
