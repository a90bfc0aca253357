"""Request-side helpers shared by the route handlers."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

from .envelope import ErrorAnswer
from .requestlog import parse_json_object as parse_json_object  # re-exported
from .runtime import RUNTIME, CallbackPayload, Runtime
from .state import Family, Transition, account_id

_SERVES_FILE = "_kiekit_mock_serves_file"
H = TypeVar("H")


def file_handler(handler: H) -> H:
    """Mark ``handler`` as serving a file's own bytes (a result file, a stored upload), not
    KIE's envelope: a truncated or malformed fault cuts those bytes (faults_http.py)."""
    setattr(handler, _SERVES_FILE, True)
    return handler


def serves_file(request: web.Request) -> bool:
    """Whether ``request`` went to a route marked by :func:`file_handler`."""
    return bool(getattr(request.match_info.handler, _SERVES_FILE, False))


# A middleware's next handler. aiohttp's own alias (aiohttp.typedefs.Handler) names its classes
# as strings that only resolve inside aiohttp, so typing.get_type_hints failed on every
# middleware annotated with it.
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The answer a handler writes piece by piece (an event stream): kept so that the emulator
# (app.py) can end it quietly when the client hangs up before the last piece
STREAMED: web.RequestKey[web.StreamResponse] = web.RequestKey(
    "kiekit_mock.streamed", web.StreamResponse
)


async def prepare_streamed(request: web.Request, response: web.StreamResponse) -> None:
    """Send ``response``'s head now; its handler then writes the body as it is made. Marked
    streamed first: a client gone before the head (it gave up while a slow fault held the
    answer) is then a hang-up, as one gone mid-answer is (app.py), not a traceback."""
    request[STREAMED] = response
    await response.prepare(request)


def runtime(request: web.Request) -> Runtime:
    """The mock's :class:`Runtime` a request is served by."""
    return request.app[RUNTIME]


def bearer_key(request: web.Request) -> str | None:
    """The API key of `Authorization: Bearer <key>` (kie-api.md §1), or None. The journal,
    faults, auth and limits each ask, so the header is parsed once per distinct value."""
    return key_in(request.headers.get("Authorization", ""))


@functools.lru_cache(maxsize=256)  # a test's few keys, asked several times per request
def key_in(authorization: str) -> str | None:
    """The key of an Authorization header's value (see bearer_key)."""
    scheme, _, key = authorization.strip().partition(" ")
    return (key.strip() or None) if scheme.lower() == "bearer" else None


def account_of(request: web.Request) -> str:
    """The caller's account id; the auth middleware has already accepted the key."""
    key = bearer_key(request)
    if key is None:  # only reachable if a route were left outside the auth middleware
        raise ErrorAnswer(401, "You do not have access permissions")
    return account_id(key)


def origin_of(request: web.Request) -> str:
    """scheme://host[:port] as the client reached us, so result links work on any port.

    Behind a reverse proxy or a TLS-terminating front, the client reached the front: its
    ``Forwarded: proto=https;host=kie.example`` (RFC 7239, the first element), else
    ``X-Forwarded-Proto`` / ``X-Forwarded-Host``, name it. They only shape the links the mock
    hands out (result files, uploads' downloadUrl); the mock never connects anywhere by them.
    A value that is not a plain scheme or host[:port] is ignored."""
    headers = request.headers
    proto = host = None
    forwarded = headers.get("Forwarded")
    if forwarded:
        first = forwarded.split(",", 1)[0]
        pairs = (pair.strip().partition("=") for pair in first.split(";"))
        found = {name.strip().lower(): value.strip().strip('"') for name, _, value in pairs}
        proto, host = found.get("proto"), found.get("host")
    proto = proto or _first(headers.get("X-Forwarded-Proto"))
    host = host or _first(headers.get("X-Forwarded-Host"))
    scheme = proto.lower() if proto and proto.lower() in ("http", "https") else request.scheme
    netloc = host if host and _HOST.fullmatch(host) else request.host
    return f"{scheme}://{netloc}"


# host[:port] as a link may carry it: a name, an IPv4 address or a bracketed IPv6 one
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def _first(value: str | None) -> str | None:
    """The first of a header's comma-separated values (the client's side of a proxy chain)."""
    return value.split(",", 1)[0].strip() or None if value else None


async def json_body(request: web.Request) -> dict[str, Any]:
    """The JSON object body; KIE answers a malformed body with body code 400 (kie-api.md §7)."""
    body = parse_json_object(await request.read())
    if body is None:
        raise ErrorAnswer(400, "Request body must be a JSON object")
    return body


def task_id_param(request: web.Request, param: str = "taskId") -> str:
    """The task id a status query names: the route's path variable ``param`` if it has one,
    else the query parameter ``param``; none is KIE's 422 "taskId cannot be empty"."""
    task_id = request.match_info.get(param) or request.query.get(param, "")
    if not task_id.strip():
        raise ErrorAnswer(422, f"{param} cannot be empty")
    return task_id.strip()


def optional_callback_url(body: dict[str, Any], field: str) -> str | None:
    """A callBackUrl-like field: absent/null/"" means none; otherwise an http(s) URL."""
    value = body.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not is_http_url(value):
        raise ErrorAnswer(422, f"{field} must be a valid http(s) URL")
    return value


def is_http_url(value: object) -> bool:
    """An absolute http(s) URL with a host. [INF] KIE's docs say nothing of white space in a
    URL; a URL holds none (RFC 3986: a space is written %20), so one with any, around it or in
    it, is refused, as kiekit refuses it before sending."""
    if not isinstance(value, str) or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def poll_task(
    request: web.Request,
    family: Family,
    payload: CallbackPayload,
    *,
    not_found: ErrorAnswer | None = None,
    param: str = "taskId",
) -> Transition:
    """A status query: the caller's task of ``family`` moves along its lifecycle, and its
    callback is owed once it has finished. No such task (or another account's) is KIE's 404
    "Task not found" (§7), unless the family answers otherwise (``not_found``). ``param``:
    the path variable or query parameter naming the task (task_id_param)."""
    rt = runtime(request)
    transition = rt.store.poll(account_of(request), task_id_param(request, param), family)
    if transition is None:
        raise not_found or ErrorAnswer(404, "Task not found")
    rt.finish(transition, payload)
    return transition


def said_cut_short(request: web.Request) -> None:
    """One line (at INFO) for a request whose client hung up before its body arrived whole: the
    client's doing, not the mock's error, so no traceback and no ERROR."""
    logging.getLogger("kiekit_mock").info(
        "kiekit-mock: %s %s: the client hung up before its body arrived whole; nothing done",
        request.method,
        request.path,
    )
