"""Tasks that end on time, polled or not, and the callbacks they owe then.

KIE POSTs a task's callback when the task ends, whether or not anyone asks for its status
(kie-api.md §6.1): that is what a webhook-only client relies on. The mock moves a task when it
is polled; this module adds the other half. A task whose lifecycle has ``seconds``, is not
manual and has had its polls ends at ``created + seconds`` on the mock's clock, and its
callbacks go out then. The store keeps those tasks in order of due time (Store.settle_due);
one coroutine per app sleeps until the next one, converted to wall time with the clock's scale,
and is woken early when a sooner one is added or the mock's clock is moved on.

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

    rt.store.on_sooner = wake_threadsafe
    stop_listening = rt.clock.listen(wake_threadsafe)
    settler = asyncio.create_task(_settle(rt, wake), name="kiekit-mock settler")
    try:
        yield
    finally:
        stop_listening()
        rt.store.on_sooner = None
        settler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await settler


async def _settle(rt: Runtime, wake: asyncio.Event) -> None:
    store, clock = rt.store, rt.clock
    while True:
        wake.clear()  # before looking: a task added while it looks wakes it again
        moved = store.settle_due(clock.now())
        for transition in moved:
            try:
                notify_unpolled(rt, transition)
            except Exception:  # a family's payload bug must not stop every later task's end
                log.exception("kiekit-mock: the callback of task %s", transition.task.task_id)
        if moved:
            rt.changes.touch(("tasks", "callbacks", "accounts"))  # a failure refunds
        due = store.next_due()
        timeout = None if due is None else max(0.0, clock.wall_seconds(due - clock.now()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)


__all__ = ["settle_in_background"]
