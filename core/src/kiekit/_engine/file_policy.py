"""The download file policy: what a result file is called on disk, which answers are refused
in its place, and which link failures are renewed through download-url."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from kiekit.errors import (
    DownloadError,
)
from kiekit.models import Asset, MediaKind

if TYPE_CHECKING:
    pass

from kiekit._engine.ops import Fetch

T = TypeVar("T")


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,5}$")

# What object stores answer for a link past its lifetime (S3/R2: 403 AccessDenied "Request has
# expired"; some CDNs: 404 or 410). Such a link is renewed once through download-url (§4, §8).
EXPIRED_LINK_STATUSES = frozenset({403, 404, 410})

# Media types error pages come as; a media file never does (an SVG aside). Text types are
# only believed when the bytes are text too: a misconfigured CDN may label an MP4 text/plain.
_PAGE_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml")
_TEXT_TYPES = ("text/plain", "application/json", "application/problem+json")
_PAGE_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<error", b"{", b"<head", b"<body")
_TEXT_BYTES = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}


def check_file_start(job: Fetch, content_type: str | None, head: bytes) -> None:
    """Refuse an answer that is plainly an error page where a media file belongs.

    Object stores answer expired or missing links with XML (S3/R2 ``AccessDenied``) and
    proxies with HTML, sometimes under status 200; saved as ``.mp4`` such a page would pass
    for a result. Checked on the Content-Type and on the first bytes; files of unknown kind
    (text, other) and SVG images (XML by nature) are not judged.
    """
    if job.kind not in (MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO):
        return
    if job.media_type and ("xml" in job.media_type or "svg" in job.media_type):
        return
    if urlsplit(job.url).path.lower().endswith(".svg"):
        return
    declared = (content_type or "").split(";")[0].strip().lower()
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:16].lower()
    text = bool(head) and all(byte in _TEXT_BYTES for byte in head)
    page = declared in _PAGE_TYPES or start.startswith(_PAGE_STARTS)
    if page or (declared in _TEXT_TYPES and text):
        what = declared or "a text page"
        raise DownloadError(
            f"the link answered {what} instead of the {job.kind.value} file",
            url=job.url,
            task_id=job.task_id,
            http_status=200,
        )


def file_name(task_id: str, index: int, item: Asset) -> str:
    """``<task id>-<index>[-<label>]<ext>``, safe on every file system: ASCII, and short
    enough for any of them (a long id or label is cut and told apart by a hash of it)."""
    stem = _bounded(_SAFE.sub("_", task_id).strip("._") or "task", _MAX_ID)
    if item.label:
        stem += "-" + _bounded(_SAFE.sub("_", item.label).strip("._") or "file", _MAX_LABEL)
    suffix = PurePosixPath(urlsplit(item.url).path).suffix
    if not _EXTENSION.match(suffix):
        guessed = mimetypes.guess_extension(item.media_type) if item.media_type else None
        suffix = guessed or ".bin"
    return f"{stem}-{index}{suffix.lower()}"


# File systems allow 255 bytes a name; these leave room for the index, an extension and the
# download's temporary suffix (``.<12 hex>.part``).
_MAX_ID = 120
_MAX_LABEL = 60


def _bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{text[: limit - 11]}_{digest}"
