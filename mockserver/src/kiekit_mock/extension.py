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
which is already the mock's: kiekit-mock's own extensions load first, so a third party cannot
displace them. kiekit-mock's own Luma and Midjourney
families are extensions too (``families/luma.py``, ``families/midjourney.py``), loaded through
the same entry point group.

Import from here only: the names below are the API, kept stable; the mock's other modules are
not.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from aiohttp import web

from .callbacks import CallbackRecord, loopback_refusal
from .envelope import ErrorAnswer, dumps, ok
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
from .openapi import schema
from .openapi.operation import kie as kie_operation
from .route_helpers import (
    account_of,
    is_http_url,
    json_body,
    optional_callback_url,
    origin_of,
    poll_task,
    runtime,
)
from .runtime import Runtime
from .state import TaskSnapshot, TaskSpec, Transition

DAY = 24 * 3600.0
ENTRY_POINT_GROUP = "kiekit_mock.families"
log = logging.getLogger("kiekit_mock")

Paths = dict[str, dict[str, Any]]
CallbackPayload = Callable[[Transition], dict[str, Any]]


def _no_paths() -> Paths:
    return {}


@dataclass(frozen=True, eq=False)
class FamilyExtension:
    """One API family of the mock.

    - ``name``: the family's name in the task store (``TaskSpec.family``), in rules and in the
      control API's task filter; unique across the mock (a clash is refused at load).
    - ``routes``: its aiohttp routes (a ``web.RouteTableDef``), KIE's paths.
    - ``callback_payload``: the body POSTed to a task's callBackUrl once it ends.
    - ``openapi_paths``: its paths for the mock's OpenAPI document (``kie_operation`` and
      ``schema`` build them as the built-in families do); ``status_paths``: create path →
      status path, so that tools polling the document find a task's record.
    - ``moderation``: the code and message a flagged prompt fails with (``[mock:moderation]``
      markers and moderation rules); None: KIE's generic 400.
    - ``retention_days``: how long its result files are kept after the task ends; None: the
      14 days of KIE's media (kie-api.md §8).
    """

    name: str
    routes: web.RouteTableDef
    callback_payload: CallbackPayload
    openapi_paths: Callable[[], Paths] = _no_paths
    status_paths: Mapping[str, str] = field(default_factory=dict)
    moderation: tuple[int, str] | None = None
    retention_days: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("FamilyExtension.name must be a non-empty string")
        if not isinstance(self.routes, web.RouteTableDef):
            raise TypeError(f"{self.name}: routes must be an aiohttp web.RouteTableDef")
        if not callable(self.callback_payload):
            raise TypeError(f"{self.name}: callback_payload must be callable")
        if self.retention_days is not None and not self.retention_days > 0:
            raise ValueError(f"{self.name}: retention_days must be more than 0")


def installed_families() -> tuple[FamilyExtension, ...]:
    """The extensions installed packages declare, loaded once per process; a broken one is
    logged by name and left out."""
    return _load(tuple(metadata.entry_points(group=ENTRY_POINT_GROUP)))


OWN_DIST = "kiekit-mock"  # its Luma and Midjourney come through the entry point group too
_OWN_PREFIXES = ("/_mock/", "/files/", "/openapi.json")  # the mock's own routes, not KIE's


@functools.lru_cache(maxsize=8)
def _load(points: tuple[metadata.EntryPoint, ...]) -> tuple[FamilyExtension, ...]:
    from .families import OWN_FAMILIES, ROUTE_TABLES

    # built-ins first: a third party reusing a built-in's name or path is the one left out
    ordered = sorted(points, key=lambda p: (_dist(p) != OWN_DIST, p.name))
    found: dict[str, FamilyExtension] = {}
    routes = {route for table in ROUTE_TABLES for route in _routes(table)}
    for point in ordered:
        try:
            extension = point.load()
            if callable(extension) and not isinstance(extension, FamilyExtension):
                extension = extension()  # a factory is fine too
            if not isinstance(extension, FamilyExtension):
                raise TypeError(
                    f"{point.value} is a {type(extension).__name__}, not a FamilyExtension"
                )
            if extension.name in found or extension.name in OWN_FAMILIES:
                raise ValueError(f"family {extension.name!r} is already the mock's")
            own = set(_routes(extension.routes))
            clash = next((r for r in sorted(own) if _clashes(r, routes)), None)
            if clash is not None:
                raise ValueError(f"route {' '.join(clash)} is already the mock's")
        except Exception as exc:  # one broken extension must not stop the mock
            where = f" ({_dist(point)})" if point.dist is not None else ""
            log.error(
                "mock family extension %r%s failed to load, left out: %s", point.name, where, exc
            )
            continue
        found[extension.name] = extension
        routes |= own
    return tuple(found.values())


def _dist(point: metadata.EntryPoint) -> str | None:
    return point.dist.name if point.dist is not None else None


def _routes(table: web.RouteTableDef) -> Iterator[tuple[str, str]]:
    for route in table:
        if isinstance(route, web.RouteDef):
            yield route.method.upper(), route.path


def _clashes(route: tuple[str, str], taken: set[tuple[str, str]]) -> bool:
    """Whether aiohttp would send this route's requests elsewhere: the same path and method
    (or any method, "*") as one already there, or a path of the mock's own."""
    method, path = route
    if path.startswith(_OWN_PREFIXES):
        return True
    return any(p == path and (m == method or "*" in (m, method)) for m, p in taken)


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
    API's manual steps, their moderation failure and how long their files are kept)."""
    from . import families, files, rules

    for extension in extensions:
        families.CALLBACK_PAYLOADS.setdefault(extension.name, extension.callback_payload)
        if extension.moderation is not None:
            rules.MODERATION.setdefault(extension.name, extension.moderation)
        if extension.retention_days is not None:
            files.RETENTION_BY_FAMILY.setdefault(extension.name, extension.retention_days * DAY)


def __getattr__(name: str) -> Any:
    # KieError was this API's name for ErrorAnswer until it was renamed (issue 14): kiekit's own
    # KieError is the exception a client raises, a different thing. Still importable, with a
    # DeprecationWarning, so an extension written against the old name keeps loading.
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
    "CallbackPayload",
    "CallbackRecord",
    "ErrorAnswer",
    "FamilyExtension",
    "Paths",
    "Runtime",
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
    "url_list",
]
