"""Adding a KIE API family to kiekit-mock from a package of your own: the public extension API.

A family is what a KIE product line with its own endpoints needs (a product KIE adds
tomorrow, say Acme Paint's ``/api/v1/acme-paint/generate`` and ``record-info``): its routes,
their input checks (KIE's 422 at HTTP 200, :func:`invalid`), tasks on the mock's one clock
(:class:`TaskSpec`, ``store.create``, :func:`poll_task`), its status payloads, result files
(``task.result_urls()``, served by the mock), its callback payload, and its OpenAPI paths.
Declare them in a :class:`FamilyExtension` and name it in your distribution's entry points::

    [project.entry-points."kiekit_mock.families"]
    acme-paint = "acme_kie_mock.paint:EXTENSION"

Every mock (``kie mock serve``, ``python -m kiekit_mock``, ``MockServer``, the contract kit's
fixtures, ``kie run --mock``) loads the installed extensions when it starts. A family gets what
a built-in one gets: faults, rules (by its ``name``), rate limits, the request journal, the
control routes (advance, complete, fail its tasks), HAR replay and the inspector all work by
path and task, not by a list of families. An extension that fails to load is reported by name in
the mock's log and left out; the rest keep working. So is one whose family name or a route of
which is already taken: kiekit-mock's own extensions load first, so a third party cannot
displace them, then the others by entry point name; the log names who holds what, and
``KIEKIT_MOCK_BLOCK_EXTENSIONS`` (entry point or distribution names) leaves extensions out.
kiekit-mock's own Luma and Midjourney families are extensions too (``families/luma.py``,
``families/midjourney.py``), loaded through the same entry point group.

A task's ``state`` (:class:`TaskSnapshot`) is one of the mock's five words (:data:`STATES`):
a status route (:func:`poll_task`) sees ``"waiting"``, ``"generating"``, ``"success"`` and
``"fail"``, and ``"queuing"`` as well when the mock is asked to show that stage
(``MockConfig(market_queuing=True)``, ``--market-queuing``); a ``callback_payload`` sees an
ended task (``"success"``, ``"fail"``). Map all five: the contract kit asks for ``"queuing"``.

Import from here only: the names below are the API, kept stable; the mock's other modules are
not.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .callbacks import CallbackRecord, loopback_refusal
from .envelope import ErrorAnswer, dumps, error, ok
from .families.market import market_state
from .families.validation import (
    invalid,
    optional_bool,
    optional_enum,
    optional_int,
    optional_number,
    optional_str,
    optional_url,
    required_str,
    url_list,
)
from .faults import KIE_MESSAGES
from .faults_http import FAULT_HIT, FaultHit
from .openapi import schema
from .openapi.operation import kie as kie_operation
from .route_helpers import (
    account_of,
    is_http_url,
    json_body,
    optional_callback_url,
    origin_of,
    runtime,
)
from .route_helpers import poll_task as _poll_task
from .runtime import Runtime
from .scenario import StateReader
from .state import CREATED, Family, TaskSnapshot, TaskSpec, Transition
from .variables import BLOCK_ENV

DAY = 24 * 3600.0
ENTRY_POINT_GROUP = "kiekit_mock.families"
log = logging.getLogger("kiekit_mock")

Paths = dict[str, dict[str, Any]]
CallbackPayload = Callable[[Transition], dict[str, Any]]


def _no_paths() -> Paths:
    """No OpenAPI paths: the default of a family that documents none."""
    return {}


@dataclass(frozen=True, eq=False)
class FamilyExtension:
    """One API family of the mock.

    - ``name``: the family's name in the task store (``TaskSpec.family``), in rules and in the
      control API's task filter; unique across the mock (a clash is refused at load).
    - ``routes``: its aiohttp routes (a ``web.RouteTableDef``), KIE's paths.
    - ``callback_payload``: the body POSTed to a task's callBackUrl once it ends (its
      ``task.state`` is ``"success"`` or ``"fail"``).
    - ``openapi_paths``: its paths for the mock's OpenAPI document (``kie_operation`` and
      ``schema`` build them as the built-in families do); ``status_paths``: create path →
      status path, so that tools polling the document find a task's record.
    - ``moderation``: the code and message a flagged prompt fails with (``[mock:moderation]``
      markers and moderation rules); None: KIE's generic 400.
    - ``retention_days``: how long its result files are kept after the task ends; None: the
      14 days of KIE's media (kie-api.md §8).
    - ``read_state``: how HAR replay reads its recorded status answers: their ``data`` → the
      mock's state word (``"waiting"``, ``"queuing"``, ``"generating"``, ``"success"``,
      ``"fail"``; None: a word it does not know, taken as a failure). :func:`status_words`
      makes one from the family's words. None: the built-in families' words are tried (market
      ``state``, ``successFlag``…), and any other word is final and no success.
    - ``result_file``: the bytes of a task's result file ``index`` (``result_file(task,
      index)``), for types the mock does not draw (a ``.glb`` model): None for the mock's own
      (a real PNG, JPEG, MP4, MP3, WAV, MIDI; a line of text for any other type). The file is
      served as its name's extension says (``TaskSpec.result_ext``, or per index
      ``TaskSpec.result_exts``: ``("glb", "glb", "png")`` for two models and a preview).
    """

    name: str
    routes: web.RouteTableDef
    callback_payload: CallbackPayload
    openapi_paths: Callable[[], Paths] = _no_paths
    status_paths: Mapping[str, str] = field(default_factory=dict)
    moderation: tuple[int, str] | None = None
    retention_days: float | None = None
    read_state: StateReader | None = None
    result_file: Callable[[TaskSnapshot, int], bytes | None] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("FamilyExtension.name must be a non-empty string")
        if not isinstance(self.routes, web.RouteTableDef):
            raise TypeError(f"{self.name}: routes must be an aiohttp web.RouteTableDef")
        if not callable(self.callback_payload):
            raise TypeError(f"{self.name}: callback_payload must be callable")
        if self.retention_days is not None and not self.retention_days > 0:
            raise ValueError(f"{self.name}: retention_days must be more than 0")
        for hook in ("read_state", "result_file"):
            if getattr(self, hook) is not None and not callable(getattr(self, hook)):
                raise TypeError(f"{self.name}: {hook} must be callable or None")


STATES = ("waiting", "queuing", "generating", "success", "fail")  # the mock's, in order


def poll_task(
    request: web.Request,
    family: Family,
    payload: CallbackPayload,
    *,
    not_found: ErrorAnswer | None = None,
    param: str = "taskId",
) -> Transition:
    """A status query: the caller's task of ``family`` moves along its lifecycle, and its
    ``payload`` callback is owed once it has ended. ``param`` names where the request carries
    the task id: a path variable of the route (``/record-info/{id}`` with ``param="id"``), else
    a query parameter (``?taskId=``, the default; ``?id=`` with ``param="id"``); a missing one
    is KIE's 422 "<param> cannot be empty". No such task (or another account's) is KIE's 404
    "Task not found" (kie-api.md §7), unless the family answers otherwise (``not_found``).

    The task's ``state`` is one of ``"waiting"``, ``"generating"``, ``"success"`` and
    ``"fail"``, and ``"queuing"`` too when the mock is asked to show that documented but
    never-seen stage (``MockConfig(market_queuing=True)``, ``--market-queuing``): real KIE's
    tasks walk waiting → generating → success (kie-api.md §2.2 [OBS]), so the mock's middle
    stage reads "waiting" otherwise, as the market's records show it. The contract kit asks
    for it, so a family must map all five."""
    transition = _poll_task(request, family, payload, not_found=not_found, param=param)
    task = transition.task
    shown = market_state(task, queuing=runtime(request).config.market_queuing)
    if shown == task.state:
        return transition
    return dataclasses.replace(transition, task=dataclasses.replace(task, state=shown))


def status_words(member: str, words: Mapping[Any, str]) -> StateReader:
    """A ``read_state`` for a family whose record names its state in ``data[member]``:
    ``words`` maps each of its words to the mock's state, e.g. ``status_words("status",
    {"QUEUED": "queuing", "MODELING": "generating", "COMPLETED": "success", "FAILED":
    "fail"})``. A word not among them reads as unknown (final, no success)."""
    wrong = sorted(repr(word) for word, state in words.items() if state not in STATES)
    if wrong:
        raise ValueError(f"status_words: {', '.join(wrong)} must map to one of {STATES}")
    table = dict(words)

    def read(data: Mapping[str, Any]) -> str | None:
        word = data.get(member)
        try:
            return table.get(word)
        except TypeError:  # a list or object where the word should be
            return None

    return read


def installed_families() -> tuple[FamilyExtension, ...]:
    """The extensions installed packages declare, loaded once per process (and value of
    KIEKIT_MOCK_BLOCK_EXTENSIONS); a broken one is logged by name and left out."""
    names = os.environ.get(BLOCK_ENV, "").split(",")
    blocked = frozenset(_canonical(name) for name in names if name.strip())
    return _load(tuple(metadata.entry_points(group=ENTRY_POINT_GROUP)), blocked)


OWN_DIST = "kiekit-mock"  # its Luma and Midjourney come through the entry point group too
# family name → the distribution its extension came from, as loaded (for the mock's log)
_OWNERS: dict[str, str] = {}
_OWN_PREFIXES = ("/_mock/", "/files/", "/openapi.json")  # the mock's own routes, not KIE's
# who holds a family name or a route: a third party's entry point, or None for kiekit-mock
Holder = metadata.EntryPoint | None


@functools.lru_cache(maxsize=8)
def _load(
    points: tuple[metadata.EntryPoint, ...], blocked: frozenset[str] = frozenset()
) -> tuple[FamilyExtension, ...]:
    """Load in a fixed order — kiekit-mock's own first, then by entry point name — so that of
    two clashing extensions the later is always the one left out, with a log line naming the
    one it clashes with and how to serve it instead (BLOCK_ENV)."""
    from .families import OWN_FAMILIES, ROUTE_TABLES

    ordered = sorted(points, key=lambda p: (_dist(p) != OWN_DIST, p.name))
    found: dict[str, FamilyExtension] = {}
    families: dict[str, Holder] = dict.fromkeys(OWN_FAMILIES)
    routes: dict[tuple[str, str], Holder] = {
        route: None for table in ROUTE_TABLES for route in _routes(table)
    }
    for point in ordered:
        where = f" ({_dist(point)})" if point.dist is not None else ""
        if blocked & {_canonical(point.name), _canonical(_dist(point) or "")}:
            log.info("mock family extension %r%s left out: %s", point.name, where, BLOCK_ENV)
            continue
        holder = None if _dist(point) == OWN_DIST else point
        try:
            extension = point.load()
            if callable(extension) and not isinstance(extension, FamilyExtension):
                extension = extension()  # a factory is fine too
            if not isinstance(extension, FamilyExtension):
                raise TypeError(
                    f"{point.value} is a {type(extension).__name__}, not a FamilyExtension"
                )
            if extension.name in families:
                taken = _held(families[extension.name])
                raise ValueError(f"family {extension.name!r} is already {taken}")
            own = set(_routes(extension.routes))
            for route in sorted(own):
                if (clash := _clashing(route, routes)) is not None:
                    taken = _held(routes.get(clash))  # a path of the mock's own: None
                    raise ValueError(f"route {' '.join(route)} is already {taken}")
        except Exception as exc:  # one broken extension must not stop the mock
            log.error(
                "mock family extension %r%s failed to load, left out: %s", point.name, where, exc
            )
            continue
        found[extension.name] = extension
        families[extension.name] = holder
        routes |= dict.fromkeys(own, holder)
        if point.dist is not None:
            _OWNERS[extension.name] = point.dist.name
    listed = {_canonical(name) for p in points for name in (p.name, _dist(p) or "")}
    for name in sorted(blocked - listed):  # a typo leaves nothing out: said
        log.warning("kiekit-mock: %s names %r, no installed mock extension", BLOCK_ENV, name)
    return tuple(found.values())


def _held(holder: Holder) -> str:
    """Whose a taken name or route is, and how a user serves the one left out instead."""
    if holder is None:
        return "the mock's"
    where = f" ({_dist(holder)})" if holder.dist is not None else ""
    return (
        f"extension {holder.name!r}{where}'s, loaded first; to serve this one instead, "
        f"set {BLOCK_ENV}={holder.name}"
    )


def _canonical(name: str) -> str:
    """A distribution or entry point name as pip compares them (case, -_. alike)."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def described(family: str) -> str:
    """A family as the mock's log names it: an extension's with its distribution."""
    owner = _OWNERS.get(family)
    return f"family {family!r}" if owner is None else f"mock family extension {family!r} ({owner})"


def guarded_routes(extension: FamilyExtension) -> list[web.AbstractRouteDef]:
    """The extension's routes, each answering an exception it raises (its bug, not the
    caller's) as KIE answers a server error — HTTP 200, body code 500 (kie-api.md §7) —
    with one log line naming the extension. The journal tells it as a fault answer (its
    ``fault``: ``extension-error:<family>``), and a task its create made before it raised
    as that create, paid for, as a fault that lost a create's answer is."""
    return [
        web.RouteDef(r.method, r.path, _guarded(r.handler, extension.name), r.kwargs)
        if isinstance(r, web.RouteDef) and not isinstance(r.handler, type)  # a View: as is
        else r
        for r in extension.routes
    ]


def _guarded(handler: Any, family: str) -> Any:
    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        made: list[str] = []
        token = CREATED.set(made)
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except (web.HTTPException, ErrorAnswer, ConnectionResetError):
            raise  # answers and hang-ups, not bugs
        except Exception as exc:
            log.error(
                "kiekit-mock: %s: %s %s raised %s: %s; answered with KIE's code 500",
                described(family),
                request.method,
                request.path,
                type(exc).__name__,
                exc,
            )
            log.debug("kiekit-mock: the route's traceback", exc_info=True)
            made_id = made[-1] if made else None
            request[FAULT_HIT] = FaultHit(f"extension-error:{family}", "kie", task_id=made_id)
            return error(500, KIE_MESSAGES[500])
        finally:
            CREATED.reset(token)

    return guarded


def state_readers(extensions: Iterable[FamilyExtension]) -> dict[str, StateReader]:
    """Each extension's ``read_state`` by every path of its routes (create and status), for
    HAR replay to read a recorded task's answers as its family does."""
    return {
        path: extension.read_state
        for extension in extensions
        if extension.read_state is not None
        for _, path in _routes(extension.routes)
    }


def _dist(point: metadata.EntryPoint) -> str | None:
    return point.dist.name if point.dist is not None else None


def _routes(table: web.RouteTableDef) -> Iterator[tuple[str, str]]:
    for route in table:
        if isinstance(route, web.RouteDef):
            yield route.method.upper(), route.path


def _clashing(
    route: tuple[str, str], taken: Mapping[tuple[str, str], Holder]
) -> tuple[str, str] | None:
    """The route already there that aiohttp would send this one's requests to — the same path
    and method (or any method, "*"), or itself for a path of the mock's own, which no table
    holds — or None."""
    method, path = route
    if path.startswith(_OWN_PREFIXES):
        return route
    return next(
        (r for r in taken if r[1] == path and (r[0] == method or "*" in (r[0], method))), None
    )


def last_delivery(rt: Runtime, task: TaskSnapshot) -> CallbackRecord | None:
    """The callback the mock attempted for ``task``, if it attempted one: None when the task
    asked for none, or for a host the mock never calls (anything but loopback)."""
    url = task.callback_url
    if url is None or loopback_refusal(url) is not None:
        return None
    records = rt.callbacks.records_of(task.task_id)
    return records[-1] if records else None


def register(extensions: Iterable[FamilyExtension]) -> None:
    """Make the mock's shared tables know these families (their callbacks, for the control
    API's manual steps, their moderation failure, how long their files are kept and who
    makes their bytes)."""
    from . import families, files, rules

    for extension in extensions:
        families.CALLBACK_PAYLOADS.setdefault(extension.name, extension.callback_payload)
        if extension.moderation is not None:
            rules.MODERATION.setdefault(extension.name, extension.moderation)
        if extension.retention_days is not None:
            files.RETENTION_BY_FAMILY.setdefault(extension.name, extension.retention_days * DAY)
        if extension.result_file is not None:  # no built-in family has one: the last loaded
            files.RESULT_FILES[extension.name] = extension.result_file
        else:
            files.RESULT_FILES.pop(extension.name, None)


# KieError was this API's name for ErrorAnswer until it was renamed (issue 14): kiekit's own
# KieError is the exception a client raises, a different thing. Still importable, with a
# DeprecationWarning, so an extension written against the old name keeps loading. The module
# __getattr__ is hidden from type checkers, for which it would make every name exist (as Any).
if TYPE_CHECKING:
    KieError = ErrorAnswer
else:

    def __getattr__(name: str) -> Any:
        if name == "KieError":
            warnings.warn(
                "kiekit_mock.extension.KieError is deprecated: raise ErrorAnswer instead",
                DeprecationWarning,
                stacklevel=2,
            )
            return ErrorAnswer
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ENTRY_POINT_GROUP",
    "STATES",
    "CallbackPayload",
    "CallbackRecord",
    "ErrorAnswer",
    "FamilyExtension",
    "Paths",
    "Runtime",
    "StateReader",
    "TaskSnapshot",
    "TaskSpec",
    "Transition",
    "account_of",
    "dumps",
    "installed_families",
    "invalid",
    "is_http_url",
    "json_body",
    "kie_operation",
    "last_delivery",
    "ok",
    "optional_bool",
    "optional_callback_url",
    "optional_enum",
    "optional_int",
    "optional_number",
    "optional_str",
    "optional_url",
    "origin_of",
    "poll_task",
    "required_str",
    "runtime",
    "schema",
    "status_words",
    "url_list",
]
