"""A graceful stop that never turns a paid create into manual reconciliation.

A create cut short on the wire leaves a journal row of unknown outcome: KIE may have made (and
charged) the task, and cannot list tasks (kie-api.md §4), so only its dashboard can tell. KIE
answers a create in well under a second, and a container gives ten seconds or more between
SIGTERM and SIGKILL: a stop lets each create already sent finish within a grace, so that its
task id reaches the journal; what is not sent yet is stopped at once.

A client's :class:`Drain` follows its creates (their :class:`SendState`) and the stop's
deadline. ``AsyncClient`` awaits each create in a task of its own, so that a cancellation of
its caller, once a drain has begun, waits for a create on the wire (:meth:`Drain.settle`);
``kie run`` (a blocking ``Client``) asks :meth:`Drain.on_wire` from its signal handler.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from kiekit._engine.engine import SendState

if TYPE_CHECKING:
    import asyncio  # at run time only where awaited: a blocking Client never loads asyncio

T = TypeVar("T")


class Drain:
    """A client's creates under way, and the graceful stop begun, if one is (:meth:`begin`)."""

    def __init__(self) -> None:
        self.sends: set[SendState] = set()  # creates from their intent row to their outcome's
        self.deadline: float | None = None  # monotonic: when the grace ends (None: no stop)
        self.grace = 0.0
        self.cut = False  # stopped at once after all (a second Ctrl-C): no grace expired
        self._held: dict[asyncio.Future[Any], str | None] = {}  # creates let finish: their stop

    @contextlib.contextmanager
    def following(self, sending: SendState) -> Iterator[SendState]:
        """Count ``sending``'s create among this client's while it is under way."""
        self.sends.add(sending)
        try:
            yield sending
        finally:
            self.sends.discard(sending)

    async def create(self, creating: Awaitable[T], sending: SendState) -> T:
        """Await an AsyncClient's create in a task of its own: its caller's cancellation,
        once a stop has begun, lets it finish within the grace (:meth:`settle`)."""
        import asyncio

        with self.following(sending):
            create = asyncio.ensure_future(creating)
            try:
                return await asyncio.shield(create)
            except asyncio.CancelledError as stop:
                await self.settle(create, sending, stop)
                raise

    def on_wire(self) -> int:
        """How many creates may have reached KIE and await their answer (or its row)."""
        # a copy: a signal handler asks, maybe while another thread's create joins the set
        return sum(sending.maybe_sent for sending in list(self.sends))

    def begin(self, grace: float) -> None:
        """Stop gracefully: a create on the wire whose caller is cancelled from now on is let
        finish for up to ``grace`` seconds. Called again, it only shortens the grace; with 0
        (a second Ctrl-C), the creates still held are cancelled at once, as without a drain."""
        deadline = time.monotonic() + max(grace, 0.0)
        if self.deadline is None:
            self.grace = grace
        elif deadline >= self.deadline:
            return
        self.deadline = deadline
        if grace <= 0:
            self.cut = True
            for create, words in list(self._held.items()):
                create.cancel(words)

    def left(self) -> float:
        """Seconds of grace left (0: none, or no stop begun)."""
        return 0.0 if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)

    async def settle(
        self, create: asyncio.Future[Any], sending: SendState, stop: asyncio.CancelledError
    ) -> None:
        """The create's caller was cancelled (``stop``): let a create on the wire finish
        within the grace, its row written; cancel one not sent yet (or all, with no drain) at
        once. Either way the caller's cancellation is raised after, by the caller."""
        import asyncio

        words = stop.args[0] if stop.args else None
        if not create.done() and sending.maybe_sent and self.left() > 0:
            self._held[create] = words
            try:
                while not create.done() and (left := self.left()) > 0:
                    with contextlib.suppress(asyncio.CancelledError):  # the grace decides now
                        await asyncio.wait({create}, timeout=left)
            finally:
                self._held.pop(create, None)
            if not create.done() and not self.cut:
                words = f"{words or 'cancelled'}; {grace_expired(self.grace)}"
        create.cancel(words)
        while not create.done():  # it writes its row, then ends: soon, whatever cancels us
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({create})
        if not create.cancelled():
            create.exception()  # retrieved: its error was the caller's to hear, not the loop's


def grace_expired(grace: float) -> str:
    """What a create's row says when its answer did not come within the stop's grace."""
    return f"no answer within the {grace:g} s stop grace"
