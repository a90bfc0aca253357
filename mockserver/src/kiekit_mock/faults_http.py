"""Faults on the wire: the middleware that answers with the first matching fault rule
(faults.py), and the ``/_mock/faults`` control routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from .controlwire import ControlError, answer, read_object, refuse
from .envelope import dumps
from .faults import (
    CANNED_ANSWER,
    CONTROL_PREFIX,
    PROXY_REASONS,
    FaultKind,
    FaultRule,
    rule_from_json,
)
from .files import owner_of_file
from .route_helpers import (
    Handler,
    bearer_key,
    parse_json_object,
    prepare_streamed,
    serves_file,
)
from .runtime import RUNTIME
from .state import account_id


@dataclass
class FaultHit:
    """What the middleware tells the journal about a request a fault answered."""

    rule_id: str
    kind: FaultKind
    task_id: str | None = None  # a task the request created though its answer was lost
    status: int | None = None  # the HTTP status actually sent, when not the response's (0: none)


log = logging.getLogger("kiekit_mock")

FAULT_HIT: web.RequestKey[FaultHit] = web.RequestKey("kiekit_mock.fault", FaultHit)
# Set for a request whose answer an "after" fault loses: a handler that streams its answer
# (chat's server-sent events) cuts it mid-way, as [mock:drop] does, since a stream already
# sent whole could no longer be spoilt
CUT_STREAM: web.RequestKey[bool] = web.RequestKey("kiekit_mock.cut_stream", bool)
_WAKE: web.AppKey[asyncio.Event] = web.AppKey("kiekit_mock.faults_wake", asyncio.Event)


# How a "kie" fault's envelope reads on an app: KIE's, or the upload host's (with `success`)
KIE_ENVELOPE: web.AppKey[Callable[[int, str], web.Response]] = web.AppKey(
    "kiekit_mock.kie_envelope"
)


def install(app: web.Application) -> None:
    """The control routes, and the faults' shutdown hook (arm)."""
    arm(app)
    app.router.add_routes(ROUTES)


def arm(app: web.Application) -> None:
    """Make ``app`` ready to run the middleware: a shutdown hook that cuts slow answers short.
    The upload host (uploads_http.py) is armed too, without the control routes."""
    app[_WAKE] = asyncio.Event()
    app.on_shutdown.append(_wake_sleepers)


async def _wake_sleepers(app: web.Application) -> None:
    # without this, stopping a server would wait out every slow fault in progress
    app[_WAKE].set()


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer with the first matching fault rule, if any; control routes are never faulted."""
    if request.path.startswith(CONTROL_PREFIX):
        return await handler(request)
    rt = request.app[RUNTIME]
    key = bearer_key(request)
    # a keyless file download is its maker's (files.owner_of_file): a rule scoped to that
    # account reaches the downloads of its results and uploads
    account = account_id(key) if key is not None else owner_of_file(rt.store, request.path)
    picked = rt.faults.pick(request.method, request.path, account)
    if picked is None:
        return await handler(request)
    rule_id, rule = picked
    hit = FaultHit(rule_id, rule.kind)
    request[FAULT_HIT] = hit
    if rule.kind == "slow":
        if rule.when == "before":
            await _sleep(request, rule)
            return await handler(request)
        try:
            response = await handler(request)
        finally:
            await _sleep(request, rule)
        return response
    real: web.StreamResponse | None = None
    # "after": the request runs (a create makes its task), its answer is lost. A file's route
    # runs "before" too: its truncated or malformed answer is the file's own bytes cut short,
    # with its own type, as a CDN's would be, not half of a made-up KIE envelope
    cuts_file = rule.kind in ("truncated", "malformed") and serves_file(request)
    if rule.when == "after" or cuts_file:
        request[CUT_STREAM] = True
        try:
            real = await handler(request)
        except web.HTTPException as exc:
            real = exc
        hit.task_id = _created_task(request, real)
    return await _fault_answer(request, rule, hit, real)


async def _sleep(request: web.Request, rule: FaultRule) -> None:
    seconds = rule.delay
    if rule.delay_clock == "mock":
        seconds = request.app[RUNTIME].clock.wall_seconds(seconds)
    wake = request.app.get(_WAKE)
    if wake is None:  # an app without install(): nothing cuts the wait short
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), seconds)


def _body_of(response: web.StreamResponse | None) -> bytes | None:
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        return response.body
    return None


def _created_task(request: web.Request, response: web.StreamResponse) -> str | None:
    """The task a POST's real (200, code 200) answer created — lost to the client by the fault."""
    body = _body_of(response)
    if request.method != "POST" or body is None or response.status != 200:
        return None
    payload = parse_json_object(body)
    if payload is None or payload.get("code") != 200:
        return None
    data = payload.get("data")
    task_id = data.get("taskId") if isinstance(data, dict) else None
    return task_id if isinstance(task_id, str) else None


async def _fault_answer(
    request: web.Request, rule: FaultRule, hit: FaultHit, real: web.StreamResponse | None
) -> web.StreamResponse:
    if real is not None and real.prepared:
        # a streamed answer (SSE) went out as it was made: its handler cut it (CUT_STREAM)
        return real
    retry = {} if rule.retry_after is None else {"Retry-After": f"{rule.retry_after:g}"}
    if rule.kind == "kie":
        envelope = request.app.get(KIE_ENVELOPE, _kie_envelope)(rule.code, rule.message)
        envelope.headers.update(retry)
        return envelope
    if rule.kind == "http":
        reason = PROXY_REASONS[rule.status]
        page = (
            f"<html>\r\n<head><title>{rule.status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{rule.status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )
        headers = {"Server": "nginx"} | retry
        return web.Response(
            status=rule.status, text=page, content_type="text/html", headers=headers
        )
    if rule.kind == "empty":
        return web.Response(body=b"", content_type="application/json")
    # the real answer cut short ("after"; a result file keeps its own type), else a made-up one
    real_body = _body_of(real)
    full = real_body or CANNED_ANSWER
    kind = real.content_type if real_body is not None and real is not None else "application/json"
    if rule.kind == "malformed":
        return web.Response(body=full[: len(full) // 2], content_type=kind)
    if rule.kind == "truncated":
        response = web.StreamResponse(headers={"Content-Type": kind})
        response.content_length = len(full)
        try:
            await prepare_streamed(request, response)
            await response.write(full[: len(full) // 2])
        except ConnectionResetError:
            # the client gave up first (its own timeout, while an "after" fault's request ran):
            # nobody is left to cut short, which is no error of the mock's (aiohttp's
            # finish_response drops the unsent answer quietly)
            log.debug(
                "%s %s: the client left before its truncated answer", request.method, request.path
            )
            return response
        if request.transport is not None:
            request.transport.close()  # a FIN after half the promised bytes
        return response
    # reset: SO_LINGER 0 makes close() send a RST, as a dropped connection does
    hit.status = 0
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    if real is not None and real.prepared:
        return real
    return web.Response()  # never written: aiohttp drops it on the closed transport


def _kie_envelope(code: int, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg, "data": None}, dumps=dumps)


# --- control routes ---

ROUTES = web.RouteTableDef()


@ROUTES.get("/_mock/faults")
async def list_faults(request: web.Request) -> web.Response:
    return answer([status.to_json() for status in request.app[RUNTIME].faults.rules()])


@ROUTES.post("/_mock/faults")
async def add_fault(request: web.Request) -> web.Response:
    try:
        rule = rule_from_json(await read_object(request))
    except ControlError as exc:
        return refuse(exc)
    faults = request.app[RUNTIME].faults
    rule_id = faults.add(rule)
    (status,) = (s for s in faults.rules() if s.id == rule_id)
    return answer(status.to_json(), status=201)


@ROUTES.delete("/_mock/faults")
async def clear_faults(request: web.Request) -> web.Response:
    request.app[RUNTIME].faults.clear()
    return answer({"cleared": True})


@ROUTES.delete("/_mock/faults/{rule_id}")
async def remove_fault(request: web.Request) -> web.Response:
    rule_id = request.match_info["rule_id"]
    try:
        request.app[RUNTIME].faults.remove(rule_id)
    except KeyError:
        return answer({"error": f"no fault rule {rule_id!r}", "field": "rule_id"}, status=404)
    return answer({"removed": rule_id})


__all__ = [
    "CUT_STREAM",
    "FAULT_HIT",
    "KIE_ENVELOPE",
    "ROUTES",
    "FaultHit",
    "arm",
    "install",
    "middleware",
]
