"""The aiohttp Application: KIE's auth and error conventions, the journal, the routes."""

from __future__ import annotations

import logging
from functools import lru_cache, partial
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from . import (
    callbacks_http,
    changes_http,
    control,
    faults_http,
    files,
    har,
    inspector,
    limits_http,
    openapi,
    settler,
)
from .callbacks import is_loopback_host
from .changes import topics_of
from .config import MockConfig, as_config
from .envelope import ENVELOPE, ErrorAnswer, error
from .extension import guarded_routes, installed_families, register, state_readers
from .families import ROUTE_TABLES, task_families
from .limits import RateLimited
from .masking import masked_query
from .requestlog import (
    CONTROL_PREFIX,
    BodyPreview,
    Noted,
    kept_body,
    mask_authorization,
    noted_answer,
    request_kind,
)
from .route_helpers import STREAMED, Handler, bearer_key, key_in, parse_json_object, said_cut_short
from .rules import check_families
from .runtime import RUNTIME, Runtime
from .state import PEEKING, account_id

log = logging.getLogger("kiekit_mock")

# Request bodies: aiohttp's 1 MiB everywhere (KIE's task inputs name files by URL, kie-api.md
# §2.4; files go to the upload host, §4), but on the chat routes, whose messages carry media
# (§5): `kie chat --image` sends a local image inline as a data: URL, up to 20 MiB (~28 MB of
# base64), so they take two such images and the text. KIE's answer to an oversized body is not
# recorded: past the limit it is aiohttp's real HTTP 413, as before (README, Limits).
CHAT_BODY_LIMIT = 64 * 2**20
CHAT_PATHS = ("/v1/chat/completions", "/v1/messages", "/v1/responses")
# A HAR posted to the control API: recordings hold result bytes (base64 images, MP4s), so it
# takes what `serve --har` reads from a file, up to this (README, Replaying a recorded session)
SCENARIO_BODY_LIMIT = 256 * 2**20
SCENARIOS_PATH = "/_mock/scenarios"


def create_app(config: MockConfig | None = None) -> web.Application:
    """A fresh mock KIE (its own accounts and tasks) as a plain aiohttp Application."""
    return build_app(Runtime.new(as_config(config)))


def runtime_of(app: web.Application) -> Runtime:
    """The state behind an app from create_app: tasks, callbacks, journal."""
    return app[RUNTIME]


def build_app(rt: Runtime) -> web.Application:
    """An Application over existing state (a MockServer restarts on the same accounts/tasks)."""
    app = web.Application(middlewares=[_emulator])
    app[RUNTIME] = rt
    extensions = installed_families()  # families other packages add (and Luma)
    register(extensions)
    rt.scenarios.read_families(state_readers(extensions))  # HAR replay reads their words
    # MockConfig.rules made in Python: a family none of these serve would never match
    check_families(rt.rules.initial, task_families())
    for table in ROUTE_TABLES:
        app.router.add_routes(table)
    for extension in extensions:  # a route's bug is answered as KIE would, and named (500)
        app.router.add_routes(guarded_routes(extension))
    app.router.add_routes(files.ROUTES)
    app.router.add_routes(control.ROUTES)  # /_mock/ tasks, rules, clock, journal, accounts
    app.router.add_routes(har.ROUTES)
    app.router.add_routes(openapi.ROUTES)
    faults_http.install(app)
    app.router.add_routes(limits_http.ROUTES)
    app.router.add_routes(callbacks_http.ROUTES)
    app.router.add_routes(changes_http.ROUTES)  # the long-poll watchers use
    app.router.add_routes(inspector.ROUTES)  # the page at /_mock/ui
    app.on_startup.append(_open_deliveries)  # one session for every callback delivery
    app.on_shutdown.append(changes_http.wake_waiters)
    # at shutdown, so deliveries do not compete with the requests still being answered; again
    # at cleanup, for those the last requests owed meanwhile
    app.on_shutdown.append(_stop_deliveries)
    app.on_cleanup.append(_stop_deliveries)
    app.cleanup_ctx.append(settler.settle_in_background)  # tasks that end on time, unpolled
    return app


async def _open_deliveries(app: web.Application) -> None:
    await app[RUNTIME].callbacks.open()


async def _stop_deliveries(app: web.Application) -> None:
    await app[RUNTIME].callbacks.close()


@web.middleware
async def _emulator(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The emulator's middlewares, outermost first: the loopback check, the journal, faults,
    file expiry, _kie_conventions, limits, HAR replay. The first two, which every request
    passes, are this function's own (a layer of their own each cost every request a coroutine).
    Each of the others joins a request's chain only when it can act on it now; they would only
    pass it on, at a cost on every request. Faults, limits and replay can be switched on at run
    time, so the choice is made per request."""
    rt = request.app[RUNTIME]
    path = request.path
    if path.endswith(CHAT_PATHS) and request.method == "POST":
        request = request.clone(client_max_size=CHAT_BODY_LIMIT)  # a message with images
    elif path == SCENARIOS_PATH and request.method == "POST":
        request = request.clone(client_max_size=SCENARIO_BODY_LIMIT)  # a HAR with its files
    control = path.startswith(CONTROL_PREFIX)
    if control:
        if not host_is_loopback(request.host):
            return _not_loopback()
        if request.method not in _SAFE_METHODS and (refusal := cross_site(request)) is not None:
            return refusal
        if (unrouted := request.match_info.http_exception) is not None:
            return _no_control_route(request, unrouted)
    if rt.scenarios.active and path.startswith("/api/"):
        handler = partial(har.replay, handler=handler)
    if rt.limits.polls_limited:
        handler = partial(limits_http.middleware, handler=handler)
    handler = partial(_kie_conventions, handler=handler, rt=rt)
    if path.startswith(files.LINKED_PATHS):
        handler = partial(files.expiry, handler=handler)
    if rt.faults.armed and not control:
        handler = partial(faults_http.middleware, handler=handler)
    # The journal: every request (the Authorization header masked) with the answer as sent;
    # and watchers (changes.py) are told what it may have changed.
    arrived = rt.clock.now()  # mock time, for the journal's poll checks
    try:
        raw = await request.read() if request.body_exists else b""
    except ConnectionResetError:
        # the client hung up before its body arrived whole: nothing to do, nobody to answer
        # (it was aiohttp's traceback and an HTTP 500); journaled as answered with nothing (0)
        if not control:
            _note(rt, request, b"", arrived, 0, None, None)
        said_cut_short(request)
        return web.Response(status=400)  # dropped quietly with the connection
    except web.HTTPRequestEntityTooLarge as exc:
        if not control:
            raise  # the API host's: aiohttp's own 413, as KIE's is not recorded (README, Limits)
        return _too_large(exc)
    status = 500
    answer: dict[str, Any] | None = None
    sent: web.StreamResponse | None = None
    try:
        response = sent = await handler(request)
        status = response.status
        answer = response.get(ENVELOPE)
        if answer is None:  # an answer not made by envelope.py: read it back
            answer = _json_answer(response)
        return response
    except web.HTTPException as exc:
        status, sent = exc.status, exc
        raise
    except ConnectionResetError:
        streamed: web.StreamResponse | None = request.get(STREAMED)
        if streamed is None or not _client_left(request):
            raise
        # A client may stop reading a stream (a chat closed early): normal, not the mock's
        # error, so one debug line instead of aiohttp's traceback; the answer ends as sent
        log.debug("%s %s: the client hung up before its answer ended", request.method, path)
        status, sent = streamed.status, streamed
        return streamed
    finally:
        if not control:  # control requests are not journaled
            _note(rt, request, raw, arrived, status, answer, sent)
        rt.changes.touch(topics_of(request.method, path))


def _too_large(exc: web.HTTPRequestEntityTooLarge) -> web.Response:
    """A control request's body over its limit: the control routes' JSON error, naming it."""
    body = {"error": f"the body is too large: {exc.text}", "field": "body"}
    return web.json_response(body, status=413)


def _no_control_route(request: web.Request, unrouted: web.HTTPException) -> web.Response:
    """An unknown control path (404) or a method its route does not take (405, with its
    Allow header): the control routes' JSON error, as the README promises for every /_mock/
    answer, not aiohttp's text/plain; a client decoding every control answer reads it too."""
    if isinstance(unrouted, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(unrouted.allowed_methods))
        body = {
            "error": f"{request.path} does not take {request.method} (it takes {allowed})",
            "field": "method",
        }
    else:
        body = {"error": f"no control route {request.path} (mockserver/README.md)", "field": "path"}
    headers = {"Allow": unrouted.headers["Allow"]} if "Allow" in unrouted.headers else None
    return web.json_response(body, status=unrouted.status, headers=headers)


def _client_left(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _not_loopback() -> web.Response:
    """The control API and the inspector answer only requests whose Host header names loopback
    (by name or address). That stops DNS rebinding: a page whose own host name an attacker
    re-points at 127.0.0.1 reaches the port, but its requests carry that name in Host. It does
    not stop a page of another origin that sends to 127.0.0.1 itself (its Host is loopback):
    cross_site refuses those when they would change something."""
    body = {"error": "the mock's control API answers only loopback hosts", "field": "Host"}
    return web.json_response(body, status=403)


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_site(request: web.Request) -> web.Response | None:
    """403 for a control request that a web page of another origin sent (CSRF), else None.

    A browser may send a "simple" cross-origin POST (text/plain body, no preflight) to
    127.0.0.1 from any page, and it names the page in ``Origin`` (and, in current browsers,
    ``Sec-Fetch-Site``). Only the inspector, served by the mock itself, is same-origin; curl,
    requests and other test code send no Origin and are let through. The content type is not
    checked: ``curl -d`` sends form-encoded JSON, as the README's examples do."""
    site = request.headers.get("Sec-Fetch-Site", "").lower()
    origin = request.headers.get("Origin")
    if site in ("cross-site", "same-site"):
        why = f"Sec-Fetch-Site is {site}"
        field = "Sec-Fetch-Site"
    elif origin is not None and _origin_host(origin) != request.host.lower():
        why = f"Origin {origin!r} is not this mock ({request.host})"
        field = "Origin"
    else:
        return None
    body = {
        "error": f"a web page of another origin may not change the mock: {why}",
        "field": field,
    }
    return web.json_response(body, status=403)


def _origin_host(origin: str) -> str | None:
    """An Origin header's host[:port], lowercased; None for "null" or a malformed one."""
    try:
        parts = urlsplit(origin.strip())
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.lower()


def host_is_loopback(host_header: str) -> bool:
    """Whether a Host header names loopback: localhost, 127.0.0.0/8 or [::1], any port."""
    try:
        name = urlsplit("//" + host_header).hostname
    except ValueError:
        return False
    return name is not None and is_loopback_host(name)


@web.middleware
async def _kie_conventions(
    request: web.Request, handler: Handler, rt: Runtime
) -> web.StreamResponse:
    """Bearer auth on /api/ (kie-api.md §1) and body-coded errors at HTTP 200 (§1, §7)."""
    if request.match_info.http_exception is not None:
        return await handler(request)  # unknown route: a real HTTP 404 (§1, APIFOX)
    if request.path.startswith("/api/"):
        key = bearer_key(request)
        if key is None or not rt.store.accepts(key):
            return error(401, "You do not have access permissions")
    # HEAD (aiohttp answers it on every GET route) reads a task without polling it (PEEKING)
    peeking = PEEKING.set(True) if request.method == "HEAD" else None
    try:
        return await handler(request)
    except ErrorAnswer as exc:
        if isinstance(exc, RateLimited):  # the journal tells which limit answered
            request[faults_http.FAULT_HIT] = faults_http.FaultHit(exc.limit, "kie")
        return error(exc.code, exc.msg)
    finally:
        if peeking is not None:
            PEEKING.reset(peeking)


def _note(
    rt: Runtime,
    request: web.Request,
    raw: bytes | BodyPreview,  # a body not kept: its size (an upload's files)
    arrived: float,
    status: int,
    answer: dict[str, Any] | None,
    sent: web.StreamResponse | None,
) -> None:
    """Journal a request: what the record needs is taken now (the request and response do not
    outlive it), the record itself is made when first read."""
    # a fault (faults_http.py) may have lost the answer: it knows what was really sent
    # (a request's own state is empty unless a fault or a limit answered it: skip the lookup)
    hit = request.get(faults_http.FAULT_HIT) if len(request) else None
    if hit is not None and hit.status is not None:
        status = hit.status
    task_id = _task_id(request, answer) or (hit.task_id if hit else None)
    method, path, query = request.method, request.path, request.query
    code = answer.get("code") if answer is not None else None
    fault = None if hit is None else hit.rule_id
    authorization, account = _caller(request.headers.get("Authorization"))
    if account is None:  # a keyless file download: the journal lists it under its maker's
        account = files.owner_of_file(rt.store, path)
    # 0: reset, none sent; the answer cut as the journal keeps it (noted_answer). A client that
    # hung up before the answer was ready (nothing of it sent yet) never gets it: not delivered
    answered = (
        None
        if status == 0 or sent is None
        else noted_answer(*_sent(sent), sent.prepared or not _client_left(request))
    )
    rules = _rules(request, task_id) if method == "POST" else ()  # only a POST creates
    kind = request_kind(method, path, query, task_id, code, fault)
    # plain values only (requestlog.Noted): the journal keeps them until the record is read
    noted: Noted = (
        method,
        path,
        masked_query(query) if query else {},  # a key or token in it: *** (masking.py)
        # a large body only as a preview (a base64 upload, an inline image)
        kept_body(raw) if isinstance(raw, bytes) else raw,
        task_id,
        authorization,
        status,
        code,
        fault,
        arrived,
        account,
        answered,
        rules,
    )
    rt.journal.add_later(noted, path=path, task_id=task_id, account_id=account, kind=kind)


def journal_request(
    request: web.Request,
    raw: bytes | BodyPreview,
    arrived: float,
    status: int,
    sent: web.StreamResponse | None,
) -> None:
    """Journal a request that _emulator did not see (the upload host's, uploads_http.py) as it
    journals its own — the answer as sent, the caller's account, a large body as a preview, a
    body it does not keep (a multipart upload) as a BodyPreview of its size alone — and tell
    watchers (the inspector) the journal moved."""
    rt = request.app[RUNTIME]
    _note(rt, request, raw, arrived, status, None if sent is None else _json_answer(sent), sent)
    rt.changes.touch(_JOURNAL_ONLY)


_JOURNAL_ONLY = frozenset({"journal"})


def _rules(request: web.Request, task_id: str | None) -> tuple[int, ...]:
    """The rules a task got, when this POST created it (it was answered with the task's id)."""
    if task_id is None or request.query.get("taskId") == task_id:
        return ()
    task = request.app[RUNTIME].store.find(task_id)
    return () if task is None else task.rules


def _sent(response: web.StreamResponse) -> tuple[str, dict[str, str], bytes | None]:
    """SentAnswer.of's arguments, read now: aiohttp adds its own headers as it sends."""
    body: bytes | None = None
    # most answers are a plain Response: isinstance, through aiohttp's ABC, is a Python call
    if type(response) is web.Response or isinstance(response, web.Response):
        payload = response.body
        body = payload if isinstance(payload, bytes) else None
    headers = response.headers
    content_type = headers.get("Content-Type")
    if content_type is not None and len(headers) == 1:  # most answers: nothing else to copy
        return content_type, {}, body
    content_type = content_type or response.content_type
    others = {name: value for name, value in headers.items() if name != "Content-Type"}
    return content_type, others, body


def _json_answer(response: web.StreamResponse) -> dict[str, Any] | None:
    if isinstance(response, web.Response) and response.content_type == "application/json":
        return parse_json_object(response.body if isinstance(response.body, bytes) else b"")
    return None


@lru_cache(maxsize=256)  # a test's few keys, at every request
def _caller(authorization: str | None) -> tuple[str | None, str | None]:
    """An Authorization header as the journal keeps it (masked), and the account it names."""
    key = key_in(authorization or "")
    return mask_authorization(authorization), None if key is None else account_id(key)


def _task_id(request: web.Request, answer: dict[str, Any] | None) -> str | None:
    named = request.query.get("taskId") or request.match_info.get("task_id")
    if named:
        return named
    data = answer.get("data") if answer is not None else None
    created = data.get("taskId") if isinstance(data, dict) else None
    return created if isinstance(created, str) else None


__all__ = ["build_app", "create_app", "journal_request", "runtime_of"]
