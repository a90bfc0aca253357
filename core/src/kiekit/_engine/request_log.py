"""How ``-vv`` tells each request kiekit sends and how it ended (README, "Logging"): a line when
it goes, one when it is answered or fails, at DEBUG on the ``kiekit.http`` logger (a child of
``kiekit``, so it can be tuned apart from the lifecycle lines). Written once, for every call:
KIE's task calls (:meth:`Engine.send <kiekit._engine.Engine.send>`), the status polls, the
uploads, the result downloads and the chat calls. Never a body or a header: they hold the key
and a chat's messages; never a download's query: a signed link's signature is there.

Lines about one create, wait or download end with what names the work they belong to (its
journal key — the idempotency key, or the one the journal gave the create — and a batch's job
id: `` [job 7, key batch:7]``), so lines of tasks in flight at once can be told apart
(:func:`tagged`, :func:`tags`). Every record of kiekit's about a task carries the same names
as attributes (:func:`fields`: ``record.kiekit_task_id``, ``kiekit_model``, ``kiekit_key``,
``kiekit_job`` …, docs/observability.md), for JSON logging. The observer's events
(:mod:`kiekit.observe`) are sent from here too. The API key never goes there."""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Generator
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import urlsplit

from kiekit import observe

log = logging.getLogger("kiekit")  # the lifecycle lines: created, retrying, succeeded …
http = logging.getLogger("kiekit.http")  # one line per request sent and per request ended
T = TypeVar("T")

# What the work under way in this context is named by: ("job", "7"), ("key", "batch:7"),
# ("task", "8f2c…"), ("model", "flux-kontext-pro"). Job and key end the log lines' text; all
# of them are the records' attributes and the observer's events' names.
_TAGS: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("kiekit_log_tags", default=())
_SAID = ("job", "key")  # the names a line's text ends with
# each name's record attribute (README's and docs/observability.md's table)
_ATTRIBUTES = {
    "job": "kiekit_job",
    "key": "kiekit_key",
    "task": "kiekit_task_id",
    "model": "kiekit_model",
}


def tags() -> str:
    """`` [job 7, key batch:7]``: the names of the work under way here, for a log line's end
    ("" when none)."""
    named = [f"{name} {value}" for name, value in _TAGS.get() if name in _SAID]
    return f" [{', '.join(named)}]" if named else ""


def fields(**more: Any) -> dict[str, Any]:
    """A record's ``extra``: the names of the work under way here as ``kiekit_*`` attributes
    (``kiekit_task_id``, ``kiekit_model``, ``kiekit_key``, ``kiekit_job``), with ``more``
    (each given a ``kiekit_`` prefix; None values left out). Every attribute is always set,
    None when unknown, so a formatter may name them all."""
    found: dict[str, Any] = dict.fromkeys(_ATTRIBUTES.values())
    for name, value in _TAGS.get():
        found[_ATTRIBUTES[name]] = value
    for name, value in more.items():
        if value is not None or f"kiekit_{name}" not in found:
            found[f"kiekit_{name}"] = value
    return found


def _names(
    task_id: str | None = None, model: str | None = None, key: str | None = None
) -> dict[str, str | None]:
    named = dict(_TAGS.get())
    return {
        "task_id": task_id or named.get("task"),
        "model": model or named.get("model"),
        "key": key or named.get("key"),
        "job": named.get("job"),
    }


# The observers whose failure was said at WARNING (once each: a broken one raises at every event)
_BROKEN: weakref.WeakSet[Any] = weakref.WeakSet()


def _said_broken(observer: Any) -> bool:
    """Whether ``observer``'s failure was said already (now it is)."""
    try:
        if observer in _BROKEN:
            return True
        _BROKEN.add(observer)
    except TypeError:  # no weak reference to it (a bound builtin): said each time
        pass
    return False


def notify(observer: observe.Observer | None, kind: type[Any], **what: Any) -> None:
    """Tell ``observer`` (if any) of one event of ``kind``, named by the work under way here.
    An observer that raises is logged, and does not change what the client does: at WARNING
    the first time that observer raises in this process (whichever client it was given to),
    then at DEBUG — a broken one raises at every event, and one warning says it."""
    if observer is None:
        return
    names = _names(what.pop("task_id", None), what.pop("model", None), what.pop("key", None))
    try:
        observer(kind(**names, **what))
    except Exception as exc:  # a broken metric must not fail a paid-for task
        log.log(
            logging.DEBUG if _said_broken(observer) else logging.WARNING,
            "observer %r raised on %s: %s: %s (said once at WARNING; then at DEBUG)",
            observer,
            kind.__name__,
            type(exc).__name__,
            exc,
            extra=fields(),
        )


@contextlib.contextmanager
def tagged(name: str, value: str | None, *more: tuple[str, str | None]) -> Generator[None]:
    """Within it, this context's log lines carry ``name value`` (and each of ``more``;
    nothing for a value None, or already said)."""
    named = _TAGS.get()
    new = tuple((n, v) for n, v in ((name, value), *more) if v is not None and (n, v) not in named)
    if not new:
        yield
        return
    token = _TAGS.set((*named, *new))
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
    flow: Generator[Any, Any, T], name: str, value: str | None, *more: tuple[str, str | None]
) -> Generator[Any, Any, T]:
    """``flow`` with its names set (as :func:`tagged` does) around each of its steps: a flow is
    stepped by its driver (a thread, or an asyncio task), so the names are set as each step
    runs, not once. Written out rather than with :func:`tagged`: this runs at every step of
    every create and wait, and a context manager there cost a fifth of a client's CPU per task
    (issue 18's target 1)."""
    pairs = tuple((n, v) for n, v in ((name, value), *more) if v is not None)
    if not pairs:
        return (yield from flow)
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        named = _TAGS.get()
        new = tuple(pair for pair in pairs if pair not in named) if named else pairs
        token = _TAGS.set(named + new) if new else None
        try:
            op = flow.throw(thrown) if thrown is not None else flow.send(sent)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            if token is not None:
                try:  # noqa: SIM105 (no context manager at every step)
                    _TAGS.reset(token)
                except ValueError:  # set in another context: see tagged()
                    pass
        try:
            sent, thrown = (yield op), None
        except GeneratorExit:
            flow.close()
            raise
        except BaseException as exc:
            sent, thrown = None, exc


def debugging() -> bool:
    """Whether the lines are wanted: a flow skips the clock read that times an answer if not."""
    return http.isEnabledFor(logging.DEBUG)


def timing(observer: observe.Observer | None) -> bool:
    """Whether a request's end is to be timed: for its line, or for an observer."""
    return observer is not None or http.isEnabledFor(logging.DEBUG)


def without_query(url: str) -> str:
    """A download's URL as a line or an event may show it: a signed link's query (its
    signature) and any user info left out."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def codes(error: BaseException) -> tuple[int | None, int | None]:
    """An error's (HTTP status, KIE body code): KIE says most errors, 429 too, with HTTP 200
    and a code in the body (kie-api.md §1), which is then the second."""
    status = getattr(error, "http_status", None)
    code = getattr(error, "code", None)
    kie_code = code if status == 200 and isinstance(code, int) else None
    return status if isinstance(status, int) else None, kie_code


def numeric(code: object) -> object:
    """A code as a record carries it: an int when it is a number (a failed task's ``failCode``
    comes as a string, ``"500"``, a refusal's body code as an int), so a typed log mapping
    sees one type; any other text as it is."""
    if isinstance(code, str) and code.strip().isdigit() and code.isascii():
        return int(code)
    return code


def sent(
    method: str,
    path: str,
    task_id: str | None = None,
    *,
    model: str | None = None,
    observer: observe.Observer | None = None,
) -> None:
    """The request, as it goes (``GET /api/v1/jobs/recordInfo (task 8f2c…)``)."""
    if http.isEnabledFor(logging.DEBUG):
        http.debug(
            "%s %s%s%s", method, path, "" if task_id is None else f" (task {task_id})", tags(),
            extra=fields(task_id=task_id, model=model, method=method, path=path),
        )  # fmt: skip
    notify(observer, observe.RequestSent, task_id=task_id, model=model, method=method, path=path)


def answered(
    method: str,
    path: str,
    status: int,
    took: float,
    task_id: str | None = None,
    *,
    model: str | None = None,
    kie_code: int | None = None,
    observer: observe.Observer | None = None,
) -> None:
    """How it ended with an answer: its HTTP status, and ``took`` seconds after it went.
    ``kie_code``: a refusal the client reads as the task's state, not as an error (Veo's
    1080P "still processing", body code 400: kie-api.md §3.3), so a metric of errors does not
    count a healthy wait's polls."""
    if http.isEnabledFor(logging.DEBUG):
        http.debug(
            "%s %s: HTTP %d%s, answered in %.0f ms%s%s", method, path, status,
            "" if kie_code is None else f" (KIE code {kie_code}, read as the task's state)",
            1000 * took, "" if task_id is None else f" (task {task_id})", tags(),
            extra=fields(task_id=task_id, model=model, method=method, path=path,
                         http_status=status, kie_code=kie_code, elapsed_ms=round(1000 * took, 1)),
        )  # fmt: skip
    notify(
        observer, observe.RequestEnded, task_id=task_id, model=model, method=method, path=path,
        http_status=status, kie_code=kie_code, seconds=took,
    )  # fmt: skip


def failed(
    method: str,
    path: str,
    error: BaseException,
    took: float | None = None,
    task_id: str | None = None,
    *,
    model: str | None = None,
    observer: observe.Observer | None = None,
) -> None:
    """How it ended without one, or with one that is an error: ``error``, as the user gets it
    (``took``: seconds after it went, when timed). A cancellation or an interruption (Ctrl-C)
    ends it too: every request sent is said ended once, so a span or an in-flight gauge is
    never left open."""
    status, kie_code = codes(error)
    if http.isEnabledFor(logging.DEBUG):
        said = str(error) or type(error).__name__  # a CancelledError says nothing
        http.debug(
            "%s %s failed: %s%s", method, path, said, tags(),
            extra=fields(task_id=task_id or getattr(error, "task_id", None), model=model,
                         method=method, path=path, http_status=status, kie_code=kie_code,
                         elapsed_ms=None if took is None else round(1000 * took, 1)),
        )  # fmt: skip
    notify(
        observer, observe.RequestEnded, task_id=task_id or getattr(error, "task_id", None),
        model=model, method=method, path=path, http_status=status, kie_code=kie_code,
        seconds=took if took is not None else 0.0, error=error,
    )  # fmt: skip
