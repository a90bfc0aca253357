"""How ``-vv`` tells each request kiekit sends and how it ended (README, "Logging"): a line when
it goes, one when it is answered or fails, at DEBUG on the ``kiekit`` logger. Written once, for
every call: KIE's task calls (:meth:`Engine.send <kiekit._engine.Engine.send>`), the uploads and
the chat calls. Never a body or a header: they hold the key and a chat's messages."""

from __future__ import annotations

import logging

log = logging.getLogger("kiekit")


def debugging() -> bool:
    """Whether the lines are wanted: a flow skips the clock read that times an answer if not."""
    return log.isEnabledFor(logging.DEBUG)


def sent(method: str, path: str, task_id: str | None = None) -> None:
    """The request, as it goes (``GET /api/v1/jobs/recordInfo (task 8f2c…)``)."""
    log.debug("%s %s%s", method, path, "" if task_id is None else f" (task {task_id})")


def answered(method: str, path: str, status: int, took: float) -> None:
    """How it ended with an answer: its HTTP status, and ``took`` seconds after it went."""
    log.debug("%s %s: HTTP %d, answered in %.0f ms", method, path, status, 1000 * took)


def failed(method: str, path: str, error: BaseException) -> None:
    """How it ended without one, or with one that is an error: ``error``, as the user gets it."""
    log.debug("%s %s failed: %s", method, path, error)
