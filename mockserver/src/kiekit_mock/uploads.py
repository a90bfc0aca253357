"""The upload host's files (kie-api.md §1, §4): what it keeps, for how long, and its rules for
paths, names and types. uploads_http.py is the host itself, the HTTP side.

Real KIE takes uploads on a host of its own (``kieai.redpandaai.co``) and keeps a file 3 days
(§1, §8, §9 item 11); the same name in the same folder overwrites (§4), "with CDN-cache delay"
(the docs): opt in with ``MockConfig.upload_cdn_seconds`` and the file's link serves the bytes
it replaced for that long after an overwrite, as a client reusing names meets it. A ``fileUrl``
the mock will not fetch (anything but loopback) is stood in for by a small generated file of the
type its extension names, as result files are.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from . import media

# "about 100 MB": the URL method's page only (§4); KIE documents no limit for the stream and
# base64 methods (a model page takes a 500 MB video, §3.5): MockConfig.upload_file_limit
URL_FILE_BYTES = 100 * 1024 * 1024
RETENTION_SECONDS = 3 * 24 * 3600.0  # 3 days per each upload page (§1, §8, §9 item 11)
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
log = logging.getLogger("kiekit_mock")


class UploadError(Exception):
    """A failure the upload host reports in its envelope."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


@dataclass(frozen=True)
class StoredFile:
    """One uploaded file, as the host keeps it."""

    account: str
    file_path: str  # kieai/<userId>/<uploadPath>/<fileName>
    file_name: str
    mime_type: str
    body: bytes
    uploaded_at: float  # mock-clock seconds

    @property
    def size(self) -> int:
        """The file's length in bytes."""
        return len(self.body)


class UploadStore:
    """The upload host's files by filePath; the same name in the same folder overwrites (§4).
    Thread-safe: a MockServer's test thread reads while the server's loop writes.

    Memory stays bounded: a file past its 3 days is let go (KIE deletes it too, §1), at the
    next upload or clock advance (:meth:`prune`), and past ``limit`` bytes held the oldest
    files go, counted in :attr:`dropped`, the first time said in the log. The files are kept
    oldest upload first (an overwrite moves to the end), so both cost only the files let go."""

    def __init__(self, limit: int | None = None, cdn_seconds: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        # what the last overwrite of a path replaced, served for cdn_seconds after it
        # (MockConfig.upload_cdn_seconds); kept only then, and counted, as long as the file
        # that replaced it
        self._replaced: dict[str, StoredFile] = {}
        self._cdn_seconds = cdn_seconds
        self._limit = limit  # bytes held (None: no cap); MockConfig.upload_limit
        self._bytes = 0
        self._dropped = 0
        self._hosts: set[str] = set()  # host[:port] the host is reached at (serves_at)

    def put(self, stored: StoredFile) -> None:
        with self._lock:
            before = self._files.get(stored.file_path)
            self._remove(stored.file_path)  # an overwrite is the newest upload now
            if before is not None and self._cdn_seconds > 0:
                self._replaced[stored.file_path] = before
                self._bytes += before.size
            self._files[stored.file_path] = stored
            self._bytes += stored.size
            self._expire(stored.uploaded_at)
            self._cap(stored.file_path)

    def find(self, file_path: str, now: float) -> StoredFile | None:
        """The file, unless it is unknown or past its 3 days; within the store's
        ``cdn_seconds`` of an overwrite, the file it replaced (KIE's CDN cache, §4)."""
        with self._lock:
            stored = self._files.get(file_path)
            before = self._replaced.get(file_path)
        if (
            stored is not None
            and before is not None
            and now - stored.uploaded_at < self._cdn_seconds
        ):
            stored = before
        if stored is None or now - stored.uploaded_at > RETENTION_SECONDS:
            return None
        return stored

    def serves_at(self, netloc: str) -> None:
        """Note a host[:port] the upload host is reached at: a link there names its files."""
        netloc = netloc.lower()
        if netloc not in self._hosts:  # a set read needs no lock; the add does
            with self._lock:
                self._hosts.add(netloc)

    def gone(self, url: str, now: float) -> bool:
        """Whether ``url`` is a link of this host (one it is reached at) to no file it holds
        at ``now``: expired, let go, or never uploaded. False for any other host's URL."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        if parts.netloc.lower() not in self._hosts:
            return False
        return self.find(unquote(parts.path).lstrip("/"), now) is None

    def files(self) -> list[StoredFile]:
        with self._lock:
            return list(self._files.values())

    def clear(self) -> int:
        """Forget every file (the mock's reset): their links answer 404 from now on, as KIE's
        for a file it no longer holds (§4, §8). Returns how many were held."""
        with self._lock:
            count = len(self._files)
            self._files.clear()
            self._replaced.clear()
            self._bytes = 0
            return count

    def forget_account(self, account: str) -> int:
        """Forget one account's files (a per-account reset); returns how many."""
        with self._lock:
            mine = [path for path, stored in self._files.items() if stored.account == account]
            for file_path in mine:
                self._remove(file_path)
            return len(mine)

    def prune(self, now: float) -> None:
        """Let go of the files past their 3 days at ``now`` (the mock clock moved on)."""
        with self._lock:
            self._expire(now)

    @property
    def dropped(self) -> int:
        """Files let go before their 3 days to stay within the limit (expired ones aside)."""
        with self._lock:
            return self._dropped

    @property
    def held_bytes(self) -> int:
        """The bytes of the files held (and of those an overwrite replaced, while served)."""
        with self._lock:
            return self._bytes

    def _remove(self, file_path: str) -> None:
        gone = self._files.pop(file_path, None)
        if gone is not None:
            self._bytes -= gone.size
        replaced = self._replaced.pop(file_path, None)
        if replaced is not None:
            self._bytes -= replaced.size

    def _expire(self, now: float) -> None:
        while self._files:
            oldest = next(iter(self._files.values()))
            if now - oldest.uploaded_at <= RETENTION_SECONDS:
                return
            self._remove(oldest.file_path)

    def _cap(self, newest: str) -> None:
        """Past the limit, the oldest files go; the newest is kept even if larger alone (the
        upload host refuses such a file before it is put here: uploads_http.largest_file)."""
        limit = self._limit
        if limit is None or self._bytes <= limit:
            return
        if not self._dropped:
            log.warning(
                "kiekit-mock: uploads hold over %d bytes (upload_limit, --upload-limit): the "
                "oldest files are let go from now on, and their links answer 404",
                limit,
            )
        while self._bytes > limit and next(iter(self._files)) != newest:
            self._remove(next(iter(self._files)))
            self._dropped += 1


def upload_path(value: object) -> str:
    """uploadPath: required, no leading or trailing slash (§4)."""
    if not isinstance(value, str) or not value.strip():
        raise UploadError(400, "uploadPath is required")
    if value.startswith("/") or value.endswith("/"):
        raise UploadError(400, "uploadPath cannot start or end with a slash")
    if any(part in ("", ".", "..") for part in value.split("/")) or "\\" in value:
        raise UploadError(400, "uploadPath is not a valid path")
    return value


def file_name_of(value: object) -> str | None:
    """fileName: optional; a bare name (the host makes one up when it is absent)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or "/" in value or "\\" in value or value in (".", ".."):
        raise UploadError(400, "fileName is not a valid file name")
    return value


def extension_of(name: str) -> str:
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > name.rfind("/") and dot >= 0 else ""
    return ext if 2 <= len(ext) <= 6 and ext[1:].isalnum() else ""


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"ID3", "audio/mpeg"),
)


def sniff(body: bytes) -> str | None:
    """The media type the first bytes tell [INF: KIE names files it gets without a type]."""
    if body[4:8] == b"ftyp":
        return "video/mp4"
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    return next((media for magic, media in _MAGIC if body.startswith(magic)), None)


def auto_name(extension: str, uploaded_at: float) -> str:
    """Like KIE's own: ``1776323952044-dtzo7rcrpdj.png`` (the upload's ms timestamp, on the
    mock's clock as its ``uploadedAt`` is, and 11 base-36 chars; §4)."""
    tail = "".join(secrets.choice(_BASE36) for _ in range(11))
    return f"{int(uploaded_at * 1000)}-{tail}{extension}"


def stand_in(url: str) -> tuple[bytes, str | None]:
    """What the mock keeps for a URL it will not fetch (it never leaves the machine)."""
    seed = url
    ext = extension_of(urlsplit(url).path)
    if ext == ".png":
        return media.png_bytes(64, 64, media.colour_for(seed, 0)), "image/png"
    if ext in (".jpg", ".jpeg"):
        return media.jpeg_bytes(64, 64, media.colour_for(seed, 0)), "image/jpeg"
    if ext == ".mp4":
        return media.mp4_bytes(seed), "video/mp4"
    if ext == ".mp3":
        return media.mp3_bytes(seed), "audio/mpeg"
    raise UploadError(
        400,
        "the mock fetches only loopback URLs; for another host it stands in a generated "
        ".png/.jpg/.mp4/.mp3 file, and this URL names none of these types",
    )


__all__ = [
    "RETENTION_SECONDS",
    "URL_FILE_BYTES",
    "StoredFile",
    "UploadError",
    "UploadStore",
    "auto_name",
    "extension_of",
    "file_name_of",
    "sniff",
    "stand_in",
    "upload_path",
]
