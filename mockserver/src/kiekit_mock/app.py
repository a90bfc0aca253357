"""The aiohttp Application: KIE's auth and error conventions, the journal, the routes."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from . import files
from .config import MockConfig
from .envelope import KieError, error
from .families import ROUTE_TABLES
from .journal import RequestRecord, mask_authorization
from .runtime import RUNTIME, Runtime
from .wire import bearer_key, parse_json_object


def create_app(config: MockConfig | None = None) -> web.Application:
    """A fresh mock KIE (its own accounts and tasks) as a plain aiohttp Application."""
    return build_app(Runtime.new(config or MockConfig()))


def runtime_of(app: web.Application) -> Runtime:
    """The state behind an app from create_app: tasks, callbacks, journal."""
    return app[RUNTIME]


def build_app(rt: Runtime) -> web.Application:
    """An Application over existing state (a MockServer restarts on the same accounts/tasks)."""
    app = web.Application(middlewares=[_journal, _kie_conventions])
    app[RUNTIME] = rt
    for table in ROUTE_TABLES:
        app.router.add_routes(table)
    app.router.add_routes(files.ROUTES)
    app.on_cleanup.append(_stop_deliveries)
    return app


async def _stop_deliveries(app: web.Application) -> None:
    await app[RUNTIME].callbacks.close()


@web.middleware
async def _kie_conventions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer auth on /api/ (kie-api.md §1) and body-coded errors at HTTP 200 (§1, §7)."""
    if request.match_info.http_exception is not None:
        return await handler(request)  # unknown route: a real HTTP 404 (§1, APIFOX)
    if request.path.startswith("/api/"):
        key = bearer_key(request)
        if key is None or not request.app[RUNTIME].config.accepts(key):
            return error(401, "You do not have access permissions")
    try:
        return await handler(request)
    except KieError as exc:
        return error(exc.code, exc.msg)


@web.middleware
async def _journal(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record every request (the Authorization header masked) with the answer's status/code."""
    raw = await request.read() if request.body_exists else b""
    status = 500
    answer: dict[str, Any] | None = None
    try:
        response = await handler(request)
        status = response.status
        if isinstance(response, web.Response) and response.content_type == "application/json":
            answer = parse_json_object(response.body if isinstance(response.body, bytes) else b"")
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[RUNTIME].journal.add(
            RequestRecord(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                body=parse_json_object(raw) if raw else None,
                task_id=_task_id(request, answer),
                authorization=mask_authorization(request.headers.get("Authorization")),
                status=status,
                code=answer.get("code") if answer is not None else None,
            )
        )


def _task_id(request: web.Request, answer: dict[str, Any] | None) -> str | None:
    named = request.query.get("taskId") or request.match_info.get("task_id")
    if named:
        return named
    data = answer.get("data") if answer is not None else None
    created = data.get("taskId") if isinstance(data, dict) else None
    return created if isinstance(created, str) else None


__all__ = ["build_app", "create_app", "runtime_of"]
