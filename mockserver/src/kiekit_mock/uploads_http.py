"""KIE's upload host (kie-api.md §1, §4): ``kieai.redpandaai.co``, emulated as a second server;
the HTTP side (the files it keeps and its rules for them: uploads.py).

Real KIE takes uploads on a host of its own and serves them from a third one
(``tempfile.redpandaai.co``). The mock runs the upload host as its own aiohttp Application on a
port of its own (``MockServer.upload_base_url``), for three reasons: clients must be configured
with two base URLs as against real KIE; the host has its own answers (a ``success`` flag in the
envelope, its own 401 and 405); and its bodies are large multipart streams, which the API app's
request journal (it buffers every body) and 1 MB size limit are not made for. Stored files are
served back by the same server at their ``filePath`` (``/kieai/<userId>/<uploadPath>/<file>``),
a path no upload route uses: one port fewer than KIE's layout, and the same link shape.

The three methods (§4): ``POST /api/file-stream-upload`` (multipart: ``file``, ``uploadPath``,
``fileName?``), ``POST /api/file-url-upload`` (``{fileUrl, uploadPath, fileName?}``) and
``POST /api/file-base64-upload`` (``{base64Data, uploadPath, fileName?, mimeType?}``, the data
raw or as a ``data:`` URL). Answers: ``{success, code, msg, data}`` over HTTP 200, the codes
200/400/401/405/500. The mock never leaves the machine: a ``fileUrl`` on loopback is fetched for
real; any other one is stood in for by a small generated file of the type its extension names
(as result files are), and one whose type cannot be told is refused with code 400.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from . import faults_http, inputs
from .app import journal_request
from .callbacks import is_loopback_host
from .config import MockConfig
from .egress import Egress, EgressRefused
from .envelope import dumps
from .files import FILE_HEADERS
from .ranges import ranged
from .requestlog import BodyPreview
from .route_helpers import (
    Handler,
    bearer_key,
    file_handler,
    is_http_url,
    origin_of,
    parse_json_object,
    runtime,
    said_cut_short,
)
from .runtime import RUNTIME, Runtime
from .state import account_id
from .uploads import (
    URL_FILE_BYTES,
    StoredFile,
    UploadError,
    UploadStore,
    auto_name,
    extension_of,
    file_name_of,
    sniff,
    stand_in,
    upload_path,
)

FETCH_TIMEOUT = 30.0  # KIE gives up fetching a fileUrl after 30 s (§4)
UPLOAD_PATHS = ("/api/file-stream-upload", "/api/file-url-upload", "/api/file-base64-upload")
_CHUNK = 64 * 1024
_EGRESS = Egress()  # the upload host fetches from loopback only: no host is ever allowed


TOO_LARGE = "File size exceeds the limit"

UPLOADS: web.AppKey[UploadStore] = web.AppKey("kiekit_mock.uploads", UploadStore)
# Set on a request refused as too large: its body was not read whole, and is not read again
_REFUSED_AS_TOO_LARGE: web.RequestKey[bool] = web.RequestKey("kiekit_mock.too_large", bool)


def largest_file(config: MockConfig) -> int | None:
    """The largest file the upload host takes, by any method: MockConfig.upload_file_limit,
    and never more than upload_limit, the bytes its files may hold together (a file the store
    could not keep is refused, not kept past the limit); None: no limit. KIE documents none for
    stream and base64 uploads (§3.5: a model page takes a 500 MB video) and answers a refused
    upload 400 (§4's upload codes: 200/400/401/405/500); URL uploads also keep the "~100 MB"
    their page gives (§4, URL_FILE_BYTES). A larger file gets TOO_LARGE in that shape."""
    limits = [n for n in (config.upload_file_limit, config.upload_limit) if n is not None]
    return min(limits) if limits else None


def json_body_limit(file_limit: int | None) -> int:
    """The most a JSON body may hold: the largest file taken (MockConfig.upload_file_limit) as
    base64 (4 characters per 3 bytes), with room for the other fields; none (sys.maxsize:
    aiohttp's multipart reader takes 0 literally) when files have no limit. A larger body is
    refused in the host's envelope, never with aiohttp's bare 413."""
    return sys.maxsize if file_limit is None else 4 * -(-file_limit // 3) + 2**20


def build_upload_app(rt: Runtime, store: UploadStore | None = None) -> web.Application:
    """The upload host over the mock's accounts and clock, keeping files in ``store`` (by
    default the runtime's, which its reset forgets and GET /_mock/uploads lists). The
    mock's fault rules (faults.py) answer its requests as they answer the API's: a client's
    upload retries and lost answers are tested the same way."""
    middlewares = [_journal, _faults, _host_conventions]
    body_limit = json_body_limit(largest_file(rt.config))
    app = web.Application(middlewares=middlewares, client_max_size=body_limit)
    app[RUNTIME] = rt
    if store is None:
        store = rt.uploads
    app[UPLOADS] = store
    # a create naming one of this host's files that is gone fails as KIE's would (inputs.py)
    rt.store.input_check = inputs.checker(store, rt.clock.now)
    faults_http.arm(app)
    app[faults_http.KIE_ENVELOPE] = answer  # a "kie" fault in the host's envelope (`success`)
    for path in UPLOAD_PATHS:
        app.router.add_route("*", path, _upload)
    app.router.add_get("/kieai/{rest:.+}", file_handler(_stored_file))
    app.cleanup_ctx.append(_prune_on_advance)
    return app


async def _prune_on_advance(app: web.Application) -> AsyncIterator[None]:
    """A clock advance (three days in a test's second) lets go of the files it expired, not
    only the next upload: the host holds no file KIE would have deleted (uploads.py)."""
    clock, store = app[RUNTIME].clock, app[UPLOADS]
    stop = clock.listen(lambda: store.prune(clock.now()))
    yield
    stop()  # a MockServer started again listens anew


# --- envelope, auth, journal ---


def answer(code: int, msg: str, data: Any = None) -> web.Response:
    """The host's envelope: KIE's plus a ``success`` flag, over HTTP 200 (§1, §4)."""
    body = {"success": code == 200, "code": code, "msg": msg, "data": data}
    return web.json_response(body, dumps=dumps)


@web.middleware
async def _host_conventions(request: web.Request, handler: Handler) -> web.StreamResponse:
    # the links it hands out point where it was reached (origin_of): those name its files
    request.app[UPLOADS].serves_at(urlsplit(origin_of(request)).netloc)
    request.app[UPLOADS].serves_at(request.host)
    if request.path in UPLOAD_PATHS:
        key = bearer_key(request)
        if key is None or not runtime(request).store.accepts(key):
            # §1: the key is needed on every call, uploads included, with KIE's one wording;
            # an account opened at runtime (POST /_mock/accounts) uploads as the API serves it
            return answer(401, "You do not have access permissions")
        if request.method != "POST":  # the host's own 405 (§4), in its envelope
            return answer(405, f"Method {request.method} not allowed")
    try:
        return await handler(request)
    except UploadError as exc:
        return answer(exc.code, exc.msg)
    except web.HTTPRequestEntityTooLarge:  # over client_max_size: KIE's words, in its envelope
        request[_REFUSED_AS_TOO_LARGE] = True
        return answer(400, TOO_LARGE)


@web.middleware
async def _faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The fault rules, matched on this host's paths (/api/file-*-upload, /kieai/…) and the
    caller's account like the API's; inside the journal, which records the rule that answered
    (outside the host's conventions: a fault stands for the network or a proxy in front)."""
    if not runtime(request).faults.armed:
        return await handler(request)
    return await faults_http.middleware(request, handler)


@web.middleware
async def _journal(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record upload requests in the mock's journal as the API's are (app.journal_request);
    multipart bodies (the files) are not kept, a large JSON body only as a preview."""
    arrived = runtime(request).clock.now()
    status, sent = 500, None
    cut_short = False
    try:
        response = sent = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status, sent = exc.status, exc
        raise
    except ConnectionResetError:
        # The client hung up before its body arrived whole (aiohttp: "Connection lost"): an
        # upload cut short is the client's doing, not the mock's error (it was aiohttp's
        # traceback and an HTTP 500). Nothing is stored, and there is nobody to answer: the
        # journal says 0 (no answer sent), one line says what happened, and the response
        # returned here is dropped by aiohttp quietly with the connection.
        status, cut_short = 0, True
        return web.Response(status=400)
    finally:
        raw: bytes | BodyPreview = BodyPreview(None, _size(request, cut_short))
        if (
            request.content_type == "application/json"
            and request.body_exists
            and not request.get(_REFUSED_AS_TOO_LARGE)
            and not cut_short  # its body is not there to read
        ):
            try:
                raw = await request.read()
            except ConnectionResetError:  # a fault (reset, truncated) closed it before
                raw = BodyPreview(None, _size(request, False))
        journal_request(request, raw, arrived, status, sent)
        if cut_short:
            said_cut_short(request)


def _size(request: web.Request, cut_short: bool) -> int | None:
    """Bytes of a body the journal does not keep (a multipart upload's): as received when it
    was read to its end, or cut short; else as its Content-Length says (None: not said)."""
    if request.content.at_eof() or cut_short:
        return request.content.total_bytes
    return request.content_length


# --- the three methods ---


async def _upload(request: web.Request) -> web.Response:
    limit = largest_file(runtime(request).config)  # None: none (KIE documents none)
    if request.path.endswith("stream-upload"):
        form = await _read_stream_form(request, limit)
    else:
        body = await _json_body(request)
        if request.path.endswith("url-upload"):
            # "~100 MB" is documented for this method only (§4)
            url_limit = URL_FILE_BYTES if limit is None else min(limit, URL_FILE_BYTES)
            form = await _read_url_form(body, url_limit)
        else:
            form = _read_base64_form(body, limit)
    folder = upload_path(form.upload_path)
    sniffed = sniff(form.body)
    extension = form.extension or mimetypes.guess_extension(sniffed or "") or ""
    rt = runtime(request)
    uploaded_at = rt.clock.now()
    name = form.file_name or auto_name(extension, uploaded_at)
    mime = mimetypes.guess_type(name)[0] or form.mime_type or sniffed or "application/octet-stream"
    key = bearer_key(request)
    assert key is not None  # the middleware has checked it
    account = account_id(key)
    stored = StoredFile(
        account=account,
        file_path=f"kieai/{account}/{folder}/{name}",
        file_name=name,
        mime_type=mime,
        body=form.body,
        uploaded_at=uploaded_at,
    )
    request.app[UPLOADS].put(stored)
    origin = origin_of(request)
    return answer(200, "File uploaded successfully", _file_data(stored, origin))


def _file_data(stored: StoredFile, origin: str) -> dict[str, Any]:
    moment = datetime.fromtimestamp(stored.uploaded_at, tz=UTC)
    return {
        "success": True,  # inside data too, as real upload answers carry it [OBS] (§4, #13)
        "fileName": stored.file_name,
        "filePath": stored.file_path,
        "downloadUrl": f"{origin}/{quote(stored.file_path)}",
        "fileSize": stored.size,
        "mimeType": stored.mime_type,
        # ISO 8601 with milliseconds [INF: the docs show a date-time string]
        "uploadedAt": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


@dataclass(frozen=True)
class _Form:
    body: bytes
    upload_path: object
    file_name: str | None
    extension: str  # for a name the host makes up: ".png", or ""
    mime_type: str | None


async def _read_stream_form(request: web.Request, limit: int | None) -> _Form:
    if request.content_type != "multipart/form-data":
        raise UploadError(400, "Content-Type must be multipart/form-data")
    try:
        return await _parse_stream_form(request, limit)
    except (ValueError, HttpProcessingError) as exc:
        # a malformed body (no boundary, broken part headers): found by schemathesis, was a 500
        raise UploadError(400, "Malformed multipart/form-data body") from exc


async def _parse_stream_form(request: web.Request, limit: int | None) -> _Form:
    fields: dict[str, str] = {}
    body: bytes | None = None
    original, part_type = "", None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader):
            continue  # a nested multipart: not a field the host knows
        if part.name == "file":
            original = part.filename or ""
            part_type = part.headers.get("Content-Type")
            body = await _read_limited(part, limit)
        elif part.name in ("uploadPath", "fileName"):
            fields[part.name] = (await part.read(decode=True)).decode("utf-8", "replace")
        else:
            await part.release()
    if body is None:
        raise UploadError(400, "file is required")
    return _Form(
        body=body,
        upload_path=fields.get("uploadPath"),
        file_name=file_name_of(fields.get("fileName")),
        extension=extension_of(original),
        mime_type=part_type if part_type != "application/octet-stream" else None,
    )


async def _read_limited(part: aiohttp.BodyPartReader, limit: int | None) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data.extend(chunk)
        if limit is not None and len(data) > limit:
            raise UploadError(400, TOO_LARGE)
    return bytes(data)


async def _json_body(request: web.Request) -> dict[str, Any]:
    body = parse_json_object(await request.read())
    if body is None:
        raise UploadError(400, "Request body must be a JSON object")
    return body


async def _read_url_form(body: dict[str, Any], limit: int) -> _Form:
    file_url = body.get("fileUrl")
    if not isinstance(file_url, str) or not file_url.strip():
        raise UploadError(400, "fileUrl is required")
    if not is_http_url(file_url.strip()):
        raise UploadError(400, "fileUrl must be a valid http(s) URL")
    path = urlsplit(file_url).path
    content, mime = await _fetch(file_url.strip(), limit)
    return _Form(
        body=content,
        upload_path=body.get("uploadPath"),
        file_name=file_name_of(body.get("fileName")),
        extension=extension_of(path) or (mimetypes.guess_extension(mime or "") or ""),
        mime_type=mime,
    )


async def _fetch(url: str, limit: int) -> tuple[bytes, str | None]:
    """The file at ``url``: fetched for real on loopback; elsewhere a generated stand-in. A
    redirect, or a name resolving, outside loopback is refused, never followed (egress.py)."""
    host = urlsplit(url).hostname or ""
    if not is_loopback_host(host):
        return stand_in(url)
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
    try:
        async with (
            _EGRESS.session(timeout=timeout) as session,
            _EGRESS.get(session, url) as response,
        ):
            if response.status != 200:
                raise UploadError(400, f"Failed to download file from URL: HTTP {response.status}")
            data = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK):
                data.extend(chunk)
                if len(data) > limit:
                    raise UploadError(400, TOO_LARGE)
            mime = response.headers.get("Content-Type", "").split(";")[0].strip() or None
            return bytes(data), mime
    except EgressRefused as exc:
        raise UploadError(
            400, f"Failed to download file from URL: the mock fetches only loopback URLs; {exc}"
        ) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise UploadError(400, f"Failed to download file from URL: {type(exc).__name__}") from exc


def _read_base64_form(body: dict[str, Any], limit: int | None) -> _Form:
    raw = body.get("base64Data")
    if not isinstance(raw, str) or not raw.strip():
        raise UploadError(400, "base64Data is required")
    mime = body.get("mimeType") if isinstance(body.get("mimeType"), str) else None
    text = raw.strip()
    if text.startswith("data:"):  # a data: URL is accepted as well as the raw data (§4)
        header, sep, text = text.partition(",")
        if not sep or not header.endswith(";base64"):
            raise UploadError(400, "base64Data is not a base64 data URL")
        mime = mime or header[len("data:") : -len(";base64")] or None
    try:
        content = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UploadError(400, "base64Data is not valid base64") from exc
    if not content:
        raise UploadError(400, "base64Data is empty")
    if limit is not None and len(content) > limit:
        raise UploadError(400, TOO_LARGE)
    return _Form(
        body=content,
        upload_path=body.get("uploadPath"),
        file_name=file_name_of(body.get("fileName")),
        extension=mimetypes.guess_extension(mime or "") or "",
        mime_type=mime,
    )


# --- serving the files back ---


async def _stored_file(request: web.Request) -> web.Response:
    """A stored file at its downloadUrl; no auth, as KIE's file links are public (§4)."""
    file_path = "kieai/" + request.match_info["rest"]
    rt = runtime(request)
    stored = request.app[UPLOADS].find(file_path, rt.clock.now())
    if stored is None:
        raise web.HTTPNotFound()
    whole = web.Response(body=stored.body, content_type=stored.mime_type, headers=FILE_HEADERS)
    return ranged(request, whole)  # Range, as an object store answers it (ranges.py)


__all__ = [
    "FETCH_TIMEOUT",
    "UPLOADS",
    "UPLOAD_PATHS",
    "answer",
    "build_upload_app",
    "json_body_limit",
]
