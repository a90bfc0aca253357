"""When the command line's mock stops on its own: with its parent, or at the end of its stdin.

A test runner that starts ``kie mock serve`` and then dies (``process.exit``, a crash, a
``kill -9``) left the mock serving for good, reparented, its ports taken (found by a Node
tester). Both ways out are opt-in: a mock started in the background of a CI shell (``&``,
``nohup``) outlives the shell on purpose.

- ``--exit-with-parent`` (``KIEKIT_MOCK_EXIT_WITH_PARENT=1``): the mock notes its parent's pid
  at start and stops once ``os.getppid()`` differs, checked every :data:`PARENT_POLL` seconds.
  An orphan is reparented (to init, or to a subreaper such as tini or ``systemd --user``), so
  the pid changes whoever adopts it. Linux's ``prctl(PR_SET_PDEATHSIG)`` would be immediate,
  but it fires when the *thread* that started the process ends, not the process: a JVM or a
  thread pool that spawns the mock from a worker thread would kill it while its parent lives.
  On Windows a parent's pid does not change when it dies: there use the stdin way.
- ``--exit-on-stdin-close``: the mock reads its standard input (and discards it) and stops at
  end of file, which every OS gives once the parent's end of the pipe closes, however the
  parent ended (the "sidecar" pattern of testcontainers' Ryuk). Standard input must then be
  a pipe the parent holds open: ``/dev/null`` (Node's ``'ignore'``) ends at once.

Either stop is the graceful one SIGTERM starts (the requests in flight get the shutdown grace).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping

from .variables import EXIT_WITH_PARENT_ENV

PARENT_POLL = 0.5  # seconds between two looks at the parent's pid (real time, not the mock's)
_YES = ("1", "true", "yes", "on")
_NO = ("", "0", "false", "no", "off")

log = logging.getLogger("kiekit_mock")


def exit_with_parent_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """KIEKIT_MOCK_EXIT_WITH_PARENT as a yes or no; ValueError naming it for anything else."""
    value = (os.environ if environ is None else environ).get(EXIT_WITH_PARENT_ENV, "")
    if value.strip().lower() in _YES:
        return True
    if value.strip().lower() in _NO:
        return False
    raise ValueError(f"{EXIT_WITH_PARENT_ENV}: expected 1 or 0 (true/false), got {value!r}")


async def watch_parent(parent: int, stop: Callable[[str], None], poll: float = PARENT_POLL) -> None:
    """Call ``stop`` once this process's parent is no longer ``parent``, the one it started
    with (noted at start: a parent that dies while the server starts is seen too)."""
    while True:
        if os.getppid() != parent:
            stop(f"its parent process {parent} ended (--exit-with-parent)")
            return
        await asyncio.sleep(poll)


def watch_stdin(loop: asyncio.AbstractEventLoop, stop: Callable[[str], None]) -> None:
    """Read standard input on a daemon thread, and call ``stop`` on the loop at its end.

    The thread reads the file descriptor (``os.read``), not ``sys.stdin``: a daemon thread
    blocked in a buffered stream's read holds its lock, which Python's exit may then wait for."""

    def read() -> None:
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass  # a closed or unreadable stdin ends as its end of file does
        with contextlib.suppress(RuntimeError):  # the loop already closed: stopped anyway
            loop.call_soon_threadsafe(stop, "its standard input closed (--exit-on-stdin-close)")

    threading.Thread(target=read, name="kiekit-mock-stdin", daemon=True).start()
