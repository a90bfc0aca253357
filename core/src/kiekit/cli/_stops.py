"""A stop's grace for the creates on the wire (``kie run``, ``kie batch``): the first Ctrl-C or
SIGTERM starts no new create and no new download, but lets each create already sent finish for
up to ``--stop-grace`` seconds (``KIEKIT_STOP_GRACE``, default 5), so that the task KIE made
and charged for has its id in the journal, for ``kie resume``, rather than a row of unknown
outcome only KIE's dashboard can settle (kie-api.md §4: KIE cannot list tasks). A second stop
ends at once; a create still unanswered when the grace ends stays of unknown outcome."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kiekit.cli._common import Terminated, say, seconds_or_zero, stopped_by
from kiekit.errors import ValidationError

if TYPE_CHECKING:
    from kiekit._engine.drain import Drain

STOP_GRACE_ENV = "KIEKIT_STOP_GRACE"
# KIE answers a create in well under a second; Docker and CI give 10 s before SIGKILL
DEFAULT_STOP_GRACE = 5.0


def add_stop_grace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stop-grace",
        type=seconds_or_zero,
        default=None,
        metavar="S",
        help="on Ctrl-C or SIGTERM, seconds a create already sent may take to answer, so its "
        f"task id is journaled (default: {STOP_GRACE_ENV}, else {DEFAULT_STOP_GRACE:g}; "
        "0: stop at once)",
    )


def stop_grace(args: argparse.Namespace) -> float:
    """``--stop-grace``, else ``KIEKIT_STOP_GRACE``, else the default; read before any I/O."""
    if args.stop_grace is not None:
        return float(args.stop_grace)
    given = os.environ.get(STOP_GRACE_ENV, "").strip()
    if not given:
        return DEFAULT_STOP_GRACE
    try:
        return seconds_or_zero(given)
    except argparse.ArgumentTypeError as exc:
        raise ValidationError(STOP_GRACE_ENV, str(exc)) from None


def said_grace(stop: KeyboardInterrupt, creates: int, grace: float) -> None:
    """What the first stop waits for, and how to stop at once."""
    again = "SIGTERM" if isinstance(stop, Terminated) else "Ctrl-C"
    say(
        f"kie: {stopped_by(stop)}: letting {creates} create(s) already sent finish (up to "
        f"{grace:g} s) so their task ids are journaled; {again} again stops at once"
    )


def handled(signum: int) -> bool:
    """Whether kie takes ``signum`` over: not when it was inherited ignored (a background job
    of a non-interactive shell ignores SIGINT), as Python itself leaves it."""
    return signal.getsignal(signum) is not signal.SIG_IGN


@contextlib.contextmanager
def graced_create(drain: Drain, grace: float) -> Iterator[None]:
    """Around a blocking ``Client``'s create (``kie run``): the first Ctrl-C or SIGTERM while
    the create is on the wire is held back (raised once the create returns, its row written),
    for up to ``grace`` seconds (SIGALRM then raises it on the wire: its outcome unknown).
    A stop before the create is sent, a second stop, or one on a platform without SIGALRM
    is raised at once."""
    import threading

    if threading.current_thread() is not threading.main_thread():  # signals go to that one
        yield
        return
    pending: list[KeyboardInterrupt] = []

    def stop(signum: int, frame: object) -> None:
        made = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        creates = drain.on_wire()
        if pending or not creates or grace <= 0 or not hasattr(signal, "setitimer"):
            raise pending[0] if pending else made
        pending.append(made)
        said_grace(made, creates, grace)
        signal.setitimer(signal.ITIMER_REAL, grace)

    def expired(signum: int, frame: object) -> None:
        if pending:
            from kiekit._engine.drain import grace_expired

            late = pending[0]
            late.args = (f"{stopped_by(late)}; {grace_expired(grace)}",)
            raise late

    kinds = [signum for signum in (signal.SIGINT, signal.SIGTERM) if handled(signum)]
    alarm = getattr(signal, "SIGALRM", None)
    before: dict[int, Any] = {signum: signal.signal(signum, stop) for signum in kinds}
    if alarm is not None:
        before[alarm] = signal.signal(alarm, expired)
    try:
        yield
    finally:
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in before.items():
            if handler is not None:  # None: not set from Python, left as it is
                signal.signal(signum, handler)
    if pending:  # the create answered within the grace: its task id is journaled
        raise pending[0]


class Ending:
    """The ``kie`` script's stops once its command is over (:func:`kiekit.cli.main` run as the
    script, the process ending with it). Until then a Ctrl-C or SIGTERM stops the command
    (130, 143). From :meth:`end` on (the command has returned: its files written and
    journaled, its exit code decided) a stop is noted, not obeyed: the code stays the
    command's own (0 when everything was delivered), so a script does not take a finished run
    for an interrupted one and ``kie resume`` it for nothing, and kie never dies by the
    signal itself (-2, -15), in its last lines or in the interpreter's shutdown after them."""

    def __init__(self) -> None:
        self.script = False  # main() runs as the kie script: the process ends with it
        self.over = False  # the command has returned; stops are noted from now on
        self.late: int | None = None  # the first stop noted, a signal number

    def end(self) -> None:
        """The command is over. SIGINT gets a handler of ours first (asyncio.run takes it
        over only from Python's own, so it is left alone while the command runs): until
        ``over`` is set a stop still raises, so no moment is left where it kills."""
        if self.script and not self.over:
            if handled(signal.SIGINT):
                signal.signal(signal.SIGINT, self.interrupt)
            self.over = True

    def terminate(self, signum: int, frame: object) -> None:
        """kie's SIGTERM handler: Terminated, raised where the command is (exit 143)."""
        if self.over:
            self.late = self.late or signum
            return
        raise Terminated

    def interrupt(self, signum: int, frame: object) -> None:
        if self.over:
            self.late = self.late or signum
            return
        raise KeyboardInterrupt

    def said_late(self, code: int) -> None:
        """One line for a stop that came after the command was over."""
        if self.late is not None:
            name = signal.Signals(self.late).name
            with contextlib.suppress(OSError, ValueError):  # stderr closed: nothing to say
                say(f"kie: {name} came after the command had ended: exit status {code}")


ENDING = Ending()
