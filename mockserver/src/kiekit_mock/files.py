"""Result files: GET /files/{task_id}/{index}.{ext} — the mock's stand-in for KIE's CDN links.

No auth, as for public CDN links (kie-api.md §2.2 tempfile.aiquickdraw.com, §3.2). A file exists
only while its task has succeeded and the index/extension match; anything else is a real 404.

Links expire as KIE documents (§1, §8), measured on the mock clock (so ``clock.advance`` or
``time_scale`` reach them in a test): every file under ``/files/`` (whatever family serves it)
stops working ``RETENTION_SECONDS`` (14 days) after its task ended, and a link carrying a
presigned query (``X-Amz-Date`` / ``X-Amz-Expires`` / ``X-Amz-Signature``: download-url links,
20 minutes; Flux's ``originImageUrl``, 10 minutes) also when its own lifetime is over. An expired
link answers as an expired object-store link does: HTTP 403, ``application/xml``,
``<Error><Code>AccessDenied</Code><Message>Request has expired</Message>…`` (S3's and R2's
wording); a presigned query the mock did not sign answers 403 ``SignatureDoesNotMatch``.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import logging
import math
import mimetypes
import secrets
import time
from collections.abc import Callable, Mapping
from functools import partial
from urllib.parse import unquote, urlencode, urlsplit

from aiohttp import web

from . import media
from .envelope import dumps
from .ranges import ranged
from .route_helpers import Handler, file_handler, runtime
from .runtime import Runtime
from .state import Store, TaskSnapshot

RETENTION_SECONDS = 14 * 24 * 3600  # generated media are kept 14 days (§1 D:index §6, §8)
# families whose files are kept longer or shorter (FamilyExtension.retention_days): Midjourney 15 d
RETENTION_BY_FAMILY: dict[str, float] = {}
# KIE's record-query 422 for a task past retention (§3.3, Veo's pages). Other families' routes
# that take an earlier task answer it too: their pages are silent [INF from the retention rule]
PAST_RETENTION = "Temporarily supports records within 14 days"
DOWNLOAD_LINK_SECONDS = 20 * 60  # download-url links are valid 20 minutes (§4, §8)
# families that make their result files' bytes themselves (FamilyExtension.result_file): the
# bytes of file `index` of a task, or None for the mock's own of its type
ResultFile = Callable[[TaskSnapshot, int], bytes | None]
RESULT_FILES: dict[str, ResultFile] = {}
# a replayed recording's files (har.py): download-url gives 20-minute links to them too
HAR_FILES_PREFIX = "/_mock/har-files/"
LINKED_PATHS = ("/files/", HAR_FILES_PREFIX)  # where the expiry middleware looks
FLUX_ORIGIN_SECONDS = 10 * 60  # Flux's originImageUrl is valid 10 minutes (§8)
# Signs the links the mock issues so a client cannot stretch a link's life by editing its query;
# a test double needs no secret, only a check that the link is the one the mock gave out.
_LINK_KEY = b"kiekit-mock presigned links"
_AMZ_TIME = "%Y%m%dT%H%M%SZ"

ROUTES = web.RouteTableDef()
log = logging.getLogger("kiekit_mock")

# Every file the mock serves (its own results, a replayed recording's, the upload host's) is
# served as untrusted: its bytes may come from a HAR or a client, and it is served on the origin
# of the inspector and the control API (or beside it). Under a sandbox CSP the document has an
# opaque origin and runs no script (an SVG's onload, an HTML page), and nosniff stops a browser
# from taking bytes for a more active type than the one named; images, audio and video still
# show as they are.
FILE_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}

CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "mp4": "video/mp4",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "mid": "audio/midi",
    "json": "application/json",
    "txt": "text/plain",
}


def content_type(ext: str) -> str:
    """The media type of a result file; an extension no table knows is served as bytes."""
    known = CONTENT_TYPES.get(ext.lower()) or mimetypes.guess_type(f"file.{ext}")[0]
    return known or "application/octet-stream"


def render(task: TaskSnapshot, index: int) -> bytes:
    colour = media.colour_for(task.task_id, index)
    width, height = media.size_for(task.aspect_ratio)
    ext = task.result_ext_at(index)
    if ext == "png":
        return media.png_bytes(width, height, colour)
    if ext in ("jpg", "jpeg"):
        return media.jpeg_bytes(width, height, colour)
    label = f"{task.task_id}/{index}"
    if ext == "mp3":
        return media.mp3_bytes(label)
    if ext == "wav":
        return media.wav_bytes(label)
    if ext == "mid":
        return media.midi_bytes(label)
    if ext == "json":
        return dumps({"taskId": task.task_id, "index": index, "text": "kiekit-mock"}).encode()
    if ext == "mp4":
        return media.mp4_bytes(label)
    return media.text_bytes(label)  # txt, and any type the mock does not draw


def _bytes_of(task: TaskSnapshot, index: int) -> bytes | None:
    """File ``index``'s bytes: its family's own (RESULT_FILES), else the mock's of its type.
    None when the family's hook failed (its bug, logged naming it: the file answers 500)."""
    made = RESULT_FILES.get(task.family)
    if made is None:
        return render(task, index)
    try:
        body = made(task, index)
        if body is not None and not isinstance(body, bytes):
            raise TypeError(f"it gave a {type(body).__name__}, not bytes or None")
    except Exception as exc:
        from .extension import described  # the extension API imports this module

        log.error(
            "kiekit-mock: %s: its result_file failed for file %d of task %s: %s: %s",
            described(task.family),
            index,
            task.task_id,
            type(exc).__name__,
            exc,
        )
        log.debug("kiekit-mock: the result_file's traceback", exc_info=True)
        return None
    return render(task, index) if body is None else body


# --- file routes ----------------------------------------------------------------------------

# A file route's lookup: the file at the route's parameters (task_id, name …), or None. Pure (no
# request), so the mock can ask whether it serves a path without faking a request to it.
FileLookup = Callable[[Runtime, Mapping[str, str]], web.Response | None]


async def serve_file(request: web.Request, *, lookup: FileLookup) -> web.Response:
    found = lookup(runtime(request), request.match_info)
    if found is None:
        raise web.HTTPNotFound()
    found.headers.update(FILE_HEADERS)
    return ranged(request, found)  # Range, as an object store answers it (ranges.py)


def file_route(routes: web.RouteTableDef, pattern: str) -> Callable[[FileLookup], FileLookup]:
    """Declare ``GET pattern`` as served by a lookup, which find_file can then ask directly."""

    def declare(lookup: FileLookup) -> FileLookup:
        routes.get(pattern)(file_handler(partial(serve_file, lookup=lookup)))
        return lookup

    return declare


def find_file(router: web.UrlDispatcher, rt: Runtime, path: str) -> web.Response | None:
    """The file a GET of ``path`` (undecoded, as in a URL) is answered with, if a file route
    serves it, without the expiry check an expired link fails: the first route matching the
    path decides, as in aiohttp's own resolution."""
    for resource in router.resources():
        pattern = resource.get_info().get("pattern")
        found = pattern.fullmatch(path) if pattern is not None else None
        if found is None:
            continue
        params = {key: unquote(value) for key, value in found.groupdict().items()}
        for route in resource:
            handler = route.handler
            if isinstance(handler, partial) and handler.func is serve_file:
                lookup: FileLookup = handler.keywords["lookup"]
                return lookup(rt, params)
        return None
    return None


@file_route(ROUTES, "/files/{task_id}/{name}")
def result_file(rt: Runtime, params: Mapping[str, str]) -> web.Response | None:
    task = rt.store.find(params["task_id"])
    stem, _, ext = params["name"].partition(".")
    if task is None or task.state != "success" or not stem.isdigit():
        return None
    index = int(stem)
    if index >= task.result_count or ext != task.result_ext_at(index):
        return None
    body = _bytes_of(task, index)
    if body is None:
        return web.Response(status=500, text="the mock's family failed to make this file")
    return web.Response(body=body, content_type=content_type(ext))


# --- expiring links ------------------------------------------------------------------------


def presign(url: str, issued: float, lifetime: int, *, fresh: bool = True) -> str:
    """``url`` (no query) as a presigned link valid ``lifetime`` seconds from ``issued`` (to
    the millisecond); ``fresh=False`` for a link a record repeats on every poll (the same every
    time)."""
    whole, ms = divmod(math.floor(issued * 1000), 1000)
    stamp = time.strftime(_AMZ_TIME, time.gmtime(whole))
    key_id = secrets.token_hex(9)[:17] if fresh else hashlib.sha256(url.encode()).hexdigest()[:17]
    path = urlsplit(url).path
    # a fresh access-key-like id per link, so two links issued in one second still differ; its
    # last 3 hex digits carry the issue's milliseconds, which X-Amz-Date (whole seconds) drops:
    # without them a link issued at x.9 s expired 0.9 s before its lifetime was up
    credential = f"{key_id.upper()}{ms:03X}/{stamp[:8]}/auto/s3/aws4_request"
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": credential,
        "X-Amz-Date": stamp,
        "X-Amz-Expires": str(lifetime),
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": _signature(path, credential, stamp, str(lifetime)),
    }
    return f"{url}?{urlencode(query)}"


def _signature(path: str, credential: str, stamp: str, lifetime: str) -> str:
    # what SigV4 signs of a presigned link (its credential, date, lifetime), so editing any of
    # them is refused as an object store refuses it
    message = f"{path}\n{credential}\n{stamp}\n{lifetime}".encode()
    return hmac.new(_LINK_KEY, message, hashlib.sha256).hexdigest()


def task_of_file(store: Store, path: str) -> TaskSnapshot | None:
    """The task a /files/ path belongs to: /files/{id}/… or /files/{family}/{id}/…."""
    parts = path.split("/")  # "", "files", …
    if len(parts) < 4 or parts[1] != "files":
        return None
    for candidate in parts[2:4]:
        task = store.find(candidate)
        if task is not None:
            return task
    return None


UPLOADED_PREFIX = "/kieai/"  # the upload host's stored files: /kieai/{account}/… (uploads_http)


def owner_of_file(store: Store, path: str) -> str | None:
    """The account a keyless file download belongs to, else None. Result links and stored
    uploads carry no key (public CDN links, kie-api.md §2.2, §4), so the mock names the account
    that made the file: a result file's task's, or the one an upload's path is filed under.
    Account-scoped fault rules and the account's journal then cover its downloads."""
    if path.startswith("/files/"):
        task = task_of_file(store, path)
        return None if task is None else task.account_id
    if path.startswith(UPLOADED_PREFIX):
        account = path[len(UPLOADED_PREFIX) :].partition("/")[0]
        return account if account.startswith("acct_") else None
    return None


def purged_at(task: TaskSnapshot) -> float | None:
    """When a finished task's media stop being kept (14 days after it ended, §8, unless its
    family keeps them otherwise)."""
    if task.completed_ms is None:
        return None
    return task.completed_ms / 1000 + RETENTION_BY_FAMILY.get(task.family, RETENTION_SECONDS)


def retained(task: TaskSnapshot, now: float) -> bool:
    gone = purged_at(task)
    return gone is None or now < gone


@web.middleware
async def expiry(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse expired or forged links to files, as an object store does; others pass. A
    replayed recording's file is kept as long as the mock runs (har.py says why), but a
    presigned link to one expires as any download-url link does."""
    if request.method not in ("GET", "HEAD") or not request.path.startswith(LINKED_PATHS):
        return await handler(request)
    rt = runtime(request)
    now = rt.clock.now()
    query = request.query
    if "X-Amz-Signature" in query or "X-Amz-Expires" in query:
        stamp, lifetime = query.get("X-Amz-Date", ""), query.get("X-Amz-Expires", "")
        credential = query.get("X-Amz-Credential", "")
        expected = _signature(request.path, credential, stamp, lifetime)
        if not hmac.compare_digest(expected, query.get("X-Amz-Signature", "")):
            return _denied("SignatureDoesNotMatch", _MISMATCH, now)
        issued = calendar.timegm(time.strptime(stamp, _AMZ_TIME)) + _issue_ms(credential) / 1000
        if now >= issued + int(lifetime):
            return _denied("AccessDenied", "Request has expired", now, issued + int(lifetime))
    task = task_of_file(rt.store, request.path)
    gone = None if task is None else purged_at(task)
    if gone is not None and now >= gone:
        return _denied("AccessDenied", "Request has expired", now, gone)
    return await handler(request)


def _issue_ms(credential: str) -> int:
    """The milliseconds of a link's issue time, which presign puts at the end of its key id."""
    try:
        ms = int(credential.partition("/")[0][-3:], 16)
    except ValueError:
        return 0
    return ms if 0 <= ms < 1000 else 0


_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _denied(code: str, message: str, now: float, expired_at: float | None = None) -> web.Response:
    when = "" if expired_at is None else f"<Expires>{_iso(expired_at)}</Expires>"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>{when}"
        f"<ServerTime>{_iso(now)}</ServerTime>"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    )
    return web.Response(status=403, text=body, content_type="application/xml")
