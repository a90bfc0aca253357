"""What the journal commands share: an AsyncClient on the command's connection, and the journal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from kiekit.cli._common import Connection, Terminated, connect, say, stopped_by
from kiekit.errors import ResourceLimitError, ValidationError

if TYPE_CHECKING:
    from kiekit.client import AsyncClient
    from kiekit.journal import Journal
    from kiekit.polling import PollPolicy

T = TypeVar("T")


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, but what ``main`` returned is not lost when the loop's closing
    cannot start the thread that shuts its default executor down (a memory cap: Python's
    ``RuntimeError: can't start new thread`` from ``shutdown_default_executor``): the work is
    done, its summary (``--json``'s one object) still to print. Said in one line instead."""
    done: list[T] = []

    async def kept() -> T:
        result = await main
        done.append(result)
        return result

    try:
        return asyncio.run(kept())
    except RuntimeError as exc:
        refused = ResourceLimitError.refused(exc, "to close the event loop")
        if refused is None or not done:
            raise
        say(f"kie: warning: {refused.message} (the work was done)")
        return done[0]


def open_async_client(
    args: argparse.Namespace,
    stack: contextlib.AsyncExitStack,
    journal: Journal,
    connection: Connection | None = None,
) -> AsyncClient:
    """An AsyncClient that records into ``journal``: the embedded mock with --mock, else KIE
    (or --base-url) with KIE_API_KEY (``connection``, when the command checked it already)."""
    from kiekit.client import AsyncClient

    connection = connection or connect(args, stack)
    options = dict(connection.options)
    poll = _poll_policy(getattr(args, "poll_interval", None)) or options.pop("poll", None)
    options.pop("poll", None)
    client = AsyncClient(connection.api_key, journal=journal, poll=poll, **options)
    stack.push_async_callback(client.close)
    return client


def _poll_policy(interval: float | None) -> PollPolicy | None:
    """``--poll-interval S``: polls every S seconds at first, growing as usual (None: default)."""
    from kiekit.polling import PollPolicy

    if interval is None:
        return None
    if not interval > 0:
        raise ValidationError("--poll-interval", "must be a positive number of seconds")
    return PollPolicy(initial=interval, maximum=max(interval, PollPolicy().maximum))


@contextlib.asynccontextmanager
async def stops_cancel(grace: float = 0.0) -> AsyncIterator[list[AsyncClient]]:
    """Ctrl-C and SIGTERM cancel the running task with the stop's words ("terminated
    (SIGTERM)"), so every job winds down in order — a create cut short is journaled with those
    words, a held row let go — and then the stop is raised, as the command's handler expects.
    (Raised from a signal handler, it would land in whichever callback the loop ran.)

    The clients put in the list yielded are drained first (kiekit._engine.drain): the
    first stop lets their creates already sent finish within ``grace`` (cli._stops); a second
    one stops them at once. A signal inherited ignored stays ignored (cli._stops.handled)."""
    from kiekit.cli._stops import handled, said_grace

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stops: list[KeyboardInterrupt] = []
    clients: list[AsyncClient] = []

    def stop(make: Callable[[], KeyboardInterrupt]) -> None:
        first = not stops
        if first:
            stops.append(make())
        for client in clients:
            client._session.drain.begin(grace if first else 0.0)
        creates = sum(client._session.drain.on_wire() for client in clients)
        if first and creates and grace > 0:
            said_grace(stops[0], creates, grace)
        task.cancel(stopped_by(stops[0]))

    kinds: dict[int, Callable[[], KeyboardInterrupt]] = {
        signal.SIGINT: KeyboardInterrupt,
        signal.SIGTERM: Terminated,
    }
    before = {signum: signal.getsignal(signum) for signum in kinds}
    installed = []
    for signum, make in kinds.items():
        if not handled(signum):
            continue
        try:
            loop.add_signal_handler(signum, stop, make)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not main thread
            continue
        installed.append(signum)
    try:
        yield clients
    except asyncio.CancelledError:
        if not stops:
            raise
        raise stops[0] from None
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
            if before[signum] is not None:  # kie's own SIGTERM handler, asyncio's for Ctrl-C
                signal.signal(signum, before[signum])
