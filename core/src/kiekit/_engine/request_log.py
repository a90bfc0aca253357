"""How ``-vv`` tells each request kiekit sends and how it ended (README, "Logging"): a line when
it goes, one when it is answered or fails, at DEBUG on the ``kiekit`` logger. Written once, for
every call: KIE's task calls (:meth:`Engine.send <kiekit._engine.Engine.send>`), the uploads and
the chat calls. Never a body or a header: they hold the key and a chat's messages.

Lines about one create, wait or download end with what names the work they belong to (its
idempotency key, a batch's job id: `` [job 7, key batch:7]``), so lines of tasks in flight
at once can be told apart (:func:`tagged`, :func:`tags`). The API key never goes there."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator
from contextvars import ContextVar
from typing import Any, TypeVar

log = logging.getLogger("kiekit")
T = TypeVar("T")

# What the work under way in this context is named by: ("job", "7"), ("key", "batch:7")
_TAGS: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("kiekit_log_tags", default=())


def tags() -> str:
    """`` [job 7, key batch:7]``: the names of the work under way here, for a log line's end
    ("" when none)."""
    named = _TAGS.get()
    return f" [{', '.join(f'{name} {value}' for name, value in named)}]" if named else ""


@contextlib.contextmanager
def tagged(name: str, value: str | None) -> Generator[None, None, None]:
    """Within it, this context's log lines carry ``name value`` (nothing when ``value`` is
    None, or already said)."""
    named = _TAGS.get()
    if value is None or (name, value) in named:
        yield
        return
    token = _TAGS.set((*named, (name, value)))
    try:
        yield
    finally:
        # a flow dropped and closed elsewhere (its generator collected in another context)
        # cannot reset this context's value there: the context it was set in has it still,
        # and that one is gone with its task
        with contextlib.suppress(ValueError):
            _TAGS.reset(token)


def tag_task(name: str, value: str) -> None:
    """This asyncio task's log lines carry ``name value`` from now on, till it ends (its
    context is its own: a batch's job, run as a task of its own)."""
    _TAGS.set((*(tag for tag in _TAGS.get() if tag[0] != name), (name, value)))


def tagged_flow(
    flow: Generator[Any, Any, T], name: str, value: str | None
) -> Generator[Any, Any, T]:
    """``flow`` with :func:`tagged` around each of its steps: a flow is stepped by its driver
    (a thread, or an asyncio task), so the tag is set as each step runs, not once."""
    if value is None:
        return (yield from flow)
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        with tagged(name, value):
            try:
                op = flow.throw(thrown) if thrown is not None else flow.send(sent)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
        try:
            sent, thrown = (yield op), None
        except GeneratorExit:
            flow.close()
            raise
        except BaseException as exc:
            sent, thrown = None, exc


def debugging() -> bool:
    """Whether the lines are wanted: a flow skips the clock read that times an answer if not."""
    return log.isEnabledFor(logging.DEBUG)


def sent(method: str, path: str, task_id: str | None = None) -> None:
    """The request, as it goes (``GET /api/v1/jobs/recordInfo (task 8f2c…)``)."""
    log.debug("%s %s%s%s", method, path, "" if task_id is None else f" (task {task_id})", tags())


def answered(method: str, path: str, status: int, took: float) -> None:
    """How it ended with an answer: its HTTP status, and ``took`` seconds after it went."""
    log.debug("%s %s: HTTP %d, answered in %.0f ms%s", method, path, status, 1000 * took, tags())


def failed(method: str, path: str, error: BaseException) -> None:
    """How it ended without one, or with one that is an error: ``error``, as the user gets it."""
    log.debug("%s %s failed: %s%s", method, path, error, tags())
