"""The account and its files, sans-I/O: the credit balance and the three uploads (kie-api.md §4).

Uploads go to a host of their own (``kieai.redpandaai.co``, §1) with the same Bearer key and an
envelope of its own, ``{success, code, msg, data}``: it is read here, and a failure raises the
same typed errors as the API's body codes (400, 401, 405, 500 on that host). How a source goes:

- a local file: ``file-stream-upload``, a multipart body the transport streams from disk
  (:class:`~kiekit._engine.StreamUpload`); the file is never read into memory whole;
- an http(s) URL: ``file-url-upload``, KIE fetches it (30 s timeout, about 100 MB);
- bytes: ``file-base64-upload`` up to :data:`BASE64_MAX_BYTES` (10 MiB), larger ones
  ``file-stream-upload`` as a file would go, sent from memory in slices (no base64 copies).

KIE's CDN caches a file by name, and an upload with a name already used overwrites it, served
stale for a while (§4): so a file without an explicit ``file_name`` is named after its content
(a digest of its bytes, :func:`content_name`). A name is then never reused for other bytes,
and the same file uploaded again gets the same URL: a run made again with the same idempotency
key sends the same input, and so finds the task made before (an outside tester's finding). A
URL's content is unknown here, so a URL upload gets a random name (:func:`unique_name`).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import json
import mimetypes
import os
import re
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import attrs
from attrs import frozen

from kiekit import wire
from kiekit._engine import request_log
from kiekit._engine.engine import Engine
from kiekit._engine.ops import Digest, Flow, HttpRequest, HttpResponse, Now, StreamUpload
from kiekit._engine.retrying import MIN_ATTEMPT_SECONDS, read_envelope, retrying
from kiekit._numbers import finite, shown
from kiekit._paths import native, text
from kiekit.errors import FileReadError, KieError, ProtocolError, ValidationError
from kiekit.models import Request
from kiekit.retry import Verdict, verdict
from kiekit.uploads import UploadedFile

if TYPE_CHECKING:
    from kiekit.settings import Endpoints


CREDIT_PATH = "/api/v1/chat/credit"
STREAM_PATH = "/api/file-stream-upload"
URL_PATH = "/api/file-url-upload"
BASE64_PATH = "/api/file-base64-upload"
# Bytes up to this size go as base64; larger ones as a file stream, as KIE's base64 page advises
# ("Large files (>10MB) should use the File Stream Upload API", D:file-upload-api). Base64 JSON
# would also cost about four times the data in memory (the text, the JSON, its encoding).
BASE64_MAX_BYTES = 10 * 2**20

Source = str | os.PathLike[str] | bytes | bytearray | memoryview

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,5}$")
_OUR_SUFFIX = re.compile(r"-[0-9a-f]{12}$")  # what content_name and unique_name add
# First bytes of the media types an input file usually is, for bytes that come without a name.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
    (b"ID3", "audio/mpeg", ".mp3"),
)


def media_of(head: bytes) -> tuple[str, str] | None:
    """The media type and file extension a file's first bytes say (a PNG's: ``("image/png",
    ".png")``), or None: how bytes that come without a name are named."""
    found = next((magic for magic in _MAGIC if head.startswith(magic[0])), None)
    return None if found is None else (found[1], found[2])


@frozen
class _UploadData(wire.WireRecord):
    """``data`` of a successful upload: ``{fileName, filePath, downloadUrl, fileSize, mimeType,
    uploadedAt}`` (§4; DOCCOPY and recorded traffic)."""

    file_name: str
    file_path: str
    download_url: str
    file_size: int | None = None
    mime_type: str | None = None
    uploaded_at: wire.Timestamp | None = None


class Files:
    """Credits (on the API host) and uploads (on the upload host) for one client session."""

    def __init__(self, engine: Engine, hosts: Endpoints) -> None:
        self._engine = engine
        self._hosts = hosts

    @property
    def upload_base_url(self) -> str:
        """The upload host; ConfigurationError when none may be used (kiekit.settings)."""
        return self._hosts.require_upload_base_url()

    def credits(self) -> Flow[float]:
        """The account's balance: ``GET /api/v1/chat/credit``, a float in real traffic (the docs
        show an int, §4). It must be finite: ``NaN`` or ``1e999`` would be printed as a
        balance. A negative one is read as sent: no source says KIE never shows one (a chat is
        charged once answered, §5), and hiding a debt would be worse than showing it."""
        data = yield from self._engine.call(Request("GET", CREDIT_PATH))
        balance = None
        if isinstance(data, str):
            with contextlib.suppress(ProtocolError):
                balance = finite(wire.structure(data, float))
        else:
            balance = finite(data)  # an int past a float's range too
        if balance is None:
            said = shown(data)
            said = said if len(said) <= 80 else said[:79] + "…"
            raise ProtocolError(
                f"the credit balance (data) is not a finite number: {said}", payload=data
            )
        return balance

    def upload(
        self, source: Source, *, upload_path: str = "kiekit", file_name: str | None = None
    ) -> Flow[UploadedFile]:
        """Upload a local file (a path), a file on the web (an http(s) URL) or bytes."""
        self._hosts.require_upload_base_url()  # before anything is read or sent
        folder = check_upload_path(upload_path)
        if file_name is not None:
            check_file_name(file_name)
        if isinstance(source, (bytes, bytearray, memoryview)):
            return (yield from self._upload_bytes(bytes(source), folder, file_name))
        if isinstance(source, str) and urlsplit(source.strip()).scheme in ("http", "https"):
            return (yield from self._upload_url(source.strip(), folder, file_name))
        if isinstance(source, str) and not source.strip():  # Path("") is ".", a folder
            raise ValidationError("source", "is empty: give a file path, an http(s) URL or bytes")
        if isinstance(source, (str, os.PathLike)):
            path = Path(native(os.fspath(source)))  # text a C locale cannot encode: its UTF-8
            return (yield from self._upload_path(path, folder, file_name))
        raise ValidationError(
            "source", f"must be a file path, an http(s) URL or bytes, not {type(source).__name__}"
        )

    # -- the three methods ------------------------------------------------------------------

    def _upload_path(self, path: Path, folder: str, file_name: str | None) -> Flow[UploadedFile]:
        info = _local_file(path)
        size = info.st_size
        if size == 0:
            raise ValidationError("source", f"is empty: {path}")
        if file_name is None:
            digest = yield Digest(path, size, info.st_mtime_ns)
            name = content_name(text(path.name), digest)  # as typed, not as this locale reads it
        else:
            name = file_name
        media_type = (
            mimetypes.guess_type(name)[0]
            or mimetypes.guess_type(path.name)[0]
            or "application/octet-stream"
        )
        try:
            return (yield from self._stream(folder, name, media_type, path, size, info.st_mtime_ns))
        except KieError as exc:  # whatever failed, say which file: a run may upload several
            _name_file(exc, path)
            raise

    def _stream(
        self,
        folder: str,
        name: str,
        media_type: str,
        source: Path | bytes,
        size: int,
        mtime_ns: int | None = None,
    ) -> Flow[UploadedFile]:
        """``file-stream-upload``: a multipart body framed here, its file part streamed by the
        transport from ``source`` (a path or bytes), never assembled in memory."""
        boundary = "kiekit-" + secrets.token_hex(16)
        head = (
            _form_field(boundary, "uploadPath", folder)
            + _form_field(boundary, "fileName", name)
            + (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="{_quoted(name)}"\r\n'
                f"Content-Type: {media_type}\r\n\r\n"
            ).encode()
        )
        tail = f"\r\n--{boundary}--\r\n".encode()
        headers = {
            **self._engine.auth_headers,
            "Accept": "application/json",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        }
        url = self.upload_base_url + STREAM_PATH
        op = StreamUpload(url, headers, head, source, size, tail, mtime_ns)
        return (yield from self._send(op, STREAM_PATH))

    def _upload_url(self, url: str, folder: str, file_name: str | None) -> Flow[UploadedFile]:
        if any(c.isspace() for c in url) or not urlsplit(url).netloc:
            raise ValidationError("source", f"is not a valid http(s) URL: {url!r}")
        original = unquote(PurePosixPath(urlsplit(url).path).name)
        body = {
            "fileUrl": url,
            "uploadPath": folder,
            "fileName": file_name or unique_name(original),
        }
        return (yield from self._post_json(URL_PATH, body))

    def _upload_bytes(self, data: bytes, folder: str, file_name: str | None) -> Flow[UploadedFile]:
        if not data:
            raise ValidationError("source", "is empty")
        sniffed = media_of(data)
        if file_name is not None:
            name = file_name
            media_type = mimetypes.guess_type(name)[0]
        else:
            digest = hashlib.sha256(data).hexdigest()
            name = content_name("upload" + (sniffed[1] if sniffed else ".bin"), digest)
            media_type = None
        media_type = media_type or (sniffed[0] if sniffed else "application/octet-stream")
        if len(data) > BASE64_MAX_BYTES:
            return (yield from self._stream(folder, name, media_type, data, len(data)))
        body = {
            "base64Data": base64.b64encode(data).decode("ascii"),
            "uploadPath": folder,
            "fileName": name,
            "mimeType": media_type,
        }
        return (yield from self._post_json(BASE64_PATH, body))

    def _post_json(self, path: str, body: Mapping[str, Any]) -> Flow[UploadedFile]:
        headers = {
            **self._engine.auth_headers,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        raw = json.dumps(body).encode()
        op = HttpRequest("POST", self.upload_base_url + path, headers, raw)
        return (yield from self._send(op, path))

    def _send(self, op: HttpRequest | StreamUpload, path: str) -> Flow[UploadedFile]:
        """One upload, sent again under the client's retry policy after a failure a retry
        can cure (network faults, 429, 5xx). An upload costs no credits and its name is chosen
        before the first try, so a repeat at worst writes the same file again."""
        policy = self._engine.retry
        started: float = yield Now()
        stop = started + policy.deadline

        def attempt(_number: int) -> Flow[UploadedFile]:
            sent = op
            sent_at: float = yield Now()
            if isinstance(sent, HttpRequest):  # a JSON upload ends by the retry deadline, as
                # an API call does; a streamed file may take longer (it is not bounded)
                sent = attrs.evolve(sent, timeout=max(stop - sent_at, MIN_ATTEMPT_SECONDS))
            observer = self._engine.observer
            request_log.sent("POST", path, observer=observer)  # -vv, as every API call
            if observer is not None:  # the observer's own time is not the request's
                sent_at = yield Now()
            try:
                response: HttpResponse = yield sent
                uploaded = read_upload(self._engine.scrubbed(response), path, self.upload_base_url)
            except GeneratorExit as exc:  # dropped: nothing may be yielded, the clock neither
                request_log.failed("POST", path, exc, None, observer=observer)
                raise
            except BaseException as exc:  # refused, cut, cancelled, interrupted: ended too
                request_log.failed("POST", path, exc, (yield Now()) - sent_at, observer=observer)
                raise
            took = (yield Now()) - sent_at
            request_log.answered("POST", path, response.status, took, observer=observer)
            return uploaded

        def decide(error: KieError) -> Verdict:
            if isinstance(error, ProtocolError):  # an answer lost (empty, cut, not JSON): the
                # file may be stored, its URL unknown; a repeat writes the same name again
                return Verdict.RETRY
            return verdict(error, safe=True)

        what = f"POST {path}"
        return (
            yield from retrying(
                attempt, policy, stop=stop, decide=decide, what=what,
                observer=self._engine.observer,
            )
        )  # fmt: skip


def read_upload(response: HttpResponse, path: str, base_url: str | None = None) -> UploadedFile:
    """The uploaded file of one answer of the upload host, or the typed error it stands for:
    the API's answer reader (the host's codes: 400, 401, 405, 500, §4), then the host's own
    ``success`` flag and ``data``."""
    payload, envelope = read_envelope(response, "POST", path, base_url=base_url)
    if payload.get("success") is False:  # liberal: an answer without the flag is read on
        raise ProtocolError(f"POST {path} answered code 200 but success false", payload=payload)
    data = wire.structure(envelope.data, _UploadData)
    if urlsplit(data.download_url).scheme not in ("http", "https"):
        raise ProtocolError(f"POST {path} answered no http(s) downloadUrl", payload=payload)
    return UploadedFile(
        file_name=data.file_name,
        file_path=data.file_path,
        download_url=data.download_url,
        size=data.file_size,
        mime_type=data.mime_type,
        uploaded_at=data.uploaded_at,
    )


def check_upload_path(upload_path: str, field: str = "upload_path") -> str:
    """KIE's rule for ``uploadPath``: required, no leading or trailing slash (§4). ``field``:
    what a refusal names (``kie upload`` says ``--path``, the option typed)."""
    if not isinstance(upload_path, str) or not upload_path.strip():
        raise ValidationError(field, "must be a non-empty folder name, e.g. 'kiekit'")
    if upload_path != upload_path.strip():
        raise ValidationError(field, f"must not start or end with spaces: {upload_path!r}")
    if upload_path.startswith("/") or upload_path.endswith("/"):
        raise ValidationError(
            field, f"must not start or end with '/' (KIE's rule): {upload_path!r}"
        )
    parts = upload_path.split("/")
    if any(part in ("", ".", "..") for part in parts) or "\\" in upload_path:
        raise ValidationError(field, f"is not a clean folder path: {upload_path!r}")
    if any(not c.isprintable() for c in upload_path):
        raise ValidationError(field, f"holds control characters: {upload_path!r}")
    return upload_path


def check_file_name(file_name: str, field: str = "file_name") -> None:
    """A name for the upload host, not a path; ``field``: what a refusal names."""
    if not isinstance(file_name, str) or not file_name.strip():
        raise ValidationError(field, "must be a non-empty name")
    if "/" in file_name or "\\" in file_name or file_name in (".", ".."):
        raise ValidationError(field, f"must be a name, not a path: {file_name!r}")
    if any(not c.isprintable() for c in file_name):
        raise ValidationError(field, f"holds control characters: {file_name!r}")


def content_name(original: str, digest: str) -> str:
    """``photo.png`` and its bytes' SHA-256 → ``photo-3f9a1c2b7d4e.png``: recognisable, and
    never a name used for other bytes, so no upload overwrites another file or is served
    another's stale CDN copy (§4); the same file gets the same name, and so the same URL."""
    return _tagged(original, digest[:12])


def unique_name(original: str) -> str:
    """``photo.png`` → ``photo-3f9a1c2b7d4e.png`` with a random tag: for a file on the web,
    whose bytes are not known here (a URL's content may change between two uploads)."""
    return _tagged(original, secrets.token_hex(6))


def _tagged(original: str, tag: str) -> str:
    pure = PurePosixPath(original.replace("\\", "/")).name
    suffix = PurePosixPath(pure).suffix
    stem = pure[: -len(suffix)] if suffix else pure
    if not _EXTENSION.match(suffix):
        suffix, stem = "", pure
    stem = _OUR_SUFFIX.sub("", stem)  # a file uploaded again keeps one suffix, not two
    stem = _SAFE.sub("_", stem).strip("._")[:60] or "upload"
    return f"{stem}-{tag}{suffix.lower()}"


def _local_file(path: Path) -> os.stat_result:
    """The file ``path``'s stat; a ValidationError naming ``source`` for a path that is no
    file (missing, a folder, a name too long for the OS: Path.exists() raises ENAMETOOLONG on
    Python 3.11), a FileReadError for one that cannot be looked at (EACCES on a folder)."""
    text = str(path)  # cut short: a path too long for the OS may run to thousands
    shown = text if len(text) <= 200 else f"{text[:199]}… ({len(text)} characters)"
    try:
        found = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ValidationError("source", f"no such file: {shown}") from None
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        if exc.errno == errno.ENAMETOOLONG:  # no file can have that name: the input is wrong
            raise ValidationError("source", f"cannot read {shown}: {why}") from exc
        raise FileReadError(f"cannot read {shown}: {why}", path=path, errno=exc.errno) from exc
    if stat.S_ISDIR(found.st_mode):
        raise ValidationError("source", f"is a folder, not a file: {shown}")
    if not stat.S_ISREG(found.st_mode):
        raise ValidationError("source", f"is not a file: {shown}")
    return found


def _name_file(error: KieError, path: Path) -> None:
    """Make ``error``, of an upload of the local file ``path``, carry it as ``path`` and name
    it in its message (a FileReadError names it already)."""
    error.path = str(path)
    if str(path) not in error.message:
        error.message = f"{path}: {error.message}"


def _form_field(boundary: str, name: str, value: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    ).encode()


def _quoted(name: str) -> str:
    # RFC 7578 §4.2: the name goes as UTF-8; a double quote is escaped as browsers do.
    return name.replace('"', "%22")
